/**
 * Passkeys and security keys (WebAuthn) through the real app and database, with a software
 * authenticator built here: an ES256 key from node:crypto, attestation 'none', and
 * clientDataJSON, authenticatorData (RP ID hash, flags, counter) and the COSE key in CBOR made by
 * hand. The browser side of the same flows is e2e/passkeys.test.ts. The clock is injected.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createStaff, mintRecoveryCode, PASSWORD } from './helpers/factories.ts';
import { Agent } from './helpers/agent.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { totpCode } from '../src/platform/auth/totp.ts';
import { relyingParty } from '../src/platform/auth/webauthn.ts';

const MIN = 60_000;
const HOST = 'localhost';
const ORIGIN = 'http://localhost';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());
// Fresh rate-limit windows for every test; nothing here depends on wall-clock time.
beforeEach(() => t.clock.advance(10 * MIN));

// ---- A software authenticator -----------------------------------------------------------------

function cborHead(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  const b = Buffer.alloc(3);
  b[0] = (major << 5) | 25;
  b.writeUInt16BE(n, 1);
  return b;
}
const cborInt = (n: number) => (n >= 0 ? cborHead(0, n) : cborHead(1, -1 - n));
const cborBytes = (b: Buffer) => Buffer.concat([cborHead(2, b.length), b]);
const cborText = (s: string) => Buffer.concat([cborHead(3, Buffer.byteLength(s)), Buffer.from(s)]);
const cborMap = (entries: [Buffer, Buffer][]) => Buffer.concat([cborHead(5, entries.length), ...entries.flat()]);

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();
const b64url = (b: Buffer) => b.toString('base64url');

class SoftKey {
  readonly credentialId = randomBytes(32);
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  counter = 0;

  constructor(
    readonly rpId = HOST,
    readonly origin = ORIGIN,
  ) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  get id() {
    return b64url(this.credentialId);
  }

  /** COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y. */
  coseKey(): Buffer {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return cborMap([
      [cborInt(1), cborInt(2)],
      [cborInt(3), cborInt(-7)],
      [cborInt(-1), cborInt(1)],
      [cborInt(-2), cborBytes(Buffer.from(jwk.x ?? '', 'base64url'))],
      [cborInt(-3), cborBytes(Buffer.from(jwk.y ?? '', 'base64url'))],
    ]);
  }

  private authData(flags: number, counter: number, attested?: Buffer): Buffer {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    return Buffer.concat([sha256(this.rpId), Buffer.from([flags]), c, ...(attested ? [attested] : [])]);
  }

  private clientData(type: string, challenge: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false }));
  }

  /** navigator.credentials.create() with attestation 'none'. */
  register(challenge: string) {
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLen, this.credentialId, this.coseKey()]);
    // Flags: user present (0x01) and attested credential data included (0x40).
    const authData = this.authData(0x41, this.counter, attested);
    const attestationObject = cborMap([
      [cborText('fmt'), cborText('none')],
      [cborText('attStmt'), cborMap([])],
      [cborText('authData'), cborBytes(authData)],
    ]);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: { clientDataJSON: b64url(this.clientData('webauthn.create', challenge)), attestationObject: b64url(attestationObject), transports: ['usb'] },
      clientExtensionResults: {},
    };
  }

  /** navigator.credentials.get(): signs authenticatorData || SHA-256(clientDataJSON). */
  assert(challenge: string, opts: { counter?: number; tamper?: boolean; signWith?: KeyObject; credentialId?: string } = {}) {
    if (opts.counter === undefined) this.counter += 1;
    const authData = this.authData(0x01, opts.counter ?? this.counter);
    const clientData = this.clientData('webauthn.get', challenge);
    let signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), opts.signWith ?? this.privateKey);
    if (opts.tamper) signature = sign('sha256', Buffer.from('something else entirely'), this.privateKey);
    const id = opts.credentialId ?? this.id;
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientData), authenticatorData: b64url(authData), signature: b64url(signature) },
      clientExtensionResults: {},
    };
  }
}

// ---- A browser on http://localhost --------------------------------------------------------------

type Res = Awaited<ReturnType<Agent['get']>>;

