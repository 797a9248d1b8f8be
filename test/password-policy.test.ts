/**
 * The password policy (issue 3, M2) and the change-password page, through the real app and a
 * real database. People under test get controlled names (digits in e-mail addresses), so the
 * "contains a name" rule never trips by chance on a random fixture tag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import {
  checkNewPassword,
  commonPasswords,
  isCommonPassword,
  minLengthForCompanies,
  STAFF_MIN_PASSWORD_LENGTH,
} from '../src/platform/auth/password-policy.ts';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createStaff, PASSWORD, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

let seq = 0;
/** A fresh company "Nordlys" whose employee is "Anne Holm" with an all-digit e-mail local part. */
async function annesCompany(minLength?: number): Promise<{ f: CompanyFixture; email: string; userId: string }> {
  const f = await createCompany(t.deps, { name: 'Nordlys ApS' });
  const email = `u${Date.now()}${seq++}${process.pid}@test.example`;
  await unsafeSystemTransaction(t.deps.database, async (trx) => {
    await trx.updateTable('users').set({ name: 'Anne Holm', email }).where('id', '=', f.employee.userId).execute();
    if (minLength !== undefined) await trx.updateTable('companies').set({ min_password_length: minLength }).where('id', '=', f.companyId).execute();
  });
  return { f, email, userId: f.employee.userId };
}

async function hashOf(userId: string) {
  return unsafeSystemTransaction(t.deps.database, async (trx) => (await trx.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirstOrThrow()).password_hash);
}

async function auditRows(filter: { userId?: string; staffId?: string }) {
  return unsafeSystemTransaction(t.deps.database, async (trx) => {
    const q = trx.selectFrom('audit_events').select(['event_type', 'data']).orderBy('id');
    return filter.userId ? q.where('actor_user_id', '=', filter.userId).execute() : q.where('actor_staff_id', '=', filter.staffId ?? '').execute();
  });
}

const change = (a: Agent, current: string, next: string, repeat = next) => a.post('/account/password', { current, next, repeat });

describe('the common-password list', () => {
  it('has at least 100,000 entries, shipped offline, and refuses known ones case-insensitively', () => {
    expect(commonPasswords().size).toBeGreaterThanOrEqual(100_000);
    for (const pw of ['password', 'qwerty123', '123456789012', 'PassWord', 'QWERTY123']) expect(isCommonPassword(pw)).toBe(true);
    expect(isCommonPassword('uglen tæller stjerner over fjorden')).toBe(false);
    for (const pw of ['password', 'qwerty123', '123456789012']) {
      expect(checkNewPassword({ password: pw, minLength: 8, names: [] }).map((p) => p.code)).toContain('common');
    }
  });
});

describe('checkNewPassword', () => {
  const names = ['Nordlys ApS', 'Anne Holm', 'anne.holm'];

  it('accepts a long unusual pass phrase and states no composition rules', () => {
    expect(checkNewPassword({ password: 'uglen tæller stjerner over fjorden', minLength: 12, names })).toEqual([]);
    expect(checkNewPassword({ password: 'alllowercaseandnothingelse', minLength: 12, names })).toEqual([]);
  });

  it('refuses the company\'s and the person\'s own names, case-insensitively', () => {
    expect(checkNewPassword({ password: 'i love NORDLYS very much', minLength: 12, names })).toEqual([{ code: 'contains_name', part: 'nordlys' }]);
    expect(checkNewPassword({ password: 'xx-holm-forever-2027', minLength: 12, names })).toEqual([{ code: 'contains_name', part: 'holm' }]);
    expect(checkNewPassword({ password: 'zz ANNE zz zz zz zz', minLength: 12, names })).toEqual([{ code: 'contains_name', part: 'anne' }]);
    // Legal forms and parts shorter than 3 letters are not names.
    expect(checkNewPassword({ password: 'perhaps a quiet evening', minLength: 12, names: ['Jo Li ApS'] })).toEqual([]);
  });

  it('applies the minimum, never below 8, and a maximum of 1024; lengths count characters, not bytes', () => {
    expect(checkNewPassword({ password: 'kq7 vz9 wp', minLength: 12, names: [] })).toEqual([{ code: 'too_short', min: 12 }]);
    expect(checkNewPassword({ password: 'kq7vz9w', minLength: 4, names: [] })).toEqual([{ code: 'too_short', min: 8 }]);
    expect(checkNewPassword({ password: 'kq7vz9wp', minLength: 4, names: [] })).toEqual([]);
    expect(checkNewPassword({ password: 'x'.repeat(1025), minLength: 12, names: [] })).toEqual([{ code: 'too_long', max: 1024 }]);
    expect(checkNewPassword({ password: '😀'.repeat(12), minLength: 12, names: [] })).toEqual([]);
    expect(minLengthForCompanies([])).toBe(12);
    expect(minLengthForCompanies([3])).toBe(8);
    expect(minLengthForCompanies([10, 14])).toBe(14);
  });
});

