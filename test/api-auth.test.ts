/**
 * Issue 10, parts 1-2: API tokens in the company admin's settings (shown once, stored hashed and
 * encrypted, revocable, several, last-used time, allow-list, legacy switch, all audited) and the
 * authentication of /v3 requests with real HS256 JWTs signed in the test. Time is the injected
 * fake clock; nothing sleeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { ApiClient, apiClientFor, createTokenThroughUi, signJwt, TEST_API_KEY } from './helpers/api-client.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ API_TOKEN_KEY: TEST_API_KEY, API_RATE_LIMIT_PER_MINUTE: '40' });
});
afterAll(async () => t?.close());

const eventsOf = (companyId: string | null, type: string) =>
  unsafeSystemTransaction(t.deps.database, (trx) => {
    let q = trx.selectFrom('audit_events').select(['event_type', 'data', 'object_id', 'actor_user_id']).where('event_type', '=', type).orderBy('id');
    q = companyId ? q.where('company_id', '=', companyId) : q.where('company_id', 'is', null);
    return q.execute();
  });

describe('API tokens in the settings page', () => {
  it('shows a new token once, stores only its hash and an encrypted copy, and audits creation and revocation', async () => {
    const c = await createCompany(t.deps);
    const admin = await loggedIn(t.app, c.admin.email);
    const token = await createTokenThroughUi(admin, 'Lønsystem');
    expect(token).toMatch(/^smt_[A-Za-z0-9_-]{43}$/);
    const second = await createTokenThroughUi(admin, 'HR');
    const page = await admin.get('/org/settings/api');
    expect(page.statusCode).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain('Lønsystem');
    expect(page.body).not.toContain(token);
    expect(page.body).not.toContain(second);
    const rows = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('api_tokens').selectAll().where('company_id', '=', c.companyId).execute());
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.secret_box).not.toContain(token);
      expect(JSON.stringify(r)).not.toContain(token.slice(4));
    }
    const created = await eventsOf(c.companyId, 'api.token.created');
    expect(created.map((e) => e.data.name)).toEqual(['Lønsystem', 'HR']);
    expect(JSON.stringify(created)).not.toContain(token.slice(4));

    // Duplicate active name: refused with a message, nothing stored.
    const dup = await admin.post('/org/settings/api/tokens', { name: 'HR' });
    expect(dup.statusCode).toBe(422);
    const id = rows.find((r) => r.name === 'Lønsystem')!.id;
    const revoke = await admin.post(`/org/settings/api/tokens/${id}/revoke`);
    expect(revoke.statusCode).toBe(303);
    expect((await eventsOf(c.companyId, 'api.token.revoked')).map((e) => e.object_id)).toEqual([id]);
    // A revoked token no longer signs anything.
    const res = await new ApiClient(t, c.companyId, token).get('/v3/core/users');
    expect(res.statusCode).toBe(401);
    const ok = await new ApiClient(t, c.companyId, second).get('/v3/core/users');
    expect(ok.statusCode).toBe(200);
  });

  it('M8 is for company admins only: leaders, delegates and other companies get 404', async () => {
    const c = await createCompany(t.deps);
    for (const email of [c.leader.email, c.delegate.email, c.employee.email]) {
      const a = await loggedIn(t.app, email);
      expect((await a.get('/org/settings/api')).statusCode).toBe(404);
      expect((await a.post('/org/settings/api/tokens', { name: 'x' })).statusCode).toBe(404);
    }
    const other = await createCompany(t.deps);
    const { admin } = await apiClientFor(t, c.companyId, c.admin.email);
    const tokenId = (await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('api_tokens').select('id').where('company_id', '=', c.companyId).executeTakeFirstOrThrow())).id;
    const otherAdmin = await loggedIn(t.app, other.admin.email);
    expect((await otherAdmin.post(`/org/settings/api/tokens/${tokenId}/revoke`)).statusCode).toBe(404);
    expect((await admin.get('/org/settings/api')).body).toContain('HR-system');
  });

  it('escapes a hostile token name on the page', async () => {
    const c = await createCompany(t.deps);
    const admin = await loggedIn(t.app, c.admin.email);
    await createTokenThroughUi(admin, '<script>alert(1)</script>');
    const page = await admin.get('/org/settings/api');
    expect(page.body).not.toContain('<script>alert(1)</script>');
    expect(page.body).toContain('&lt;script>alert(1)&lt;/script>');
  });

  it('validates and saves the IPv4 allow-list and the legacy switch, audited', async () => {
    const c = await createCompany(t.deps);
    const admin = await loggedIn(t.app, c.admin.email);
    await admin.get('/org/settings/api');
    const bad = await admin.post('/org/settings/api/settings', { allowed_cidrs: '10.0.0.0/33' });
    expect(bad.statusCode).toBe(422);
    const good = await admin.post('/org/settings/api/settings', { allowed_cidrs: '198.51.100.0/24\n192.0.2.10', legacy_headers: 'on' });
    expect(good.statusCode).toBe(303);
    const s = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('api_settings').selectAll().where('company_id', '=', c.companyId).executeTakeFirstOrThrow());
    expect(s.allowed_cidrs).toEqual(['198.51.100.0/24', '192.0.2.10/32']);
    expect(s.legacy_headers).toBe(true);
    const page = await admin.get('/org/settings/api?done=saved');
    expect(page.body).toMatch(/<textarea[^>]*>198\.51\.100\.0\/24\n192\.0\.2\.10\/32<\/textarea>/);
    expect(page.body).toMatch(/id="legacy_headers"[^>]*checked/);
    const ev = await eventsOf(c.companyId, 'api.settings_changed');
    expect(ev[0]?.data).toMatchObject({ legacyHeaders: true, allowedCidrs: '198.51.100.0/24,192.0.2.10/32' });
  });
});

describe('M8 API authentication with signed JWTs', () => {
  it('accepts a fresh JWT once and refuses replays, expired, early, long-lived, wrong-key, wrong-company and malformed ones with audited 401 JSON', async () => {
    const c = await createCompany(t.deps);
    const other = await createCompany(t.deps);
    const { api, token } = await apiClientFor(t, c.companyId, c.admin.email);
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const send = (jwt: string, ip = api.ip) => t.app.inject({ method: 'GET', url: '/v3/core/users', remoteAddress: ip, headers: { jwt } });

    const jwt = api.jwt();
    const first = await send(jwt);
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toContain('application/json');

    const cases: [string, string][] = [
      ['replayed', jwt],
      ['expired', signJwt({ company_id: c.companyId, nbf: now - 40, exp: now - 30 }, token)],
      ['not_yet_valid', signJwt({ company_id: c.companyId, nbf: now + 30, exp: now + 40 }, token)],
      ['lifetime', signJwt({ company_id: c.companyId, nbf: now, exp: now + 16 }, token)],
      ['bad_signature', signJwt({ company_id: c.companyId, nbf: now, exp: now + 10 }, 'smt_not-the-token')],
      ['bad_signature', signJwt({ company_id: other.companyId, nbf: now, exp: now + 10 }, token)],
      ['malformed', signJwt({ company_id: c.companyId, nbf: now, exp: now + 10, x: 1 }, token, 'none')],
      ['malformed', 'not.a.jwt'],
    ];
    for (const [, j] of cases) {
      const res = await send(j, '203.0.113.9');
      expect(res.statusCode, j).toBe(401);
      expect(res.json()).toEqual({ message: 'Invalid or missing credentials', errors: [] });
    }
    const refused = await eventsOf(c.companyId, 'api.auth.refused');
    // A JWT that is not a well-formed HS256 JWT names no company we trust: it is audited without one.
    expect(refused.map((e) => e.data.reason)).toEqual(['replayed', 'expired', 'not_yet_valid', 'lifetime', 'bad_signature']);
    expect((await eventsOf(null, 'api.auth.refused')).length).toBeGreaterThanOrEqual(2);
    // Signed with company A's token but naming company B: refused in B's trail, never served from A.
    expect((await eventsOf(other.companyId, 'api.auth.refused')).map((e) => e.data.reason)).toEqual(['bad_signature']);
    for (const e of refused) expect(JSON.stringify(e.data)).not.toContain(token.slice(4));

    // No credentials at all; an unknown company.
    expect((await t.app.inject({ method: 'GET', url: '/v3/core/users' })).statusCode).toBe(401);
    const ghost = signJwt({ company_id: '00000000-0000-4000-8000-000000000000', nbf: now, exp: now + 10 }, token);
    expect((await send(ghost)).statusCode).toBe(401);

    // After the fake clock moves past exp, a new JWT still works and last-used shows the time.
    t.clock.advance(20_000);
    expect((await api.get('/v3/core/users')).statusCode).toBe(200);
    const row = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('api_tokens').select('last_used_at').where('company_id', '=', c.companyId).executeTakeFirstOrThrow());
    expect(row.last_used_at?.getTime()).toBe(t.clock.now().getTime());
  });

  it('M8 one company\'s token never reaches another company\'s data', async () => {
    const a = await createCompany(t.deps);
    const b = await createCompany(t.deps);
    const { api: apiA } = await apiClientFor(t, a.companyId, a.admin.email);
    const { api: apiB } = await apiClientFor(t, b.companyId, b.admin.email);
    expect((await apiA.post('/v3/core/departments', { department: { id: 'D1', name: 'A-afdeling' } })).statusCode).toBe(201);
    expect((await apiB.get('/v3/core/departments/D1')).statusCode).toBe(404);
    expect((await apiB.get('/v3/core/departments')).json()).toEqual([]);
    // B may use the same external id for its own department.
    expect((await apiB.post('/v3/core/departments', { department: { id: 'D1', name: 'B-afdeling' } })).statusCode).toBe(201);
    expect((await apiA.get('/v3/core/departments/D1')).json().name).toBe('A-afdeling');
  });

  it('applies the IPv4 allow-list and accepts plaintext legacy headers only when the company enabled them', async () => {
    const c = await createCompany(t.deps);
    const { api, admin, token } = await apiClientFor(t, c.companyId, c.admin.email);
    const legacy = (ip: string) => t.app.inject({ method: 'GET', url: '/v3/core/teams', remoteAddress: ip, headers: { company_id: c.companyId, access_token: token } });
    expect((await legacy('198.51.100.7')).statusCode).toBe(401);
    await admin.get('/org/settings/api');
    await admin.post('/org/settings/api/settings', { allowed_cidrs: '198.51.100.0/24', legacy_headers: 'on' });
    expect((await legacy('198.51.100.7')).statusCode).toBe(200);
    expect((await legacy('203.0.113.1')).statusCode).toBe(401);
    expect((await new ApiClient(t, c.companyId, token, '203.0.113.1').get('/v3/core/teams')).statusCode).toBe(401);
    expect((await api.get('/v3/core/teams')).statusCode).toBe(200);
    const reasons = (await eventsOf(c.companyId, 'api.auth.refused')).map((e) => e.data.reason);
    expect(reasons).toEqual(['legacy_disabled', 'address_not_allowed', 'address_not_allowed']);
  });

  it('M7/P6 rate-limits each token and answers 429 JSON, audited once', async () => {
    const c = await createCompany(t.deps);
    const { api } = await apiClientFor(t, c.companyId, c.admin.email);
    t.clock.advance(60_000);
    let last = 0;
    for (let i = 0; i < 42; i++) last = (await api.get('/v3/core/users')).statusCode;
    expect(last).toBe(429);
    const res = await api.get('/v3/core/users');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.json().message).toMatch(/Too many/);
    expect(await eventsOf(c.companyId, 'api.rate_limited')).toHaveLength(1);
    t.clock.advance(60_000);
    expect((await api.get('/v3/core/users')).statusCode).toBe(200);
  });

  it('P7 answers 503 JSON when the API is switched off, 401 without a token key, and the CSRF check does not apply to /v3', async () => {
    const off = await createTestApp({ API_TOKEN_KEY: TEST_API_KEY, API_ENABLED: 'false' });
    try {
      const res = await off.app.inject({ method: 'GET', url: '/v3/core/users', headers: { jwt: 'x.y.z' } });
      expect(res.statusCode).toBe(503);
      expect(res.json().message).toBeTruthy();
    } finally {
      await off.close();
    }
    // Without API_TOKEN_KEY no token can exist: every request is refused like a wrong one.
    const nokey = await createTestApp();
    try {
      const res = await nokey.app.inject({ method: 'GET', url: '/v3/core/users', headers: { jwt: 'x.y.z' } });
      expect(res.statusCode).toBe(401);
    } finally {
      await nokey.close();
    }
    const c = await createCompany(t.deps);
    const { api } = await apiClientFor(t, c.companyId, c.admin.email);
    // A POST without Origin or CSRF token: fine for the token-authenticated API.
    expect((await api.post('/v3/core/users', { user: { id: 'u1', name: 'Ada', email: `ada-${c.companyId}@test.example` } })).statusCode).toBe(201);
    const open = await t.app.inject({ method: 'GET', url: '/v3/openapi.json' });
    expect(open.statusCode).toBe(200);
    const doc = open.json();
    expect(doc.openapi).toBe('3.1.0');
    // The description covers exactly the routes the app serves.
    const served = t.app.samtaleRoutes.filter((r) => r.url.startsWith('/v3/') && r.url !== '/v3/openapi.json').map((r) => `${r.method.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    const described = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(described.sort()).toEqual(served.sort());
  });
});