class LocalAgent extends Agent {
  override get(url: string, headers: Record<string, string> = {}) {
    return super.get(url, { host: HOST, ...headers });
  }
  override post(url: string, form: Record<string, string> = {}, opts: Parameters<Agent['post']>[2] = {}) {
    return super.post(url, form, { origin: ORIGIN, ...opts, headers: { host: HOST, ...opts.headers } });
  }
}

/** Logs in; a second step, when asked for, is passed with a freshly minted recovery code. */
async function localLogin(email: string): Promise<LocalAgent> {
  const a = new LocalAgent(t.app);
  let res = await a.login(email);
  if (res.headers.location === '/login/second-factor') {
    await a.get('/login/second-factor');
    res = await a.post('/login/second-factor', { recoveryCode: await mintRecoveryCode(t.deps, email) });
  }
  expect(res.statusCode).toBe(303);
  await a.get('/account/two-factor');
  return a;
}

async function passwordStep(email: string): Promise<LocalAgent> {
  const a = new LocalAgent(t.app);
  const res = await a.login(email);
  expect(res.headers.location).toBe('/login/second-factor');
  await a.get('/login/second-factor');
  return a;
}

const json = (res: Res) => JSON.parse(res.body) as { options?: { challenge: string; allowCredentials?: { id: string }[]; rp?: { id: string } }; message?: string };

async function addPasskey(a: LocalAgent, key: SoftKey, name = 'Work laptop'): Promise<Res> {
  const opt = await a.post('/account/two-factor/passkeys/options', { password: PASSWORD });
  expect(opt.statusCode).toBe(200);
  const options = json(opt).options;
  expect(options?.rp?.id).toBe('localhost');
  return a.post('/account/two-factor/passkeys', { passkeyName: name, response: JSON.stringify(key.register(options?.challenge ?? '')) });
}

async function loginOptions(a: LocalAgent) {
  const res = await a.post('/login/second-factor/passkey-options');
  expect(res.statusCode).toBe(200);
  return json(res).options ?? { challenge: '' };
}

async function auditRows(filter: { userId?: string; staffId?: string }) {
  return unsafeSystemTransaction(t.deps.database, async (trx) => {
    const q = trx.selectFrom('audit_events').select(['event_type', 'data']).orderBy('id');
    return filter.userId ? q.where('actor_user_id', '=', filter.userId).execute() : q.where('actor_staff_id', '=', filter.staffId ?? '').execute();
  });
}
const auditTypes = async (filter: { userId?: string; staffId?: string }) => (await auditRows(filter)).map((r) => r.event_type);

async function storedKeys(userId: string) {
  return unsafeSystemTransaction(t.deps.database, (trx) =>
    trx.selectFrom('webauthn_credentials').selectAll().where('user_id', '=', userId).orderBy('created_at').execute(),
  );
}

// ---- Tests --------------------------------------------------------------------------------------

describe('WebAuthn relying party', () => {
  it('takes the RP ID and origin from PUBLIC_URL, and defaults to localhost', () => {
    expect(relyingParty('https://portal.samtale.example', 'https://other.example')).toMatchObject({ rpID: 'portal.samtale.example', origin: 'https://portal.samtale.example' });
    expect(relyingParty(undefined, 'http://localhost:3000')).toMatchObject({ rpID: 'localhost', origin: 'http://localhost:3000' });
  });
});

describe('M8 passkey tables in the catalog', () => {
  it('have row-level security enabled and forced, and minimal grants for the app role', async () => {
    const rows = await unsafeSystemTransaction(t.deps.database, async (trx) =>
      (
        await sql<{ table: string; rls: boolean; forced: boolean; upd: boolean }>`
          select c.relname as "table", c.relrowsecurity as rls, c.relforcerowsecurity as forced,
            has_table_privilege('samtale_app', c.oid, 'update') as upd
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relname in ('webauthn_credentials', 'webauthn_challenges')
          order by c.relname`.execute(trx)
      ).rows,
    );
    expect(rows).toEqual([
      { table: 'webauthn_challenges', rls: true, forced: true, upd: false },
      { table: 'webauthn_credentials', rls: true, forced: true, upd: true },
    ]);
  });
});

