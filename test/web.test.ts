/**
 * The web edge: security headers (M9, M17), CSRF and Origin checks, body limits, friendly errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { loadConfig, ConfigError } from '../src/config.ts';

let t: TestApp;
let a: CompanyFixture;

beforeAll(async () => {
  t = await createTestApp();
  a = await createCompany(t.deps);
});
afterAll(async () => t?.close());

describe('security headers', () => {
  it('sends a strict CSP with no inline script or style, nosniff and frame-ancestors none', async () => {
    const res = await new Agent(t.app).get('/login');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('same-origin');
    expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.body).not.toMatch(/\sstyle="/);
  });

  it('M17 authenticated pages are never cached', async () => {
    const agent = await loggedIn(t.app, a.employee.email);
    const res = await agent.get('/dashboard');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('M9 the session cookie is HttpOnly and SameSite; __Host- and Secure on TLS with HSTS', async () => {
    const plain = new Agent(t.app);
    await plain.get('/login');
    const res = await plain.post('/login', { email: a.employee.email, password: 'correct horse battery staple 42' });
    const cookie = res.cookies.find((c) => c.name === 'samtale_session');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Lax');

    const tls = await createTestApp({ PUBLIC_URL: 'https://samtale.test' });
    try {
      const agent = new Agent(tls.app);
      const first = await agent.get('/login');
      expect(first.headers['strict-transport-security']).toContain('max-age=');
      const b = await createCompany(tls.deps);
      const login = await agent.post('/login', { email: b.employee.email, password: 'correct horse battery staple 42' }, { origin: 'https://samtale.test' });
      const secure = login.cookies.find((c) => c.name === '__Host-samtale_session');
      expect(secure?.secure).toBe(true);
      expect(secure?.path).toBe('/');
      expect(secure?.domain).toBeUndefined();
    } finally {
      await tls.close();
    }
  });

  it('M9 production refuses to start on plain HTTP', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', TRUST_PROXY: 'true' })).toThrow(/PUBLIC_URL/);
    expect(() => loadConfig({ NODE_ENV: 'production', TRUST_PROXY: 'true', PUBLIC_URL: 'http://x.example' })).toThrow(/PUBLIC_URL/);
    expect(() => loadConfig({ NODE_ENV: 'production', TRUST_PROXY: 'true', PUBLIC_URL: 'https://x.example' })).toThrow(/SMTP_URL/);
    const prod = { NODE_ENV: 'production', TRUST_PROXY: 'true', PUBLIC_URL: 'https://x.example', SMTP_URL: 'smtp://mail.x.example:587' };
    expect(() => loadConfig(prod)).not.toThrow();
    expect(() => loadConfig({ ...prod, DEMO_SEED: 'true' })).toThrow(ConfigError);
    // With its own certificate the server still needs its public address (links, passkeys).
    expect(() => loadConfig({ NODE_ENV: 'production', TLS_CERT_FILE: '/x.pem', TLS_KEY_FILE: '/x.key', SMTP_URL: 'smtp://m.example' })).toThrow(/PUBLIC_URL/);
  });
});

describe('CSRF and Origin', () => {
  it('refuses a state change without the CSRF token, with a wrong token, or from another origin', async () => {
    const agent = await loggedIn(t.app, a.employee.email);
    expect((await agent.post('/settings/language', { language: 'en' }, { csrf: null })).statusCode).toBe(403);
    expect((await agent.post('/settings/language', { language: 'en' }, { csrf: 'x'.repeat(43) })).statusCode).toBe(403);
    expect((await agent.post('/settings/language', { language: 'en' }, { origin: 'https://evil.example' })).statusCode).toBe(403);
    expect((await agent.post('/settings/language', { language: 'en' }, { origin: null })).statusCode).toBe(403);
    const refused = await agent.post('/logout', {}, { csrf: null });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('Formularen er udløbet');
    // Still logged in: nothing happened.
    expect((await agent.get('/dashboard')).statusCode).toBe(200);
  });

  it('accepts the token from the htmx header', async () => {
    const agent = await loggedIn(t.app, a.employee.email);
    const res = await agent.post('/settings/language', { language: 'sv', returnTo: '/dashboard' }, { csrf: null, headers: { 'x-csrf-token': agent.csrf } });
    expect(res.statusCode).toBe(303);
    const page = await agent.get('/dashboard');
    expect(page.body).toContain('lang="sv"');
    expect(page.body).toContain('Översikt');
  });
});

describe('languages', () => {
  it('serves Danish by default, English and Swedish by choice, and remembers it per user', async () => {
    const anon = new Agent(t.app);
    expect((await anon.get('/login')).body).toContain('Log ind med din e-mailadresse');
    expect((await anon.get('/login', { 'accept-language': 'en-GB,en;q=0.9' })).body).toContain('Log in with your e-mail');
    const agent = await loggedIn(t.app, a.colleague.email);
    await agent.post('/settings/language', { language: 'en', returnTo: '/dashboard' });
    const again = await loggedIn(t.app, a.colleague.email);
    expect((await again.get('/dashboard')).body).toContain('Your employment');
  });

  it('never redirects off-site after a language change', async () => {
    const agent = new Agent(t.app);
    await agent.get('/login');
    const res = await agent.post('/settings/language', { language: 'en', returnTo: '//evil.example/x' });
    expect(res.headers.location).toBe('/');
  });
});

describe('bad input gets a clear 4xx, never a 5xx', () => {
  it('answers an over-large body with 413 and a message', async () => {
    const agent = new Agent(t.app);
    await agent.get('/login');
    const res = await agent.post('/login', { email: 'a@b.example', password: 'x'.repeat(400_000) });
    expect(res.statusCode).toBe(413);
    expect(res.body).toContain('For meget indhold');
  });

  it('answers malformed or hostile login input with 4xx', async () => {
    const agent = new Agent(t.app);
    await agent.get('/login');
    for (const form of [{}, { email: '' }, { email: '"><script>alert(1)</script>', password: '\u0000' }, { email: 'a'.repeat(5000), password: 'b' }]) {
      const res = await agent.post('/login', form as Record<string, string>);
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(res.body).not.toContain('<script>alert(1)</script>');
    }
    const json = await t.app.inject({ method: 'POST', url: '/login', headers: { host: 'samtale.test', origin: 'http://samtale.test', 'content-type': 'application/json' }, payload: '{bad json' });
    expect(json.statusCode).toBeGreaterThanOrEqual(400);
    expect(json.statusCode).toBeLessThan(500);
  });

  it('unknown pages are 404 with a friendly page', async () => {
    const res = await new Agent(t.app).get('/no/such/page');
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain('Siden findes ikke');
  });

  it('a forged or expired session cookie is just "not logged in"', async () => {
    const agent = new Agent(t.app);
    agent.cookies.set('samtale_session', 'A'.repeat(43));
    const res = await agent.get('/dashboard');
    expect(res.statusCode).toBe(303);
    const real = await loggedIn(t.app, a.employee.email);
    t.clock.advance(31 * 60_000); // idle timeout is 30 minutes
    expect((await real.get('/dashboard')).statusCode).toBe(303);
  });
});

describe('operations basics', () => {
  it('/healthz and /readyz answer JSON', async () => {
    const h = await t.app.inject({ url: '/healthz' });
    expect(h.json()).toEqual({ status: 'ok' });
    const r = await t.app.inject({ url: '/readyz' });
    expect(r.statusCode).toBe(200);
    expect(r.json().checks.database.status).toBe('ok');
  });

  it('config refuses bad values with a message naming the variable', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ TLS_CERT_FILE: '/x' })).toThrow(/TLS_KEY_FILE/);
  });
});

describe('M9 plain HTTP only redirects to HTTPS', () => {
  it('answers every plain request with a 308 to the https address and nothing else', async () => {
    const { httpsRedirectServer } = await import('../src/platform/http/redirect.ts');
    const server = httpsRedirectServer(8443, undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as import('node:net').AddressInfo).port;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/login?next=%2Fdashboard`, { redirect: 'manual', method: 'POST', body: 'password=x' });
      expect(res.status).toBe(308);
      expect(res.headers.get('location')).toBe('https://127.0.0.1:8443/login?next=%2Fdashboard');
      expect(res.headers.get('set-cookie')).toBeNull();
      const fixed = httpsRedirectServer(443, 'https://samtale.example');
      await new Promise<void>((r) => fixed.listen(0, '127.0.0.1', () => r()));
      const p2 = (fixed.address() as import('node:net').AddressInfo).port;
      const r2 = await fetch(`http://127.0.0.1:${p2}/x`, { redirect: 'manual', headers: { host: 'evil.example' } });
      expect(r2.headers.get('location')).toBe('https://samtale.example/x');
      fixed.close();
    } finally {
      server.close();
    }
  });
});
