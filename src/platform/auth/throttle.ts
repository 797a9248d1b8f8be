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
 * - While blocked the right password is refused with the same message as a wrong one, after the
 *   same Argon2 work, for known and unknown e-mail addresses alike.
 * - State lives in PostgreSQL, so every app node sees the same counts (M10).
 */
import { sql } from 'kysely';
import type { Tx } from '../db/context.ts';
import { sha256Hex } from './tokens.ts';

export const PER_SOURCE_LIMIT = 3;
export const UNKNOWN_SOURCES_LIMIT = 10;
export const BASE_BLOCK_MS = 15 * 60_000;
export const MAX_BLOCK_MS = 24 * 3600_000;
const ALL_UNKNOWN = '*';

export function subjectFor(email: string): string {
  return sha256Hex(email.trim().toLowerCase());
}

export function sourceFor(deviceId: string | undefined, ip: string): string {
  return deviceId ? `device:${sha256Hex(deviceId)}` : `ip:${ip}`;
}

export function blockDuration(level: number): number {
  return Math.min(BASE_BLOCK_MS * 2 ** Math.max(0, level - 1), MAX_BLOCK_MS);
}

export type ThrottleState = { blocked: boolean; knownSource: boolean };

export async function checkThrottle(trx: Tx, subject: string, source: string, now: Date): Promise<ThrottleState> {
  const rows = await trx
    .selectFrom('login_throttle')
    .selectAll()
    .where('subject', '=', subject)
    .where('source', 'in', [source, ALL_UNKNOWN])
    .execute();
  const mine = rows.find((r) => r.source === source);
  const all = rows.find((r) => r.source === ALL_UNKNOWN);
  const knownSource = Boolean(mine?.succeeded_at);
  const blockedHere = Boolean(mine?.blocked_until && mine.blocked_until > now);
  const blockedUnknown = !knownSource && Boolean(all?.blocked_until && all.blocked_until > now);
  return { blocked: blockedHere || blockedUnknown, knownSource };
}

/** Counts a failure; returns which blocks (if any) it started. */
export async function recordFailure(trx: Tx, subject: string, source: string, knownSource: boolean, now: Date) {
  const started: ('source' | 'unknown_sources')[] = [];
  // Atomic increment: parallel attempts (on any app node) cannot both read the old count.
  const bump = async (key: string, limit: number) => {
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
      .set({ failures: 0, level, blocked_until: new Date(now.getTime() + blockDuration(level)), updated_at: now })
      .where('subject', '=', subject)
      .where('source', '=', key)
      .execute();
    return true;
  };
  if (await bump(source, PER_SOURCE_LIMIT)) started.push('source');
  if (!knownSource && (await bump(ALL_UNKNOWN, UNKNOWN_SOURCES_LIMIT))) started.push('unknown_sources');
  return started;
}

export async function recordSuccess(trx: Tx, subject: string, source: string, now: Date) {
  const values = { failures: 0, level: 0, blocked_until: null, succeeded_at: now, updated_at: now };
  const updated = await trx.updateTable('login_throttle').set(values).where('subject', '=', subject).where('source', '=', source).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await trx.insertInto('login_throttle').values({ subject, source, ...values }).execute();
}
