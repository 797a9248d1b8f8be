/**
 * Issue 3: invitations, password reset, unlock links, e-mail change, notices by e-mail, the hard
 * cap and the request-rate limits (M2, M6, M7). Real app, real database, mails read from the
 * outbox; the clock is injected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, PASSWORD, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { newestMails } from './helpers/mail.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { HARD_CAP } from '../src/platform/auth/throttle.ts';
import { RATE_RULES } from '../src/platform/auth/rate-limit.ts';
import { TOTP } from 'otpauth';
import { unsafeCleanUpLoginState } from '../src/platform/auth/cleanup.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const MIN = 60_000;
const HOUR = 60 * MIN;
const NEW_PASSWORD = 'a quiet lake under birch trees';

async function browser(ip?: string): Promise<Agent> {
  const a = ip ? new Agent(t.app, ip) : new Agent(t.app);
  await a.get('/login');
  return a;
}

/** The same browser later, logged out: same address and device cookie, no session. */
async function sameDevice(earlier: Agent): Promise<Agent> {
  const a = new Agent(t.app, earlier.ip);
  a.cookies = new Map(earlier.cookies);
  a.cookies.delete('samtale_session');
  await a.get('/login');
  return a;
}

/** The path of the newest mail of this template to the address. */
async function linkFor(address: string, template: string): Promise<string> {
  const mail = (await newestMails(t.deps, address)).find((m) => m.template === template);
  expect(mail, `${template} to ${address}`).toBeDefined();
  const link = mail?.link ?? '';
  expect(link).toMatch(/^http:\/\/localhost:3000\//);
  return new URL(link).pathname;
}

async function countMails(address: string, template: string): Promise<number> {
  return (await newestMails(t.deps, address, 100)).filter((m) => m.template === template).length;
}

async function createEmployeeAs(admin: Agent, f: CompanyFixture, email: string, name = 'Nanna Nybegynder') {
  await admin.get('/org/employees/new');
  return admin.post('/org/employees', { name, email, title: 'Konsulent', role: 'employee', language: 'da', team_id: f.teamId, department_id: '' });
}

describe('invitations', () => {
  it('an admin creates an employee; the invitation link (72 h, single use) lets them choose a password and log in', async () => {
    const f = await createCompany(t.deps);
    const admin = await loggedIn(t.app, f.admin.email);
    const email = `ny-${Date.now()}@test.example`;
    const created = await createEmployeeAs(admin, f, email);
    expect(created.statusCode).toBe(201);
    expect(created.body).toContain('invitation');
    const path = await linkFor(email, 'invitation');
    expect(path).toMatch(/^\/invitation\/[A-Za-z0-9_-]{43}$/);
    // The link carries no personal data, and the mail none beyond the first name and company.
    expect(path).not.toContain('ny-');

    const b = await browser();
    const page = await b.get(path);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Nanna');
    expect(page.body).toContain(f.name);
    // A weak password is refused with the reason, and nothing is spent.
    const weak = await b.post(path, { next: 'password', repeat: 'password' });
    expect(weak.statusCode).toBe(422);
    expect(weak.body).toContain('error-summary');
    const ok = await b.post(path, { next: NEW_PASSWORD, repeat: NEW_PASSWORD });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/login?welcome=1');
    expect((await b.post('/login', { email, password: NEW_PASSWORD })).statusCode).toBe(303);
    // Single use.
    expect((await (await browser()).get(path)).statusCode).toBe(410);
    const audit = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('event_type').where('company_id', '=', f.companyId).where('event_type', 'like', 'auth.invitation.%').execute(),
    );
    expect(audit.map((a) => a.event_type).sort()).toEqual(['auth.invitation.accepted', 'auth.invitation.sent']);
  });

  it('an invitation expires after 72 hours; the admin can send a new one, which retires the old link', async () => {
    const f = await createCompany(t.deps);
    const admin = await loggedIn(t.app, f.admin.email);
    const email = `sen-${Date.now()}@test.example`;
    await createEmployeeAs(admin, f, email);
    const first = await linkFor(email, 'invitation');
    t.clock.advance(72 * HOUR + MIN);
    expect((await (await browser()).get(first)).statusCode).toBe(410);
    const admin2 = await loggedIn(t.app, f.admin.email);
    const employmentId = await unsafeSystemTransaction(t.deps.database, async (trx) =>
      (await trx.selectFrom('employments as e').innerJoin('users as u', 'u.id', 'e.user_id').select('e.id').where('u.email', '=', email).executeTakeFirstOrThrow()).id,
    );
    const employeePage = await admin2.get(`/org/employees/${employmentId}`);
    expect(employeePage.body).toContain(`/org/employees/${employmentId}/invite`);
    const resent = await admin2.post(`/org/employees/${employmentId}/invite`);
    expect(resent.statusCode).toBe(303);
    const second = await linkFor(email, 'invitation');
    expect(second).not.toBe(first);
    expect((await (await browser()).get(second)).statusCode).toBe(200);
    // Someone who already has a password needs no invitation: a clear refusal, not an error.
    const again = await admin2.post(`/org/employees/${f.employee.employmentId}/invite`);
    expect(again.statusCode).toBe(409);
  });

  it('M2: after accepting, a company that requires two-factor sends the first login to enrolment', async () => {
    const f = await createCompany(t.deps);
    const admin = await loggedIn(t.app, f.admin.email);
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('companies').set({ require_two_factor: 'everyone' }).where('id', '=', f.companyId).execute());
    const email = `tfa-${Date.now()}@test.example`;
    await createEmployeeAs(admin, f, email);
    const path = await linkFor(email, 'invitation');
    const b = await browser();
    await b.get(path);
    await b.post(path, { next: NEW_PASSWORD, repeat: NEW_PASSWORD });
    const login = await b.post('/login', { email, password: NEW_PASSWORD });
    expect(login.headers.location).toBe('/login/second-factor');
    const step = await b.get('/login/second-factor');
    expect(step.body).toContain('class="secret"');
  });
});

