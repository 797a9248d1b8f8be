/**
 * P7: operators switch a module off at run time; users see a clear "temporarily unavailable for
 * security maintenance" page (the API a 503 JSON), mail waits in the outbox, and every switch is
 * an audit event. Runs on a database of its own: the switches are platform-wide.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIsolatedTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { deliverMail, newestMails } from './helpers/mail.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { unsafeListModules, unsafeSetModule } from '../src/platform/modules/switches.ts';
import { enqueueMail } from '../src/platform/mail/mail.ts';

let t: TestApp;
let f: CompanyFixture;

beforeAll(async () => {
  t = await createIsolatedTestApp();
  f = await createCompany(t.deps);
});
afterAll(async () => t?.close());

describe('P7 module kill switches', () => {
  it('uploads and exports off: a clear 503 page in the user\'s language; on again: back to normal; both audited', async () => {
    const admin = await loggedIn(t.app, f.admin.email);
    expect((await admin.get('/inbox')).statusCode).toBe(200);
    await unsafeSetModule(t.deps, 'uploads', true, 'CVE in the zip reader');
    await unsafeSetModule(t.deps, 'exports', true, undefined);
    const inbox = await admin.get('/inbox');
    expect(inbox.statusCode).toBe(503);
    expect(inbox.body).toContain('Midlertidigt utilgængelig');
    expect(inbox.body).toContain('sikkerhedsvedligeholdelse');
    expect((await admin.get('/org/audit.csv')).statusCode).toBe(503);
    expect((await admin.get('/attachments/00000000-0000-4000-8000-000000000000/download')).statusCode).toBe(503);
    // The rest of the portal works.
    expect((await admin.get('/dashboard')).statusCode).toBe(200);
    expect((await unsafeListModules(t.deps)).filter((m) => m.off).map((m) => m.module).sort()).toEqual(['exports', 'uploads']);
    await unsafeSetModule(t.deps, 'uploads', false, undefined);
    await unsafeSetModule(t.deps, 'exports', false, undefined);
    expect((await admin.get('/inbox')).statusCode).toBe(200);
    const events = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select(['event_type', 'object_id']).where('event_type', 'like', 'platform.module_%').orderBy('id').execute(),
    );
    expect(events.map((e) => `${e.event_type} ${e.object_id}`)).toEqual([
      'platform.module_off uploads',
      'platform.module_off exports',
      'platform.module_on uploads',
      'platform.module_on exports',
    ]);
  });

  it('the API off answers 503 JSON in the reference format', async () => {
    await unsafeSetModule(t.deps, 'api', true, 'maintenance');
    const res = await t.app.inject({ method: 'GET', url: '/v3/core/users', headers: { jwt: 'x' } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ errors: [] });
    expect(res.json().message).toMatch(/temporarily unavailable/);
    await unsafeSetModule(t.deps, 'api', false, undefined);
  });

  it('e-mail off: mails wait in the outbox, nothing is lost, and go out when it is on again', async () => {
    const to = `switch-${Date.now()}@test.example`;
    await unsafeSetModule(t.deps, 'email', true, undefined);
    await withTenant(t.deps.database, { companyId: f.companyId, userId: f.admin.userId }, (trx) =>
      enqueueMail(trx, { to, lang: 'da', template: 'password_changed', model: { firstName: 'Ida', at: t.clock.now() } }),
    );
    expect((await deliverMail(t.deps, [to])).sent).toBe(0);
    expect((await newestMails(t.deps, to))[0]?.status).toBe('pending');
    await unsafeSetModule(t.deps, 'email', false, undefined);
    expect((await deliverMail(t.deps, [to])).sent).toBe(1);
  });
});
