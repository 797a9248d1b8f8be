/**
 * SQL for passkeys / security keys and their challenges (migrations/007_passkeys.sql). Every
 * function takes the open transaction first. Row-level security admits only the identity's own
 * rows, so a credential id or row id of someone else finds nothing (M8).
 */
import { randomUUID } from 'node:crypto';
import type { Tx } from '../../platform/db/context.ts';
import type { WebauthnChallengePurpose } from '../../platform/db/schema.ts';
import type { StoredCredential } from '../../platform/auth/webauthn.ts';
import type { Owner } from './twofactor.repository.ts';

const ownerColumns = (owner: Owner) =>
  'userId' in owner ? { user_id: owner.userId, staff_id: null } : { user_id: null, staff_id: owner.staffId };

export type PasskeyRow = StoredCredential & { id: string; name: string; createdAt: Date; lastUsedAt: Date | null };

function credentials(trx: Tx, owner: Owner) {
  const q = trx.selectFrom('webauthn_credentials').selectAll();
  return 'userId' in owner ? q.where('user_id', '=', owner.userId) : q.where('staff_id', '=', owner.staffId);
}

const toRow = (r: {
  id: string;
  credential_id: string;
  public_key: string;
  sign_count: number;
  transports: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}): PasskeyRow => ({
  id: r.id,
  credentialId: r.credential_id,
  publicKey: r.public_key,
  signCount: Number(r.sign_count),
  transports: r.transports,
  name: r.name,
  createdAt: new Date(r.created_at),
  lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
});

export async function listPasskeys(trx: Tx, owner: Owner): Promise<PasskeyRow[]> {
  return (await credentials(trx, owner).orderBy('created_at').orderBy('id').execute()).map(toRow);
}

export async function countPasskeys(trx: Tx, owner: Owner): Promise<number> {
  return (await listPasskeys(trx, owner)).length;
}

export async function findPasskeyByCredentialId(trx: Tx, owner: Owner, credentialId: string): Promise<PasskeyRow | undefined> {
  const row = await credentials(trx, owner).where('credential_id', '=', credentialId).executeTakeFirst();
  return row ? toRow(row) : undefined;
}

export async function insertPasskey(trx: Tx, owner: Owner, values: StoredCredential & { name: string; now: Date }): Promise<string> {
  const id = randomUUID();
  await trx
    .insertInto('webauthn_credentials')
    .values({
      id,
      ...ownerColumns(owner),
      credential_id: values.credentialId,
      public_key: values.publicKey,
      sign_count: values.signCount,
      transports: values.transports,
      name: values.name,
      created_at: values.now,
      last_used_at: null,
    })
    .execute();
  return id;
}

/**
 * Records a use: the new counter is stored with a compare-and-set on the old one, so two requests
 * racing with answers from the same authenticator cannot both pass.
 */
export async function recordPasskeyUse(trx: Tx, row: PasskeyRow, newSignCount: number, now: Date): Promise<boolean> {
  const updated = await trx
    .updateTable('webauthn_credentials')
    .set({ sign_count: newSignCount, last_used_at: now })
    .where('id', '=', row.id)
    .where('sign_count', '=', row.signCount)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

export async function deletePasskey(trx: Tx, owner: Owner, id: string): Promise<boolean> {
  const q = trx.deleteFrom('webauthn_credentials').where('id', '=', id);
  const res = await ('userId' in owner ? q.where('user_id', '=', owner.userId) : q.where('staff_id', '=', owner.staffId)).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

// ---- Challenges ------------------------------------------------------------------------------

type ChallengeScope = { purpose: WebauthnChallengePurpose; pendingLoginId?: string | undefined };

function challengesOf(trx: Tx, owner: Owner, scope: ChallengeScope) {
  let q = trx.deleteFrom('webauthn_challenges').where('purpose', '=', scope.purpose);
  q = 'userId' in owner ? q.where('user_id', '=', owner.userId) : q.where('staff_id', '=', owner.staffId);
  return scope.pendingLoginId ? q.where('pending_login_id', '=', scope.pendingLoginId) : q;
}

/** Stores a new challenge for this purpose, replacing any earlier one of the same scope. */
export async function saveChallenge(trx: Tx, owner: Owner, scope: ChallengeScope, challenge: string, now: Date, ttlMs: number): Promise<void> {
  await challengesOf(trx, owner, scope).execute();
  await trx
    .insertInto('webauthn_challenges')
    .values({
      id: randomUUID(),
      ...ownerColumns(owner),
      pending_login_id: scope.pendingLoginId ?? null,
      purpose: scope.purpose,
      challenge,
      created_at: now,
      expires_at: new Date(now.getTime() + ttlMs),
    })
    .execute();
}

/** Takes (deletes) the scope's challenge: each can be answered once. Undefined when none is live. */
export async function takeChallenge(trx: Tx, owner: Owner, scope: ChallengeScope, now: Date): Promise<string | undefined> {
  const rows = await challengesOf(trx, owner, scope).returning(['challenge', 'expires_at']).execute();
  const live = rows.find((r) => new Date(r.expires_at) > now);
  return live?.challenge;
}
