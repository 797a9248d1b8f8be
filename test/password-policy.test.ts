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
import { openTotpSecret, totpCode, totpStep } from '../src/platform/auth/totp.ts';
import { passwordErrorMessages } from '../src/modules/account/password.views.tsx';
import type { ViewContext } from '../src/platform/html/layout.tsx';

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
const changeWithCode = (a: Agent, current: string, next: string, code: string) => a.post('/account/password', { current, next, repeat: next, code });

const STEP = 30_000;
const NEW_PHRASE = 'uglen tæller stjerner over fjorden';

/** The stored TOTP secret of a user or staff account, read past row-level security. */
async function secretOf(owner: { userId: string } | { staffId: string }): Promise<string> {
  return unsafeSystemTransaction(t.deps.database, async (trx) => {
    const q = trx.selectFrom('totp_factors').select(['id', 'secret']);
    const row = await ('userId' in owner ? q.where('user_id', '=', owner.userId) : q.where('staff_id', '=', owner.staffId)).executeTakeFirstOrThrow();
    // Stored sealed with the platform key (issue 6).
    return openTotpSecret(row.id, row.secret);
  });
}

/** Enrols the agent's account through the two-factor pages; returns the secret and recovery codes. */
async function enrolFactor(a: Agent, userId: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  expect((await a.post('/account/two-factor/start', { password: PASSWORD })).statusCode).toBe(303);
  const secret = await secretOf({ userId });
  const done = await a.post('/account/two-factor/confirm', { code: totpCode(secret, t.clock.now()) });
  expect(done.statusCode).toBe(200);
  t.clock.advance(STEP);
  const recoveryCodes = [...done.body.matchAll(/<li><code>([0-9a-z-]+)<\/code><\/li>/g)].map((m) => m[1] ?? '');
  expect(recoveryCodes).toHaveLength(10);
  return { secret, recoveryCodes };
}

