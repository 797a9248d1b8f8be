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
 * - Passkeys / security keys (WebAuthn): the options come from the server for this pending login;
 *   their challenge is stored in PostgreSQL with it (webauthn_challenges), lives 2 minutes and is
 *   taken by the first answer. A bad signature, an unknown or someone else's credential, a used or
 *   missing challenge and a signature counter that did not grow are all wrong answers, counted
 *   towards M7 exactly like a wrong code.
 */
import type { AppDeps } from '../../platform/deps.ts';
import { enterContext, withTenant } from '../../platform/db/context.ts';
import { createSession } from '../../platform/auth/sessions.ts';
import { audit, type AuditWho } from '../../platform/audit/audit.ts';
import { checkThrottle, recordFailure, recordSuccess, subjectFor } from '../../platform/auth/throttle.ts';
import { afterBlocksStarted, noticeFactorChanged, noticeIfNewDevice } from '../../platform/auth/login-notices.ts';
import { enforceRate, RATE_RULES } from '../../platform/auth/rate-limit.ts';
import { sha256Hex } from '../../platform/auth/tokens.ts';
import { staffNetwork } from '../../platform/http/staff-network.ts';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { RelyingParty } from '../../platform/auth/webauthn.ts';
import { assertionOptionsFor, auditPasskeyFailure, checkPasskeyAssertion } from '../twofactor/passkeys.service.ts';
import { countPasskeys } from '../twofactor/passkeys.repository.ts';
import {
  deletePendingLogin,
  findFactor,
  hasConfirmedTotp,
  findPendingLogin,
  replaceRecoveryCodes,
  useRecoveryCode,
  useTotpCode,
  type Owner,
} from '../twofactor/twofactor.repository.ts';

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export type PendingView = { purpose: 'verify'; totp: boolean; passkeys: boolean } | { purpose: 'enrol'; secret: string; email: string };

/** What the second-step page should show, or undefined when there is no live pending login. */
export async function findPendingStep(deps: AppDeps, token: string | undefined, ip: string): Promise<PendingView | undefined> {
  if (!token || !TOKEN_RE.test(token)) return undefined;
  const hash = sha256Hex(token);
  return withTenant(deps.database, { sessionHash: hash }, async (trx) => {
    const p = await findPendingLogin(trx, hash, deps.clock.now());
    if (!p) return undefined;
    if (p.staff_id && !staffNetwork(deps.config.staffAllowedCidrs)(ip)) return undefined;
    await enterContext(trx, { staffId: p.staff_id ?? undefined, userId: p.user_id ?? undefined, companyId: p.company_id ?? undefined, sessionHash: hash });
    if (p.purpose === 'verify') {
      const owner: Owner = p.staff_id ? { staffId: p.staff_id } : { userId: p.user_id ?? '' };
      return { purpose: 'verify', totp: await hasConfirmedTotp(trx, owner), passkeys: (await countPasskeys(trx, owner)) > 0 } as const;
    }
    const factor = await findFactor(trx, p.staff_id ? { staffId: p.staff_id } : { userId: p.user_id ?? '' });
    if (!factor || factor.confirmed_at) return undefined;
    return { purpose: 'enrol', secret: factor.secret, email: p.lookup_email } as const;
  });
}

/**
 * WebAuthn options for the pending login's passkeys, with a fresh challenge stored for it.
 * Undefined when there is no live pending login, or it is blocked, or the identity has no passkey.
 */
export async function passkeyLoginOptions(deps: AppDeps, input: { token: string | undefined; ip: string; rp: RelyingParty }): Promise<PublicKeyCredentialRequestOptionsJSON | undefined> {
  if (!input.token || !TOKEN_RE.test(input.token)) return undefined;
  const hash = sha256Hex(input.token);
  const now = deps.clock.now();
  return withTenant(deps.database, { sessionHash: hash }, async (trx) => {
    const p = await findPendingLogin(trx, hash, now);
    if (!p || p.purpose !== 'verify') return undefined;
    if (p.staff_id && !staffNetwork(deps.config.staffAllowedCidrs)(input.ip)) return undefined;
    await enterContext(trx, { userId: p.user_id ?? undefined, companyId: p.company_id ?? undefined, staffId: p.staff_id ?? undefined, lookupEmail: p.lookup_email, sessionHash: hash });
    if ((await checkThrottle(trx, subjectFor(p.lookup_email), p.source, now)).blocked) return undefined;
    const owner: Owner = p.staff_id ? { staffId: p.staff_id } : { userId: p.user_id ?? '' };
    return assertionOptionsFor(trx, owner, { purpose: 'login', pendingLoginId: p.id }, input.rp, now);
  });
}

