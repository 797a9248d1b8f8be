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
 * Hashing runs outside transactions, so a slow hash never holds a database connection.
 */
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { dbContextFor } from '../../platform/auth/actor.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { createSession } from '../../platform/auth/sessions.ts';
import { checkThrottle, recordFailure, subjectFor } from '../../platform/auth/throttle.ts';
import { checkNewPassword, minLengthForCompanies, STAFF_MIN_PASSWORD_LENGTH, type PasswordProblem } from '../../platform/auth/password-policy.ts';

export type PasswordRules = { minLength: number; names: string[] };

export type ChangePasswordInput = {
  current: string;
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
};

export type ChangePasswordResult = { ok: true; token: string } | { ok: false; errors: ChangePasswordErrors };

const ctxWithEmail = (actor: Actor) => ({ ...dbContextFor(actor), lookupEmail: actor.email });

/** The minimum and the guessable names that apply to this person's next password. */
async function rulesFor(trx: Tx, actor: Actor): Promise<PasswordRules> {
  const localPart = actor.email.split('@')[0] ?? '';
  if (actor.kind === 'staff') return { minLength: STAFF_MIN_PASSWORD_LENGTH, names: [actor.name, localPart] };
  // One login serves every company that employs the person: the strictest minimum and every
  // company's name apply.
  const companies = await trx
    .selectFrom('employments as e')
    .innerJoin('companies as c', 'c.id', 'e.company_id')
    .select(['c.name', 'c.min_password_length'])
    .where('e.user_id', '=', actor.userId)
    .where('e.fired_at', 'is', null)
    .execute();
  return {
    minLength: minLengthForCompanies(companies.map((c) => c.min_password_length)),
    names: [...companies.map((c) => c.name), actor.companyName, actor.name, localPart],
  };
}

export async function getPasswordRules(deps: AppDeps, actor: Actor): Promise<PasswordRules> {
  return withTenant(deps.database, dbContextFor(actor), (trx) => rulesFor(trx, actor));
}

async function passwordHashOf(trx: Tx, actor: Actor): Promise<string | null | undefined> {
  const row =
    actor.kind === 'user'
      ? await trx.selectFrom('users').select('password_hash').where('id', '=', actor.userId).executeTakeFirst()
      : await trx.selectFrom('staff_accounts').select('password_hash').where('id', '=', actor.staffId).executeTakeFirst();
  return row?.password_hash;
}

export async function changePassword(deps: AppDeps, actor: Actor, input: ChangePasswordInput): Promise<ChangePasswordResult> {
  const subject = subjectFor(actor.email);
  const found = await withTenant(deps.database, ctxWithEmail(actor), async (trx) => ({
    throttle: await checkThrottle(trx, subject, input.source, deps.clock.now()),
    hash: await passwordHashOf(trx, actor),
    rules: await rulesFor(trx, actor),
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

  if (Object.keys(errors).length > 0) {
    await withTenant(deps.database, ctxWithEmail(actor), async (trx) => {
      const who = whoFromActor(actor, input.ip);
      const reasons = [
        errors.current ? `current_${errors.current}` : '',
        errors.next === 'required' ? 'new_required' : (errors.next ?? []).map((p) => p.code).join(','),
        errors.repeat ?? '',
      ].filter(Boolean);
      await audit(trx, who, { type: 'auth.password.rejected', data: { reasons: reasons.join(',') } });
      if (errors.current === 'wrong') {
        const started = await recordFailure(trx, subject, input.source, found.throttle.knownSource, deps.clock.now());
        for (const scope of started) await audit(trx, who, { type: 'auth.lockout', data: { scope } });
      }
    });
    return { ok: false, errors };
  }

  const newHash = await deps.hasher.hash(input.next);
  const now = deps.clock.now();
  return withTenant(deps.database, dbContextFor(actor), async (trx) => {
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
