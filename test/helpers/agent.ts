/**
 * A browser-like client over app.inject: keeps cookies, sends our Origin and the CSRF token the
 * way the real pages do.
 */
import type { FastifyInstance } from 'fastify';
import { mintRecoveryCode, PASSWORD } from './factories.ts';
import { depsOf } from './app.ts';

export const ORIGIN = 'http://samtale.test';

type Res = Awaited<ReturnType<FastifyInstance['inject']>>;

export class Agent {
  cookies = new Map<string, string>();
  csrf = '';

  /**
   * Each agent is a browser at its own loopback address (127.x.y.z), so the per-IP rate limits
   * see separate visitors, as they would in real life; tests of those limits share one address.
   */
  constructor(
    readonly app: FastifyInstance,
    readonly ip = `127.${1 + Math.floor(Math.random() * 254)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
  ) {}

  private cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private remember(res: Res) {
    for (const c of res.cookies) {
      if (c.value === '' || (c.expires && c.expires.getTime() < Date.now())) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const m = /name="_csrf" value="([^"]+)"/.exec(res.body);
    if (m?.[1]) this.csrf = m[1];
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<Res> {
    const res = await this.app.inject({ method: 'GET', url, remoteAddress: this.ip, headers: { host: 'samtale.test', accept: 'text/html', cookie: this.cookieHeader(), ...headers } });
    this.remember(res);
    return res;
  }

  async post(url: string, form: Record<string, string> = {}, opts: { csrf?: string | null; origin?: string | null; headers?: Record<string, string> } = {}): Promise<Res> {
    const token = opts.csrf === undefined ? this.csrf : opts.csrf;
    const body = new URLSearchParams(token === null ? form : { _csrf: token, ...form }).toString();
    const headers: Record<string, string> = {
      host: 'samtale.test',
      accept: 'text/html',
      'content-type': 'application/x-www-form-urlencoded',
      cookie: this.cookieHeader(),
      ...(opts.origin === null ? {} : { origin: opts.origin ?? ORIGIN }),
      ...opts.headers,
    };
    const res = await this.app.inject({ method: 'POST', url, remoteAddress: this.ip, headers, payload: body });
    this.remember(res);
    return res;
  }

  /** Logs in through the real form and returns the response of the login POST. */
  async login(email: string, password = PASSWORD): Promise<Res> {
    await this.get('/login');
    return this.post('/login', { email, password });
  }
}

export async function loggedIn(app: FastifyInstance, email: string, password = PASSWORD): Promise<Agent> {
  const agent = new Agent(app);
  let res = await agent.login(email, password);
  if (res.statusCode === 303 && res.headers.location === '/login/second-factor') {
    // Accounts with a second factor (all staff, M2) finish with a fresh single-use recovery code.
    const deps = depsOf.get(app);
    if (!deps) throw new Error('no deps for this app');
    await agent.get('/login/second-factor');
    res = await agent.post('/login/second-factor', { recoveryCode: await mintRecoveryCode(deps, email) });
  }
  if (res.statusCode !== 303) throw new Error(`login failed for ${email}: ${res.statusCode}`);
  await agent.get('/dashboard');
  return agent;
}
