/**
 * Request-rate limits for the authentication endpoints (issue 3, ASVS 6.3.1 / 2.4.1).
 *
 * Design note: counters live in PostgreSQL (rate_limits), in fixed windows, so every app node
 * counts together (M10). A bucket is the rule's name plus a SHA-256 of the key (IP address,
 * e-mail, account id): nothing personal is stored in clear. The increment is one atomic upsert,
 * so parallel requests on any node cannot both read the old count. These limits sit on top of
 * the M7 per-account block (throttle.ts): they stop floods and password spraying across many
 * accounts, which a per-account counter cannot see.
 */
import { sql } from 'kysely';
import type { AppDeps } from '../deps.ts';
import { withTenant, type Tx } from '../db/context.ts';
import { sha256Hex } from './tokens.ts';

export type RateRule = { name: string; limit: number; windowMs: number };

const MINUTE = 60_000;

/** Every limit in one place (documented in docs/security.md). */
export const RATE_RULES = {
  /** Login form posts per IP address. */
  loginPerIp: { name: 'login-ip', limit: 60, windowMs: 5 * MINUTE },
  /** Failed logins per IP address across all accounts (password spraying). */
  loginFailuresPerIp: { name: 'login-fail-ip', limit: 30, windowMs: 15 * MINUTE },
  /** Second-factor posts per IP address. */
  secondFactorPerIp: { name: 'second-factor-ip', limit: 30, windowMs: 5 * MINUTE },
  /** "Forgot password" requests per IP and per e-mail address. */
  resetRequestPerIp: { name: 'reset-ip', limit: 20, windowMs: 60 * MINUTE },
  resetRequestPerEmail: { name: 'reset-email', limit: 3, windowMs: 60 * MINUTE },
  /** Opening or using an e-mailed link (invitation, reset, unlock, e-mail change) per IP. */
  linkPerIp: { name: 'link-ip', limit: 30, windowMs: 15 * MINUTE },
  /** Posts to one's own account pages (password, e-mail, second factor, sessions) per account. */
  accountChangesPerAccount: { name: 'account-change', limit: 20, windowMs: 15 * MINUTE },
} as const satisfies Record<string, RateRule>;

export class RateLimitedError extends Error {
  readonly statusCode = 429;
  constructor(readonly retryAfterSeconds: number) {
    super('rate limited');
  }
}

function windowOf(rule: RateRule, now: Date): Date {
  return new Date(Math.floor(now.getTime() / rule.windowMs) * rule.windowMs);
}

function bucketOf(rule: RateRule, key: string): string {
  return `${rule.name}:${sha256Hex(key)}`;
}

function retryAfter(rule: RateRule, now: Date): number {
  return Math.max(1, Math.ceil((windowOf(rule, now).getTime() + rule.windowMs - now.getTime()) / 1000));
}

/** Counts one hit; true while the bucket is within its limit. */
export async function hitRate(trx: Tx, rule: RateRule, key: string, now: Date): Promise<boolean> {
  const row = (
    await sql<{ hits: number }>`
      insert into rate_limits (bucket, window_start, hits) values (${bucketOf(rule, key)}, ${windowOf(rule, now)}, 1)
      on conflict (bucket, window_start) do update set hits = rate_limits.hits + 1
      returning hits`.execute(trx)
  ).rows[0];
  return (row?.hits ?? 0) <= rule.limit;
}

/** Whether the bucket has reached its limit, without counting. */
export async function rateExhausted(trx: Tx, rule: RateRule, key: string, now: Date): Promise<boolean> {
  const row = await trx
    .selectFrom('rate_limits')
    .select('hits')
    .where('bucket', '=', bucketOf(rule, key))
    .where('window_start', '=', windowOf(rule, now))
    .executeTakeFirst();
  return (row?.hits ?? 0) >= rule.limit;
}

/** Counts a request and refuses it with 429 once the limit is passed. */
export async function enforceRate(deps: AppDeps, rule: RateRule, key: string): Promise<void> {
  const now = deps.clock.now();
  const ok = await withTenant(deps.database, {}, (trx) => hitRate(trx, rule, key, now));
  if (!ok) throw new RateLimitedError(retryAfter(rule, now));
}

export function retryAfterSeconds(rule: RateRule, now: Date): number {
  return retryAfter(rule, now);
}

/** Old windows are useless after a day: the cleanup job removes them. */
export async function unsafeDeleteOldRateWindows(trx: Tx, now: Date): Promise<number> {
  const result = await trx.deleteFrom('rate_limits').where('window_start', '<', new Date(now.getTime() - 24 * 3600_000)).executeTakeFirst();
  return Number(result.numDeletedRows);
}
