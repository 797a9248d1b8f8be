/**
 * SQL for second factors, recovery codes and pending logins (migrations/003_two_factor.sql).
 * Every function takes the transaction first; row-level security admits only the owner's rows
 * (or one pending login by its token hash), so a wrong id finds nothing rather than someone else's.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Tx } from '../../platform/db/context.ts';
import type { DB, PendingLoginsTable } from '../../platform/db/schema.ts';
import { checkTotp, hashRecoveryCode, newRecoveryCodes, newTotpSecret, openTotpSecret, sealTotpSecret } from '../../platform/auth/totp.ts';
import { countPasskeys } from './passkeys.repository.ts';

const tf = (trx: Tx): Transaction<DB> => trx;

export type Owner = { userId: string } | { staffId: string };

const ownerColumns = (owner: Owner) =>
  'userId' in owner ? { user_id: owner.userId, staff_id: null } : { user_id: null, staff_id: owner.staffId };

function whereOwner<Q extends { where: (...args: never[]) => Q }>(q: Q, owner: Owner): Q {
  const w = q.where as unknown as (col: string, op: string, value: string) => Q;
  return 'userId' in owner ? w.call(q, 'user_id', '=', owner.userId) : w.call(q, 'staff_id', '=', owner.staffId);
}

/** The owner's factor with its secret opened (it is stored sealed with the platform key, totp.ts). */
export async function findFactor(trx: Tx, owner: Owner) {
  const row = await whereOwner(tf(trx).selectFrom('totp_factors').selectAll(), owner).executeTakeFirst();
  return row ? { ...row, secret: await openTotpSecret(row.id, row.secret) } : undefined;
}

/**
 * Whether the identity has a working second factor: a confirmed TOTP factor or at least one
 * passkey / security key. The login asks this to decide on the second step (M2).
 */
export async function hasConfirmedFactor(trx: Tx, owner: Owner): Promise<boolean> {
  return (await hasConfirmedTotp(trx, owner)) || (await countPasskeys(trx, owner)) > 0;
}

export async function hasConfirmedTotp(trx: Tx, owner: Owner): Promise<boolean> {
  const f = await findFactor(trx, owner);
  return Boolean(f?.confirmed_at);
}

/**
 * Begins (or restarts) an enrolment: a new unconfirmed secret replaces any earlier unconfirmed
 * one. Refuses (returns undefined) when a confirmed factor exists: remove it first.
 */
export async function startEnrolment(trx: Tx, owner: Owner, now: Date): Promise<string | undefined> {
  const existing = await findFactor(trx, owner);
  if (existing?.confirmed_at) return undefined;
  if (existing) await tf(trx).deleteFrom('totp_factors').where('id', '=', existing.id).execute();
  const secret = newTotpSecret();
  const id = randomUUID();
  await tf(trx)
    .insertInto('totp_factors')
    .values({ id, ...ownerColumns(owner), secret: await sealTotpSecret(id, secret), confirmed_at: null, last_used_step: null, created_at: now })
    .execute();
  return secret;
}

/** The unconfirmed factor's secret, starting one if there is none. */
export async function enrolmentSecret(trx: Tx, owner: Owner, now: Date): Promise<string | undefined> {
  const existing = await findFactor(trx, owner);
  if (existing?.confirmed_at) return undefined;
  return existing ? existing.secret : startEnrolment(trx, owner, now);
}

/**
 * Accepts a TOTP code for the owner's factor: the confirmed one (`confirming: false`) or the one
 * being enrolled (`confirming: true`, which confirms it). The step is stored with a
 * compare-and-set, so two requests racing with the same code cannot both succeed.
 */
export async function useTotpCode(trx: Tx, owner: Owner, code: string, now: Date, confirming: boolean): Promise<boolean> {
  const factor = await findFactor(trx, owner);
  if (!factor || Boolean(factor.confirmed_at) === confirming) return false;
  const step = checkTotp(factor.secret, code, now, factor.last_used_step === null ? null : Number(factor.last_used_step));
  if (step === undefined) return false;
  const updated = await tf(trx)
    .updateTable('totp_factors')
    .set({ last_used_step: step, ...(confirming ? { confirmed_at: now } : {}) })
    .where('id', '=', factor.id)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

/** Replaces all of the owner's recovery codes; returns the new codes (shown once, never stored). */
export async function replaceRecoveryCodes(trx: Tx, owner: Owner, now: Date): Promise<string[]> {
  await whereOwner(tf(trx).deleteFrom('recovery_codes'), owner).execute();
  const codes = newRecoveryCodes();
  await tf(trx)
    .insertInto('recovery_codes')
    .values(codes.map((c) => ({ id: randomUUID(), ...ownerColumns(owner), code_hash: hashRecoveryCode(c), used_at: null, created_at: now })))
    .execute();
  return codes;
}

/** Spends one recovery code; false when it is unknown or already used. */
export async function useRecoveryCode(trx: Tx, owner: Owner, code: string, now: Date): Promise<boolean> {
  const updated = await whereOwner(
    tf(trx).updateTable('recovery_codes').set({ used_at: now }).where('code_hash', '=', hashRecoveryCode(code)).where('used_at', 'is', null),
    owner,
  ).executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

export async function countUnusedRecoveryCodes(trx: Tx, owner: Owner): Promise<number> {
  const row = await whereOwner(tf(trx).selectFrom('recovery_codes').select((eb) => eb.fn.countAll<string>().as('n')).where('used_at', 'is', null), owner).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Removes the TOTP factor; the recovery codes go too unless a passkey still needs them. */
export async function removeFactor(trx: Tx, owner: Owner): Promise<void> {
  await whereOwner(tf(trx).deleteFrom('totp_factors'), owner).execute();
  await removeRecoveryCodesIfNoFactor(trx, owner);
}

/** Recovery codes stand in for a factor: with no factor left they would be a way in by themselves. */
export async function removeRecoveryCodesIfNoFactor(trx: Tx, owner: Owner): Promise<void> {
  if (await hasConfirmedFactor(trx, owner)) return;
  await whereOwner(tf(trx).deleteFrom('recovery_codes'), owner).execute();
}

// ---- Pending logins -------------------------------------------------------------------------

export const PENDING_LOGIN_MS = 5 * 60_000;

export async function createPendingLogin(
  trx: Tx,
  values: Omit<PendingLoginsTable, 'id' | 'created_at' | 'expires_at'> & { now: Date },
): Promise<void> {
  const { now, ...rest } = values;
  // One pending login per identity and browser is enough; older ones of this identity go.
  await whereOwner(tf(trx).deleteFrom('pending_logins'), rest.user_id ? { userId: rest.user_id } : { staffId: rest.staff_id ?? '' })
    .where('expires_at', '<=', now)
    .execute();
  await tf(trx)
    .insertInto('pending_logins')
    .values({ id: randomUUID(), ...rest, created_at: now, expires_at: new Date(now.getTime() + PENDING_LOGIN_MS) })
    .execute();
}

export async function findPendingLogin(trx: Tx, tokenHash: string, now: Date) {
  const row = await tf(trx).selectFrom('pending_logins').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  if (!row) return undefined;
  if (new Date(row.expires_at) <= now) {
    await tf(trx).deleteFrom('pending_logins').where('id', '=', row.id).execute();
    return undefined;
  }
  return row;
}

export async function deletePendingLogin(trx: Tx, id: string): Promise<void> {
  await tf(trx).deleteFrom('pending_logins').where('id', '=', id).execute();
}