describe('GET/POST /account/password', () => {
  it('shows the form in Danish with the company minimum, linked from the sessions page', async () => {
    const { email } = await annesCompany(14);
    const a = await loggedIn(t.app, email);
    const page = await a.get('/account/password');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Skift adgangskode');
    expect(page.body).toContain('Mindst 14 tegn');
    expect(page.body).toContain('autocomplete="current-password"');
    expect(page.body).not.toMatch(/maxlength/i);
    expect((await a.get('/account/sessions')).body).toContain('href="/account/password"');
  });

  it('refuses bad input with 422 and Danish messages per field, and changes nothing', async () => {
    const { email, userId } = await annesCompany();
    const a = await loggedIn(t.app, email);
    const other = await loggedIn(t.app, email);
    const before = await hashOf(userId);

    const wrong = await change(a, 'not my password at all', 'uglen tæller stjerner over fjorden');
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('Den nuværende adgangskode er forkert.');

    const common = await change(a, PASSWORD, 'password1234');
    expect(common.statusCode).toBe(422);
    expect(common.body).toContain('Adgangskoden er for almindelig');

    const named = await change(a, PASSWORD, 'anne holm er den bedste');
    expect(named.statusCode).toBe(422);
    expect(named.body).toContain('Adgangskoden indeholder et navn, der er let at gætte (&quot;anne&quot;)');

    const company = await change(a, PASSWORD, 'nordlys rocks forever');
    expect(company.statusCode).toBe(422);
    expect(company.body).toContain('(&quot;nordlys&quot;)');

    const short = await change(a, PASSWORD, 'kq7 vz9 wp');
    expect(short.statusCode).toBe(422);
    expect(short.body).toContain('Adgangskoden er for kort: den skal have mindst 12 tegn.');

    const mismatch = await change(a, PASSWORD, 'uglen tæller stjerner over fjorden', 'uglen tæller stjerner over fjorden!');
    expect(mismatch.statusCode).toBe(422);
    expect(mismatch.body).toContain('De to nye adgangskoder er ikke ens.');

    const empty = await change(a, '', '', '');
    expect(empty.statusCode).toBe(422);
    expect(empty.body).toContain('Skriv din nuværende adgangskode.');
    expect(empty.body).toContain('Skriv en ny adgangskode.');

    // No password is ever written back into the page.
    for (const res of [wrong, common, named, short, mismatch]) {
      expect(res.body).not.toContain('uglen tæller');
      expect(res.body).not.toContain(PASSWORD);
    }
    expect(await hashOf(userId)).toBe(before);
    expect((await other.get('/dashboard')).statusCode).toBe(200);
    expect((await a.get('/dashboard')).statusCode).toBe(200);
    const rows = await auditRows({ userId });
    expect(rows.filter((r) => r.event_type === 'auth.password.rejected')).toHaveLength(7);
    expect(rows.some((r) => r.event_type === 'auth.password.changed')).toBe(false);
    expect(JSON.stringify(rows)).not.toContain('uglen');
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
  });

  it('applies the per-company minimum length', async () => {
    const { email } = await annesCompany(14);
    const a = await loggedIn(t.app, email);
    const res = await change(a, PASSWORD, 'kq7 vz9 wp 42');
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('mindst 14 tegn');
    expect((await change(a, PASSWORD, 'kq7 vz9 wp 421')).statusCode).toBe(303);
  });

  it('accepts a 128-character pass phrase exactly as typed; login works with it and not with a trimmed variant', async () => {
    const { email, userId } = await annesCompany();
    const a = await loggedIn(t.app, email);
    const body = 'Uglen tæller stjerner over fjorden i november, mens kaffen bliver kold og radioen spiller 7319 ';
    const phrase = ` ${body.repeat(3)}`.slice(0, 127) + ' ';
    expect([...phrase].length).toBe(128);
    const res = await change(a, PASSWORD, phrase);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/account/password?changed=1');
    expect((await a.get('/account/password?changed=1')).body).toContain('Din adgangskode er skiftet.');

    expect(await t.deps.hasher.verify(await hashOf(userId), phrase)).toBe(true);
    expect((await new Agent(t.app).login(email, phrase.trim())).statusCode).toBe(401);
    expect((await new Agent(t.app).login(email, PASSWORD)).statusCode).toBe(401);
    const ok = await new Agent(t.app).login(email, phrase);
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/dashboard');

    const changed = (await auditRows({ userId })).filter((r) => r.event_type === 'auth.password.changed');
    expect(changed).toHaveLength(1);
    expect(JSON.stringify(changed)).not.toContain('Uglen');
  });

  it('ends all other sessions and rotates the current one', async () => {
    const { email, userId } = await annesCompany();
    const a = await loggedIn(t.app, email);
    const b = await loggedIn(t.app, email);
    const c = await loggedIn(t.app, email);
    const oldToken = a.cookies.get('samtale_session');
    expect(oldToken).toBeTruthy();

    expect((await change(a, PASSWORD, 'uglen tæller stjerner over fjorden')).statusCode).toBe(303);
    expect(a.cookies.get('samtale_session')).not.toBe(oldToken);
    expect((await a.get('/dashboard')).statusCode).toBe(200);
    expect((await b.get('/dashboard')).statusCode).toBe(303);
    expect((await c.get('/dashboard')).statusCode).toBe(303);
    // The old token of this browser is dead too.
    const stale = await t.app.inject({ method: 'GET', url: '/dashboard', headers: { host: 'samtale.test', accept: 'text/html', cookie: `samtale_session=${oldToken}` } });
    expect(stale.statusCode).toBe(303);
    const count = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('sessions').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow(),
    );
    expect(Number(count.n)).toBe(1);
  });

  it('counts wrong current passwords towards the M7 block: after 3, even the right one is refused', async () => {
    const { email, userId } = await annesCompany();
    const a = await loggedIn(t.app, email);
    for (let i = 0; i < 3; i++) expect((await change(a, `wrong guess ${i}`, 'uglen tæller stjerner over fjorden')).statusCode).toBe(422);
    const blocked = await change(a, PASSWORD, 'uglen tæller stjerner over fjorden');
    expect(blocked.statusCode).toBe(422);
    expect(blocked.body).toContain('Den nuværende adgangskode er forkert.');
    expect(await t.deps.hasher.verify(await hashOf(userId), PASSWORD)).toBe(true);
    expect((await auditRows({ userId })).some((r) => r.event_type === 'auth.lockout')).toBe(true);
  });

  it('M2 platform staff need at least 16 characters; their other sessions end on a change', async () => {
    const staff = await createStaff(t.deps, 'support');
    const a = await loggedIn(t.app, staff.email);
    const b = await loggedIn(t.app, staff.email);
    const page = await a.get('/account/password');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`At least ${STAFF_MIN_PASSWORD_LENGTH} characters`);
    const short = await change(a, PASSWORD, 'kq7 vz9 wp 4219');
    expect(short.statusCode).toBe(422);
    expect(short.body).toContain('at least 16 characters');
    expect((await change(a, PASSWORD, 'kq7 vz9 wp 42190')).statusCode).toBe(303);
    expect((await a.get('/account/sessions')).statusCode).toBe(200);
    expect((await b.get('/account/sessions')).statusCode).toBe(303);
    expect((await auditRows({ staffId: staff.id })).some((r) => r.event_type === 'auth.password.changed')).toBe(true);
  });

  it('needs a session and the CSRF token', async () => {
    const anon = new Agent(t.app);
    expect((await anon.get('/account/password')).statusCode).toBe(303);
    const { email, userId } = await annesCompany();
    const a = await loggedIn(t.app, email);
    const before = await hashOf(userId);
    const res = await a.post('/account/password', { current: PASSWORD, next: 'uglen tæller stjerner over fjorden', repeat: 'uglen tæller stjerner over fjorden' }, { csrf: 'x'.repeat(43) });
    expect(res.statusCode).toBe(403);
    expect(await hashOf(userId)).toBe(before);
  });
});
