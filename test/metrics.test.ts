/**
 * P4: Prometheus metrics. Scrapes the real app on a database of its own (the outbox and job
 * counters are platform-wide), through the main port's /metrics behind the bearer token and
 * through the separate metrics listener.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIsolatedTestApp, createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { Agent } from './helpers/agent.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { enqueueMail } from '../src/platform/mail/mail.ts';
import { runDueJobs } from '../src/platform/jobs/jobs.ts';
import { startMetricsServer } from '../src/platform/metrics/metrics.routes.ts';
import { renderMetrics } from '../src/platform/metrics/metrics.ts';
import { buildApp } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';

const TOKEN = `metrics-${randomUUID()}-${randomUUID()}`;

let t: TestApp;
let f: CompanyFixture;

beforeAll(async () => {
  t = await createIsolatedTestApp({ METRICS_TOKEN: TOKEN });
  f = await createCompany(t.deps);
});
afterAll(async () => t?.close());

type Sample = { name: string; labels: Record<string, string>; value: number };

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name whose labels include `labels` (0 when absent). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.reduce((sum, s) => sum + s.value, 0);
}

async function scrape(): Promise<Sample[]> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toContain('text/plain');
  return parse(res.body);
}

describe('P4 metrics on the main port behind a bearer token', () => {
  it('refuses a scrape without the token or with a wrong one, and does not exist when no token is configured', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}x` } })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: TOKEN } })).statusCode).toBe(401);
    const plain = await createTestApp();
    try {
      const res = await plain.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.statusCode).toBe(404);
      expect(res.body).not.toContain('samtale_');
    } finally {
      await plain.close();
    }
  });

  it('has request histograms per route pattern, never raw URLs or ids', async () => {
    const before = await scrape();
    const a = new Agent(t.app);
    await a.get('/login');
    await a.get('/login');
    const id = randomUUID();
    await a.get(`/assets/${id}.js`);
    await a.get(`/no-such-page-${id}`);
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    const after = parse(res.body);
    const login = { route: '/login', method: 'GET', status_class: '2xx' };
    expect(value(after, 'samtale_http_request_duration_seconds_count', login) - value(before, 'samtale_http_request_duration_seconds_count', login)).toBe(2);
    expect(value(after, 'samtale_http_request_duration_seconds_bucket', { ...login, le: '+Inf' })).toBe(value(after, 'samtale_http_request_duration_seconds_count', login));
    expect(value(after, 'samtale_http_request_duration_seconds_count', { route: '/assets/:file', status_class: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(value(after, 'samtale_http_request_duration_seconds_count', { route: 'unmatched', status_class: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(res.body).not.toContain(id);
    expect(res.body).toContain('samtale_http_server_errors_total');
  });

  it('counts 5xx answers per route pattern', async () => {
    const app = await buildApp(t.deps);
    app.get('/test-boom/:id', { config: { public: true } }, async () => {
      throw new Error('boom');
    });
    await app.ready();
    try {
      const before = await scrape();
      const res = await app.inject({ method: 'GET', url: `/test-boom/${randomUUID()}`, headers: { accept: 'application/json' } });
      expect(res.statusCode).toBe(500);
      const after = await scrape();
      const labels = { route: '/test-boom/:id', method: 'GET' };
      expect(value(after, 'samtale_http_server_errors_total', labels) - value(before, 'samtale_http_server_errors_total', labels)).toBe(1);
      expect(value(after, 'samtale_http_request_duration_seconds_count', { ...labels, status_class: '5xx' })).toBeGreaterThanOrEqual(1);
    } finally {
      await app.close();
    }
  });

  it('counts failed logins and blocks, and shows the blocks in force', async () => {
    const before = await scrape();
    const b = new Agent(t.app);
    await b.get('/login');
    for (let i = 0; i < 3; i++) expect((await b.post('/login', { email: f.employee.email, password: `wrong ${i}` })).statusCode).toBe(401);
    const after = await scrape();
    expect(value(after, 'samtale_login_failures_total') - value(before, 'samtale_login_failures_total')).toBe(3);
    expect(value(after, 'samtale_login_blocks_total', { scope: 'source' }) - value(before, 'samtale_login_blocks_total', { scope: 'source' })).toBe(1);
    expect(value(after, 'samtale_login_blocks_active')).toBeGreaterThanOrEqual(1);
    // Nothing about who: no e-mail address in the scrape.
    expect(JSON.stringify(after)).not.toContain(f.employee.email);
  });

  it('shows mails waiting in the outbox and the age of the oldest', async () => {
    const before = await scrape();
    await withTenant(t.deps.database, { companyId: f.companyId, userId: f.admin.userId }, (trx) =>
      enqueueMail(trx, { to: `metrics-${Date.now()}@test.example`, lang: 'da', template: 'password_changed', model: { firstName: 'Ida', at: t.clock.now() } }),
    );
    t.clock.advance(120_000);
    const after = await scrape();
    expect(value(after, 'samtale_mail_outbox', { status: 'pending' }) - value(before, 'samtale_mail_outbox', { status: 'pending' })).toBe(1);
    expect(value(after, 'samtale_mail_outbox_oldest_pending_seconds')).toBeGreaterThanOrEqual(120);
    expect(value(after, 'samtale_db_up')).toBe(1);
  });

  it('shows files waiting for a scan', async () => {
    const before = await scrape();
    await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.insertInto('files').values({ id: randomUUID(), company_id: f.companyId, purpose: 'inbox', name: 'a.pdf', kind: 'pdf', content_type: 'application/pdf', state: 'waiting', created_at: t.clock.now() }).execute(),
    );
    t.clock.advance(60_000);
    const after = await scrape();
    expect(value(after, 'samtale_files_waiting_for_scan') - value(before, 'samtale_files_waiting_for_scan')).toBe(1);
    expect(value(after, 'samtale_files_oldest_waiting_seconds')).toBeGreaterThanOrEqual(60);
  });

  it('counts job runs and failures by job name and shows the job queue', async () => {
    const failing = { name: 'test.metrics-fail', intervalSeconds: 3600, run: async () => { throw new Error('boom'); } };
    const fine = { name: 'test.metrics-ok', intervalSeconds: 3600, run: async () => 1 };
    const later = { name: 'test.metrics-later', intervalSeconds: 60, run: async () => 1 };
    await runDueJobs(t.deps, [failing, fine, later]);
    // `later` is due again in a minute; two minutes on, it waits in the queue.
    t.clock.advance(120_000);
    const after = await scrape();
    expect(value(after, 'samtale_job_runs_total', { job: 'test.metrics-fail', outcome: 'failed' })).toBe(1);
    expect(value(after, 'samtale_job_runs_total', { job: 'test.metrics-ok', outcome: 'ok' })).toBe(1);
    expect(value(after, 'samtale_job_last_run_failed', { job: 'test.metrics-fail' })).toBe(1);
    expect(value(after, 'samtale_job_last_run_failed', { job: 'test.metrics-ok' })).toBe(0);
    expect(value(after, 'samtale_job_seconds_since_last_finished', { job: 'test.metrics-ok' })).toBeGreaterThanOrEqual(120);
    expect(value(after, 'samtale_jobs_due')).toBeGreaterThanOrEqual(1);
  });

  it('has event-loop delay (histogram and Node\'s lag percentiles) and process metrics', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const s = await scrape();
    expect(s.some((x) => x.name === 'samtale_event_loop_delay_seconds_bucket')).toBe(true);
    expect(value(s, 'samtale_event_loop_delay_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(s.some((x) => x.name === 'nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(s.some((x) => x.name === 'process_resident_memory_bytes')).toBe(true);
  });
});

describe('P4 database pool numbers', () => {
  it('shows the pool of a database that reports one (total, idle, waiting, max)', async () => {
    const database = { ...t.deps.database, poolStats: () => ({ total: 4, idle: 3, waiting: 0, max: 10 }) };
    const s = parse(await renderMetrics({ ...t.deps, database }));
    expect(value(s, 'samtale_db_pool_connections', { state: 'total' })).toBe(4);
    expect(value(s, 'samtale_db_pool_connections', { state: 'idle' })).toBe(3);
    expect(value(s, 'samtale_db_pool_connections', { state: 'waiting' })).toBe(0);
    expect(value(s, 'samtale_db_pool_connections', { state: 'max' })).toBe(10);
  });
});

describe('P4 the separate metrics listener', () => {
  it('serves GET /metrics only, and asks for the token when one is configured', async () => {
    const server = await startMetricsServer(t.deps, { port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('samtale_mail_outbox');
      expect((await fetch(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('on the local machine without a token configured, scrapes need none', async () => {
    const deps = { ...t.deps, config: { ...t.deps.config, metrics: { port: undefined, host: '127.0.0.1', token: undefined } } };
    const server = await startMetricsServer(deps, { port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('samtale_http_request_duration_seconds');
    } finally {
      await server.close();
    }
  });

  it('configuration: another host than loopback needs a token; a short token is refused', () => {
    expect(() => loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' })).toThrow(ConfigError);
    expect(() => loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' })).toThrow(/METRICS_TOKEN/);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
    const c = loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '10.0.0.5', METRICS_TOKEN: TOKEN });
    expect(c.metrics).toEqual({ port: 9464, host: '10.0.0.5', token: TOKEN });
    expect(loadConfig({}).metrics).toEqual({ port: undefined, host: '127.0.0.1', token: undefined });
  });
});