/** A six-digit code that is valid in none of the steps the check accepts now. */
function wrongCode(secret: string): string {
  const at = t.clock.now().getTime();
  const valid = new Set([-1, 0, 1].map((d) => totpCode(secret, new Date(at + d * STEP))));
  for (let i = 0; ; i++) {
    const candidate = String(123456 + i * 7919).padStart(6, '0').slice(-6);
    if (!valid.has(candidate)) return candidate;
  }
}

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

  it('M2 platform staff need at least 16 characters and their code; their other sessions end on a change', async () => {
    const staff = await createStaff(t.deps, 'support');
    const a = await loggedIn(t.app, staff.email);
    const b = await loggedIn(t.app, staff.email);
    const page = await a.get('/account/password');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`At least ${STAFF_MIN_PASSWORD_LENGTH} characters`);
    expect(page.body).toContain('autocomplete="one-time-code"');
    const secret = await secretOf({ staffId: staff.id });
    const short = await changeWithCode(a, PASSWORD, 'kq7 vz9 wp 4219', totpCode(secret, t.clock.now()));
    expect(short.statusCode).toBe(422);
    expect(short.body).toContain('at least 16 characters');
    const noCode = await change(a, PASSWORD, 'kq7 vz9 wp 42190');
    expect(noCode.statusCode).toBe(422);
    expect(noCode.body).toContain('Enter the code from your authenticator app.');
    // The code was not spent by the refused forms: it works now.
    expect((await changeWithCode(a, PASSWORD, 'kq7 vz9 wp 42190', totpCode(secret, t.clock.now()))).statusCode).toBe(303);
    expect((await a.get('/account/sessions')).statusCode).toBe(200);
    expect((await b.get('/account/sessions')).statusCode).toBe(303);
    expect((await auditRows({ staffId: staff.id })).some((r) => r.event_type === 'auth.password.changed')).toBe(true);
  });

  it('shows no code field to people without a second factor', async () => {
    const { email } = await annesCompany();
    const a = await loggedIn(t.app, email);
    const page = await a.get('/account/password');
    expect(page.body).not.toContain('name="code"');
    expect(page.body).not.toContain('godkendelsesapp');
  });

  it('with a second factor: refuses a change without a code or with a wrong one, accepts the right one', async () => {
    const { email, userId } = await annesCompany();
    const a = await loggedIn(t.app, email);
    const other = await loggedIn(t.app, email);
    const { secret } = await enrolFactor(a, userId);
    const page = await a.get('/account/password');
    expect(page.body).toContain('name="code"');
    expect(page.body).toContain('autocomplete="one-time-code"');
    expect(page.body).toContain('Kode fra din godkendelsesapp');
    const before = await hashOf(userId);

    const missing = await change(a, PASSWORD, NEW_PHRASE);
    expect(missing.statusCode).toBe(422);
    expect(missing.body).toContain('Skriv koden fra din godkendelsesapp.');
    const wrong = await changeWithCode(a, PASSWORD, NEW_PHRASE, wrongCode(secret));
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('Koden er forkert eller allerede brugt.');
    expect(await hashOf(userId)).toBe(before);
    expect((await other.get('/dashboard')).statusCode).toBe(200);
    const rows = await auditRows({ userId });
    expect(rows.filter((r) => r.event_type === 'auth.password.rejected').map((r) => (r.data as { reasons: string }).reasons)).toEqual(['code_required', 'code_wrong']);
    expect(rows.some((r) => r.event_type === 'auth.password.changed')).toBe(false);

    t.clock.advance(STEP);
    const ok = await changeWithCode(a, PASSWORD, NEW_PHRASE, totpCode(secret, t.clock.now()));
    expect(ok.statusCode).toBe(303);
    expect(await t.deps.hasher.verify(await hashOf(userId), NEW_PHRASE)).toBe(true);
    expect((await other.get('/dashboard')).statusCode).toBe(303);
  });

  it('with a second factor: refuses a recovery code and a replayed code', async () => {
    const { email, userId } = await annesCompany();
    const a = await loggedIn(t.app, email);
    const { secret, recoveryCodes } = await enrolFactor(a, userId);
    const before = await hashOf(userId);

    const recovery = await changeWithCode(a, PASSWORD, NEW_PHRASE, recoveryCodes[0] ?? '');
    expect(recovery.statusCode).toBe(422);
    expect(recovery.body).toContain('Koden er forkert eller allerede brugt.');
    expect(await hashOf(userId)).toBe(before);
    const unused = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirstOrThrow(),
    );
    expect(Number(unused.n)).toBe(10);

    t.clock.advance(STEP);
    const code = totpCode(secret, t.clock.now());
    expect((await changeWithCode(a, PASSWORD, NEW_PHRASE, code)).statusCode).toBe(303);
    const changed = await hashOf(userId);
    const step = await unsafeSystemTransaction(t.deps.database, async (trx) =>
      (await trx.selectFrom('totp_factors').select('last_used_step').where('user_id', '=', userId).executeTakeFirstOrThrow()).last_used_step,
    );
    expect(Number(step)).toBe(totpStep(t.clock.now()));

    // 30 s later the same code is still inside the accepted drift, but it has been used.
    t.clock.advance(STEP);
    await a.get('/account/password'); // the new session's CSRF token
    const replay = await changeWithCode(a, NEW_PHRASE, 'kq7 vz9 wp 42190 and more', code);
    expect(replay.statusCode).toBe(422);
    expect(replay.body).toContain('Koden er forkert eller allerede brugt.');
    expect(await hashOf(userId)).toBe(changed);
  });

  it('with a second factor: wrong codes count towards the M7 block; then even the right password and code are refused', async () => {
    const { email, userId } = await annesCompany();
    const a = await loggedIn(t.app, email);
    const { secret } = await enrolFactor(a, userId);
    const before = await hashOf(userId);
    for (let i = 0; i < 3; i++) {
      t.clock.advance(STEP);
      expect((await changeWithCode(a, PASSWORD, NEW_PHRASE, wrongCode(secret))).statusCode).toBe(422);
    }
    t.clock.advance(STEP);
    const blocked = await changeWithCode(a, PASSWORD, NEW_PHRASE, totpCode(secret, t.clock.now()));
    expect(blocked.statusCode).toBe(422);
    expect(blocked.body).toContain('Den nuværende adgangskode er forkert.');
    expect(await hashOf(userId)).toBe(before);
    const rows = await auditRows({ userId });
    expect(rows.some((r) => r.event_type === 'auth.lockout')).toBe(true);
    expect(rows.filter((r) => r.event_type === 'auth.second_factor.failed').length).toBeGreaterThanOrEqual(3);
  });

  it('words the code messages in Danish, English and Swedish', () => {
    const msg = (lang: 'da' | 'en' | 'sv', code: 'required' | 'wrong') => passwordErrorMessages({ lang } as ViewContext, { code }).code;
    expect(msg('da', 'required')).toBe('Skriv koden fra din godkendelsesapp.');
    expect(msg('en', 'required')).toBe('Enter the code from your authenticator app.');
    expect(msg('sv', 'required')).toBe('Skriv koden från din autentiseringsapp.');
    expect(msg('da', 'wrong')).toContain('Koden er forkert');
    expect(msg('en', 'wrong')).toContain('The code is wrong');
    expect(msg('sv', 'wrong')).toContain('Koden är fel');
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
