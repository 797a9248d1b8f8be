/**
 * Login and logout. Design note (M6, M7 groundwork): unknown e-mail, wrong password, disabled
 * account and an account without an active employment all give the same answer after the same
 * Argon2 work, so the login cannot be used to find out who has an account. Hashing runs outside
 * any transaction, so a slow hash never holds a database connection.
 *
 * Two-factor (M2): when the account has a confirmed factor, or is platform staff (who must have
 * one), a correct password creates no session, only a pending login (second-factor.service.ts).
 * A company may also require two-factor for everyone or for admins and leaders
 * (companies.require_two_factor): such users without a confirmed factor are sent to enrol.
 * The throttle's success is recorded only after the second factor, so wrong passwords and wrong
 * codes count together towards the M7 block.
 */
import type { AppDeps } from '../../platform/deps.ts';
import { enterContext, withTenant, type Tx } from '../../platform/db/context.ts';
import type { EmploymentRole, RequireTwoFactor } from '../../platform/db/schema.ts';
import { createSession, destroySession } from '../../platform/auth/sessions.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { audit } from '../../platform/audit/audit.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { staffNetwork } from '../../platform/http/staff-network.ts';
import { checkThrottle, recordFailure, recordSuccess, sourceFor, subjectFor } from '../../platform/auth/throttle.ts';
import { randomToken, sha256Hex } from '../../platform/auth/tokens.ts';
import { enforceRate, hitRate, rateExhausted, RATE_RULES } from '../../platform/auth/rate-limit.ts';
import { afterBlocksStarted, noticeIfNewDevice } from '../../platform/auth/login-notices.ts';
import { createPendingLogin, enrolmentSecret, hasConfirmedFactor } from '../twofactor/twofactor.repository.ts';

export type LoginInput = {
  email: string;
  password: string;
  ip: string;
  userAgent: string | undefined;
  deviceId?: string | undefined;
  /** Where to go after the second factor (already checked by safeNext). */
  next?: string | undefined;
};
export type LoginResult =
  | { ok: true; token: string; kind: 'user' | 'staff' }
  | { ok: 'second_factor'; pendingToken: string }
  /** `network`: too many failed logins from this IP address across accounts (password spraying). */
  | { ok: false; network?: boolean };

