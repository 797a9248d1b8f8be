/**
 * Design note (M7, ASVS 6.1.1 / 6.3.x): blocking after 3 failed attempts without handing
 * attackers a lock-out button.
 *
 * - Failures are counted per account and per source: the browser's device cookie, or the IP
 *   address when there is none. After 3 consecutive failures that source is blocked for that
 *   account for 15 minutes, then 30, 60, ... (doubling, capped at 24 h). A success resets it.
 * - Failures from sources that have never logged in to the account are also counted together
 *   ('*'): after 10 of them, every unknown source is blocked for that account on the same growing
 *   scale, while the user's own known devices keep working.
 * - A hard cap: after 50 failures in a row on the account from all sources together ('#all'),
 *   password login is switched off for the account until the password is reset by e-mail link
 *   (the known devices too: at that point the password itself must be presumed under attack).
 * - While blocked the right password is refused with the same message as a wrong one, after the
 *   same Argon2 work, for known and unknown e-mail addresses alike.
 * - State lives in PostgreSQL, so every app node sees the same counts (M10).
 */
import { sql } from 'kysely';
import type { Tx } from '../db/context.ts';
import { sha256Hex } from './tokens.ts';
import { countLoginBlock, countLoginFailure } from '../metrics/metrics.ts';

export const PER_SOURCE_LIMIT = 3;
export const UNKNOWN_SOURCES_LIMIT = 10;
export const BASE_BLOCK_MS = 15 * 60_000;
export const MAX_BLOCK_MS = 24 * 3600_000;
export const HARD_CAP = 50;
const ALL_UNKNOWN = '*';
const ALL_SOURCES = '#all';
/** A hard-capped account stays blocked until a password reset lifts it. */
const FOREVER = new Date('9999-12-31T00:00:00Z');

export function subjectFor(email: string): string {
  return sha256Hex(email.trim().toLowerCase());
}

export function sourceFor(deviceId: string | undefined, ip: string): string {
  return deviceId ? `device:${sha256Hex(deviceId)}` : `ip:${ip}`;
}

export function blockDuration(level: number): number {
  return Math.min(BASE_BLOCK_MS * 2 ** Math.max(0, level - 1), MAX_BLOCK_MS);
}

export type ThrottleState = { blocked: boolean; knownSource: boolean; hardCapped: boolean };
export type BlockScope = 'source' | 'unknown_sources' | 'hard_cap';

export async function checkThrottle(trx: Tx, subject: string, source: string, now: Date): Promise<ThrottleState> {
  const rows = await trx
    .selectFrom('login_throttle')
    .selectAll()
    .where('subject', '=', subject)
    .where('source', 'in', [source, ALL_UNKNOWN, ALL_SOURCES])
    .execute();
  const mine = rows.find((r) => r.source === source);
  const all = rows.find((r) => r.source === ALL_UNKNOWN);
  const total = rows.find((r) => r.source === ALL_SOURCES);
  const knownSource = Boolean(mine?.succeeded_at);
  const blockedHere = Boolean(mine?.blocked_until && mine.blocked_until > now);
  const blockedUnknown = !knownSource && Boolean(all?.blocked_until && all.blocked_until > now);
  const hardCapped = Boolean(total?.blocked_until && total.blocked_until > now);
  return { blocked: blockedHere || blockedUnknown || hardCapped, knownSource, hardCapped };
}

/** Counts a failure; returns which blocks (if any) it started. */
export async function recordFailure(trx: Tx, subject: string, source: string, knownSource: boolean, now: Date) {
  const started: BlockScope[] = [];
  // Atomic increment: parallel attempts (on any app node) cannot both read the old count.
  const bump = async (key: string, limit: number, until?: Date) => {
    const row = (
      await sql<{ failures: number; level: number }>`
        insert into login_throttle (subject, source, failures, updated_at) values (${subject}, ${key}, 1, ${now})
        on conflict (subject, source) do update
          set failures = login_throttle.failures + 1, updated_at = excluded.updated_at
        returning failures, level`.execute(trx)
    ).rows[0];
    if (!row || row.failures < limit) return false;
    const level = row.level + 1;
    await trx
      .updateTable('login_throttle')
      .set({ failures: 0, level, blocked_until: until ?? new Date(now.getTime() + blockDuration(level)), updated_at: now })
      .where('subject', '=', subject)
      .where('source', '=', key)
      .execute();
    return true;
  };
  if (await bump(source, PER_SOURCE_LIMIT)) started.push('source');
  if (!knownSource && (await bump(ALL_UNKNOWN, UNKNOWN_SOURCES_LIMIT))) started.push('unknown_sources');
  if (await bump(ALL_SOURCES, HARD_CAP, FOREVER)) started.push('hard_cap');
  // P4: counted for /metrics (this node; the transaction may still roll back, rarely).
  countLoginFailure();
  for (const scope of started) countLoginBlock(scope);
  return started;
}

