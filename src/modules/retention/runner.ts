/**
 * Runs every retention step (the employee steps, then any step other modules pushed onto
 * `retentionSteps`) for one `asOf` date: the daily `retention.run` job and
 * `samtale retention run` share this code. See steps.ts for what a step must do.
 */
import type { AppDeps } from '../../platform/deps.ts';
import type { JobDefinition } from '../../platform/jobs/jobs.ts';
import { employeeSteps } from './employees.ts';
import { retentionSteps, type RetentionOptions, type RetentionStep } from './steps.ts';

export type RetentionReport = { asOf: Date; dryRun: boolean; steps: { name: string; purged: number; lines: string[] }[] };

export function allRetentionSteps(): RetentionStep[] {
  return [...employeeSteps, ...retentionSteps];
}

export async function runRetention(deps: AppDeps, opts: RetentionOptions): Promise<RetentionReport> {
  const steps: RetentionReport['steps'] = [];
  for (const step of allRetentionSteps()) {
    const r = await step.run(deps, opts);
    steps.push({ name: step.name, purged: r.purged, lines: r.lines });
  }
  return { asOf: opts.asOf, dryRun: opts.dryRun, steps };
}

export const RETENTION_JOB_NAME = 'retention.run';

/**
 * The daily job. `onlyCompanyIds` and `name` exist for tests only (on PostgreSQL every test file
 * shares one database and one scheduled_jobs table).
 */
export function retentionJob(testing: { onlyCompanyIds?: readonly string[]; name?: string } = {}): JobDefinition {
  return {
    name: testing.name ?? RETENTION_JOB_NAME,
    intervalSeconds: 24 * 3600,
    // A large purge may take a while; a node that dies mid-run leaves a lease that expires.
    leaseSeconds: 3600,
    async run(deps) {
      const report = await runRetention(deps, { asOf: deps.clock.now(), dryRun: false, log: () => undefined, onlyCompanyIds: testing.onlyCompanyIds });
      // Counts only: the job outcome carries no personal data.
      return Object.fromEntries(report.steps.map((s) => [s.name, s.purged]));
    },
  };
}