export async function login(deps: AppDeps, input: LoginInput): Promise<LoginResult> {
  const email = input.email.trim().toLowerCase();
  const subject = subjectFor(email);
  const source = sourceFor(input.deviceId, input.ip);
  const startedAt = deps.clock.now();
  await enforceRate(deps, RATE_RULES.loginPerIp, input.ip);
  const found = await withTenant(deps.database, { lookupEmail: email }, async (trx) => {
    const throttle = await checkThrottle(trx, subject, source, startedAt);
    // Password spraying: past the per-IP failure limit, only devices known to this account get through.
    const sprayed = !throttle.knownSource && (await rateExhausted(trx, RATE_RULES.loginFailuresPerIp, input.ip, startedAt));
    const user = await trx
      .selectFrom('users')
      .select(['id', 'password_hash', 'disabled_at'])
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email))
      .executeTakeFirst();
    const staff = user
      ? undefined
      : await trx
          .selectFrom('staff_accounts')
          .select(['id', 'password_hash', 'disabled_at'])
          .where((eb) => eb(eb.fn('lower', ['email']), '=', email))
          .executeTakeFirst();
    return { user, staff, throttle, sprayed };
  });
  const account = found.user ?? found.staff;
  if (found.sprayed) {
    await deps.hasher.verify(undefined, input.password);
    await withTenant(deps.database, { lookupEmail: email }, (trx) =>
      audit(trx, { companyId: null, actorUserId: found.user?.id ?? null, actorStaffId: found.staff?.id ?? null, ip: input.ip, userAgent: input.userAgent }, { type: 'auth.rate_limited', data: { rule: RATE_RULES.loginFailuresPerIp.name } }),
    );
    return { ok: false, network: true };
  }
  if (found.throttle.blocked) {
    // Same work and the same answer as a wrong password: the block reveals nothing.
    await deps.hasher.verify(undefined, input.password);
    await withTenant(deps.database, { lookupEmail: email }, (trx) =>
      audit(trx, { companyId: null, actorUserId: found.user?.id ?? null, actorStaffId: found.staff?.id ?? null, ip: input.ip, userAgent: input.userAgent }, { type: 'auth.login.blocked' }),
    );
    return { ok: false };
  }
  const passwordOk = await deps.hasher.verify(account?.password_hash, input.password);
  const now = deps.clock.now();
  const meta = { ip: input.ip, userAgent: input.userAgent, now, policy: deps.config.session };
  const newHash = passwordOk && account?.password_hash && deps.hasher.needsRehash(account.password_hash)
    ? await deps.hasher.hash(input.password)
    : undefined;

  if (found.user && passwordOk && !found.user.disabled_at) {
    const userId = found.user.id;
    const result = await withTenant(deps.database, { userId }, async (trx) => {
      const employment = await trx
        .selectFrom('employments')
        .select(['id', 'company_id', 'role'])
        .where('user_id', '=', userId)
        .where('fired_at', 'is', null)
        .orderBy('created_at')
        .executeTakeFirst();
      if (!employment) return undefined;
      await enterContext(trx, { userId, companyId: employment.company_id, lookupEmail: email });
      if (newHash) await trx.updateTable('users').set({ password_hash: newHash }).where('id', '=', userId).execute();
      const confirmed = await hasConfirmedFactor(trx, { userId });
      // The company may require two-factor for everyone or for admins and leaders: without a
      // confirmed factor such a user must enrol before getting a session (as staff do).
      const mustEnrol = !confirmed && (await companyRequiresTwoFactor(trx, employment.company_id, employment.role));
      if (mustEnrol) await enrolmentSecret(trx, { userId }, now);
      if (confirmed || mustEnrol) {
        const pendingToken = randomToken();
        await createPendingLogin(trx, {
          token_hash: sha256Hex(pendingToken), user_id: userId, staff_id: null, company_id: employment.company_id, purpose: confirmed ? 'verify' : 'enrol',
          lookup_email: email, source, next: input.next || null, ip: input.ip, user_agent: input.userAgent?.slice(0, 300) ?? null, now,
        });
        return { step: 'second_factor', pendingToken } as const;
      }
      await noticeIfNewDevice(trx, { owner: { userId }, subject, source, now });
      await recordSuccess(trx, subject, source, now);
      const session = await createSession(trx, { userId, companyId: employment.company_id }, meta);
      await audit(trx, { companyId: employment.company_id, actorUserId: userId, ip: input.ip, userAgent: input.userAgent }, { type: 'auth.login.succeeded', objectType: 'session', objectId: session.id });
      return { step: 'session', session } as const;
    });
    if (result?.step === 'second_factor') return { ok: 'second_factor', pendingToken: result.pendingToken };
    if (result?.step === 'session') return { ok: true, token: result.session.token, kind: 'user' };
  } else if (found.staff && passwordOk && !found.staff.disabled_at && staffNetwork(deps.config.staffAllowedCidrs)(input.ip)) {
    const staffId = found.staff.id;
    // M2: staff always need a second factor; without a confirmed one they are sent to enrol.
    const pendingToken = await withTenant(deps.database, { staffId, lookupEmail: email }, async (trx) => {
      if (newHash) await trx.updateTable('staff_accounts').set({ password_hash: newHash }).where('id', '=', staffId).execute();
      const confirmed = await hasConfirmedFactor(trx, { staffId });
      if (!confirmed) await enrolmentSecret(trx, { staffId }, now);
      const token = randomToken();
      await createPendingLogin(trx, {
        token_hash: sha256Hex(token), user_id: null, staff_id: staffId, company_id: null, purpose: confirmed ? 'verify' : 'enrol',
        lookup_email: email, source, next: input.next || null, ip: input.ip, user_agent: input.userAgent?.slice(0, 300) ?? null, now,
      });
      return token;
    });
    return { ok: 'second_factor', pendingToken };
  }

  await withTenant(deps.database, { lookupEmail: email }, async (trx) => {
    const who = { companyId: null, actorUserId: found.user?.id ?? null, actorStaffId: found.staff?.id ?? null, ip: input.ip, userAgent: input.userAgent };
    await audit(trx, who, { type: 'auth.login.failed', data: { known: Boolean(account) } });
    await hitRate(trx, RATE_RULES.loginFailuresPerIp, input.ip, now);
    const started = await recordFailure(trx, subject, source, found.throttle.knownSource, now);
    const owner = found.user ? { userId: found.user.id } : found.staff ? { staffId: found.staff.id } : undefined;
    await afterBlocksStarted(trx, { owner, subject, started, who, now, lookupEmail: email });
  });
  return { ok: false };
}