export async function recordSuccess(trx: Tx, subject: string, source: string, now: Date) {
  const values = { failures: 0, level: 0, blocked_until: null, succeeded_at: now, updated_at: now };
  const updated = await trx.updateTable('login_throttle').set(values).where('subject', '=', subject).where('source', '=', source).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await trx.insertInto('login_throttle').values({ subject, source, ...values }).execute();
  // The hard cap counts failures in a row: a success starts it again.
  await trx.updateTable('login_throttle').set({ failures: 0, updated_at: now }).where('subject', '=', subject).where('source', '=', ALL_SOURCES).execute();
}

/** Whether the source has ever logged in to this account (a known device), before recording. */
export async function isKnownSource(trx: Tx, subject: string, source: string): Promise<boolean> {
  const row = await trx.selectFrom('login_throttle').select('succeeded_at').where('subject', '=', subject).where('source', '=', source).executeTakeFirst();
  return Boolean(row?.succeeded_at);
}

/** Whether any source has logged in to this account before (so a new device is worth a notice). */
export async function hasKnownSources(trx: Tx, subject: string): Promise<boolean> {
  const row = await trx.selectFrom('login_throttle').select('source').where('subject', '=', subject).where('succeeded_at', 'is not', null).executeTakeFirst();
  return Boolean(row);
}

/** A password reset (by e-mail link) lifts every block, the hard cap included; known devices stay known. */
export async function liftAllBlocks(trx: Tx, subject: string, now: Date): Promise<number> {
  const result = await trx
    .updateTable('login_throttle')
    .set({ failures: 0, level: 0, blocked_until: null, updated_at: now })
    .where('subject', '=', subject)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The unlock link lifts the block on unknown sources (the account-wide limit) and the block of the source it is opened from. */
export async function liftUnknownSourcesBlock(trx: Tx, subject: string, source: string, now: Date): Promise<void> {
  await trx
    .updateTable('login_throttle')
    .set({ failures: 0, level: 0, blocked_until: null, updated_at: now })
    .where('subject', '=', subject)
    .where('source', 'in', [ALL_UNKNOWN, source])
    .execute();
}

/** An admin's unlock lifts the per-source and unknown-source blocks, but not the hard cap (that needs a reset). */
export async function liftBlocksExceptHardCap(trx: Tx, subject: string, now: Date): Promise<number> {
  const result = await trx
    .updateTable('login_throttle')
    .set({ failures: 0, level: 0, blocked_until: null, updated_at: now })
    .where('subject', '=', subject)
    .where('source', '<>', ALL_SOURCES)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Claims the right to send a lockout notice for this account (at most one an hour), so an
 * attacker cannot flood the user's inbox by tripping blocks.
 */
export async function claimLockoutNotice(trx: Tx, subject: string, now: Date): Promise<boolean> {
  const row = (
    await sql<{ claimed: boolean }>`
      update login_throttle set notified_at = ${now}
      where subject = ${subject} and source = ${ALL_SOURCES}
        and (notified_at is null or notified_at < ${new Date(now.getTime() - 3600_000)})
      returning true as claimed`.execute(trx)
  ).rows[0];
  return Boolean(row?.claimed);
}

/** Rows that have not changed for 90 days and block nothing are forgotten by the cleanup job. */
export async function unsafeDeleteStaleThrottleRows(trx: Tx, now: Date): Promise<number> {
  const result = await trx
    .deleteFrom('login_throttle')
    .where('updated_at', '<', new Date(now.getTime() - 90 * 86400_000))
    .where((eb) => eb.or([eb('blocked_until', 'is', null), eb('blocked_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
