/**
 * The retention runner's steps (issue 6: M15 employees who leave, M16 companies that leave).
 *
 * Design note. A step is one kind of purge ("employees.personal-data", "employees.archive", a
 * company purge, ...). The runner (`retention.run` job, daily, once across nodes; and
 * `samtale retention run [--as-of DATE] [--dry-run]`) calls every step in `retentionSteps` in
 * order with the same `asOf` date. A step must:
 *   - find candidates in a short system transaction, then purge them in batches (BATCH_SIZE),
 *     each batch in its own transaction that RE-CHECKS eligibility (`FOR UPDATE` on the row that
 *     makes it eligible), so a rehire or a cancelled termination that commits first wins;
 *   - be safe to repeat (a node may die mid-run; the job runs again);
 *   - with `dryRun`, change nothing and report what it would purge;
 *   - write, per purged object or batch, an audit event done by "system" (no actor user or staff,
 *     `data.actor = 'system'`) with counts and ids only, never names, e-mails or text;
 *   - honour `onlyCompanyIds` when given (tests only: on PostgreSQL every test file shares one
 *     database, so a test scopes a global run to its own companies).
 *
 * Append-only tables. audit_events and document_views refuse UPDATE and DELETE (triggers,
 * migrations 001/013). migrations/021 lets a DELETE through only when the transaction runs as
 * samtale_system AND has set the transaction-local setting `samtale.purge` to 'on'.
 * `unsafePurgeTransaction` below is the one place that sets it: use it (never a bare
 * `set_config('samtale.purge', ...)`) for any step that must remove such rows. Outside it the
 * tables stay append-only for every role, the system role included.
 *
 * Register a step: call `retentionSteps.push(myStep)` when your module loads, from a file that both
 * the app (src/app.ts) and the CLI (src/cli/registry.ts) import, e.g. your service file. The
 * runner (src/modules/retention/runner.ts: the `retention.run` job and the CLI) runs the employee
 * steps (employees.ts) first, then every step in this array in order.
 */
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import { unsafeSystemTransaction, type Tx } from '../../platform/db/context.ts';

export type RetentionOptions = {
  /** The day the purge is judged from (the clock, or `--as-of`). */
  asOf: Date;
  /** Report what would be purged; change nothing. */
  dryRun: boolean;
  /** One line per purged (or would-be purged) object, counts and ids only. */
  log: (line: string) => void;
  /** Tests only: restrict the run to these companies. */
  onlyCompanyIds?: readonly string[] | undefined;
};

export type RetentionStep = {
  name: string;
  run(deps: AppDeps, opts: RetentionOptions): Promise<{ purged: number; lines: string[] }>;
};

export const retentionSteps: RetentionStep[] = [];

/** How many objects one transaction purges at most. */
export const BATCH_SIZE = 200;

/**
 * A system transaction (samtale_system, bypasses row-level security) in which rows of the
 * append-only tables may be deleted. Only for retention steps; callers are listed in
 * docs/security.md.
 */
export async function unsafePurgeTransaction<T>(deps: AppDeps, fn: (trx: Tx) => Promise<T>): Promise<T> {
  return unsafeSystemTransaction(deps.database, async (trx) => {
    await sql`select set_config('samtale.purge', 'on', true)`.execute(trx);
    return fn(trx);
  });
}

/** Whole days added to a date (UTC, 24 h each). */
export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * 86_400_000);
}

/** Whole calendar years added (UTC); 29 February becomes 28 February, as in PostgreSQL's interval arithmetic. */
export function addYears(date: Date, years: number): Date {
  const d = new Date(date.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + years);
  if (d.getUTCDate() !== date.getUTCDate()) d.setUTCDate(0);
  return d;
}
