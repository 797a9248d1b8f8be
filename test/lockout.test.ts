/**
 * M7: blocking after 3 failed attempts, per account and source, with a growing wait, and without
 * a lock-out button for attackers. The clock is injected; nothing sleeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createStaff, PASSWORD, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';

let t: TestApp;
let f: CompanyFixture;

beforeAll(async () => {
  t = await createTestApp();
  f = await createCompany(t.deps);
});
afterAll(async () => t?.close());

const MIN = 60_000;

/** A browser: its own device cookie from the login page. */
async function browser(): Promise<Agent> {
  const a = new Agent(t.app);
  await a.get('/login');
  expect(a.cookies.has('samtale_device')).toBe(true);
  return a;
}

const errorText = (body: string) => /<div class="error-summary"[\s\S]*?<\/div>/.exec(body)?.[0];

describe('M7 lockout after 3 failed attempts', () => {
  it('blocks the source after 3 failures, refuses even the right password with the same message, then lets it in after 15 minutes', async () => {
    const me = (await createCompany(t.deps)).employee;
    const b = await browser();
    const wrong = [];
    for (let i = 0; i < 3; i++) wrong.push(await b.post('/login', { email: me.email, password: `wrong ${i}` }));
    for (const r of wrong) expect(r.statusCode).toBe(401);
    const blocked = await b.post('/login', { email: me.email, password: PASSWORD });
    expect(blocked.statusCode).toBe(401);
    expect(errorText(blocked.body)).toBe(errorText(wrong[0]?.body ?? ''));
    t.clock.advance(14 * MIN);
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
    t.clock.advance(2 * MIN);
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
  });

  it('doubles the wait on the next block (15, then 30 minutes)', async () => {
    const me = (await createCompany(t.deps)).employee;
    const b = await browser();
    for (let i = 0; i < 3; i++) await b.post('/login', { email: me.email, password: 'nope' });
    t.clock.advance(16 * MIN);
    for (let i = 0; i < 3; i++) await b.post('/login', { email: me.email, password: 'nope' });
    t.clock.advance(16 * MIN);
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
    t.clock.advance(15 * MIN);
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
  });

  it('a success resets the count: failures must be consecutive', async () => {
    const me = (await createCompany(t.deps)).employee;
    const b = await browser();
    for (let i = 0; i < 2; i++) await b.post('/login', { email: me.email, password: 'nope' });
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
    await b.post('/logout');
    await b.get('/login');
    for (let i = 0; i < 2; i++) await b.post('/login', { email: me.email, password: 'nope' });
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
  });

  it('an attacker on another device cannot lock the user out of their own browser', async () => {
    const me = f.colleague;
    const mine = await browser();
    expect((await mine.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
    await mine.post('/logout');
    await mine.get('/login');
    // Many attackers, each with a fresh device: every one is blocked after 3, and all unknown
    // sources together after 10.
    for (let d = 0; d < 5; d++) {
      const attacker = await browser();
      for (let i = 0; i < 3; i++) await attacker.post('/login', { email: me.email, password: `guess ${d}-${i}` });
    }
    const fresh = await browser();
    expect((await fresh.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
    // The user's own, known browser still works.
    expect((await mine.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
  });

  it('unknown e-mail addresses are throttled the same way (no enumeration through blocking)', async () => {
    const ghost = `ghost-${Date.now()}@nowhere.example`;
    const b = await browser();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await b.post('/login', { email: ghost, password: 'x' }));
    expect(new Set(answers.map((r) => r.statusCode))).toEqual(new Set([401]));
    expect(new Set(answers.map((r) => errorText(r.body))).size).toBe(1);
  });

  it('platform staff are blocked too, and every attempt and lockout is audited', async () => {
    const staff = await createStaff(t.deps);
    const b = await browser();
    for (let i = 0; i < 3; i++) await b.post('/login', { email: staff.email, password: 'nope' });
    expect((await b.post('/login', { email: staff.email, password: PASSWORD })).statusCode).toBe(401);
    const events = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('event_type').where('actor_staff_id', '=', staff.id).orderBy('id').execute(),
    );
    expect(events.map((e) => e.event_type)).toEqual(['auth.login.failed', 'auth.login.failed', 'auth.login.failed', 'auth.lockout', 'auth.login.blocked']);
  });

  it('a company admin lifts the block; a delegate cannot', async () => {
    const g = await createCompany(t.deps);
    const b = await browser();
    for (let i = 0; i < 3; i++) await b.post('/login', { email: g.member.email, password: 'nope' });
    expect((await b.post('/login', { email: g.member.email, password: PASSWORD })).statusCode).toBe(401);
    const delegate = await loggedIn(t.app, g.delegate.email);
    expect((await delegate.post(`/org/employees/${g.member.employmentId}/unlock`)).statusCode).toBe(404);
    expect((await b.post('/login', { email: g.member.email, password: PASSWORD })).statusCode).toBe(401);
    const admin = await loggedIn(t.app, g.admin.email);
    const page = await admin.get(`/org/employees/${g.member.employmentId}`);
    expect(page.body).toContain(`/org/employees/${g.member.employmentId}/unlock`);
    expect((await admin.post(`/org/employees/${g.member.employmentId}/unlock`)).statusCode).toBe(303);
    expect((await b.post('/login', { email: g.member.email, password: PASSWORD })).statusCode).toBe(303);
    const events = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('event_type').where('company_id', '=', g.companyId).where('event_type', '=', 'auth.unlocked').execute(),
    );
    expect(events).toHaveLength(1);
  });

  it('without a device cookie the IP address is the source', async () => {
    const me = (await createCompany(t.deps)).employee;
    const noCookie = () => t.app.inject({ method: 'POST', url: '/login', headers: { host: 'samtale.test', origin: 'http://samtale.test', 'content-type': 'application/x-www-form-urlencoded', cookie: 'samtale_csrf=' + 'c'.repeat(43) }, payload: new URLSearchParams({ _csrf: 'c'.repeat(43), email: me.email, password: 'nope' }).toString() });
    for (let i = 0; i < 3; i++) expect((await noCookie()).statusCode).toBe(401);
    const rows = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('login_throttle').select(['source', 'blocked_until']).where('source', 'like', 'ip:%').execute());
    expect(rows.some((r) => r.blocked_until !== null)).toBe(true);
  });
});
