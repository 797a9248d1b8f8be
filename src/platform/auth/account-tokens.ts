/**
 * Single-use links sent by e-mail (issue 3): invitation (72 h), password reset (1 h), unlock
 * (24 h), e-mail change (24 h).
 *
 * Design note: the link carries 256 random bits and nothing else (no e-mail address, no name, no
 * company). Only the SHA-256 is stored (account_tokens.token_hash); the row is found by putting
 * that hash in the transaction's context, so row-level security admits exactly that one row. A
 * new link of the same kind for the same person retires the older ones; using a link spends it
 * in the same transaction as the change it makes.
 */
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/context.ts';
import type { AccountTokenPurpose } from '../db/schema.ts';
import { randomToken, sha256Hex } from './tokens.ts';

export const TOKEN_LIFETIME_MS: Record<AccountTokenPurpose, number> = {
  invitation: 72 * 3600_000,
  password_reset: 3600_000,
  unlock: 24 * 3600_000,
  email_change: 24 * 3600_000,
};

export const LINK_TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export type TokenOwner = { userId: string } | { staffId: string };

export type IssuedToken = { token: string; expiresAt: Date };

export async function issueAccountToken(
  trx: Tx,
  purpose: AccountTokenPurpose,
  owner: TokenOwner,
  now: Date,
  extra: { companyId?: string | null; newEmail?: string | null } = {},
): Promise<IssuedToken> {
  const ownerFilter = 'userId' in owner ? (['user_id', owner.userId] as const) : (['staff_id', owner.staffId] as const);
  await trx
    .updateTable('account_tokens')
    .set({ used_at: now })
    .where(ownerFilter[0], '=', ownerFilter[1])
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .execute();
  const token = randomToken();
  const expiresAt = new Date(now.getTime() + TOKEN_LIFETIME_MS[purpose]);
  await trx
    .insertInto('account_tokens')
    .values({
      id: randomUUID(),
      token_hash: sha256Hex(token),
      purpose,
      user_id: 'userId' in owner ? owner.userId : null,
      staff_id: 'staffId' in owner ? owner.staffId : null,
      company_id: extra.companyId ?? null,
      new_email: extra.newEmail ?? null,
      created_at: now,
      expires_at: expiresAt,
    })
    .execute();
  return { token, expiresAt };
}

export type LiveToken = {
  id: string;
  purpose: AccountTokenPurpose;
  userId: string | null;
  staffId: string | null;
  companyId: string | null;
  newEmail: string | null;
  expiresAt: Date;
};

/** The unused, unexpired link of this kind; the transaction's context must hold its hash (sessionHash). */
export async function findLiveToken(trx: Tx, token: string, purpose: AccountTokenPurpose, now: Date): Promise<LiveToken | undefined> {
  if (!LINK_TOKEN_RE.test(token)) return undefined;
  const row = await trx
    .selectFrom('account_tokens')
    .selectAll()
    .where('token_hash', '=', sha256Hex(token))
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    purpose: row.purpose,
    userId: row.user_id,
    staffId: row.staff_id,
    companyId: row.company_id,
    newEmail: row.new_email,
    expiresAt: row.expires_at,
  };
}

/** Spends the link; false when another request spent it first (the caller then refuses). */
export async function spendToken(trx: Tx, id: string, now: Date): Promise<boolean> {
  const result = await trx.updateTable('account_tokens').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Links expired or used more than a day ago are removed by the cleanup job. */
export async function unsafeDeleteOldTokens(trx: Tx, now: Date, onlyUsers?: readonly string[]): Promise<number> {
  const cutoff = new Date(now.getTime() - 86400_000);
  let q = trx.deleteFrom('account_tokens').where((eb) => eb.or([eb('expires_at', '<', cutoff), eb('used_at', '<', cutoff)]));
  if (onlyUsers) q = q.where('user_id', 'in', onlyUsers.length ? onlyUsers : ['00000000-0000-0000-0000-000000000000']);
  return Number((await q.executeTakeFirst()).numDeletedRows);
}
