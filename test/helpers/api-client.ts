/**
 * A client of the integration API (/v3) for tests: signs every request with a fresh HS256 JWT
 * (node:crypto, the same few lines a customer would write) at the app's fake time, and creates
 * its API token the real way, through the company admin's settings page.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { TestApp } from './app.ts';
import { loggedIn, type Agent } from './agent.ts';

export function signJwt(payload: Record<string, unknown>, key: string, alg = 'HS256'): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc({ alg, typ: 'JWT' })}.${enc(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** The key for test apps: 32 bytes, base64. */
export const TEST_API_KEY = Buffer.alloc(32, 7).toString('base64');

export async function createTokenThroughUi(agent: Agent, name = 'HR-system'): Promise<string> {
  await agent.get('/org/settings/api');
  const res = await agent.post('/org/settings/api/tokens', { name });
  const m = /<code class="secret">([^<]+)<\/code>/.exec(res.body);
  if (res.statusCode !== 200 || !m?.[1]) throw new Error(`token not created: ${res.statusCode}`);
  return m[1];
}

type Res = Awaited<ReturnType<FastifyInstance['inject']>>;

export class ApiClient {
  constructor(
    readonly t: TestApp,
    readonly companyId: string,
    readonly token: string,
    readonly ip = '198.51.100.7',
  ) {}

  jwt(overrides: Record<string, unknown> = {}): string {
    const nbf = Math.floor(this.t.clock.now().getTime() / 1000);
    return signJwt({ company_id: this.companyId, nbf, exp: nbf + 10, jti: randomUUID(), ...overrides }, this.token);
  }

  async call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res & { json: () => any }> {
    const res = await this.t.app.inject({
      method,
      url,
      remoteAddress: this.ip,
      headers: { jwt: this.jwt(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    return Object.assign(res, { json: () => JSON.parse(res.body) as any });
  }

  get = (url: string) => this.call('GET', url);
  post = (url: string, body: unknown) => this.call('POST', url, body);
  patch = (url: string, body: unknown) => this.call('PATCH', url, body);
  del = (url: string) => this.call('DELETE', url);
}

/** The admin logs in, creates a token in the UI, and hands back a client signed with it. */
export async function apiClientFor(t: TestApp, companyId: string, adminEmail: string): Promise<{ api: ApiClient; admin: Agent; token: string }> {
  const admin = await loggedIn(t.app, adminEmail);
  const token = await createTokenThroughUi(admin);
  return { api: new ApiClient(t, companyId, token), admin, token };
}