describe('password reset', () => {
  it('answers the same for known and unknown addresses, and mails only the known one (no enumeration)', async () => {
    const f = await createCompany(t.deps);
    const b = await browser();
    await b.get('/password/forgot');
    const known = await b.post('/password/forgot', { email: f.employee.email });
    const unknown = await b.post('/password/forgot', { email: `nobody-${Date.now()}@test.example` });
    expect(known.statusCode).toBe(200);
    expect(unknown.statusCode).toBe(200);
    const strip = (html: string) => html.replace(/name="_csrf" value="[^"]+"/, '').replace(/value="[^"]*@[^"]*"/, '');
    expect(strip(known.body)).toBe(strip(unknown.body));
    expect(await countMails(f.employee.email, 'password_reset')).toBe(1);
    const empty = await b.post('/password/forgot', { email: '' });
    expect(empty.statusCode).toBe(422);
  });

  it('M7: the link sets a new password, ends every session, is single use and expires after 1 hour', async () => {
    const f = await createCompany(t.deps);
    const session = await loggedIn(t.app, f.employee.email);
    const b = await browser();
    await b.post('/password/forgot', { email: f.employee.email });
    const path = await linkFor(f.employee.email, 'password_reset');
    expect((await b.get(path)).statusCode).toBe(200);
    const mismatch = await b.post(path, { next: NEW_PASSWORD, repeat: 'something else entirely' });
    expect(mismatch.statusCode).toBe(422);
    const done = await b.post(path, { next: NEW_PASSWORD, repeat: NEW_PASSWORD });
    expect(done.headers.location).toBe('/login?reset=1');
    // The old session is gone, the old password no longer works, the new one does.
    expect((await session.get('/dashboard')).statusCode).toBe(303);
    expect((await (await browser()).post('/login', { email: f.employee.email, password: PASSWORD })).statusCode).toBe(401);
    expect((await (await browser()).post('/login', { email: f.employee.email, password: NEW_PASSWORD })).statusCode).toBe(303);
    expect((await b.post(path, { next: NEW_PASSWORD, repeat: NEW_PASSWORD })).statusCode).toBe(410);
    expect(await countMails(f.employee.email, 'password_changed')).toBe(1);

    await b.post('/password/forgot', { email: f.colleague.email });
    const late = await linkFor(f.colleague.email, 'password_reset');
    t.clock.advance(HOUR + MIN);
    expect((await b.get(late)).statusCode).toBe(410);
  });

  it('M2: a reset never bypasses the second factor: the next login still asks for the code', async () => {
    const f = await createCompany(t.deps);
    const secret = await enrolTotp(f.leader.email);
    const b = await browser();
    await b.post('/password/forgot', { email: f.leader.email });
    const path = await linkFor(f.leader.email, 'password_reset');
    await b.post(path, { next: NEW_PASSWORD, repeat: NEW_PASSWORD });
    const login = await b.post('/login', { email: f.leader.email, password: NEW_PASSWORD });
    expect(login.statusCode).toBe(303);
    expect(login.headers.location).toBe('/login/second-factor');
    await b.get('/login/second-factor');
    const code = new TOTP({ secret, digits: 6, period: 30 }).generate({ timestamp: t.clock.now().getTime() });
    expect((await b.post('/login/second-factor', { code })).headers.location).toBe('/dashboard');
  });

  it('sends at most 3 links an hour per address, answering the same (no mail bombing)', async () => {
    const f = await createCompany(t.deps);
    for (let i = 0; i < 5; i++) {
      const r = await (await browser()).post('/password/forgot', { email: f.colleague.email });
      expect(r.statusCode).toBe(200);
    }
    expect(await countMails(f.colleague.email, 'password_reset')).toBe(RATE_RULES.resetRequestPerEmail.limit);
  });
});