export type SecondFactorMethod = 'totp' | 'recovery_code' | 'passkey';

export type SecondFactorResult =
  | { kind: 'none' }
  | { kind: 'blocked' }
  | { kind: 'wrong' }
  | { kind: 'ok'; token: string; actorKind: 'user' | 'staff'; next: string | null; recoveryCodes?: string[] };

export async function completeSecondFactor(
  deps: AppDeps,
  input: { token: string | undefined; code: string; method: SecondFactorMethod; ip: string; userAgent: string | undefined; rp: RelyingParty },
): Promise<SecondFactorResult> {
  await enforceRate(deps, RATE_RULES.secondFactorPerIp, input.ip);
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
      ? { companyId: null, actorStaffId: p.staff_id, ip: input.ip, userAgent: input.userAgent }
      : { companyId: p.company_id, actorUserId: p.user_id, ip: input.ip, userAgent: input.userAgent };
    const subject = subjectFor(p.lookup_email);
    const throttle = await checkThrottle(trx, subject, p.source, now);
    if (throttle.blocked) {
      await deletePendingLogin(trx, p.id);
      await audit(trx, who, { type: 'auth.login.blocked' });
      return { kind: 'blocked' };
    }

    let ok: boolean;
    let passkeyId: string | undefined;
    if (p.purpose === 'enrol') ok = input.method === 'totp' && (await useTotpCode(trx, owner, input.code, now, true));
    else if (input.method === 'recovery_code') ok = await useRecoveryCode(trx, owner, input.code, now);
    else if (input.method === 'passkey') {
      const r = await checkPasskeyAssertion(trx, owner, { purpose: 'login', pendingLoginId: p.id }, input.code, input.rp, now);
      if (!r.ok) await auditPasskeyFailure(trx, who, 'login', r.reason);
      ok = r.ok;
      passkeyId = r.ok ? r.passkeyId : undefined;
    } else ok = await useTotpCode(trx, owner, input.code, now, false);

    if (!ok) {
      await audit(trx, who, { type: 'auth.second_factor.failed', data: { method: input.method } });
      const started = await recordFailure(trx, subject, p.source, throttle.knownSource, now);
      if (started.length > 0) await deletePendingLogin(trx, p.id);
      // Audits the blocks and e-mails the owner (lockout notice, unlock link); narrows the context last.
      await afterBlocksStarted(trx, { owner, subject, started, who, now, lookupEmail: p.lookup_email });
      return started.length > 0 ? { kind: 'blocked' } : { kind: 'wrong' };
    }

    await noticeIfNewDevice(trx, { owner, subject, source: p.source, now });
    await recordSuccess(trx, subject, p.source, now);
    await deletePendingLogin(trx, p.id);
    let recoveryCodes: string[] | undefined;
    if (p.purpose === 'enrol') {
      recoveryCodes = await replaceRecoveryCodes(trx, owner, now);
      await audit(trx, who, { type: 'auth.second_factor.enrolled', data: { method: 'totp' } });
      await noticeFactorChanged(trx, owner, 'added', now);
    }
    if (input.method === 'recovery_code') await audit(trx, who, { type: 'auth.recovery_code.used' });
    if (passkeyId) await audit(trx, who, { type: 'auth.passkey.used', objectType: 'webauthn_credential', objectId: passkeyId });
    await audit(trx, who, { type: 'auth.second_factor.succeeded', data: { method: input.method } });
    const subjectIds = p.staff_id ? { staffId: p.staff_id } : { userId: p.user_id ?? '', companyId: p.company_id ?? '' };
    const session = await createSession(trx, subjectIds, { ip: input.ip, userAgent: input.userAgent, now, policy: deps.config.session });
    await audit(trx, who, { type: 'auth.login.succeeded', objectType: 'session', objectId: session.id });
    return { kind: 'ok', token: session.token, actorKind: p.staff_id ? 'staff' : 'user', next: p.next, ...(recoveryCodes ? { recoveryCodes } : {}) };
  });
}
