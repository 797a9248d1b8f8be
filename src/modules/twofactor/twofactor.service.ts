/**
 * Enrolling and removing one's own second factor while logged in.
 *
 * Design note (M2, M6; ASVS 6.4.x, 6.5.x): starting an enrolment and removing a factor need the
 * current password (removal also a current code), so a borrowed or stolen session cannot swap
 * the factor. Wrong passwords and codes here count towards the same M7 block as at the login
 * (same account, same source), so this form is no side door for guessing. A factor counts only
 * once a code from it has been accepted; the ten recovery codes are made then and shown once.
 */
import { ownAccountContext, passwordHashOf } from '../../platform/auth/own-account.ts';
import { twoFactorRequiredFor } from '../auth/auth.service.ts';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { dbContextFor } from '../../platform/auth/actor.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { checkThrottle, recordFailure, subjectFor } from '../../platform/auth/throttle.ts';
import { afterBlocksStarted, noticeFactorChanged } from '../../platform/auth/login-notices.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { countUnusedRecoveryCodes, findFactor, removeFactor, replaceRecoveryCodes, startEnrolment, useTotpCode } from './twofactor.repository.ts';
import { mayRemoveFactor, mayRemoveSecondFactor, ownerOf } from './twofactor.policy.ts';
import { countPasskeys } from './passkeys.repository.ts';

export type TwoFactorStatus =
  | { state: 'off' }
  | { state: 'enrolling'; secret: string }
  | { state: 'on'; confirmedAt: Date; unusedCodes: number };


export async function getTwoFactorStatus(deps: AppDeps, actor: Actor): Promise<TwoFactorStatus> {
  return withTenant(deps.database, dbContextFor(actor), async (trx) => {
    const owner = ownerOf(actor);
    const factor = await findFactor(trx, owner);
    if (!factor) return { state: 'off' };
    if (!factor.confirmed_at) return { state: 'enrolling', secret: factor.secret };
    return { state: 'on', confirmedAt: new Date(factor.confirmed_at), unusedCodes: await countUnusedRecoveryCodes(trx, owner) };
  });
}

/** Checks the current password under the M7 throttle. */
export async function checkPassword(deps: AppDeps, actor: Actor, password: string, source: string): Promise<{ ok: boolean; knownSource: boolean }> {
  const subject = subjectFor(actor.email);
  const found = await withTenant(deps.database, ownAccountContext(actor), async (trx) => ({
    throttle: await checkThrottle(trx, subject, source, deps.clock.now()),
    hash: await passwordHashOf(trx, actor),
  }));
  // Hash outside any transaction; a blocked source gets the same work and answer as a wrong one.
  const ok = await deps.hasher.verify(found.hash, password);
  return { ok: ok && !found.throttle.blocked, knownSource: found.throttle.knownSource };
}

/** Counts a failed re-authentication (wrong password or factor) towards the M7 block. */
export async function countFailure(trx: Tx, deps: AppDeps, actor: Actor, source: string, knownSource: boolean, ip: string) {
  const who = whoFromActor(actor, ip);
  await audit(trx, who, { type: 'auth.second_factor.failed', data: { step: 'reauthentication' } });
  const now = deps.clock.now();
  const subject = subjectFor(actor.email);
  const started = await recordFailure(trx, subject, source, knownSource, now);
  await afterBlocksStarted(trx, { owner: ownerOf(actor), subject, started, who, now, lookupEmail: actor.email.toLowerCase() });
}

export async function startTwoFactor(deps: AppDeps, actor: Actor, input: { password: string; source: string; ip: string }): Promise<'ok' | 'wrong' | 'already'> {
  const pw = await checkPassword(deps, actor, input.password, input.source);
  return withTenant(deps.database, ownAccountContext(actor), async (trx) => {
    if (!pw.ok) {
      await countFailure(trx, deps, actor, input.source, pw.knownSource, input.ip);
      return 'wrong';
    }
    const secret = await startEnrolment(trx, ownerOf(actor), deps.clock.now());
    return secret ? 'ok' : 'already';
  });
}

/** Confirms the enrolment with a code from it; returns the new recovery codes, or undefined. */
export async function confirmTwoFactor(deps: AppDeps, actor: Actor, input: { code: string; ip: string }): Promise<string[] | undefined> {
  return withTenant(deps.database, dbContextFor(actor), async (trx) => {
    const owner = ownerOf(actor);
    const now = deps.clock.now();
    if (!(await useTotpCode(trx, owner, input.code, now, true))) return undefined;
    const codes = await replaceRecoveryCodes(trx, owner, now);
    await audit(trx, whoFromActor(actor, input.ip), { type: 'auth.second_factor.enrolled', data: { method: 'totp' } });
    await noticeFactorChanged(trx, owner, 'added', now);
    return codes;
  });
}

/**
 * Whether this person may turn their factor off: never staff (M2), and never a user whose
 * company requires two-factor for their role (companies.require_two_factor).
 */
export async function mayRemoveNow(deps: AppDeps, actor: Actor): Promise<boolean> {
  if (!mayRemoveSecondFactor(actor) || actor.kind !== 'user') return false;
  return withTenant(deps.database, { companyId: actor.companyId, userId: actor.userId }, async (trx) => {
    // A passkey that stays keeps the account covered, whatever the company requires.
    return mayRemoveFactor(actor, { required: await twoFactorRequired(trx, actor), othersLeft: await countPasskeys(trx, ownerOf(actor)) });
  });
}

/** Whether the person's company requires two-factor for their role (never for staff: always). */
export async function twoFactorRequired(trx: Tx, actor: Actor): Promise<boolean> {
  if (actor.kind !== 'user') return true;
  const company = await trx.selectFrom('companies').select('require_two_factor').where('id', '=', actor.companyId).executeTakeFirst();
  return twoFactorRequiredFor(company?.require_two_factor ?? 'none', actor.role);
}

export async function removeTwoFactor(deps: AppDeps, actor: Actor, input: { password: string; code: string; source: string; ip: string }): Promise<'ok' | 'wrong'> {
  if (!(await mayRemoveNow(deps, actor))) throw new NotFoundError();
  const pw = await checkPassword(deps, actor, input.password, input.source);
  return withTenant(deps.database, ownAccountContext(actor), async (trx) => {
    const owner = ownerOf(actor);
    const codeOk = pw.ok && (await useTotpCode(trx, owner, input.code, deps.clock.now(), false));
    if (!codeOk) {
      await countFailure(trx, deps, actor, input.source, pw.knownSource, input.ip);
      return 'wrong';
    }
    await removeFactor(trx, owner);
    await audit(trx, whoFromActor(actor, input.ip), { type: 'auth.second_factor.removed', data: { method: 'totp' } });
    await noticeFactorChanged(trx, owner, 'removed', deps.clock.now());
    return 'ok';
  });
}
