/** M10: staff logins and staff pages only from the configured networks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createStaff, PASSWORD } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { staffNetwork } from '../src/platform/http/staff-network.ts';
import { loadConfig } from '../src/config.ts';

let inside: TestApp;
let outside: TestApp;

beforeAll(async () => {
  inside = await createTestApp();
  outside = await createTestApp({ STAFF_ALLOWED_CIDRS: '10.20.0.0/16' });
});
afterAll(async () => {
  await inside?.close();
  await outside?.close();
});

describe('M10 staff network allow-list', () => {
  it('matches CIDRs for IPv4, IPv6 and IPv4-mapped addresses', () => {
    const ok = staffNetwork(['10.20.0.0/16', '2001:db8::/32']);
    expect(ok('10.20.3.4')).toBe(true);
    expect(ok('::ffff:10.20.3.4')).toBe(true);
    expect(ok('10.21.0.1')).toBe(false);
    expect(ok('2001:db8::1')).toBe(true);
    expect(ok('not-an-ip')).toBe(false);
    expect(() => loadConfig({ STAFF_ALLOWED_CIDRS: '10.0.0.0/33' })).toThrow(/STAFF_ALLOWED_CIDRS/);
  });

  it('refuses a staff login from outside the list with the ordinary login failure', async () => {
    const staff = await createStaff(outside.deps);
    const agent = new Agent(outside.app);
    await agent.get('/login');
    const res = await agent.post('/login', { email: staff.email, password: PASSWORD });
    expect(res.statusCode).toBe(401);
  });

  it('accepts it from inside the list', async () => {
    const staff = await createStaff(inside.deps);
    const agent = await loggedIn(inside.app, staff.email);
    expect((await agent.get('/staff/companies')).statusCode).toBe(200);
  });

  it('a staff session carried outside the list is no session', async () => {
    const staff = await createStaff(inside.deps);
    const agent = await loggedIn(inside.app, staff.email);
    const cookie = [...agent.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await inside.app.inject({ url: '/staff/companies', remoteAddress: '192.0.2.7', headers: { host: 'samtale.test', accept: 'text/html', cookie } });
    expect(res.statusCode).toBe(303);
    expect(String(res.headers.location)).toContain('/login');
  });
});
