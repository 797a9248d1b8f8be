/**
 * Changing one's own password (users and platform staff alike).
 *
 * Design note (issue 3, M2, M6, M7; ASVS 6.2.2, 6.2.3, 7.4.3): the current password is checked
 * again, under the same M7 throttle as the login (same account, same source), so this form is no
 * side door for guessing; a wrong one is audited as auth.password.rejected and counts as a failed
 * attempt. The new one must pass src/platform/auth/password-policy.ts. On success, in one
 * transaction: the Argon2id hash is stored, every session and half-finished login of the person
 * ends (in all their companies), the current browser gets a new session with a new token, and
 * auth.password.changed is audited. Passwords never reach the audit trail or the logs.
 *
 * Whoever has a confirmed second factor must also give it again (issue 3: "changing e-mail,
 * password or factors needs the current password and second factor again"): a current code from
 * the authenticator app, or, for people whose only factor is a passkey, the passkey's answer to a
 * fresh challenge; a recovery code is not accepted here. It is checked (confirmSecondFactor, with
 * the factor's replay protection) only once everything else on the form is right, so a form refused
 * for another reason never spends a code. A missing or wrong code refuses the change and counts
 * as one failed M7 attempt, like a wrong current password (at most one failure per request).
 * Hashing runs outside transactions, so a slow hash never holds a database connection.
 */
import { ownAccountContext, passwordHashOf } from '../../platform/auth/own-account.ts';
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { dbContextFor } from '../../platform/auth/actor.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { createSession } from '../../platform/auth/sessions.ts';
import { checkThrottle, recordFailure, subjectFor } from '../../platform/auth/throttle.ts';
import { confirmSecondFactor, reauthFactor, type ReauthFactor } from '../twofactor/passkeys.service.ts';
import type { RelyingParty } from '../../platform/auth/webauthn.ts';
import { ownerOf } from '../twofactor/twofactor.policy.ts';
import { afterBlocksStarted } from '../../platform/auth/login-notices.ts';
import { checkNewPassword, minLengthForCompanies, STAFF_MIN_PASSWORD_LENGTH, type PasswordProblem } from '../../platform/auth/password-policy.ts';

export type PasswordRules = { minLength: number; names: string[] };

/** What the change-password page needs: the minimum length, and whether it asks for a code. */
export type PasswordForm = { minLength: number; factor: ReauthFactor };

export type ChangePasswordInput = {
  current: string;
  /** The current code from the authenticator app; asked of people who have one. */
  code: string;
  /** Else a passkey's answer to a 'reauth' challenge, for people whose only factor is a passkey. */
  passkeyResponse: string;
  rp: RelyingParty;
  next: string;
  repeat: string;
  source: string;
  ip: string;
  userAgent: string | undefined;
};

export type ChangePasswordErrors = {
  current?: 'required' | 'wrong';
  next?: 'required' | PasswordProblem[];
  repeat?: 'mismatch';
  code?: 'required' | 'wrong';
};

export type ChangePasswordResult = { ok: true; token: string } | { ok: false; errors: ChangePasswordErrors };


/** Whose next password the rules are for: a user (in all their companies) or platform staff. */
export type PasswordIdentity =
  | { kind: 'user'; userId: string; name: string; email: string; companyName?: string | undefined }
  | { kind: 'staff'; name: string; email: string };

/** The minimum and the guessable names that apply to this person's next password. */
export async function rulesForIdentity(trx: Tx, who: PasswordIdentity): Promise<PasswordRules> {
  const localPart = who.email.split('@')[0] ?? '';
  if (who.kind === 'staff') return { minLength: STAFF_MIN_PASSWORD_LENGTH, names: [who.name, localPart] };
  // One login serves every company that employs the person: the strictest minimum and every
  // company's name apply.
  const companies = await trx
    .selectFrom('employments as e')
    .innerJoin('companies as c', 'c.id', 'e.company_id')
    .select(['c.name', 'c.min_password_length'])
    .where('e.user_id', '=', who.userId)
    .where('e.fired_at', 'is', null)
    .execute();
  return {
    minLength: minLengthForCompanies(companies.map((c) => c.min_password_length)),
    names: [...companies.map((c) => c.name), ...(who.companyName ? [who.companyName] : []), who.name, localPart],
  };
}

function rulesFor(trx: Tx, actor: Actor): Promise<PasswordRules> {
  return rulesForIdentity(
    trx,
    actor.kind === 'staff'
      ? { kind: 'staff', name: actor.name, email: actor.email }
      : { kind: 'user', userId: actor.userId, name: actor.name, email: actor.email, companyName: actor.companyName },
  );
}

export async function getPasswordForm(deps: AppDeps, actor: Actor): Promise<PasswordForm> {
  return withTenant(deps.database, dbContextFor(actor), async (trx) => ({
    minLength: (await rulesFor(trx, actor)).minLength,
    factor: await reauthFactor(trx, ownerOf(actor)),
  }));
}

