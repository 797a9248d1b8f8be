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

/**
 * `onlyUsers` limits the clean-up to some people's sessions, pending logins and links (tests
 * that share one database with other test files use it; rate windows and throttle rows, which
 * belong to nobody in particular, are then left alone). The job cleans everything.
 */
export async function unsafeCleanUpLoginState(deps: AppDeps, onlyUsers?: readonly string[]): Promise<CleanupCounts> {
  const now = deps.clock.now();
  const idleCutoff = new Date(now.getTime() - deps.config.session.idleMinutes * 60_000);
  return unsafeSystemTransaction(deps.database, async (trx) => {
    let sessions = trx.deleteFrom('sessions').where((eb) => eb.or([eb('expires_at', '<', now), eb('last_seen_at', '<', idleCutoff)]));
    let pending = trx.deleteFrom('pending_logins').where('expires_at', '<', now);
    if (onlyUsers) {
      sessions = sessions.where('user_id', 'in', onlyUsers.length ? onlyUsers : ['00000000-0000-0000-0000-000000000000']);
      pending = pending.where('user_id', 'in', onlyUsers.length ? onlyUsers : ['00000000-0000-0000-0000-000000000000']);
    }
    return {
      sessions: Number((await sessions.executeTakeFirst()).numDeletedRows),
      pendingLogins: Number((await pending.executeTakeFirst()).numDeletedRows),
      tokens: await unsafeDeleteOldTokens(trx, now, onlyUsers),
      rateWindows: onlyUsers ? 0 : await unsafeDeleteOldRateWindows(trx, now),
      throttleRows: onlyUsers ? 0 : await unsafeDeleteStaleThrottleRows(trx, now),
    };
  });
}

export const loginCleanupJob: JobDefinition = {
  name: 'auth.cleanup',
  intervalSeconds: 15 * 60,
  run: (deps) => unsafeCleanUpLoginState(deps),
};
