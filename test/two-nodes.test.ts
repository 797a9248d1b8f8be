/**
 * M10: app nodes keep nothing locally, so two nodes on one database behave as one.
 *
 * Part 1 builds two app instances in this process. On PostgreSQL (TEST_DATABASE_URL) they use a
 * scratch database of their own, each with its own connection pool, so nothing but the database
 * joins them; on PGlite they share the one embedded database (it has a single connection).
 * Part 2, on PostgreSQL only, starts two real `samtale serve` processes on two ports against a
 * scratch database and talks to them over HTTP, switching a module off with the real CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { FakeClock, depsOf, openTestDatabase } from './helpers/app.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { createCompany, PASSWORD, type CompanyFixture } from './helpers/factories.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase, type Database } from '../src/platform/db/database.ts';
import { migrate } from '../src/platform/db/migrate.ts';
import { PasswordHasher } from '../src/platform/auth/passwords.ts';
import type { AppDeps } from '../src/platform/deps.ts';
import { buildApp } from '../src/app.ts';
import { runDueJobs, startJobRunner, type JobDefinition } from '../src/platform/jobs/jobs.ts';
import { SWITCH_CACHE_MS, unsafeSetModule } from '../src/platform/modules/switches.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { enqueueMail } from '../src/platform/mail/mail.ts';

const MIN = 60_000;
const TOKEN = `two-nodes-${randomUUID()}-${randomUUID()}`;
const baseUrl = inject('databaseUrl');

/** A scratch PostgreSQL database for this file (platform-wide switches and jobs stay here). */
async function scratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `samtale_nodes_${Date.now()}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const own = new URL(baseUrl);
  own.pathname = `/${name}`;
  return {
    url: own.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

type Node = { app: FastifyInstance; deps: AppDeps };

async function buildNode(database: Database, clock: FakeClock, dataDir: string): Promise<Node> {
  const config = loadConfig({ NODE_ENV: 'test', SAMTALE_DATA_DIR: dataDir, LOG_LEVEL: 'silent', STAFF_ALLOWED_CIDRS: '127.0.0.0/8,::1/128', METRICS_TOKEN: TOKEN });
  const deps: AppDeps = { config, database, clock, hasher: new PasswordHasher(config.argon2) };
  const app = await buildApp(deps);
  await app.ready();
  depsOf.set(app, deps);
  return { app, deps };
}

/** The same browser (cookies, address) seen by the other node, as behind a load balancer. */
function sameBrowserOn(app: FastifyInstance, agent: Agent): Agent {
  const other = new Agent(app, agent.ip);
  other.cookies = agent.cookies;
  other.csrf = agent.csrf;
  return other;
}

describe('M10 two app nodes on one database (in-process)', () => {
  let a: Node;
  let b: Node;
  let f: CompanyFixture;
  const clock = new FakeClock();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-nodes-'));
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    if (baseUrl) {
      const scratch = await scratchDatabase();
      cleanup.push(() => scratch.drop());
      const first = await openDatabase({ databaseUrl: scratch.url, poolSize: 4 });
      await migrate(first);
      const second = await openDatabase({ databaseUrl: scratch.url, poolSize: 4 });
      cleanup.unshift(() => first.close(), () => second.close());
      a = await buildNode(first, clock, dataDir);
      b = await buildNode(second, clock, dataDir);
    } else {
      const shared = await openTestDatabase();
      cleanup.unshift(() => shared.close());
      a = await buildNode(shared, clock, dataDir);
      b = await buildNode(shared, clock, dataDir);
    }
    cleanup.unshift(() => a.app.close(), () => b.app.close());
    f = await createCompany(a.deps);
  });
  afterAll(async () => {
    for (const c of cleanup) await c();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a session made on node A works on node B; logging out on B ends it on A', async () => {
    const onA = await loggedIn(a.app, f.employee.email);
    expect((await onA.get('/dashboard')).statusCode).toBe(200);
    const onB = sameBrowserOn(b.app, onA);
    const page = await onB.get('/dashboard');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(f.employee.name);
    expect((await onB.post('/logout')).statusCode).toBe(303);
    const after = await onA.get('/dashboard');
    expect(after.statusCode).toBe(303);
    expect(after.headers.location).toMatch(/^\/login/);
  });

  it('a lockout made by 3 failed logins on A blocks on B, and ends on both after 15 minutes', async () => {
    const me = (await createCompany(a.deps)).employee;
    const onA = new Agent(a.app);
    await onA.get('/login');
    for (let i = 0; i < 3; i++) expect((await onA.post('/login', { email: me.email, password: `wrong ${i}` })).statusCode).toBe(401);
    const onB = sameBrowserOn(b.app, onA);
    await onB.get('/login');
    expect((await onB.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(401);
    clock.advance(16 * MIN);
    expect((await onB.post('/login', { email: me.email, password: PASSWORD })).statusCode).toBe(303);
  });

  it('rate limits are counted together: 20 reset requests an hour per address across both nodes', async () => {
    const onA = new Agent(a.app);
    await onA.get('/password/forgot');
    const onB = sameBrowserOn(b.app, onA);
    for (let i = 0; i < 10; i++) {
      expect((await onA.post('/password/forgot', { email: `nobody-${i}@test.example` })).statusCode).toBe(200);
      expect((await onB.post('/password/forgot', { email: `nobody-b${i}@test.example` })).statusCode).toBe(200);
    }
    expect((await onA.post('/password/forgot', { email: 'one-more@test.example' })).statusCode).toBe(429);
    expect((await onB.post('/password/forgot', { email: 'one-more@test.example' })).statusCode).toBe(429);
  }, 60_000);

  it('a scheduled job due once runs exactly once with both nodes\' runners ticking', async () => {
    let runs = 0;
    const job: JobDefinition = {
      name: `test.nodes-${Date.now()}`,
      intervalSeconds: 3600,
      run: async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 50));
      },
    };
    // Both nodes ask at the very same moment.
    const outcomes = (await Promise.all([runDueJobs(a.deps, [job]), runDueJobs(b.deps, [job])])).flat();
    expect(outcomes).toHaveLength(1);
    expect(runs).toBe(1);
    // Both runners ticking every 10 ms for half a second: nothing more is due.
    const ra = startJobRunner(a.deps, { tickMs: 10, jobs: () => [job] });
    const rb = startJobRunner(b.deps, { tickMs: 10, jobs: () => [job] });
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect(runs).toBe(1);
      // An hour later it is due again: once more, by one of them.
      clock.advance(3600_000);
      const end = Date.now() + 5000;
      while (runs < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      expect(runs).toBe(2);
      for (const n of [a, b]) {
        const ready = await n.app.inject({ method: 'GET', url: '/readyz' });
        expect(ready.statusCode).toBe(200);
        expect(ready.json().checks.jobs.status).toBe('ok');
      }
    } finally {
      await ra.stop();
      await rb.stop();
    }
    const row = await unsafeSystemTransaction(a.deps.database, (trx) => trx.selectFrom('scheduled_jobs').select('runs').where('name', '=', job.name).executeTakeFirstOrThrow());
    expect(Number(row.runs)).toBe(2);
  }, 60_000);

  it('a module switched off by the operator is off on both nodes within the cache time, and on again', async () => {
    const onA = await loggedIn(a.app, f.admin.email);
    const onB = sameBrowserOn(b.app, onA);
    // Both nodes have looked at the switches just now (their caches are warm).
    expect((await onA.get('/inbox')).statusCode).toBe(200);
    expect((await onB.get('/inbox')).statusCode).toBe(200);
    // The CLI's function, with deps of its own, as `samtale module off uploads` in another process.
    const cli: AppDeps = { ...a.deps };
    const waitFor = async (status: number) => {
      const started = Date.now();
      const seen = new Set<string>();
      // The cache time, plus slack for a machine shared with other work.
      while (seen.size < 2 && Date.now() - started < SWITCH_CACHE_MS + 3000) {
        if ((await onA.get('/inbox')).statusCode === status) seen.add('a');
        if ((await onB.get('/inbox')).statusCode === status) seen.add('b');
        if (seen.size < 2) await new Promise((r) => setTimeout(r, 200));
      }
      expect([...seen].sort()).toEqual(['a', 'b']);
      return Date.now() - started;
    };
    await unsafeSetModule(cli, 'uploads', true, 'two-node test');
    expect(await waitFor(503)).toBeLessThanOrEqual(SWITCH_CACHE_MS + 3000);
    await unsafeSetModule(cli, 'uploads', false, undefined);
    expect(await waitFor(200)).toBeLessThanOrEqual(SWITCH_CACHE_MS + 3000);
  }, 60_000);

  it('both nodes report the same shared counters on /metrics (P4)', async () => {
    await withTenant(a.deps.database, { companyId: f.companyId, userId: f.admin.userId }, (trx) =>
      enqueueMail(trx, { to: `nodes-${Date.now()}@test.example`, lang: 'da', template: 'password_changed', model: { firstName: 'Ida', at: clock.now() } }),
    );
    const pending = async (n: Node) => {
      const res = await n.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.statusCode).toBe(200);
      return /^samtale_mail_outbox\{status="pending"\} (\d+)$/m.exec(res.body)?.[1];
    };
    const [pa, pb] = [await pending(a), await pending(b)];
    expect(Number(pa)).toBeGreaterThanOrEqual(1);
    expect(pb).toBe(pa);
  });
});

// ------------------------------------------------------------------ two real processes

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A minimal browser over fetch: cookies across both nodes (same host), the CSRF token, our Origin. */
class HttpBrowser {
  cookies = new Map<string, string>();
  csrf = '';

  private remember(res: Response, body: string) {
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq).trim();
      const value = (pair ?? '').slice(eq + 1).trim();
      const expired = attrs.some((x) => /^\s*max-age=0/i.test(x) || (/^\s*expires=/i.test(x) && new Date(x.split('=')[1] ?? '').getTime() < Date.now()));
      if (value === '' || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const m = /name="_csrf" value="([^"]+)"/.exec(body);
    if (m?.[1]) this.csrf = m[1];
  }

  private cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(base: string, url: string) {
    const res = await fetch(`${base}${url}`, { redirect: 'manual', headers: { accept: 'text/html', cookie: this.cookieHeader() } });
    const body = await res.text();
    this.remember(res, body);
    return { status: res.status, location: res.headers.get('location'), body };
  }

  async post(base: string, url: string, form: Record<string, string> = {}) {
    const res = await fetch(`${base}${url}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookieHeader(), origin: base },
      body: new URLSearchParams({ _csrf: this.csrf, ...form }).toString(),
    });
    const body = await res.text();
    this.remember(res, body);
    return { status: res.status, location: res.headers.get('location'), body };
  }
}