export async function changePassword(deps: AppDeps, actor: Actor, input: ChangePasswordInput): Promise<ChangePasswordResult> {
  const subject = subjectFor(actor.email);
  const found = await withTenant(deps.database, ownAccountContext(actor), async (trx) => ({
    throttle: await checkThrottle(trx, subject, input.source, deps.clock.now()),
    hash: await passwordHashOf(trx, actor),
    rules: await rulesFor(trx, actor),
    factor: await reauthFactor(trx, ownerOf(actor)),
  }));

  const errors: ChangePasswordErrors = {};
  if (input.current === '') errors.current = 'required';
  if (input.next === '') errors.next = 'required';
  else {
    const problems = checkNewPassword({ password: input.next, minLength: found.rules.minLength, names: found.rules.names });
    if (problems.length > 0) errors.next = problems;
  }
  if (input.next !== '' && input.repeat !== input.next) errors.repeat = 'mismatch';

  // The current password is always verified (same Argon2 work whatever else is wrong); a blocked
  // source is told only "wrong", like at the login.
  const currentOk = input.current !== '' && (await deps.hasher.verify(found.hash, input.current)) && !found.throttle.blocked;
  if (input.current !== '' && !currentOk) errors.current = 'wrong';
  if (found.factor === 'totp' && input.code.trim() === '') errors.code = 'required';
  if (found.factor === 'passkey' && input.passkeyResponse === '') errors.code = 'required';

  /** Audits the refusal and counts one failed M7 attempt when the password or the code failed. */
  const refuse = async (trx: Tx): Promise<ChangePasswordResult> => {
    const who = whoFromActor(actor, input.ip);
    const reasons = [
      errors.current ? `current_${errors.current}` : '',
      errors.next === 'required' ? 'new_required' : (errors.next ?? []).map((p) => p.code).join(','),
      errors.repeat ?? '',
      errors.code ? `code_${errors.code}` : '',
    ].filter(Boolean);
    await audit(trx, who, { type: 'auth.password.rejected', data: { reasons: reasons.join(',') } });
    if (errors.code === 'wrong') await audit(trx, who, { type: 'auth.second_factor.failed', data: { step: 'password_change' } });
    if (errors.current === 'wrong' || errors.code) {
      const now = deps.clock.now();
      const started = await recordFailure(trx, subject, input.source, found.throttle.knownSource, now);
      await afterBlocksStarted(trx, { owner: ownerOf(actor), subject, started, who, now, lookupEmail: actor.email.toLowerCase() });
    }
    return { ok: false, errors };
  };

  if (Object.keys(errors).length > 0) return withTenant(deps.database, ownAccountContext(actor), refuse);

  const newHash = await deps.hasher.hash(input.next);
  const now = deps.clock.now();
  return withTenant(deps.database, ownAccountContext(actor), async (trx) => {
    // The code last, in the same transaction as the change: spent only by a change that happens.
    const factorOk = found.factor === 'none' || (await confirmSecondFactor(trx, actor, { code: input.code, passkeyResponse: input.passkeyResponse, rp: input.rp, ip: input.ip, now }));
    if (!factorOk) {
      errors.code = 'wrong';
      return refuse(trx);
    }
    let ended: number;
    if (actor.kind === 'user') {
      await trx.updateTable('users').set({ password_hash: newHash }).where('id', '=', actor.userId).execute();
      const deleted = await trx.deleteFrom('sessions').where('user_id', '=', actor.userId).executeTakeFirst();
      ended = Number(deleted.numDeletedRows);
      // A login elsewhere that passed the old password and waits for its second factor ends too.
      await sql`delete from pending_logins where user_id = ${actor.userId}`.execute(trx);
    } else {
      await trx.updateTable('staff_accounts').set({ password_hash: newHash }).where('id', '=', actor.staffId).execute();
      const deleted = await trx.deleteFrom('sessions').where('staff_id', '=', actor.staffId).executeTakeFirst();
      ended = Number(deleted.numDeletedRows);
      await sql`delete from pending_logins where staff_id = ${actor.staffId}`.execute(trx);
    }
    // The current browser continues with a new token (the old one is gone with the rest).
    const session = await createSession(
      trx,
      actor.kind === 'user' ? { userId: actor.userId, companyId: actor.companyId } : { staffId: actor.staffId },
      { ip: input.ip, userAgent: input.userAgent, now, policy: deps.config.session },
    );
    await audit(trx, whoFromActor(actor, input.ip), {
      type: 'auth.password.changed',
      objectType: 'session',
      objectId: session.id,
      data: { otherSessionsEnded: Math.max(0, ended - 1) },
    });
    return { ok: true, token: session.token };
  });
}
