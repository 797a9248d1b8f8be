/**
 * Prometheus metrics (P4).
 *
 * Design note: two kinds of numbers, kept apart on purpose.
 * - Per process (this node only, summed by Prometheus over the nodes): HTTP requests and their
 *   latency per route pattern, 5xx errors, job runs and failures, login failures and blocks
 *   started, event-loop delay, Node's default process metrics, the database pool. These live in
 *   `processRegistry`, created once per process.
 * - Shared state that lives in PostgreSQL (mail outbox, files waiting for a scan, the job queue,
 *   active login blocks) is read at scrape time with one cheap query each inside one short
 *   read-only transaction with a statement timeout, so every node reports the same numbers and no
 *   node keeps a copy that could drift.
 *
 * Labels never carry raw URLs, ids, e-mail addresses or anything personal: only route patterns
 * ('/dialogues/:id'), methods, status classes, job names and block scopes.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sql } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppDeps } from '../deps.ts';
import type { Database } from '../db/database.ts';
import { unsafeSystemTransaction } from '../db/context.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Pool numbers a Database may offer (pg: its pool; PGlite: its single connection's queue). */
export type PoolStats = { total: number; idle: number; waiting: number; max?: number };

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

type ProcessMetrics = {
  registry: Registry;
  requests: Histogram<'route' | 'method' | 'status_class'>;
  errors: Counter<'route' | 'method'>;
  jobRuns: Counter<'job' | 'outcome'>;
  loginFailures: Counter;
  loginBlocks: Counter<'scope'>;
  eventLoop: Histogram;
};

let processMetrics: ProcessMetrics | undefined;

