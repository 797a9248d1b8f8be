/**
 * P4: /readyz names every check; 503 when a required one (database, this node's job runner)
 * fails; mail and the virus scanner are reported but never decide readiness.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { openDatabase } from '../src/platform/db/database.ts';
import { jobRunnerHealth, startJobRunner, type JobDefinition } from '../src/platform/jobs/jobs.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const MIN = 60_000;

async function readyz(app = t.app) {
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  expect(res.headers['cache-control']).toBe('no-store');
  return { status: res.statusCode, body: res.json() };
}

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('P4 /readyz', () => {
  it('names every check; ready with the database up and no runner started on this app', async () => {
    const { status, body } = await readyz();
    expect(status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.failing).toEqual([]);
    expect(body.required).toEqual(['database', 'jobs']);
    expect(Object.keys(body.checks).sort()).toEqual(['database', 'jobs', 'mail', 'scanner']);
    expect(body.checks.database.status).toBe('ok');
    expect(body.checks.jobs.status).toBe('not_started');
    expect(body.checks.mail.status).toBe('ok');
    expect(body.checks.scanner.status).toBe('not_configured');
  });

  it('the job runner: ok while it ticks, 503 when it has not ticked for too long, 503 once stopped', async () => {
    // No jobs: this file shares its database with others, so it runs nothing platform-wide.
    const runner = startJobRunner(t.deps, { tickMs: 60_000, jobs: () => [] });
    try {
      await until(() => { const h = jobRunnerHealth(t.deps); return h.status === 'ok' && !h.running; });
      let r = await readyz();
      expect(r.status).toBe(200);
      expect(r.body.checks.jobs.status).toBe('ok');
      expect(r.body.checks.jobs.lastTickAt).toBe(t.clock.now().toISOString());
      // No tick for 11 minutes (ten ticks of one minute missed): stalled.
      t.clock.advance(11 * MIN);
      r = await readyz();
      expect(r.status).toBe(503);
      expect(r.body.status).toBe('not_ready');
      expect(r.body.failing).toEqual(['jobs']);
      expect(r.body.checks.jobs.status).toBe('stalled');
      expect(r.body.checks.database.status).toBe('ok');
    } finally {
      await runner.stop();
    }
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body.checks.jobs.status).toBe('stopped');
    expect(r.body.failing).toEqual(['jobs']);
  });

  it('a job run that hangs for more than 15 minutes makes the node not ready', async () => {
    const other = await createTestApp();
    let release: () => void = () => undefined;
    let started = false;
    const hanging: JobDefinition = {
      name: `test.health-hang-${Date.now()}`,
      intervalSeconds: 3600,
      run: () =>
        new Promise<void>((resolve) => {
          started = true;
          release = resolve;
        }),
    };
    const runner = startJobRunner(other.deps, { tickMs: 60_000, jobs: () => [hanging] });
    try {
      await until(() => started);
      expect((await readyz(other.app)).body.checks.jobs).toMatchObject({ status: 'ok', running: true });
      other.clock.advance(14 * MIN);
      expect((await readyz(other.app)).status).toBe(200);
      other.clock.advance(2 * MIN);
      const r = await readyz(other.app);
      expect(r.status).toBe(503);
      expect(r.body.checks.jobs).toMatchObject({ status: 'stalled', running: true });
    } finally {
      release();
      await runner.stop();
      await other.close();
    }
  });

  it('503 naming the database when it is down', async () => {
    // A PostgreSQL server that is not there (nothing listens on the port).
    const gone = await openDatabase({ databaseUrl: `postgres://samtale@127.0.0.1:${await closedPort()}/samtale`, poolSize: 1 });
    const other = await createTestApp({}, gone);
    try {
      const r = await readyz(other.app);
      expect(r.status).toBe(503);
      expect(r.body.status).toBe('not_ready');
      expect(r.body.failing).toEqual(['database']);
      expect(r.body.checks.database.status).toBe('down');
      expect(r.body.checks.mail.status).toBe('unknown');
    } finally {
      await other.close();
    }
  });

  it('an unreachable virus scanner is reported but does not make the node not ready', async () => {
    const other = await createTestApp({ CLAMD_HOST: '127.0.0.1', CLAMD_PORT: String(await closedPort()), CLAMD_TIMEOUT_SECONDS: '1' });
    try {
      const r = await readyz(other.app);
      expect(r.status).toBe(200);
      expect(r.body.checks.scanner.status).toBe('unreachable');
    } finally {
      await other.close();
    }
  });
});
