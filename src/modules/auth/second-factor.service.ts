/**
 * The login's second step. Design note (M2, M6, M7; ASVS 6.5, 7.2.4):
 *
 * - After a correct password, an account that needs a second factor gets a pending login, not a
 *   session: a 256-bit random token in its own cookie, stored as its SHA-256 in pending_logins,
 *   valid 5 minutes and good only for /login/second-factor. The edge never sees it as a session,
 *   and any app node can serve the next step (state in PostgreSQL).
 * - A wrong code is a failed login attempt for the same account and source as the password step
 *   (login_throttle): 3 in a row block that source, with the same growing wait. A block ends the
 *   pending login, so the password has to be given again afterwards.
 * - A TOTP step is accepted once (replay refused); a recovery code is spent on use.
 * - Success deletes the pending login and issues a brand-new session token.
 * - Staff without a factor (purpose 'enrol') confirm a new factor here before they get a session
 *   and then see their recovery codes once.
 */
import type { AppDeps } from '../../platform/deps.ts';
import { enterContext, withTenant } from '../../platform/db/context.ts';
import { createSession } from '../../platform/auth/sessions.ts';
import { audit, type AuditWho } from '../../platform/audit/audit.ts';
import { checkThrottle, recordFailure, recordSuccess, subjectFor } from '../../platform/auth/throttle.ts';
import { sha256Hex } from '../../platform/auth/tokens.ts';
import { staffNetwork } from '../../platform/http/staff-network.ts';
import {
  deletePendingLogin,
  findFactor,
  findPendingLogin,
  replaceRecoveryCodes,
  useRecoveryCode,
  useTotpCode,
  type Owner,
} from '../twofactor/twofactor.repository.ts';

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export type PendingView = { purpose: 'verify' } | { purpose: 'enrol'; secret: string; email: string };

/** What the second-step page should show, or undefined when there is no live pending login. */
export async function findPendingStep(deps: AppDeps, token: string | undefined, ip: string): Promise<PendingView | undefined> {
  if (!token || !TOKEN_RE.test(token)) return undefined;
  const hash = sha256Hex(token);
  return withTenant(deps.database, { sessionHash: hash }, async (trx) => {
    const p = await findPendingLogin(trx, hash, deps.clock.now());
    if (!p) return undefined;
    if (p.staff_id && !staffNetwork(deps.config.staffAllowedCidrs)(ip)) return undefined;
    if (p.purpose === 'verify') return { purpose: 'verify' } as const;
    await enterContext(trx, { staffId: p.staff_id ?? undefined, userId: p.user_id ?? undefined, companyId: p.company_id ?? undefined, sessionHash: hash });
    const factor = await findFactor(trx, p.staff_id ? { staffId: p.staff_id } : { userId: p.user_id ?? '' });
    if (!factor || factor.confirmed_at) return undefined;
    return { purpose: 'enrol', secret: factor.secret, email: p.lookup_email } as const;
  });
}

export type SecondFactorResult =
  | { kind: 'none' }
  | { kind: 'blocked' }
  | { kind: 'wrong' }
  | { kind: 'ok'; token: string; actorKind: 'user' | 'staff'; next: string | null; recoveryCodes?: string[] };

export async function completeSecondFactor(
  deps: AppDeps,
  input: { token: string | undefined; code: string; recovery: boolean; ip: string; userAgent: string | undefined },
): Promise<SecondFactorResult> {
  if (!input.token || !TOKEN_RE.test(input.token)) return { kind: 'none' };
  const hash = sha256Hex(input.token);
  const now = deps.clock.now();
  return withTenant(deps.database, { sessionHash: hash }, async (trx): Promise<SecondFactorResult> => {
    const p = await findPendingLogin(trx, hash, now);
    if (!p) return { kind: 'none' };
    if (p.staff_id && !staffNetwork(deps.config.staffAllowedCidrs)(input.ip)) return { kind: 'none' };
    await enterContext(trx, { userId: p.user_id ?? undefined, companyId: p.company_id ?? undefined, staffId: p.staff_id ?? undefined, lookupEmail: p.lookup_email, sessionHash: hash });
    const owner: Owner = p.staff_id ? { staffId: p.staff_id } : { userId: p.user_id ?? '' };
    const who: AuditWho = p.staff_id
      ? { companyId: null, actorStaffId: p.staff_id, ip: input.ip }
      : { companyId: p.company_id, actorUserId: p.user_id, ip: input.ip };
    const subject = subjectFor(p.lookup_email);
    const throttle = await checkThrottle(trx, subject, p.source, now);
    if (throttle.blocked) {
      await deletePendingLogin(trx, p.id);
      await audit(trx, who, { type: 'auth.login.blocked' });
      return { kind: 'blocked' };
    }

    let ok: boolean;
    if (p.purpose === 'enrol') ok = !input.recovery && (await useTotpCode(trx, owner, input.code, now, true));
    else if (input.recovery) ok = await useRecoveryCode(trx, owner, input.code, now);
    else ok = await useTotpCode(trx, owner, input.code, now, false);

    if (!ok) {
      await audit(trx, who, { type: 'auth.second_factor.failed', data: { method: input.recovery ? 'recovery_code' : 'totp' } });
      const started = await recordFailure(trx, subject, p.source, throttle.knownSource, now);
      for (const scope of started) await audit(trx, who, { type: 'auth.lockout', data: { scope } });
      if (started.length > 0) {
        await deletePendingLogin(trx, p.id);
        return { kind: 'blocked' };
      }
      return { kind: 'wrong' };
    }

    await recordSuccess(trx, subject, p.source, now);
    await deletePendingLogin(trx, p.id);
    let recoveryCodes: string[] | undefined;
    if (p.purpose === 'enrol') {
      recoveryCodes = await replaceRecoveryCodes(trx, owner, now);
      await audit(trx, who, { type: 'auth.second_factor.enrolled', data: { method: 'totp' } });
    }
    if (input.recovery) await audit(trx, who, { type: 'auth.recovery_code.used' });
    await audit(trx, who, { type: 'auth.second_factor.succeeded', data: { method: input.recovery ? 'recovery_code' : 'totp' } });
    const subjectIds = p.staff_id ? { staffId: p.staff_id } : { userId: p.user_id ?? '', companyId: p.company_id ?? '' };
    const session = await createSession(trx, subjectIds, { ip: input.ip, userAgent: input.userAgent, now, policy: deps.config.session });
    await audit(trx, who, { type: 'auth.login.succeeded', objectType: 'session', objectId: session.id });
    return { kind: 'ok', token: session.token, actorKind: p.staff_id ? 'staff' : 'user', next: p.next, ...(recoveryCodes ? { recoveryCodes } : {}) };
  });
}
