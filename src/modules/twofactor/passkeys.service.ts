/**
 * Passkeys and security keys (WebAuthn) as a second factor, managed by their owner.
 *
 * Design note (M2, M7, M8; ASVS 6.5.x):
 * - Adding one needs the current password (under the M7 throttle, as for TOTP enrolment) before
 *   the server hands out registration options; the challenge is stored in PostgreSQL for that
 *   identity, expires after 2 minutes and is taken once.
 * - Removing one needs the current password and a second factor: a current TOTP code, or an
 *   assertion from one of the person's passkeys. Failures count towards the M7 block. Nobody can
 *   remove their last factor when it is required: staff never (M2), users when their company
 *   requires two-factor for their role.
 * - The first factor of an identity (a passkey when there is no TOTP) comes with ten recovery
 *   codes, shown once, so a lost key does not lock the person out.
 * - Row-level security keeps each identity to its own credentials and challenges: an id or a
 *   credential of someone else finds nothing (M8).
 */
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { ownAccountContext } from '../../platform/auth/own-account.ts';
import { dbContextFor } from '../../platform/auth/actor.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor, type AuditWho } from '../../platform/audit/audit.ts';
import { ForbiddenError, NotFoundError } from '../../platform/errors.ts';
import type { WebauthnChallengePurpose } from '../../platform/db/schema.ts';
import {
  authenticationOptions,
  CHALLENGE_MS,
  newChallenge,
  parseAuthenticationResponse,
  parseRegistrationResponse,
  registrationOptions,
  verifyAssertion,
  verifyRegistration,
  type RelyingParty,
} from '../../platform/auth/webauthn.ts';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { countPasskeys, deletePasskey, findPasskeyByCredentialId, insertPasskey, listPasskeys, recordPasskeyUse, saveChallenge, takeChallenge } from './passkeys.repository.ts';
import { countUnusedRecoveryCodes, hasConfirmedFactor, hasConfirmedTotp, removeRecoveryCodesIfNoFactor, replaceRecoveryCodes, useTotpCode, type Owner } from './twofactor.repository.ts';
import { MAX_PASSKEYS, mayRemoveFactor, ownerOf } from './twofactor.policy.ts';
import { checkPassword, countFailure, twoFactorRequired } from './twofactor.service.ts';
import { noticeFactorChanged } from '../../platform/auth/login-notices.ts';

export type PasskeySummary = { id: string; name: string; createdAt: Date; lastUsedAt: Date | null };
export type PasskeyStatus = { passkeys: PasskeySummary[]; hasTotp: boolean; mayRemove: boolean; mayAdd: boolean; unusedCodes: number };

export async function getPasskeyStatus(deps: AppDeps, actor: Actor): Promise<PasskeyStatus> {
  return withTenant(deps.database, dbContextFor(actor), async (trx) => {
    const owner = ownerOf(actor);
    const passkeys = await listPasskeys(trx, owner);
    const hasTotp = await hasConfirmedTotp(trx, owner);
    const othersLeft = passkeys.length - 1 + (hasTotp ? 1 : 0);
    return {
      passkeys: passkeys.map((p) => ({ id: p.id, name: p.name, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt })),
      hasTotp,
      mayRemove: passkeys.length > 0 && mayRemoveFactor(actor, { required: await twoFactorRequired(trx, actor), othersLeft }),
      mayAdd: passkeys.length < MAX_PASSKEYS,
      unusedCodes: await countUnusedRecoveryCodes(trx, owner),
    };
  });
}

// ---- Checking an assertion (login and re-authentication) -----------------------------------

export type AssertionResult = { ok: true; passkeyId: string } | { ok: false; reason: 'malformed' | 'no_challenge' | 'unknown_credential' | 'invalid' | 'counter' };

/**
 * Checks a passkey assertion for this identity inside its transaction. The challenge is taken
 * first, whatever happens next, so an answer can be tried once. Only the identity's own
 * credentials are candidates (row-level security as well as the query).
 */
