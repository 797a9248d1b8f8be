/**
 * The periodic clean-up of expired login state (issue 3): sessions past their absolute or idle
 * limit, half-finished logins, used or expired e-mail links, old rate-limit windows and throttle
 * rows that block nothing and have not changed for 90 days. Nothing here is needed to keep the
 * rules (every check compares with the clock), so a late run only costs disk space.
 *
 * Cross-company by nature: runs as samtale_system (unsafeCleanUpLoginState, listed in
 * docs/security.md).
 */
import type { AppDeps } from '../deps.ts';
import { unsafeSystemTransaction } from '../db/context.ts';
import type { JobDefinition } from '../jobs/jobs.ts';
import { unsafeDeleteOldTokens } from './account-tokens.ts';
import { unsafeDeleteOldRateWindows } from './rate-limit.ts';
import { unsafeDeleteStaleThrottleRows } from './throttle.ts';

export type CleanupCounts = { sessions: number; pendingLogins: number; tokens: number; rateWindows: number; throttleRows: number };

export async function unsafeCleanUpLoginState(deps: AppDeps): Promise<CleanupCounts> {
  const now = deps.clock.now();
  const idleCutoff = new Date(now.getTime() - deps.config.session.idleMinutes * 60_000);
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const sessions = await trx
      .deleteFrom('sessions')
      .where((eb) => eb.or([eb('expires_at', '<', now), eb('last_seen_at', '<', idleCutoff)]))
      .executeTakeFirst();
    const pending = await trx.deleteFrom('pending_logins').where('expires_at', '<', now).executeTakeFirst();
    return {
      sessions: Number(sessions.numDeletedRows),
      pendingLogins: Number(pending.numDeletedRows),
      tokens: await unsafeDeleteOldTokens(trx, now),
      rateWindows: await unsafeDeleteOldRateWindows(trx, now),
      throttleRows: await unsafeDeleteStaleThrottleRows(trx, now),
    };
  });
}

export const loginCleanupJob: JobDefinition = {
  name: 'auth.cleanup',
  intervalSeconds: 15 * 60,
  run: (deps) => unsafeCleanUpLoginState(deps),
};
