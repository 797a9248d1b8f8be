/**
 * The only code that opens a transaction for application work and sets its tenant context.
 *
 * Design note (M8): every transaction runs `SET LOCAL ROLE samtale_app`, a role that owns no table
 * and cannot bypass row-level security, and then sets the app.* settings the policies read. A
 * query that forgets a company filter therefore still sees only the current company; a
 * transaction without a company sees no tenant rows at all. Cross-tenant work goes through the
 * functions named unsafe* below, which switch to samtale_system and are listed in
 * docs/security.md.
 */
import { sql, type Transaction } from 'kysely';
import type { Database } from './database.ts';
import type { DB } from './schema.ts';

export type Tx = Transaction<DB>;

export type DbContext = {
  companyId?: string | undefined;
  userId?: string | undefined;
  staffId?: string | undefined;
  /** Lets the login and invitation lookups find one identity by e-mail, and nothing else. */
  lookupEmail?: string | undefined;
  /** Lets the session lookup find one session by its token hash, and nothing else. */
  sessionHash?: string | undefined;
  /** The app's clock, for rules the database checks against time (support consent expiry). */
  now?: Date | undefined;
};

export async function withTenant<T>(database: Database, ctx: DbContext, fn: (trx: Tx) => Promise<T>): Promise<T> {
  return database.db.transaction().execute(async (trx) => {
    await sql`set local role samtale_app`.execute(trx);
    await enterContext(trx, ctx);
    return fn(trx);
  });
}

/**
 * Cross-tenant access for jobs and the CLI (company and staff creation, the demo seed). Bypasses row-level
 * security: every caller is listed in docs/security.md.
 */
export async function unsafeSystemTransaction<T>(database: Database, fn: (trx: Tx) => Promise<T>): Promise<T> {
  return database.db.transaction().execute(async (trx) => {
    await sql`set local role samtale_system`.execute(trx);
    return fn(trx);
  });
}

/**
 * Platform support inside a company (M13, M19): the transaction runs as samtale_support, a
 * read-only role without access to secrets (migrations/013), and the database admits it to the
 * company only while the company's consent is open (app_company_id(), migrations/012).
 */
export async function withSupport<T>(database: Database, ctx: { staffId: string; companyId: string; now: Date }, fn: (trx: Tx) => Promise<T>): Promise<T> {
  return database.db.transaction().execute(async (trx) => {
    await sql`set local role samtale_support`.execute(trx);
    await enterContext(trx, ctx);
    return fn(trx);
  });
}

/**
 * Narrows an open lookup transaction to the identity it just resolved. Used only by the session
 * loader and the login, after a hash or e-mail lookup has found whose context this is.
 */
export async function enterContext(trx: Tx, ctx: DbContext): Promise<void> {
  await sql`select
    set_config('app.company_id', ${ctx.companyId ?? ''}, true),
    set_config('app.user_id', ${ctx.userId ?? ''}, true),
    set_config('app.staff_id', ${ctx.staffId ?? ''}, true),
    set_config('app.lookup_email', ${ctx.lookupEmail?.toLowerCase() ?? ''}, true),
    set_config('app.session_hash', ${ctx.sessionHash ?? ''}, true),
    set_config('app.now', ${ctx.now?.toISOString() ?? ''}, true)`.execute(trx);
}
