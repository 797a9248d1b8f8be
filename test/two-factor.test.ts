/**
 * Two-factor authentication (TOTP, RFC 6238) through the real app: enrolment with QR code and
 * typed secret, the login's second step, replay refusal, recovery codes, M7 blocking after 3 wrong
 * codes, and M2 (platform staff must enrol and cannot remove). The clock is injected; nothing sleeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from 'otpauth';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createStaff, PASSWORD } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { checkTotp, hashRecoveryCode, openTotpSecret, totpCode, totpStep } from '../src/platform/auth/totp.ts';
import { sql } from 'kysely';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const MIN = 60_000;
const STEP = 30_000;

const secretFromPage = (body: string) => {
  const m = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(body);
  if (!m?.[1]) throw new Error('no secret on the page');
  return m[1].replace(/ /g, '');
};
const codesFromPage = (body: string) => [...body.matchAll(/<li><code>([0-9a-z-]+)<\/code><\/li>/g)].map((m) => m[1] ?? '');
const now = () => t.clock.now();

async function auditTypes(filter: { userId?: string; staffId?: string }) {
  return unsafeSystemTransaction(t.deps.database, async (trx) => {
    const q = trx.selectFrom('audit_events').select('event_type').orderBy('id');
    const rows = filter.userId ? await q.where('actor_user_id', '=', filter.userId).execute() : await q.where('actor_staff_id', '=', filter.staffId ?? '').execute();
    return rows.map((r) => r.event_type);
  });
}

/** Enrols the agent's own account through the pages; returns the secret and recovery codes. */
async function enrol(agent: Agent): Promise<{ secret: string; codes: string[] }> {
  expect((await agent.post('/account/two-factor/start', { password: PASSWORD })).statusCode).toBe(303);
  const page = await agent.get('/account/two-factor');
  const secret = secretFromPage(page.body);
  const done = await agent.post('/account/two-factor/confirm', { code: totpCode(secret, now()) });
  expect(done.statusCode).toBe(200);
  t.clock.advance(STEP);
  return { secret, codes: codesFromPage(done.body) };
}

/** A fresh browser up to the second step. */
async function passwordStep(email: string): Promise<Agent> {
  const b = new Agent(t.app);
  const res = await b.login(email);
  expect(res.statusCode).toBe(303);
  expect(res.headers.location).toBe('/login/second-factor');
  return b;
}

describe('TOTP (RFC 6238)', () => {
  it('matches the RFC 6238 SHA-1 test vectors', () => {
    const secret = Secret.fromLatin1('12345678901234567890').base32;
    const vectors: [number, string][] = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
      [20000000000, '65353130'],
    ];
    for (const [seconds, expected] of vectors) expect(totpCode(secret, new Date(seconds * 1000), 8)).toBe(expected);
  });

  it('accepts one step of drift either way, refuses two, and refuses a step already used', () => {
    const secret = Secret.fromLatin1('12345678901234567890').base32;
    const at = new Date('2027-03-01T09:00:10Z');
    const step = totpStep(at);
    expect(checkTotp(secret, totpCode(secret, at), at, null)).toBe(step);
    expect(checkTotp(secret, totpCode(secret, new Date(at.getTime() - STEP)), at, null)).toBe(step - 1);
    expect(checkTotp(secret, totpCode(secret, new Date(at.getTime() + STEP)), at, null)).toBe(step + 1);
    expect(checkTotp(secret, totpCode(secret, new Date(at.getTime() + 2 * STEP)), at, null)).toBeUndefined();
    expect(checkTotp(secret, totpCode(secret, at), at, step)).toBeUndefined();
    expect(checkTotp(secret, totpCode(secret, new Date(at.getTime() - STEP)), at, step - 1)).toBeUndefined();
    expect(checkTotp(secret, 'abcdef', at, null)).toBeUndefined();
  });
});