/** The per-process registry, made on first use (one per process, however many apps a test builds). */
export function metrics(): ProcessMetrics {
  if (processMetrics) return processMetrics;
  const registry = new Registry();
  // Node's own: CPU, memory, handles, GC, and event-loop lag (nodejs_eventloop_lag_*).
  collectDefaultMetrics({ register: registry });
  const requests = new Histogram({
    name: 'samtale_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status class, and how long they took.',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'samtale_http_server_errors_total',
    help: 'Responses with a 5xx status, by route pattern and method.',
    labelNames: ['route', 'method'] as const,
    registers: [registry],
  });
  const jobRuns = new Counter({
    name: 'samtale_job_runs_total',
    help: 'Periodic job runs on this node, by job name and outcome (ok or failed).',
    labelNames: ['job', 'outcome'] as const,
    registers: [registry],
  });
  const loginFailures = new Counter({
    name: 'samtale_login_failures_total',
    help: 'Failed password or second-factor attempts counted by the login throttle.',
    registers: [registry],
  });
  const loginBlocks = new Counter({
    name: 'samtale_login_blocks_total',
    help: 'Login blocks started, by scope (source, unknown_sources, hard_cap).',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  const eventLoop = new Histogram({
    name: 'samtale_event_loop_delay_seconds',
    help: 'The longest event-loop delay seen in each one-second window.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const sampler = setInterval(() => {
    if (delay.count > 0) eventLoop.observe(delay.max / 1e9);
    delay.reset();
  }, 1000);
  sampler.unref();
  processMetrics = { registry, requests, errors, jobRuns, loginFailures, loginBlocks, eventLoop };
  return processMetrics;
}

/** Called by the HTTP layer once a response is sent. `route` is the pattern, never the URL. */
export function observeRequest(route: string | undefined, method: string, status: number, seconds: number): void {
  const m = metrics();
  const labels = { route: route ?? 'unmatched', method: METHODS.has(method) ? method : 'OTHER' };
  m.requests.observe({ ...labels, status_class: `${Math.floor(status / 100)}xx` }, seconds);
  if (status >= 500) m.errors.inc(labels);
}

export function countJobRun(job: string, ok: boolean): void {
  metrics().jobRuns.inc({ job, outcome: ok ? 'ok' : 'failed' });
}

export function countLoginFailure(): void {
  metrics().loginFailures.inc();
}

export function countLoginBlock(scope: string): void {
  metrics().loginBlocks.inc({ scope });
}

/** What the database says, the same on every node. */
export type QueueCounts = {
  mailPending: number;
  mailFailed: number;
  mailOldestPendingSeconds: number;
  filesWaiting: number;
  filesOldestWaitingSeconds: number;
  jobsDue: number;
  jobsRunning: number;
  jobs: { name: string; lastFailed: boolean; secondsSinceFinished: number | undefined }[];
  loginBlocksActive: number;
};

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/**
 * Reads the shared counters at scrape time. Crosses companies (counts only, nothing personal),
 * so it runs as samtale_system; listed in docs/security.md. Each statement may take 2 s at most.
 */
export async function unsafeReadQueueCounts(database: Database, now: Date): Promise<QueueCounts> {
  return unsafeSystemTransaction(database, async (trx) => {
    await sql`set local statement_timeout = 2000`.execute(trx);
    const mail = (
      await sql<{ pending: unknown; failed: unknown; oldest: Date | null }>`
        select count(*) filter (where status = 'pending') as pending,
               count(*) filter (where status = 'failed') as failed,
               min(created_at) filter (where status = 'pending') as oldest
        from mail_outbox where status in ('pending', 'failed')`.execute(trx)
    ).rows[0];
    const files = (
      await sql<{ waiting: unknown; oldest: Date | null }>`
        select count(*) as waiting, min(created_at) as oldest from files where state = 'waiting'`.execute(trx)
    ).rows[0];
    const jobRows = await trx
      .selectFrom('scheduled_jobs')
      .select(['name', 'next_run_at', 'locked_until', 'last_finished_at', 'last_error'])
      .orderBy('name')
      .execute();
    const blocks = (
      await sql<{ active: unknown }>`select count(*) as active from login_throttle where blocked_until > ${now}`.execute(trx)
    ).rows[0];
    const age = (d: Date | null | undefined) => (d ? Math.max(0, (now.getTime() - new Date(d).getTime()) / 1000) : 0);
    const leased = (r: { locked_until: Date | null }) => r.locked_until !== null && new Date(r.locked_until) > now;
    return {
      mailPending: num(mail?.pending),
      mailFailed: num(mail?.failed),
      mailOldestPendingSeconds: age(mail?.oldest),
      filesWaiting: num(files?.waiting),
      filesOldestWaitingSeconds: age(files?.oldest),
      jobsDue: jobRows.filter((r) => new Date(r.next_run_at) <= now && !leased(r)).length,
      jobsRunning: jobRows.filter(leased).length,
      jobs: jobRows.map((r) => ({
        name: r.name,
        lastFailed: r.last_error !== null,
        secondsSinceFinished: r.last_finished_at ? age(r.last_finished_at) : undefined,
      })),
      loginBlocksActive: num(blocks?.active),
    };
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]);
}

function poolStatsOf(database: Database): PoolStats | undefined {
  return database.poolStats();
}

/** The scrape: this process's metrics, then the pool and the database's shared counters. */
export async function renderMetrics(deps: AppDeps): Promise<string> {
  const scrape = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [scrape] });

  const pool = poolStatsOf(deps.database);
  if (pool) {
    const g = gauge('samtale_db_pool_connections', 'Database connections of this node by state (total, idle, waiting clients).', ['state']);
    g.set({ state: 'total' }, pool.total);
    g.set({ state: 'idle' }, pool.idle);
    g.set({ state: 'waiting' }, pool.waiting);
    if (pool.max !== undefined) g.set({ state: 'max' }, pool.max);
  }

  const up = gauge('samtale_db_up', '1 when the shared counters could be read from the database within the time limit.');
  const started = Date.now();
  let counts: QueueCounts | undefined;
  try {
    counts = await withTimeout(unsafeReadQueueCounts(deps.database, deps.clock.now()), 3000);
    up.set(1);
  } catch {
    up.set(0);
  }
  gauge('samtale_db_scrape_duration_seconds', 'How long reading the shared counters took.').set((Date.now() - started) / 1000);
  if (counts) {
    const mail = gauge('samtale_mail_outbox', 'Mails in the outbox by status (pending: waiting to be sent; failed: given up).', ['status']);
    mail.set({ status: 'pending' }, counts.mailPending);
    mail.set({ status: 'failed' }, counts.mailFailed);
    gauge('samtale_mail_outbox_oldest_pending_seconds', 'Age of the oldest mail waiting to be sent (0 when none).').set(counts.mailOldestPendingSeconds);
    gauge('samtale_files_waiting_for_scan', 'Uploaded files waiting for the virus scanner.').set(counts.filesWaiting);
    gauge('samtale_files_oldest_waiting_seconds', 'Age of the oldest file waiting for a scan (0 when none).').set(counts.filesOldestWaitingSeconds);
    gauge('samtale_jobs_due', 'Periodic jobs that are due and not yet taken by any node (queue depth).').set(counts.jobsDue);
    gauge('samtale_jobs_running', 'Periodic jobs currently leased by a node.').set(counts.jobsRunning);
    const failed = gauge('samtale_job_last_run_failed', '1 when the job\'s last run failed (any node).', ['job']);
    const since = gauge('samtale_job_seconds_since_last_finished', 'Seconds since the job last finished (any node).', ['job']);
    for (const j of counts.jobs) {
      failed.set({ job: j.name }, j.lastFailed ? 1 : 0);
      if (j.secondsSinceFinished !== undefined) since.set({ job: j.name }, j.secondsSinceFinished);
    }
    gauge('samtale_login_blocks_active', 'Login blocks in force now (account and source pairs).').set(counts.loginBlocksActive);
  }
  return `${await metrics().registry.metrics()}\n${await scrape.metrics()}`;
}