/** Whether the company's two-factor setting covers this role (companies.require_two_factor). */
async function companyRequiresTwoFactor(trx: Tx, companyId: string, role: EmploymentRole): Promise<boolean> {
  const company = await trx.selectFrom('companies').select('require_two_factor').where('id', '=', companyId).executeTakeFirst();
  return twoFactorRequiredFor(company?.require_two_factor ?? 'none', role);
}

export function twoFactorRequiredFor(setting: RequireTwoFactor, role: EmploymentRole): boolean {
  if (setting === 'everyone') return true;
  if (setting === 'admins_leaders') return role === 'company_admin' || role === 'leader';
  return false;
}

export async function logout(deps: AppDeps, actor: Actor, ip: string): Promise<void> {
  const ctx = actor.kind === 'user' ? { userId: actor.userId, companyId: actor.companyId } : { staffId: actor.staffId };
  await withTenant(deps.database, ctx, async (trx) => {
    await destroySession(trx, actor.sessionId);
    await audit(
      trx,
      actor.kind === 'user' ? { companyId: actor.companyId, actorUserId: actor.userId, ip } : { companyId: null, actorStaffId: actor.staffId, ip },
      { type: 'auth.logout', objectType: 'session', objectId: actor.sessionId },
    );
  });
}

/** The companies a user can switch to: their own active employments. */
export async function listMyCompanies(deps: AppDeps, actor: Actor & { kind: 'user' }) {
  return withTenant(deps.database, { userId: actor.userId }, (trx) =>
    trx
      .selectFrom('employments as e')
      .innerJoin('companies as c', 'c.id', 'e.company_id')
      .select(['c.id', 'c.name'])
      .where('e.user_id', '=', actor.userId)
      .where('e.fired_at', 'is', null)
      .orderBy('c.name')
      .execute(),
  );
}

/**
 * Moves the session to another of the user's companies, with a new token (privilege change).
 * Refused (undefined) when the target company requires a second factor for the user's role there
 * and the user has none yet: the login's rule applies to a switch too.
 */
export async function switchCompany(deps: AppDeps, actor: Actor & { kind: 'user' }, companyId: string, ip: string, userAgent: string | undefined): Promise<string | undefined> {
  return withTenant(deps.database, { userId: actor.userId }, async (trx) => {
    const employment = await trx
      .selectFrom('employments')
      .select(['id', 'role'])
      .where('user_id', '=', actor.userId)
      .where('company_id', '=', companyId)
      .where('fired_at', 'is', null)
      .executeTakeFirst();
    if (!employment) throw new NotFoundError();
    if (!(await hasConfirmedFactor(trx, { userId: actor.userId })) && (await companyRequiresTwoFactor(trx, companyId, employment.role))) return undefined;
    await destroySession(trx, actor.sessionId);
    await enterContext(trx, { userId: actor.userId, companyId });
    const session = await createSession(trx, { userId: actor.userId, companyId }, { ip, userAgent, now: deps.clock.now(), policy: deps.config.session });
    await audit(trx, { companyId, actorUserId: actor.userId, ip }, { type: 'auth.company_switched', objectType: 'company', objectId: companyId });
    return session.token;
  });
}

export async function setLanguage(deps: AppDeps, actor: Actor, language: 'da' | 'en' | 'sv', ip: string) {
  if (actor.kind === 'user') {
    await withTenant(deps.database, { userId: actor.userId, companyId: actor.companyId }, async (trx) => {
      await trx.updateTable('employments').set({ language }).where('id', '=', actor.employmentId).execute();
      await audit(trx, { companyId: actor.companyId, actorUserId: actor.userId, ip }, { type: 'settings.language_changed', data: { language } });
    });
  } else {
    await withTenant(deps.database, { staffId: actor.staffId }, async (trx) => {
      await trx.updateTable('staff_accounts').set({ language }).where('id', '=', actor.staffId).execute();
      await audit(trx, { companyId: null, actorStaffId: actor.staffId, ip }, { type: 'settings.language_changed', data: { language } });
    });
  }
}