describe('M7 account-wide limits, unlock link and notices', () => {
  it('after 10 failures from unknown sources, they are blocked and the user gets an unlock link; known devices keep working', async () => {
    const f = await createCompany(t.deps);
    const me = f.employee;
    const home = await browser();
    expect((await home.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
    for (let i = 0; i < 10; i++) await (await browser()).post('/login', { email: me.email, password: `guess ${i}` });
    const stranger = await browser();
    expect((await stranger.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
    const knownDevice = await sameDevice(home);
    expect((await knownDevice.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);

    const path = await linkFor(me.email, 'account_unlock');
    expect(path).toMatch(/^\/unlock\/[A-Za-z0-9_-]{43}$/);
    // Opening the link changes nothing (mail scanners open links); the button does.
    const page = await stranger.get(path);
    expect(page.statusCode).toBe(200);
    expect((await stranger.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
    expect((await stranger.post(path)).headers.location).toBe('/login?unlocked=1');
    expect((await stranger.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
    expect((await (await browser()).post(path)).statusCode).toBe(410);
  });

  it('tells the user by e-mail of a lockout, at most once an hour', async () => {
    const f = await createCompany(t.deps);
    const me = f.colleague;
    const a = await browser();
    for (let i = 0; i < 3; i++) await a.post('/login', { email: me.email, password: 'wrong' });
    expect(await countMails(me.email, 'lockout')).toBe(1);
    const b = await browser();
    for (let i = 0; i < 3; i++) await b.post('/login', { email: me.email, password: 'wrong' });
    expect(await countMails(me.email, 'lockout')).toBe(1);
    t.clock.advance(HOUR + MIN);
    const c = await browser();
    for (let i = 0; i < 3; i++) await c.post('/login', { email: me.email, password: 'wrong' });
    expect(await countMails(me.email, 'lockout')).toBe(2);
  });

  it(`M7 hard cap: ${HARD_CAP} failures in a row switch password login off, even on known devices and after an admin unlock, until a reset`, async () => {
    const f = await createCompany(t.deps);
    const me = f.member;
    const home = await browser();
    expect((await home.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
    // Failures from many places, slowly (a day apart), so no shorter block ever stops the count.
    for (let i = 0; i < HARD_CAP; i++) {
      await (await browser()).post('/login', { email: me.email, password: `spray ${i}` });
      t.clock.advance(25 * HOUR);
    }
    const knownDevice = await sameDevice(home);
    expect((await knownDevice.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
    const admin = await loggedIn(t.app, f.admin.email);
    await admin.get(`/org/employees/${me.employmentId}`);
    expect((await admin.post(`/org/employees/${me.employmentId}/unlock`)).statusCode).toBe(303);
    expect((await knownDevice.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
    const lockouts = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('data').where('actor_user_id', '=', me.userId).where('event_type', '=', 'auth.lockout').execute(),
    );
    expect(lockouts.some((l) => JSON.stringify(l.data).includes('hard_cap'))).toBe(true);
    // The reset lifts it.
    await knownDevice.post('/password/forgot', { email: me.email });
    const path = await linkFor(me.email, 'password_reset');
    await knownDevice.get(path);
    await knownDevice.post(path, { next: NEW_PASSWORD, repeat: NEW_PASSWORD });
    expect((await knownDevice.post('/login', { email: me.email, password: NEW_PASSWORD })).statusCode).toBe(303);
  });

  it('mails a notice of a login from a new device, but not for the very first login', async () => {
    const f = await createCompany(t.deps);
    const me = f.delegate;
    await (await browser()).post('/login', { email: me.email, password: PASSWORD });
    expect(await countMails(me.email, 'new_device_login')).toBe(0);
    await (await browser()).post('/login', { email: me.email, password: PASSWORD });
    expect(await countMails(me.email, 'new_device_login')).toBe(1);
  });
});

describe('request-rate limits (password spraying, floods)', () => {
  it('M7: failed logins from one IP address across many accounts stop unknown devices there; known devices still get in', async () => {
    const ip = '127.77.0.1';
    const victims = await createCompany(t.deps);
    const officeColleague = await browser(ip);
    expect((await officeColleague.post('/login', { email: victims.leader.email, password: PASSWORD })).statusCode).toBe(303);
    const accounts = [victims.employee, victims.colleague, victims.member, victims.delegate, victims.admin];
    for (let i = 0; i < RATE_RULES.loginFailuresPerIp.limit; i++) {
      const target = accounts[i % accounts.length];
      await (await browser(ip)).post('/login', { email: target?.email ?? '', password: `Winter2027!${i}` });
    }
    const sprayed = await (await browser(ip)).post('/login', { email: victims.employee.email, password: PASSWORD });
    expect(sprayed.statusCode).toBe(429);
    expect(sprayed.body).toContain('netværk');
    const known = await sameDevice(officeColleague);
    expect((await known.post('/login', { email: victims.leader.email, password: PASSWORD })).statusCode).toBe(303);
    // Elsewhere, the same account is unaffected.
    expect((await (await browser()).post('/login', { email: victims.employee.email, password: PASSWORD })).statusCode).toBe(303);
    // The window passes.
    t.clock.advance(16 * MIN);
    expect((await (await browser(ip)).post('/login', { email: victims.employee.email, password: PASSWORD })).statusCode).toBe(303);
  });

  it('answers 429 with Retry-After once an IP address floods the login form', async () => {
    const ip = '127.88.0.1';
    const b = await browser(ip);
    let last = 0;
    let retry: unknown;
    for (let i = 0; i <= RATE_RULES.loginPerIp.limit; i++) {
      const r = await b.post('/login', { email: `flood-${i}@test.example`, password: 'x' });
      last = r.statusCode;
      retry = r.headers['retry-after'];
    }
    expect(last).toBe(429);
    expect(Number(retry)).toBeGreaterThan(0);
  });
});

describe('rate limits on account changes', () => {
  it('M7: posts to one\'s own account pages are limited per account (429), across browsers', async () => {
    const f = await createCompany(t.deps);
    const a = await loggedIn(t.app, f.leader.email);
    const b = await loggedIn(t.app, f.leader.email);
    const statuses: number[] = [];
    for (let i = 0; i < RATE_RULES.accountChangesPerAccount.limit; i++) {
      statuses.push((await (i % 2 ? a : b).post('/account/password', { current: 'nope', next: '', repeat: '' })).statusCode);
    }
    expect(new Set(statuses)).toEqual(new Set([422]));
    const over = await a.post('/account/sessions/delete-others');
    expect(over.statusCode).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    // Someone else is not affected.
    const other = await loggedIn(t.app, f.employee.email);
    expect((await other.post('/account/password', { current: 'nope', next: '', repeat: '' })).statusCode).toBe(422);
  });
});

describe('changing the e-mail address', () => {
  it('needs the current password (a wrong one counts towards M7), confirms by link to the new address and tells the old one', async () => {
    const f = await createCompany(t.deps);
    const me = await loggedIn(t.app, f.employee.email);
    const newEmail = `moved-${Date.now()}@test.example`;
    expect((await me.get('/account/email')).statusCode).toBe(200);
    const wrong = await me.post('/account/email', { email: newEmail, current: 'not it' });
    expect(wrong.statusCode).toBe(422);
    expect(await countMails(newEmail, 'email_change_confirm')).toBe(0);
    const bad = await me.post('/account/email', { email: 'not an address', current: PASSWORD });
    expect(bad.statusCode).toBe(422);
    const ok = await me.post('/account/email', { email: newEmail, current: PASSWORD });
    expect(ok.headers.location).toBe('/account/email?sent=1');
    const path = await linkFor(newEmail, 'email_change_confirm');
    // Still the old login until the link is used.
    expect((await (await browser()).post('/login', { email: newEmail, password: PASSWORD })).statusCode).toBe(401);
    const b = await browser();
    expect((await b.get(path)).body).toContain(newEmail);
    expect((await b.post(path)).headers.location).toBe('/login?emailChanged=1');
    expect((await (await browser()).post('/login', { email: newEmail, password: PASSWORD })).statusCode).toBe(303);
    expect(await countMails(f.employee.email, 'email_changed_notice')).toBe(1);
    const audit = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('event_type').where('actor_user_id', '=', f.employee.userId).where('event_type', 'like', 'auth.email%').execute(),
    );
    expect(audit.map((a) => a.event_type).sort()).toEqual(['auth.email.changed', 'auth.email_change.requested']);
  });

  it('refuses an address that is already someone\'s login when the link is used, without changing anything', async () => {
    const f = await createCompany(t.deps);
    const me = await loggedIn(t.app, f.employee.email);
    await me.post('/account/email', { email: f.colleague.email, current: PASSWORD });
    const path = await linkFor(f.colleague.email, 'email_change_confirm');
    const b = await browser();
    await b.get(path);
    expect((await b.post(path)).statusCode).toBe(409);
    expect((await (await browser()).post('/login', { email: f.employee.email, password: PASSWORD })).statusCode).toBe(303);
  });
});

/** Enrols a TOTP factor through the real pages and returns its secret. */
async function enrolTotp(email: string): Promise<string> {
  const a = await loggedIn(t.app, email);
  expect((await a.post('/account/two-factor/start', { password: PASSWORD })).statusCode).toBe(303);
  const page = await a.get('/account/two-factor');
  const secret = (/<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(page.body)?.[1] ?? '').replace(/ /g, '');
  const code = new TOTP({ secret, digits: 6, period: 30 }).generate({ timestamp: t.clock.now().getTime() });
  expect((await a.post('/account/two-factor/confirm', { code })).statusCode).toBe(200);
  t.clock.advance(31_000);
  return secret;
}

describe('housekeeping and company switch', () => {
  it('the clean-up job removes expired sessions, half-finished logins and spent links, and keeps live ones', async () => {
    const f = await createCompany(t.deps);
    const live = await loggedIn(t.app, f.employee.email);
    const stale = await loggedIn(t.app, f.colleague.email);
    await (await browser()).post('/password/forgot', { email: f.member.email });
    t.clock.advance(20 * MIN);
    await live.get('/dashboard');
    t.clock.advance(20 * MIN);
    // Only this company's people: other test files may share the database (and its clock is ahead).
    const mine = [f.employee.userId, f.colleague.userId, f.member.userId];
    const counts = await unsafeCleanUpLoginState(t.deps, mine);
    expect(counts.sessions).toBeGreaterThanOrEqual(1);
    expect((await live.get('/dashboard')).statusCode).toBe(200);
    expect((await stale.get('/dashboard')).statusCode).toBe(303);
    t.clock.advance(2 * 24 * HOUR);
    const later = await unsafeCleanUpLoginState(t.deps, mine);
    expect(later.tokens).toBeGreaterThanOrEqual(1);
    const left = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('account_tokens').select('id').where('user_id', '=', f.member.userId).execute(),
    );
    expect(left).toEqual([]);
  });

  it('M2: switching to a company that requires two-factor is refused until the user has a factor', async () => {
    const a = await createCompany(t.deps);
    const b = await createCompany(t.deps);
    const adminB = await loggedIn(t.app, b.admin.email);
    await createEmployeeAs(adminB, b, a.employee.email);
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('companies').set({ require_two_factor: 'everyone' }).where('id', '=', b.companyId).execute());
    const me = await loggedIn(t.app, a.employee.email);
    const res = await me.post('/switch-company', { companyId: b.companyId });
    expect(res.headers.location).toBe('/account/two-factor?required=1');
    expect((await me.get('/account/two-factor?required=1')).body).toContain('kræver totrinsbekræftelse');
    const dash = await me.get('/dashboard');
    expect(dash.statusCode).toBe(200);
    expect(dash.body).toContain(a.name);
  });
});
