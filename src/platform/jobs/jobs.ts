/**
 * Periodic named jobs, scheduled in PostgreSQL (table scheduled_jobs) so that with several app
 * nodes each due run happens once.
 *
 * Design note: every node runs the same loop (startJobRunner). For each known job it opens a
 * short system transaction, takes the job's row with FOR UPDATE SKIP LOCKED if it is due and
 * not leased, sets a lease (locked_until) and the next run time, and commits; then it runs the
 * job outside the transaction and clears the lease. A node that dies mid-run leaves the lease,
 * which expires, so the job runs again later: jobs must be safe to repeat. Time comes from
 * deps.clock, so tests drive the schedule with a FakeClock through runDueJobs.
 *
 * Add a job: write a JobDefinition (its `run` must open its own transactions; one that crosses
 * companies is an unsafe* function listed in docs/security.md) and add it to JOBS in
 * the `registry` below (built-in jobs), or call registerJob() at startup, before startJobRunner.
 */
import type { AppDeps } from '../deps.ts';
import { unsafeSystemTransaction } from '../db/context.ts';
import { mailDeliveryJob } from '../mail/delivery.ts';
import { loginCleanupJob } from '../auth/cleanup.ts';
import { auditShipJob } from '../audit/ship.ts';
import { fileCleanupJob, fileScanJob } from '../storage/files.ts';
import { countJobRun } from '../metrics/metrics.ts';

export type JobDefinition = {
  /** Lower-case, stable: it is the row's key in scheduled_jobs. */
  name: string;
  intervalSeconds: number;
  /** How long a claimed run may take before another node may start it again (default 10 min). */
  leaseSeconds?: number;
  run(deps: AppDeps): Promise<unknown>;
};

export type JobOutcome = { name: string; ok: boolean; error?: string; result?: unknown };

type Log = { info(obj: object, msg: string): void; error(obj: object, msg: string): void };

/** Claims one job if it is due on this node; returns whether this node should run it. */
async function unsafeClaimJob(deps: AppDeps, job: JobDefinition, now: Date): Promise<boolean> {
  return unsafeSystemTransaction(deps.database, async (trx) => {
    // A new job is due at once.
    await trx.insertInto('scheduled_jobs').values({ name: job.name, next_run_at: now }).onConflict((oc) => oc.column('name').doNothing()).execute();
    const row = await trx
      .selectFrom('scheduled_jobs')
      .select('name')
      .where('name', '=', job.name)
      .where('next_run_at', '<=', now)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (!row) return false;
    await trx
      .updateTable('scheduled_jobs')
      .set((eb) => ({
        locked_until: new Date(now.getTime() + (job.leaseSeconds ?? 600) * 1000),
        next_run_at: new Date(now.getTime() + job.intervalSeconds * 1000),
        last_started_at: now,
        runs: eb('runs', '+', 1),
      }))
      .where('name', '=', job.name)
      .execute();
    return true;
  });
}

async function unsafeFinishJob(deps: AppDeps, job: JobDefinition, error: string | null): Promise<void> {
  await unsafeSystemTransaction(deps.database, (trx) =>
    trx
      .updateTable('scheduled_jobs')
      .set({ locked_until: null, last_finished_at: deps.clock.now(), last_error: error })
      .where('name', '=', job.name)
      .execute(),
  );
}

/** A short, content-free description of an error (its code or class name). */
function shortError(err: unknown): string {
  if (!(err instanceof Error)) return 'ERROR';
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : err.name).slice(0, 100);
}

const registry = new Map<string, JobDefinition>([mailDeliveryJob, loginCleanupJob, auditShipJob, fileScanJob, fileCleanupJob].map((job) => [job.name, job]));

/** Adds (or replaces, by name) a periodic job for runDueJobs and startJobRunner. */
export function registerJob(job: JobDefinition): void {
  if (!/^[a-z][a-z0-9_.-]{0,99}$/.test(job.name)) throw new Error(`invalid job name: ${job.name}`);
  if (!(job.intervalSeconds > 0)) throw new Error(`job ${job.name} needs a positive interval`);
  registry.set(job.name, job);
}