export async function checkPasskeyAssertion(
  trx: Tx,
  owner: Owner,
  scope: { purpose: WebauthnChallengePurpose; pendingLoginId?: string | undefined },
  responseText: string,
  rp: RelyingParty,
  now: Date,
): Promise<AssertionResult> {
  const challenge = await takeChallenge(trx, owner, scope, now);
  const response = parseAuthenticationResponse(responseText);
  if (!response) return { ok: false, reason: 'malformed' };
  if (!challenge) return { ok: false, reason: 'no_challenge' };
  const credential = await findPasskeyByCredentialId(trx, owner, response.id);
  if (!credential) return { ok: false, reason: 'unknown_credential' };
  const check = await verifyAssertion(rp, response, challenge, credential);
  if (!check.ok) return { ok: false, reason: check.reason };
  // Compare-and-set on the counter: a parallel answer from the same key loses.
  if (!(await recordPasskeyUse(trx, credential, check.newSignCount, now))) return { ok: false, reason: 'counter' };
  return { ok: true, passkeyId: credential.id };
}

/** Fresh options for an assertion by one of the identity's passkeys; undefined when it has none. */
export async function assertionOptionsFor(
  trx: Tx,
  owner: Owner,
  scope: { purpose: WebauthnChallengePurpose; pendingLoginId?: string | undefined },
  rp: RelyingParty,
  now: Date,
): Promise<PublicKeyCredentialRequestOptionsJSON | undefined> {
  const passkeys = await listPasskeys(trx, owner);
  if (passkeys.length === 0) return undefined;
  const challenge = newChallenge();
  await saveChallenge(trx, owner, scope, challenge, now, CHALLENGE_MS);
  return authenticationOptions(rp, challenge, passkeys);
}

export async function auditPasskeyFailure(trx: Tx, who: AuditWho, step: 'login' | 'reauthentication' | 'registration', reason: string) {
  await audit(trx, who, { type: 'auth.passkey.failed', data: { step, reason } });
}

// ---- Adding ----------------------------------------------------------------------------------

export type StartRegistration = { kind: 'wrong' } | { kind: 'too_many' } | { kind: 'ok'; options: PublicKeyCredentialCreationOptionsJSON };

export async function startPasskeyRegistration(
  deps: AppDeps,
  actor: Actor,
  input: { password: string; source: string; ip: string; rp: RelyingParty },
): Promise<StartRegistration> {
  const pw = await checkPassword(deps, actor, input.password, input.source);
  return withTenant(deps.database, ownAccountContext(actor), async (trx): Promise<StartRegistration> => {
    if (!pw.ok) {
      await countFailure(trx, deps, actor, input.source, pw.knownSource, input.ip);
      return { kind: 'wrong' };
    }
    const owner = ownerOf(actor);
    const existing = await listPasskeys(trx, owner);
    if (existing.length >= MAX_PASSKEYS) return { kind: 'too_many' };
    const challenge = newChallenge();
    await saveChallenge(trx, owner, { purpose: 'register' }, challenge, deps.clock.now(), CHALLENGE_MS);
    const options = await registrationOptions(input.rp, { challenge, userName: actor.email, displayName: actor.name, existing });
    return { kind: 'ok', options };
  });
}

export type FinishRegistration = { kind: 'invalid' } | { kind: 'too_many' } | { kind: 'ok'; recoveryCodes?: string[] };

export async function finishPasskeyRegistration(
  deps: AppDeps,
  actor: Actor,
  input: { name: string; response: string; ip: string; rp: RelyingParty },
): Promise<FinishRegistration> {
  return withTenant(deps.database, dbContextFor(actor), async (trx): Promise<FinishRegistration> => {
    const owner = ownerOf(actor);
    const now = deps.clock.now();
    const who = whoFromActor(actor, input.ip);
    const challenge = await takeChallenge(trx, owner, { purpose: 'register' }, now);
    const response = parseRegistrationResponse(input.response);
    const verified = challenge && response ? await verifyRegistration(input.rp, response, challenge) : undefined;
    if (!verified) {
      await auditPasskeyFailure(trx, who, 'registration', !response ? 'malformed' : !challenge ? 'no_challenge' : 'invalid');
      return { kind: 'invalid' };
    }
    const existing = await listPasskeys(trx, owner);
    if (existing.length >= MAX_PASSKEYS) return { kind: 'too_many' };
    if (existing.some((p) => p.credentialId === verified.credentialId)) {
      await auditPasskeyFailure(trx, who, 'registration', 'duplicate');
      return { kind: 'invalid' };
    }
    const hadFactor = await hasConfirmedFactor(trx, owner);
    const id = await insertPasskey(trx, owner, { ...verified, name: input.name, now });
    await audit(trx, who, { type: 'auth.passkey.added', objectType: 'webauthn_credential', objectId: id, data: { first_factor: !hadFactor } });
    await noticeFactorChanged(trx, owner, 'added', now);
    if (hadFactor) return { kind: 'ok' };
    return { kind: 'ok', recoveryCodes: await replaceRecoveryCodes(trx, owner, now) };
  });
}