type Proc = { child: ChildProcess; base: string; metrics: string; output: () => string; exited: Promise<number | null> };

function startServe(env: Record<string, string>, port: number, metricsPort: number): Proc {
  const child = spawn('node_modules/.bin/tsx', ['src/main.ts', 'serve'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: String(port), METRICS_PORT: String(metricsPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += String(d)));
  child.stderr?.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, base: `http://127.0.0.1:${port}`, metrics: `http://127.0.0.1:${metricsPort}/metrics`, output: () => out, exited };
}

async function waitUp(p: Proc) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await fetch(`${p.base}/readyz`).then((r) => r.ok, () => false)) {
      // Ready and its job runner has ticked.
      const body = (await fetch(`${p.base}/readyz`).then((r) => r.json())) as { checks: { jobs: { status: string } } };
      if (body.checks.jobs.status === 'ok') return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`node did not start:\n${p.output()}`);
}

function runCli(env: Record<string, string>, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('node_modules/.bin/tsx', ['src/main.ts', ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe.skipIf(!baseUrl)('M10 two real `samtale serve` processes on one PostgreSQL database', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let database: Database;
  let deps: AppDeps;
  let f: CompanyFixture;
  let env: Record<string, string>;
  const procs: Proc[] = [];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-nodes-serve-'));

  beforeAll(async () => {
    scratch = await scratchDatabase();
    database = await openDatabase({ databaseUrl: scratch.url, poolSize: 2 });
    await migrate(database);
    const config = loadConfig({ NODE_ENV: 'test', SAMTALE_DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    deps = { config, database, clock: { now: () => new Date() }, hasher: new PasswordHasher(config.argon2) };
    f = await createCompany(deps);
    env = { NODE_ENV: 'test', DATABASE_URL: scratch.url, SAMTALE_DATA_DIR: dataDir, DEMO_SEED: 'false', LOG_LEVEL: 'warn', JOB_TICK_SECONDS: '1' };
    const ports = [await freePort(), await freePort(), await freePort(), await freePort()] as const;
    procs.push(startServe(env, ports[0], ports[1]), startServe(env, ports[2], ports[3]));
    await Promise.all(procs.map(waitUp));
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGTERM');
    const codes = await Promise.all(procs.map((p) => p.exited));
    await database?.close();
    await scratch?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    expect(codes).toEqual(procs.map(() => 0));
  }, 60_000);

  it('session from A works on B, logout on B ends it on A; 3 failures on A block on B', async () => {
    const [A, B] = procs.map((p) => p.base) as [string, string];
    const browser = new HttpBrowser();
    await browser.get(A, '/login');
    const login = await browser.post(A, '/login', { email: f.employee.email, password: PASSWORD });
    expect(login.status, login.body).toBe(303);
    expect((await browser.get(B, '/dashboard')).status).toBe(200);
    expect((await browser.post(B, '/logout')).status).toBe(303);
    const after = await browser.get(A, '/dashboard');
    expect(after.status).toBe(303);
    expect(after.location).toMatch(/^\/login/);

    const other = new HttpBrowser();
    await other.get(A, '/login');
    for (let i = 0; i < 3; i++) expect((await other.post(A, '/login', { email: f.colleague.email, password: `wrong ${i}` })).status).toBe(401);
    await other.get(B, '/login');
    expect((await other.post(B, '/login', { email: f.colleague.email, password: PASSWORD })).status).toBe(401);
  }, 60_000);

  it('each built-in job runs once per due time with both runners ticking every second', async () => {
    // auth.cleanup is due every 15 minutes: started once when the first node came up, not twice.
    await new Promise((r) => setTimeout(r, 2500));
    const rows = await unsafeSystemTransaction(database, (trx) => trx.selectFrom('scheduled_jobs').select(['name', 'runs']).where('name', 'in', ['auth.cleanup', 'files.cleanup']).execute());
    expect(rows.map((r) => [r.name, Number(r.runs)]).sort()).toEqual([
      ['auth.cleanup', 1],
      ['files.cleanup', 1],
    ]);
  }, 30_000);

  it('`samtale module off uploads` in a third process: off on both nodes within the cache time; on again', async () => {
    const [A, B] = procs.map((p) => p.base) as [string, string];
    const browser = new HttpBrowser();
    await browser.get(A, '/login');
    expect((await browser.post(A, '/login', { email: f.admin.email, password: PASSWORD })).status).toBe(303);
    expect((await browser.get(A, '/inbox')).status).toBe(200);
    expect((await browser.get(B, '/inbox')).status).toBe(200);
    const waitFor = async (status: number, since: number) => {
      const seen = new Set<string>();
      // The cache time, plus slack for a machine shared with other work.
      while (seen.size < 2 && Date.now() - since < SWITCH_CACHE_MS + 3000) {
        if ((await browser.get(A, '/inbox')).status === status) seen.add('A');
        if ((await browser.get(B, '/inbox')).status === status) seen.add('B');
        if (seen.size < 2) await new Promise((r) => setTimeout(r, 200));
      }
      expect([...seen].sort()).toEqual(['A', 'B']);
      return Date.now() - since;
    };
    const off = await runCli(env, ['module', 'off', 'uploads', '--reason', 'two-node drill']);
    expect(off.code, off.out).toBe(0);
    expect(await waitFor(503, Date.now())).toBeLessThanOrEqual(SWITCH_CACHE_MS + 3000);
    const on = await runCli(env, ['module', 'on', 'uploads']);
    expect(on.code, on.out).toBe(0);
    expect(await waitFor(200, Date.now())).toBeLessThanOrEqual(SWITCH_CACHE_MS + 3000);
  }, 90_000);

  it('both metrics listeners answer with the same shared counters (P4)', async () => {
    const texts = await Promise.all(procs.map((p) => fetch(p.metrics).then((r) => r.text())));
    // The block made in the first test, read from the database by each node (mail counts move
    // while the nodes deliver, blocks stay for 15 minutes).
    const blocks = texts.map((t) => /^samtale_login_blocks_active (\d+)$/m.exec(t)?.[1]);
    expect(Number(blocks[0])).toBeGreaterThanOrEqual(1);
    expect(blocks[1]).toBe(blocks[0]);
    for (const t of texts) expect(t).toMatch(/^samtale_db_up 1$/m);
    for (const t of texts) expect(t).toMatch(/samtale_http_request_duration_seconds_count\{route="\/login",method="POST",status_class="[34]xx"\}/);
  }, 30_000);
});