describe('M2 passkeys and security keys as a second factor', () => {
  it('registers passkeys with a name (several per person), lists them, and counts them as a factor', async () => {
    const me = (await createCompany(t.deps)).employee;
    const a = await localLogin(me.email);
    const page = await a.get('/account/two-factor');
    // Without the script the passkey forms stay hidden; TOTP enrolment is there as before.
    expect(page.body).toMatch(/<div hidden data-webauthn-reveal>[\s\S]*action="\/account\/two-factor\/passkeys"/);
    expect(page.body).toContain('action="/account/two-factor/start"');
    expect(page.body).toContain('<script src="/assets/webauthn.js" defer></script>');
    expect(page.body).not.toMatch(/<script(?! src=)|style=/);

    // The options need the current password; a wrong one is refused (and counted, M7).
    const wrong = await a.post('/account/two-factor/passkeys/options', { password: 'not my password' });
    expect(wrong.statusCode).toBe(422);
    expect(json(wrong).message).toBeTruthy();

    const first = new SoftKey();
    const added = await addPasskey(a, first, 'Arbejds-laptop <b>');
    // The first factor comes with ten recovery codes, shown once.
    expect(added.statusCode).toBe(200);
    expect([...added.body.matchAll(/<li><code>([0-9a-z-]+)<\/code><\/li>/g)]).toHaveLength(10);

    const second = new SoftKey();
    const again = await addPasskey(a, second, 'YubiKey');
    expect(again.statusCode).toBe(303);
    expect(again.headers.location).toBe('/account/two-factor?passkey=added');

    const list = await a.get('/account/two-factor?passkey=added');
    expect(list.body).toContain('Arbejds-laptop &lt;b>');
    expect(list.body).toContain('YubiKey');
    expect(list.body).toContain('ikke brugt endnu');
    const rows = await storedKeys(me.userId);
    expect(rows.map((r) => r.name)).toEqual(['Arbejds-laptop <b>', 'YubiKey']);
    expect(rows[0]?.credential_id).toBe(first.id);
    expect((await auditTypes({ userId: me.userId })).filter((x) => x === 'auth.passkey.added')).toHaveLength(2);

    // A challenge answers once: registering again with the same (spent) challenge fails.
    const opt = json(await a.post('/account/two-factor/passkeys/options', { password: PASSWORD })).options;
    const third = new SoftKey();
    const body = JSON.stringify(third.register(opt?.challenge ?? ''));
    expect((await a.post('/account/two-factor/passkeys', { passkeyName: 'Phone', response: body })).statusCode).toBe(303);
    expect((await a.post('/account/two-factor/passkeys', { passkeyName: 'Phone again', response: body })).statusCode).toBe(422);
    // Bad input is a clear 422, never a 5xx.
    expect((await a.post('/account/two-factor/passkeys', { passkeyName: '', response: body })).statusCode).toBe(422);
    expect((await a.post('/account/two-factor/passkeys', { passkeyName: 'x', response: '{not json' })).statusCode).toBe(422);

    // Now the password alone is not enough: the login asks for the second step.
    expect((await new LocalAgent(t.app).login(me.email)).headers.location).toBe('/login/second-factor');
  });

  it('escapes hostile key names in the list and in the removal form', async () => {
    const me = (await createCompany(t.deps)).employee;
    const a = await localLogin(me.email);
    expect((await addPasskey(a, new SoftKey(), '<script>alert(1)</script>')).statusCode).toBe(200);
    expect((await addPasskey(a, new SoftKey(), '"><img src=x onerror=alert(2)>')).statusCode).toBe(303);
    const page = await a.get('/account/two-factor');
    expect(page.body).toContain('action="/account/two-factor/passkeys/remove"');
    for (const raw of ['<script>alert(1)</script>', '<img src=x onerror=alert(2)>']) expect(page.body).not.toContain(raw);
    expect(page.body).toContain('&lt;script>alert(1)&lt;/script>');
  });

  it('logs in with a passkey: options bound to the pending login, counter and last use stored', async () => {
    const me = (await createCompany(t.deps)).employee;
    const key = new SoftKey();
    await addPasskey(await localLogin(me.email), key);

    const b = await passwordStep(me.email);
    const step = await b.get('/login/second-factor');
    // Passkey only: the "use passkey" form (hidden until the script runs) and recovery codes.
    expect(step.body).toMatch(/<div hidden data-webauthn-reveal><form method="post" action="\/login\/second-factor"/);
    expect(step.body).not.toContain('name="code"');
    expect(step.body).toContain('name="recoveryCode"');

    const options = await loginOptions(b);
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([key.id]);
    const done = await b.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert(options.challenge)) });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/dashboard');
    expect((await b.get('/dashboard')).statusCode).toBe(200);

    const [row] = await storedKeys(me.userId);
    expect(Number(row?.sign_count)).toBe(key.counter);
    expect(row?.last_used_at).not.toBeNull();
    const types = await auditTypes({ userId: me.userId });
    expect(types).toContain('auth.passkey.used');
    expect(types.at(-1)).toBe('auth.login.succeeded');
    // No options without a live pending login.
    const anon = new LocalAgent(t.app);
    await anon.get('/login');
    expect((await anon.post('/login/second-factor/passkey-options')).statusCode).toBe(401);
  });

  it('M7: a wrong signature is refused and counted; 3 failures block like wrong codes', async () => {
    const me = (await createCompany(t.deps)).employee;
    const key = new SoftKey();
    await addPasskey(await localLogin(me.email), key);

    const b = await passwordStep(me.email);
    for (let i = 0; i < 2; i++) {
      const options = await loginOptions(b);
      const res = await b.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert(options.challenge, { tamper: true })) });
      expect(res.statusCode).toBe(401);
      expect(res.body).toContain('href="#passkey-login"');
    }
    const options = await loginOptions(b);
    const third = await b.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert(options.challenge, { tamper: true })) });
    expect(third.statusCode).toBe(401);
    // Blocked: the pending login is gone, and even the right password is refused in this browser.
    expect((await b.post('/login/second-factor/passkey-options')).statusCode).toBe(401);
    expect((await b.login(me.email)).statusCode).toBe(401);
    const rows = await auditRows({ userId: me.userId });
    expect(rows.filter((r) => r.event_type === 'auth.passkey.failed').map((r) => (r.data as { reason?: string }).reason)).toEqual(['invalid', 'invalid', 'invalid']);
    expect(rows.map((r) => r.event_type)).toContain('auth.lockout');
    // After the wait the passkey works again.
    t.clock.advance(16 * MIN);
    const res = await b.login(me.email);
    expect(res.headers.location).toBe('/login/second-factor');
    const ok = await b.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert((await loginOptions(b)).challenge)) });
    expect(ok.statusCode).toBe(303);
  });

  it('M7: wrong TOTP codes and wrong passkey answers count together', async () => {
    const me = (await createCompany(t.deps)).employee;
    const a = await localLogin(me.email);
    expect((await a.post('/account/two-factor/start', { password: PASSWORD })).statusCode).toBe(303);
    const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec((await a.get('/account/two-factor')).body)?.[1]?.replace(/ /g, '') ?? '';
    expect((await a.post('/account/two-factor/confirm', { code: totpCode(secret, t.clock.now()) })).statusCode).toBe(200);
    await a.get('/account/two-factor');
    const key = new SoftKey();
    expect((await addPasskey(a, key)).statusCode).toBe(303);

    const b = await passwordStep(me.email);
    const step = await b.get('/login/second-factor');
    // Both ways are offered; without the script only the code form shows.
    expect(step.body).toContain('name="code"');
    expect(step.body).toContain('data-webauthn="login"');
    expect((await b.post('/login/second-factor', { code: '000000' })).statusCode).toBe(401);
    expect((await b.post('/login/second-factor', { code: '000001' })).statusCode).toBe(401);
    const options = await loginOptions(b);
    expect((await b.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert(options.challenge, { tamper: true })) })).statusCode).toBe(401);
    expect(await auditTypes({ userId: me.userId })).toContain('auth.lockout');
    expect((await b.post('/login/second-factor/passkey-options')).statusCode).toBe(401);
  });

  it('turning TOTP off keeps the passkeys and the recovery codes, even where two-factor is required', async () => {
    const f = await createCompany(t.deps);
    const me = f.employee;
    const a = await localLogin(me.email);
    expect((await a.post('/account/two-factor/start', { password: PASSWORD })).statusCode).toBe(303);
    const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec((await a.get('/account/two-factor')).body)?.[1]?.replace(/ /g, '') ?? '';
    expect((await a.post('/account/two-factor/confirm', { code: totpCode(secret, t.clock.now()) })).statusCode).toBe(200);
    await a.get('/account/two-factor');
    expect((await addPasskey(a, new SoftKey())).statusCode).toBe(303);
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('companies').set({ require_two_factor: 'everyone' }).where('id', '=', f.companyId).execute());

    const page = await a.get('/account/two-factor');
    expect(page.body).toContain('action="/account/two-factor/remove"');
    t.clock.advance(MIN);
    expect((await a.post('/account/two-factor/remove', { password: PASSWORD, code: totpCode(secret, t.clock.now()) })).statusCode).toBe(303);
    const codes = await unsafeSystemTransaction(t.deps.database, (trx) => sql<{ n: number }>`select count(*)::int as n from recovery_codes where user_id = ${me.userId} and used_at is null`.execute(trx));
    expect(codes.rows[0]?.n).toBe(10);
    // The passkey is now the factor: the second step offers it, and no code form.
    const b = await passwordStep(me.email);
    const step = await b.get('/login/second-factor');
    expect(step.body).toContain('data-webauthn="login"');
    expect(step.body).not.toContain('name="code"');
    expect(step.body).toContain('<details open>');
  });

  it('M7: a replayed answer or a spent or expired challenge is refused and counted', async () => {
    const me = (await createCompany(t.deps)).employee;
    const key = new SoftKey();
    await addPasskey(await localLogin(me.email), key);

    const b = await passwordStep(me.email);
    const answer = JSON.stringify(key.assert((await loginOptions(b)).challenge));
    expect((await b.post('/login/second-factor', { passkeyResponse: answer })).statusCode).toBe(303);

    // The same answer in a new login: its challenge was taken, and the new one differs.
    const c = await passwordStep(me.email);
    expect((await c.post('/login/second-factor', { passkeyResponse: answer })).statusCode).toBe(401);
    await loginOptions(c);
    expect((await c.post('/login/second-factor', { passkeyResponse: answer })).statusCode).toBe(401);
    // A challenge older than 2 minutes is no longer accepted.
    const late = await loginOptions(c);
    t.clock.advance(3 * MIN);
    expect((await c.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert(late.challenge)) })).statusCode).toBe(401);
    const reasons = (await auditRows({ userId: me.userId })).filter((r) => r.event_type === 'auth.passkey.failed').map((r) => (r.data as { reason?: string }).reason);
    expect(reasons).toEqual(['no_challenge', 'invalid', 'no_challenge']);
    expect(await auditTypes({ userId: me.userId })).toContain('auth.lockout');
  });

  it('refuses a signature counter that did not grow (a cloned key), and counts it', async () => {
    const me = (await createCompany(t.deps)).employee;
    const key = new SoftKey();
    await addPasskey(await localLogin(me.email), key);
    key.counter = 10;
    const b = await passwordStep(me.email);
    expect((await b.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert((await loginOptions(b)).challenge, { counter: 10 })) })).statusCode).toBe(303);

    const c = await passwordStep(me.email);
    const res = await c.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert((await loginOptions(c)).challenge, { counter: 7 })) });
    expect(res.statusCode).toBe(401);
    const same = await c.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert((await loginOptions(c)).challenge, { counter: 10 })) });
    expect(same.statusCode).toBe(401);
    const rows = await auditRows({ userId: me.userId });
    expect(rows.filter((r) => r.event_type === 'auth.passkey.failed').map((r) => (r.data as { reason?: string }).reason)).toEqual(['counter', 'counter']);
    expect(Number((await storedKeys(me.userId))[0]?.sign_count)).toBe(10);
  });

  it("M8: another person's credential is refused at login, and their passkeys are out of reach", async () => {
    const f = await createCompany(t.deps);
    const aliceKey = new SoftKey();
    const bobKey = new SoftKey();
    const alice = await localLogin(f.employee.email);
    await addPasskey(alice, aliceKey);
    const bob = await localLogin(f.colleague.email);
    await addPasskey(bob, bobKey);

    // Bob's second step answered with Alice's credential (right signature, Bob's challenge).
    const b = await passwordStep(f.colleague.email);
    const options = await loginOptions(b);
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([bobKey.id]);
    const res = await b.post('/login/second-factor', { passkeyResponse: JSON.stringify(aliceKey.assert(options.challenge)) });
    expect(res.statusCode).toBe(401);
    // And Bob's credential id with Alice's key: the signature does not match Bob's public key.
    const again = await b.post('/login/second-factor', { passkeyResponse: JSON.stringify(bobKey.assert((await loginOptions(b)).challenge, { signWith: aliceKey.privateKey })) });
    expect(again.statusCode).toBe(401);
    const reasons = (await auditRows({ userId: f.colleague.userId })).filter((r) => r.event_type === 'auth.passkey.failed').map((r) => (r.data as { reason?: string }).reason);
    expect(reasons).toEqual(['unknown_credential', 'invalid']);

    // Bob cannot remove Alice's passkey by its id: not found.
    const aliceRow = (await storedKeys(f.employee.userId))[0];
    const bobPage = await localLogin(f.colleague.email);
    const gone = await bobPage.post('/account/two-factor/passkeys/remove', { passkeyId: aliceRow?.id ?? '', removePassword: PASSWORD, passkeyResponse: '{}' });
    expect(gone.statusCode).toBe(404);
    expect(await storedKeys(f.employee.userId)).toHaveLength(1);
    // Row-level security: Bob's own transaction sees only Bob's credentials.
    const seen = await withTenant(t.deps.database, { companyId: f.companyId, userId: f.colleague.userId }, (trx) => trx.selectFrom('webauthn_credentials').select('credential_id').execute());
    expect(seen.map((r) => r.credential_id)).toEqual([bobKey.id]);
    const none = await withTenant(t.deps.database, { companyId: f.companyId }, (trx) => trx.selectFrom('webauthn_challenges').select('id').execute());
    expect(none).toEqual([]);
  });

  it('removes a passkey with the password and a passkey answer; the last factor takes the recovery codes with it', async () => {
    const me = (await createCompany(t.deps)).employee;
    const key = new SoftKey();
    const spare = new SoftKey();
    const a = await localLogin(me.email);
    await addPasskey(a, key, 'Main');
    await addPasskey(a, spare, 'Spare');
    const [main, second] = await storedKeys(me.userId);
    await a.get('/account/two-factor');

    // Wrong password: refused, nothing removed, counted.
    const reauth = async () => json(await a.post('/account/two-factor/passkeys/reauth-options')).options?.challenge ?? '';
    let challenge = await reauth();
    const bad = await a.post('/account/two-factor/passkeys/remove', { passkeyId: main?.id ?? '', removePassword: 'nope', passkeyResponse: JSON.stringify(key.assert(challenge)) });
    expect(bad.statusCode).toBe(422);
    expect(await storedKeys(me.userId)).toHaveLength(2);
    // A bad answer: refused too.
    challenge = await reauth();
    const badSig = await a.post('/account/two-factor/passkeys/remove', { passkeyId: main?.id ?? '', removePassword: PASSWORD, passkeyResponse: JSON.stringify(key.assert(challenge, { tamper: true })) });
    expect(badSig.statusCode).toBe(422);
    await a.get('/account/two-factor');
    challenge = await reauth();
    const ok = await a.post('/account/two-factor/passkeys/remove', { passkeyId: main?.id ?? '', removePassword: PASSWORD, passkeyResponse: JSON.stringify(spare.assert(challenge)) });
    expect(ok.statusCode).toBe(303);
    expect((await storedKeys(me.userId)).map((r) => r.id)).toEqual([second?.id]);
    expect(await auditTypes({ userId: me.userId })).toContain('auth.passkey.removed');

    // The last one (this company requires nothing): the recovery codes go too.
    await a.get('/account/two-factor');
    challenge = await reauth();
    expect((await a.post('/account/two-factor/passkeys/remove', { passkeyId: second?.id ?? '', removePassword: PASSWORD, passkeyResponse: JSON.stringify(spare.assert(challenge)) })).statusCode).toBe(303);
    const codes = await unsafeSystemTransaction(t.deps.database, (trx) => sql<{ n: number }>`select count(*)::int as n from recovery_codes where user_id = ${me.userId}`.execute(trx));
    expect(codes.rows[0]?.n).toBe(0);
    expect((await new LocalAgent(t.app).login(me.email)).headers.location).toBe('/dashboard');
  });

  it('M2: someone whose only factor is a passkey changes password and e-mail with it (a wrong answer is refused and counted)', async () => {
    const me = (await createCompany(t.deps)).colleague;
    const key = new SoftKey();
    const a = await localLogin(me.email);
    await addPasskey(a, key, 'Only key');
    const page = await a.get('/account/password');
    expect(page.body).toContain('data-webauthn="reauth"');
    expect(page.body).not.toContain('name="code"');
    const reauth = async () => json(await a.post('/account/two-factor/passkeys/reauth-options')).options?.challenge ?? '';
    const next = 'a brand new sentence for my login';
    const missing = await a.post('/account/password', { current: PASSWORD, next, repeat: next });
    expect(missing.statusCode).toBe(422);
    const tampered = await a.post('/account/password', { current: PASSWORD, next, repeat: next, passkeyResponse: JSON.stringify(key.assert(await reauth(), { tamper: true })) });
    expect(tampered.statusCode).toBe(422);
    expect(await auditTypes({ userId: me.userId })).toContain('auth.passkey.failed');
    await a.get('/account/password');
    const ok = await a.post('/account/password', { current: PASSWORD, next, repeat: next, passkeyResponse: JSON.stringify(key.assert(await reauth())) });
    expect(ok.statusCode).toBe(303);
    await a.get('/account/email');
    const moved = await a.post('/account/email', { email: `keyed-${Date.now()}@test.example`, current: next, passkeyResponse: JSON.stringify(key.assert(await reauth())) });
    expect(moved.headers.location).toBe('/account/email?sent=1');
  });

  it('keeps the last factor when the company requires two-factor', async () => {
    const f = await createCompany(t.deps);
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('companies').set({ require_two_factor: 'everyone' }).where('id', '=', f.companyId).execute());
    const key = new SoftKey();
    const me = f.employee;
    // Required: the login sends this user to enrol; give them a passkey directly instead.
    const a = new LocalAgent(t.app);
    const res = await a.login(me.email);
    expect(res.headers.location).toBe('/login/second-factor');
    const b = await localLoginWithoutRequirement(f.companyId, me.email);
    await addPasskey(b, key);
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('companies').set({ require_two_factor: 'everyone' }).where('id', '=', f.companyId).execute());
    const c = await localLogin(me.email);
    const page = await c.get('/account/two-factor');
    expect(page.body).not.toContain('action="/account/two-factor/passkeys/remove"');
    const challenge = json(await c.post('/account/two-factor/passkeys/reauth-options')).options?.challenge ?? '';
    const row = (await storedKeys(me.userId))[0];
    const refused = await c.post('/account/two-factor/passkeys/remove', { passkeyId: row?.id ?? '', removePassword: PASSWORD, passkeyResponse: JSON.stringify(key.assert(challenge)) });
    expect(refused.statusCode).toBe(403);
    expect(await storedKeys(me.userId)).toHaveLength(1);
  });

  it('M2: staff may add a passkey (recommended), log in with it, and never lose their last factor', async () => {
    const staff = await createStaff(t.deps);
    const a = await localLogin(staff.email);
    const page = await a.get('/account/two-factor');
    expect(page.body).toContain('Recommended for platform staff');
    const key = new SoftKey();
    const added = await addPasskey(a, key, 'Staff key');
    // Staff already have TOTP: no new recovery codes, straight back to the page.
    expect(added.statusCode).toBe(303);

    const b = new LocalAgent(t.app);
    expect((await b.login(staff.email)).headers.location).toBe('/login/second-factor');
    await b.get('/login/second-factor');
    const done = await b.post('/login/second-factor', { passkeyResponse: JSON.stringify(key.assert((await loginOptions(b)).challenge)) });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/staff/companies');
    expect(await auditTypes({ staffId: staff.id })).toContain('auth.passkey.used');

    // With TOTP kept, the passkey may go (confirmed by a code); the TOTP factor itself never can.
    await b.get('/account/two-factor');
    const row = (await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('webauthn_credentials').select('id').where('staff_id', '=', staff.id).execute()))[0];
    const removed = await b.post('/account/two-factor/passkeys/remove', { passkeyId: row?.id ?? '', removePassword: PASSWORD, removeCode: totpCode(staff.secret, t.clock.now()) });
    expect(removed.statusCode).toBe(303);
    expect((await b.post('/account/two-factor/remove', { password: PASSWORD, code: '123456' })).statusCode).toBe(404);
  });
});

/** Logs a user in while their company's requirement is off (so no enrolment is forced). */
async function localLoginWithoutRequirement(companyId: string, email: string): Promise<LocalAgent> {
  await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('companies').set({ require_two_factor: 'none' }).where('id', '=', companyId).execute());
  return localLogin(email);
}
