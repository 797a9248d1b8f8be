/**
 * M20 / issue 5: company admins browse their audit trail with filters and export it to CSV; no
 * one else can, and no company sees another's rows (M8).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { audit } from '../src/platform/audit/audit.ts';
import { csvField } from '../src/modules/audittrail/audittrail.service.ts';

let t: TestApp;
let f: CompanyFixture;
let other: CompanyFixture;
let admin: Agent;

beforeAll(async () => {
  t = await createTestApp();
  f = await createCompany(t.deps);
  other = await createCompany(t.deps);
  await loggedIn(t.app, f.employee.email);
  await loggedIn(t.app, other.employee.email);
  admin = await loggedIn(t.app, f.admin.email);
});
afterAll(async () => t?.close());

describe('M20 the audit trail page', () => {
  it('shows the company\'s events, newest first, with who and when; nothing of another company (M8)', async () => {
    const res = await admin.get('/org/audit');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('auth.login.succeeded');
    expect(res.body).toContain(f.employee.name);
    expect(res.body).not.toContain(other.employee.name);
    expect(res.headers['cache-control']).toBe('no-store');
    // Who, when, from which address and which browser ("device").
    const login = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select(['ip', 'user_agent']).where('actor_user_id', '=', f.employee.userId).where('event_type', '=', 'auth.login.succeeded').executeTakeFirstOrThrow(),
    );
    expect(login.ip).toMatch(/^127\./);
    expect(login.user_agent).toBeTruthy();
  });

  it('filters by person, by event family, and by date range', async () => {
    const byPerson = await admin.get(`/org/audit?person=${f.employee.userId}`);
    const cells = [...byPerson.body.matchAll(/<tr><td><time/g)].length;
    expect(cells).toBeGreaterThan(0);
    expect(byPerson.body).not.toContain(`<span>${f.admin.name}</span>`);
    const family = await admin.get('/org/audit?type=auth.');
    expect(family.body).toContain('auth.login.succeeded');
    expect(family.body).not.toContain('<code>org.');
    const day = t.clock.now().toISOString().slice(0, 10);
    expect((await admin.get(`/org/audit?from=${day}&to=${day}`)).body).toContain('auth.login.succeeded');
    expect((await admin.get('/org/audit?from=2000-01-01&to=2000-01-02')).body).toContain('Ingen hændelser');
  });

  it('refuses a malformed or reversed date range with a message (422), and ignores junk filters', async () => {
    const bad = await admin.get('/org/audit?from=2027-02-30');
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toContain('ÅÅÅÅ-MM-DD');
    const reversed = await admin.get('/org/audit?from=2027-03-02&to=2027-03-01');
    expect(reversed.statusCode).toBe(422);
    const junk = await admin.get('/org/audit?person=%3Cscript%3E&type=%27%3B--&before=-1');
    expect(junk.statusCode).toBe(200);
    expect(junk.body).not.toContain('<script>');
  });

  it('pages through older events', async () => {
    const g = await createCompany(t.deps);
    await withTenant(t.deps.database, { companyId: g.companyId, userId: g.admin.userId }, async (trx) => {
      for (let i = 0; i < 60; i++) await audit(trx, { companyId: g.companyId, actorUserId: g.admin.userId }, { type: 'settings.language_changed', data: { n: i } });
    });
    const a = await loggedIn(t.app, g.admin.email);
    const first = await a.get('/org/audit');
    const older = /href="(\/org\/audit\?before=\d+)"/.exec(first.body)?.[1];
    expect(older).toBeDefined();
    const second = await a.get((older ?? '').replace(/&amp;/g, '&'));
    expect(second.statusCode).toBe(200);
    expect(second.body).toContain('&quot;n&quot;:0');
    expect(first.body).not.toContain('&quot;n&quot;:0}');
  });

  it('exports to CSV (UTF-8, formula-safe), and the export is itself audited', async () => {
    const res = await admin.get('/org/audit.csv?type=auth.');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/csv');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="samtale-audit-\d{4}-\d{2}-\d{2}\.csv"$/);
    const lines = res.body.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toBe('time_utc,actor,actor_kind,event,object_type,object_id,ip,user_agent,data');
    expect(lines.slice(1).every((l) => l.includes('"auth.'))).toBe(true);
    expect(res.body).toContain(f.employee.name);
    expect(res.body).not.toContain(other.employee.name);
    const exported = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('event_type').where('company_id', '=', f.companyId).where('event_type', '=', 'audit.exported').execute(),
    );
    expect(exported).toHaveLength(1);
    expect(csvField('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvField('-1+2')).toBe('"\'-1+2"');
    expect(csvField('plain')).toBe('"plain"');
  });

  it('M8: only company admins; employees, leaders, delegates and staff get 404', async () => {
    for (const who of [f.employee, f.leader, f.delegate]) {
      const a = await loggedIn(t.app, who.email);
      expect((await a.get('/org/audit')).statusCode).toBe(404);
      expect((await a.get('/org/audit.csv')).statusCode).toBe(404);
    }
  });
});