describe('two-factor enrolment and login', () => {
  it('enrols with the current password, a QR code and a confirming code, and shows 10 recovery codes once', async () => {
    const me = (await createCompany(t.deps)).employee;
    const a = await loggedIn(t.app, me.email);
    const off = await a.get('/account/two-factor');
    expect(off.statusCode).toBe(200);
    expect(off.body).toContain('autocomplete="current-password"');
    expect((await a.post('/account/two-factor/start', { password: 'not my password' })).statusCode).toBe(422);
    expect((await a.post('/account/two-factor/start', { password: PASSWORD })).statusCode).toBe(303);

    const page = await a.get('/account/two-factor');
    expect(page.body).toMatch(/<img src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="[^"]+"/);
    expect(page.body).toContain('autocomplete="one-time-code"');
    expect(page.body).toContain('inputmode="numeric"');
    expect(page.body).not.toMatch(/<script(?! src=)|style=/);
    const secret = secretFromPage(page.body);
    const stored = await unsafeSystemTransaction(t.deps.database, (trx) =>
      sql<{ id: string; secret: string; confirmed_at: Date | null }>`select id, secret, confirmed_at from totp_factors where user_id = ${me.userId}`.execute(trx),
    );
    // Stored sealed with the platform key (issue 6), never as the plain secret.
    expect(stored.rows[0]?.secret).not.toContain(secret);
    expect(await openTotpSecret(stored.rows[0]?.id ?? '', stored.rows[0]?.secret ?? '')).toBe(secret);
    expect(stored.rows[0]?.confirmed_at).toBeNull();

    // Until confirmed, the factor does not count: the login still gives a session at once.
    expect((await new Agent(t.app).login(me.email)).headers.location).toBe('/dashboard');

    expect((await a.post('/account/two-factor/confirm', { code: '000000' })).statusCode).toBe(422);
    const done = await a.post('/account/two-factor/confirm', { code: totpCode(secret, now()) });
    expect(done.statusCode).toBe(200);
    const codes = codesFromPage(done.body);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const rows = await unsafeSystemTransaction(t.deps.database, (trx) =>
      sql<{ code_hash: string }>`select code_hash from recovery_codes where user_id = ${me.userId}`.execute(trx),
    );
    expect(rows.rows.map((r) => r.code_hash).sort()).toEqual(codes.map(hashRecoveryCode).sort());
    expect(JSON.stringify(rows.rows)).not.toContain(codes[0]);
    // Shown once: the account page afterwards has no codes, only how many are left.
    const after = await a.get('/account/two-factor');
    expect(codesFromPage(after.body)).toEqual([]);
    expect(after.body).not.toContain(secret);
    expect(await auditTypes({ userId: me.userId })).toContain('auth.second_factor.enrolled');
    t.clock.advance(STEP);
  });

  it('a correct password alone gives no session; the right code gives a new session token; a used code cannot be replayed', async () => {
    const me = (await createCompany(t.deps)).employee;
    const { secret } = await enrol(await loggedIn(t.app, me.email));

    const b = await passwordStep(me.email);
    const pending = b.cookies.get('samtale_pending');
    expect(pending).toBeDefined();
    expect(b.cookies.has('samtale_session')).toBe(false);
    const blocked = await b.get('/dashboard');
    expect(blocked.statusCode).toBe(303);
    expect(blocked.headers.location).toMatch(/^\/login/);

    const step = await b.get('/login/second-factor');
    expect(step.statusCode).toBe(200);
    expect(step.body).toContain('autocomplete="one-time-code"');
    expect(step.body).toContain('inputmode="numeric"');
    expect(step.body).toContain('<label for="code">');

    const code = totpCode(secret, now());
    const ok = await b.post('/login/second-factor', { code });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/dashboard');
    expect(b.cookies.has('samtale_pending')).toBe(false);
    const session = b.cookies.get('samtale_session');
    expect(session).toBeDefined();
    expect(session).not.toBe(pending);
    expect((await b.get('/dashboard')).statusCode).toBe(200);
    const types = await auditTypes({ userId: me.userId });
    expect(types.slice(-2)).toEqual(['auth.second_factor.succeeded', 'auth.login.succeeded']);

    // The same code, still inside its 30 seconds, from another browser: refused.
    const c = await passwordStep(me.email);
    expect((await c.post('/login/second-factor', { code })).statusCode).toBe(401);
    t.clock.advance(STEP);
    expect((await c.post('/login/second-factor', { code: totpCode(secret, now()) })).statusCode).toBe(303);
    t.clock.advance(STEP);
  });

  it('M7: 3 wrong codes block the source like 3 wrong passwords; the right password is refused until the wait is over', async () => {
    const me = (await createCompany(t.deps)).employee;
    const { secret } = await enrol(await loggedIn(t.app, me.email));
    const b = await passwordStep(me.email);
    expect((await b.post('/login/second-factor', { code: '111111' })).statusCode).toBe(401);
    expect((await b.post('/login/second-factor', { code: '222222' })).statusCode).toBe(401);
    const third = await b.post('/login/second-factor', { code: '333333' });
    expect(third.statusCode).toBe(401);
    expect(third.body).toContain('action="/login"');
    expect(b.cookies.has('samtale_pending')).toBe(false);
    // The pending login is gone: even a right code now leads back to the login.
    expect((await b.post('/login/second-factor', { code: totpCode(secret, now()) })).headers.location).toBe('/login?expired=1');
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
    t.clock.advance(16 * MIN);
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).headers.location).toBe('/login/second-factor');
    expect((await b.post('/login/second-factor', { code: totpCode(secret, now()) })).statusCode).toBe(303);
    const types = await auditTypes({ userId: me.userId });
    expect(types.filter((x) => x === 'auth.second_factor.failed')).toHaveLength(3);
    expect(types).toContain('auth.lockout');
    t.clock.advance(STEP);
  });

  it('wrong passwords and wrong codes count together (consecutive failures)', async () => {
    const me = (await createCompany(t.deps)).employee;
    await enrol(await loggedIn(t.app, me.email));
    const b = new Agent(t.app);
    await b.get('/login');
    await b.post('/login', { email: me.email, password: 'wrong 1' });
    await b.post('/login', { email: me.email, password: 'wrong 2' });
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).headers.location).toBe('/login/second-factor');
    expect((await b.post('/login/second-factor', { code: '123456' })).body).toContain('action="/login"');
    expect((await b.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
  });

  it('a recovery code works once instead of a TOTP code', async () => {
    const me = (await createCompany(t.deps)).employee;
    const { codes } = await enrol(await loggedIn(t.app, me.email));
    const code = codes[3] ?? '';
    const b = await passwordStep(me.email);
    expect((await b.post('/login/second-factor', { recoveryCode: code.toUpperCase() })).statusCode).toBe(303);
    expect((await b.get('/dashboard')).statusCode).toBe(200);
    const c = await passwordStep(me.email);
    expect((await c.post('/login/second-factor', { recoveryCode: code })).statusCode).toBe(401);
    const types = await auditTypes({ userId: me.userId });
    expect(types).toContain('auth.recovery_code.used');
    const page = await b.get('/account/two-factor');
    expect(page.body).toContain(': 9.');
  });

  it('the pending login lasts 5 minutes and is useless at any other page', async () => {
    const me = (await createCompany(t.deps)).employee;
    const { secret } = await enrol(await loggedIn(t.app, me.email));
    const b = await passwordStep(me.email);
    expect((await b.get('/account/two-factor')).statusCode).toBe(303);
    // The pending token as a session cookie is no session either.
    const forged = await t.app.inject({ method: 'GET', url: '/dashboard', headers: { host: 'samtale.test', accept: 'text/html', cookie: `samtale_session=${b.cookies.get('samtale_pending')}` } });
    expect(forged.statusCode).toBe(303);
    t.clock.advance(5 * MIN + 1000);
    const late = await b.post('/login/second-factor', { code: totpCode(secret, now()) });
    expect(late.headers.location).toBe('/login?expired=1');
    expect((await b.get('/login/second-factor')).headers.location).toBe('/login?expired=1');
    t.clock.advance(STEP);
  });

  it('turning it off needs the current password and a current code', async () => {
    const me = (await createCompany(t.deps)).employee;
    const a = await loggedIn(t.app, me.email);
    const { secret } = await enrol(a);
    expect((await a.post('/account/two-factor/remove', { password: 'nope', code: totpCode(secret, now()) })).statusCode).toBe(422);
    t.clock.advance(STEP);
    expect((await a.post('/account/two-factor/remove', { password: PASSWORD, code: '000000' })).statusCode).toBe(422);
    expect((await a.post('/account/two-factor/remove', { password: PASSWORD, code: totpCode(secret, now()) })).statusCode).toBe(303);
    expect((await new Agent(t.app).login(me.email)).headers.location).toBe('/dashboard');
    expect(await auditTypes({ userId: me.userId })).toContain('auth.second_factor.removed');
  });

  it('factor rows are visible only to their owner (row-level security)', async () => {
    const f = await createCompany(t.deps);
    await enrol(await loggedIn(t.app, f.employee.email));
    const seen = await withTenant(t.deps.database, { userId: f.colleague.userId, companyId: f.companyId }, async (trx) => ({
      factors: (await sql<{ n: number }>`select count(*)::int as n from totp_factors`.execute(trx)).rows[0]?.n,
      codes: (await sql<{ n: number }>`select count(*)::int as n from recovery_codes`.execute(trx)).rows[0]?.n,
    }));
    expect(seen).toEqual({ factors: 0, codes: 0 });
    const own = await withTenant(t.deps.database, { userId: f.employee.userId, companyId: f.companyId }, async (trx) =>
      (await sql<{ n: number }>`select count(*)::int as n from recovery_codes`.execute(trx)).rows[0]?.n,
    );
    expect(own).toBe(10);
  });
});