// ---- Re-authentication -------------------------------------------------------------------------

/** Which second factor a change of one's own account asks for: the app code first, else a passkey. */
export type ReauthFactor = 'none' | 'totp' | 'passkey';

export async function reauthFactor(trx: Tx, owner: Owner): Promise<ReauthFactor> {
  if (await hasConfirmedTotp(trx, owner)) return 'totp';
  return (await countPasskeys(trx, owner)) > 0 ? 'passkey' : 'none';
}

/**
 * Checks the second factor given to confirm a change of one's own account: a passkey answer to a
 * 'reauth' challenge (see reauthOptions) when one is given, otherwise a current TOTP code (with
 * its replay protection). Recovery codes do not count here. A refused passkey answer is audited;
 * counting the failure towards M7 is the caller's part, together with the password.
 */
export async function confirmSecondFactor(
  trx: Tx,
  actor: Actor,
  input: { code: string; passkeyResponse: string; rp: RelyingParty; ip: string; now: Date },
): Promise<boolean> {
  const owner = ownerOf(actor);
  if (input.passkeyResponse) {
    const r = await checkPasskeyAssertion(trx, owner, { purpose: 'reauth' }, input.passkeyResponse, input.rp, input.now);
    if (!r.ok) await auditPasskeyFailure(trx, whoFromActor(actor, input.ip), 'reauthentication', r.reason);
    return r.ok;
  }
  return useTotpCode(trx, owner, input.code, input.now, false);
}

// ---- Removing --------------------------------------------------------------------------------

/** Options for confirming a removal with a passkey; undefined when the person has none. */
export async function reauthOptions(deps: AppDeps, actor: Actor, rp: RelyingParty): Promise<PublicKeyCredentialRequestOptionsJSON | undefined> {
  return withTenant(deps.database, dbContextFor(actor), (trx) => assertionOptionsFor(trx, ownerOf(actor), { purpose: 'reauth' }, rp, deps.clock.now()));
}

export async function removePasskey(
  deps: AppDeps,
  actor: Actor,
  input: { id: string; password: string; code: string; passkeyResponse: string; source: string; ip: string; rp: RelyingParty },
): Promise<'ok' | 'wrong'> {
  const pw = await checkPassword(deps, actor, input.password, input.source);
  return withTenant(deps.database, ownAccountContext(actor), async (trx) => {
    const owner = ownerOf(actor);
    const now = deps.clock.now();
    const passkeys = await listPasskeys(trx, owner);
    const target = passkeys.find((p) => p.id === input.id);
    if (!target) throw new NotFoundError();
    const hasTotp = await hasConfirmedTotp(trx, owner);
    if (!mayRemoveFactor(actor, { required: await twoFactorRequired(trx, actor), othersLeft: passkeys.length - 1 + (hasTotp ? 1 : 0) })) {
      throw new ForbiddenError();
    }
    const factorOk = pw.ok && (await confirmSecondFactor(trx, actor, { code: input.code, passkeyResponse: input.passkeyResponse, rp: input.rp, ip: input.ip, now }));
    if (!factorOk) {
      await countFailure(trx, deps, actor, input.source, pw.knownSource, input.ip);
      return 'wrong';
    }
    await deletePasskey(trx, owner, target.id);
    await removeRecoveryCodesIfNoFactor(trx, owner);
    await audit(trx, whoFromActor(actor, input.ip), { type: 'auth.passkey.removed', objectType: 'webauthn_credential', objectId: target.id });
    await noticeFactorChanged(trx, owner, 'removed', now);
    return 'ok';
  });
}
