/**
 * The PostgreSQL job runner: each due run happens once, even with several runners, on the
 * injected clock. Job names are unique per test: on PostgreSQL all test files share one database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { openDatabase } from '../src/platform/db/database.ts';
import { registerJob, registeredJobs, runDueJobs, startJobRunner, type JobDefinition } from '../src/platform/jobs/jobs.ts';
import type { AppDeps } from '../src/platform/deps.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

let n = 0;
const uniqueName = (label: string) => `test.${label}-${Date.now().toString(36)}-${n++}`;

function counting(label: string, intervalSeconds: number, body?: (deps: AppDeps) => Promise<void>): JobDefinition & { runs: number } {
  const job = {
    name: uniqueName(label),
    intervalSeconds,
    runs: 0,
    async run(deps: AppDeps) {
      job.runs++;
      await body?.(deps);
    },
  };
  return job;
}

const rowOf = (name: string) =>
  unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('scheduled_jobs').selectAll().where('name', '=', name).executeTakeFirstOrThrow());

describe('periodic jobs', () => {
  it('a new job runs at once, then not again until its interval has passed on the clock', async () => {
    const job = counting('interval', 60);
    await runDueJobs(t.deps, [job]);
    expect(job.runs).toBe(1);
    await runDueJobs(t.deps, [job]);
    t.clock.advance(59_000);
    await runDueJobs(t.deps, [job]);
    expect(job.runs).toBe(1);
    t.clock.advance(1000);
    const outcomes = await runDueJobs(t.deps, [job]);
    expect(job.runs).toBe(2);
    expect(outcomes).toEqual([{ name: job.name, ok: true, result: undefined }]);
    const row = await rowOf(job.name);
    expect(row).toMatchObject({ runs: 2, locked_until: null, last_error: null });
    expect(new Date(row.next_run_at).getTime()).toBe(t.clock.now().getTime() + 60_000);
  });

  it('a failing job keeps its error (a code, no message) and does not stop the others', async () => {
    const failing = counting('failing', 30, async () => {
      throw Object.assign(new Error('secret detail a@b.example'), { code: 'EBROKEN' });
    });
    const fine = counting('fine', 30);
    const outcomes = await runDueJobs(t.deps, [failing, fine]);
    expect(outcomes.map((o) => o.ok)).toEqual([false, true]);
    expect(fine.runs).toBe(1);
    const row = await rowOf(failing.name);
    expect(row).toMatchObject({ last_error: 'EBROKEN', locked_until: null });
    // It is tried again at its next interval.
    t.clock.advance(30_000);
    await runDueJobs(t.deps, [failing]);
    expect(failing.runs).toBe(2);
  });

  it('a run left behind by a dead node is taken over only when its lease has expired', async () => {
    const job = Object.assign(counting('lease', 10), { leaseSeconds: 120 });
    // Another node claimed it and died: the lease is set, the run never finished.
    const now = t.clock.now();
    await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.insertInto('scheduled_jobs').values({ name: job.name, next_run_at: now, locked_until: new Date(now.getTime() + 120_000) }).execute(),
    );
    t.clock.advance(60_000);
    await runDueJobs(t.deps, [job]);
    expect(job.runs).toBe(0);
    t.clock.advance(60_000);
    await runDueJobs(t.deps, [job]);
    expect(job.runs).toBe(1);
  });

  it('two runners on one database run each due job once', async () => {
    // On PostgreSQL the second runner has its own pool; on PGlite they share the one connection.
    const url = inject('databaseUrl');
    const otherDb = url ? await openDatabase({ databaseUrl: url, poolSize: 2 }) : undefined;
    const other: AppDeps = { ...t.deps, database: otherDb ?? t.deps.database };
    try {
      const jobs = Array.from({ length: 5 }, (_, i) =>
        counting(`pair${i}`, 3600, async () => {
          // Hold the lease a little so the runners overlap.
          await new Promise((resolve) => setImmediate(resolve));
        }),
      );
      for (let round = 0; round < 3; round++) {
        await Promise.all([runDueJobs(t.deps, jobs), runDueJobs(other, jobs), runDueJobs(t.deps, jobs)]);
        t.clock.advance(3600_000);
      }
      expect(jobs.map((j) => j.runs)).toEqual([3, 3, 3, 3, 3]);
    } finally {
      await otherDb?.close();
    }
  });

  it('registered jobs include mail delivery; registerJob adds more and refuses bad names', async () => {
    expect(registeredJobs().map((j) => j.name)).toContain('mail.deliver');
    const job = counting('registered', 60);
    registerJob(job);
    expect(registeredJobs().some((j) => j.name === job.name)).toBe(true);
    expect(() => registerJob({ ...job, name: 'Bad Name' })).toThrow(/invalid job name/);
    expect(() => registerJob({ ...job, intervalSeconds: 0 })).toThrow(/positive interval/);
  });

  it('startJobRunner runs due jobs and stop() waits for the run in progress', async () => {
    let release: () => void = () => undefined;
    let started: () => void = () => undefined;
    const startedP = new Promise<void>((r) => (started = r));
    const job = counting('runner', 60, async () => {
      started();
      await new Promise<void>((r) => (release = r));
    });
    const runner = startJobRunner(t.deps, { jobs: () => [job], tickMs: 10 });
    await startedP;
    let stopped = false;
    const stopping = runner.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(stopped).toBe(true);
    expect(job.runs).toBe(1);
    expect((await rowOf(job.name)).locked_until).toBeNull();
  });
});