export function registeredJobs(): JobDefinition[] {
  return [...registry.values()];
}

/**
 * Runs every job that is due at deps.clock.now() and that no other runner holds. One failing job
 * does not stop the others; its error (a short code, no personal data) is kept in last_error.
 */
export async function runDueJobs(deps: AppDeps, jobs: readonly JobDefinition[] = registeredJobs(), log?: Log): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = [];
  for (const job of jobs) {
    if (!(await unsafeClaimJob(deps, job, deps.clock.now()))) continue;
    try {
      const result = await job.run(deps);
      await unsafeFinishJob(deps, job, null);
      outcomes.push({ name: job.name, ok: true, result });
      countJobRun(job.name, true);
    } catch (err) {
      const error = shortError(err);
      log?.error({ job: job.name, error }, 'job failed');
      await unsafeFinishJob(deps, job, error).catch(() => undefined);
      outcomes.push({ name: job.name, ok: false, error });
      countJobRun(job.name, false);
    }
  }
  return outcomes;
}

export type JobRunner = { stop(): Promise<void> };

/**
 * What /readyz knows about this node's runner (P4): when its last tick started and ended, by
 * deps.clock. Kept per deps object (one per app), so several apps in one test process do not mix.
 */
type RunnerState = { tickMs: number; stallMs: number; stopped: boolean; tickStartedAt: Date | undefined; tickEndedAt: Date | undefined; running: boolean };
const runnerStates = new WeakMap<AppDeps, RunnerState>();

export type JobRunnerHealth =
  | { status: 'not_started' }
  | { status: 'ok' | 'stalled' | 'stopped'; lastTickAt: string | undefined; running: boolean };

/**
 * A tick running longer than this (or than the longest lease of the jobs it may run, such as the
 * daily backup), or no tick for ten intervals, means the runner is stuck.
 */
export const RUNNER_STALL_MS = 15 * 60_000;

export function jobRunnerHealth(deps: AppDeps): JobRunnerHealth {
  const s = runnerStates.get(deps);
  if (!s) return { status: 'not_started' };
  const lastTickAt = (s.tickEndedAt ?? s.tickStartedAt)?.toISOString();
  if (s.stopped) return { status: 'stopped', lastTickAt, running: s.running };
  const now = deps.clock.now().getTime();
  const idleLimit = Math.max(60_000, 10 * s.tickMs);
  const stalled = s.running
    ? now - (s.tickStartedAt?.getTime() ?? now) > s.stallMs
    : now - (s.tickEndedAt ?? s.tickStartedAt ?? new Date(now)).getTime() > idleLimit;
  return { status: stalled ? 'stalled' : 'ok', lastTickAt, running: s.running };
}

/**
 * For `samtale serve`: looks for due jobs every JOB_TICK_SECONDS until stop(), which waits for
 * a run in progress to finish (call it on SIGTERM before closing the database).
 */
export function startJobRunner(deps: AppDeps, opts: { log?: Log; jobs?: () => readonly JobDefinition[]; tickMs?: number } = {}): JobRunner {
  const tickMs = opts.tickMs ?? deps.config.jobs.tickSeconds * 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const state: RunnerState = { tickMs, stallMs: RUNNER_STALL_MS, stopped: false, tickStartedAt: deps.clock.now(), tickEndedAt: undefined, running: false };
  runnerStates.set(deps, state);
  const tick = () => {
    timer = undefined;
    if (stopped) return;
    state.running = true;
    state.tickStartedAt = deps.clock.now();
    const jobs = opts.jobs ? opts.jobs() : registeredJobs();
    state.stallMs = Math.max(RUNNER_STALL_MS, ...jobs.map((j) => (j.leaseSeconds ?? 600) * 1000));
    running = runDueJobs(deps, jobs, opts.log)
      .then(() => undefined)
      .catch((err: unknown) => opts.log?.error({ error: shortError(err) }, 'job runner tick failed'))
      .finally(() => {
        running = undefined;
        state.running = false;
        state.tickEndedAt = deps.clock.now();
        if (!stopped) timer = setTimeout(tick, tickMs);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      state.stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