describe('M2 platform staff must use two-factor', () => {
  it('M2 a staff account without a factor is sent to enrolment and gets no working session until it has enrolled; it cannot remove its factor', async () => {
    const staff = await createStaff(t.deps, 'support', { withFactor: false });
    const b = await passwordStep(staff.email);
    expect(b.cookies.has('samtale_session')).toBe(false);
    expect((await b.get('/staff/companies')).statusCode).toBe(303);
    const page = await b.get('/login/second-factor');
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/<img src="data:image\/svg\+xml;base64,/);
    const secret = secretFromPage(page.body);
    expect((await b.post('/login/second-factor', { code: '000000' })).statusCode).toBe(401);
    // A recovery code cannot stand in for enrolment.
    expect((await b.post('/login/second-factor', { recoveryCode: 'aaaa-bbbb-cccc-dddd' })).statusCode).toBe(401);
    const done = await b.post('/login/second-factor', { code: totpCode(secret, now()) });
    expect(done.statusCode).toBe(200);
    expect(codesFromPage(done.body)).toHaveLength(10);
    expect(done.body).toContain('href="/staff/companies"');
    expect((await b.get('/staff/companies')).statusCode).toBe(200);
    expect(await auditTypes({ staffId: staff.id })).toEqual([
      'auth.second_factor.failed',
      'auth.second_factor.failed',
      'auth.second_factor.enrolled',
      'auth.second_factor.succeeded',
      'auth.login.succeeded',
    ]);

    // Staff cannot turn it off: the route is not theirs.
    const account = await b.get('/account/two-factor');
    expect(account.statusCode).toBe(200);
    expect(account.body).not.toContain('action="/account/two-factor/remove"');
    t.clock.advance(STEP);
    expect((await b.post('/account/two-factor/remove', { password: PASSWORD, code: totpCode(secret, now()) })).statusCode).toBe(404);

    // The next login asks for a code, not enrolment.
    t.clock.advance(STEP);
    const again = await passwordStep(staff.email);
    const step = await again.get('/login/second-factor');
    expect(step.body).not.toContain('data:image/svg+xml');
    expect((await again.post('/login/second-factor', { code: totpCode(secret, now()) })).headers.location).toBe('/staff/companies');
  });

  it('M2 a staff account that enrolled from its session keeps the factor it confirmed', async () => {
    const staff = await createStaff(t.deps, 'support', { withFactor: false });
    const b = await passwordStep(staff.email);
    const secret = secretFromPage((await b.get('/login/second-factor')).body);
    await b.post('/login/second-factor', { code: totpCode(secret, now()) });
    const page = await b.get('/account/two-factor');
    expect(page.body).not.toContain('action="/account/two-factor/start"');
    expect((await b.post('/account/two-factor/start', { password: PASSWORD })).statusCode).toBe(303);
    const stored = await unsafeSystemTransaction(t.deps.database, (trx) =>
      sql<{ id: string; secret: string; confirmed_at: Date | null }>`select id, secret, confirmed_at from totp_factors where staff_id = ${staff.id}`.execute(trx),
    );
    expect(stored.rows).toHaveLength(1);
    expect(await openTotpSecret(stored.rows[0]?.id ?? '', stored.rows[0]?.secret ?? '')).toBe(secret);
    expect(stored.rows[0]?.confirmed_at).not.toBeNull();
    t.clock.advance(STEP);
  });
});
