/**
 * Invitations, password resets, unlock links and e-mail changes (issue 3; M6, M7, M18).
 *
 * Design note:
 * - Every link is single use, short-lived and carries no personal data (account-tokens.ts).
 * - "Forgot password" answers the same whether or not the address has an account, and sends at
 *   most 3 links an hour per address (more requests are answered the same, silently dropped) and
 *   20 an hour per IP address (429): no enumeration, no mail bombing.
 * - A reset sets the password and ends every session and half-finished login; it never logs in.
 *   The next login asks for the second factor as usual, so a reset never bypasses it. A reset
 *   also lifts every M7 block, including the hard cap.
 * - An invitation lets the new person choose a password; the login that follows enrols a second
 *   factor where the company requires one (the same path as any login).
 * - The unlock link lifts the account-wide block on unknown sources (it is sent when that block
 *   starts) and the block of the browser it is opened in; it does not lift the hard cap.
 * - Changing the e-mail address needs the current password and the second factor; the new address
 *   must confirm by link before it becomes the login, and the old address gets a notice.
 * - Link pages never act on GET (mail scanners open links): the page has a button that POSTs.
 */
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import { enterContext, withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor, type AuditWho } from '../../platform/audit/audit.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { ownAccountContext, passwordHashOf } from '../../platform/auth/own-account.ts';
import { findLiveToken, issueAccountToken, spendToken, LINK_TOKEN_RE, type LiveToken, type TokenOwner } from '../../platform/auth/account-tokens.ts';
import { afterBlocksStarted, firstNameOf, mirrorNotice, recipientOf } from '../../platform/auth/login-notices.ts';
import { enforceRate, hitRate, RATE_RULES } from '../../platform/auth/rate-limit.ts';
import { checkNewPassword, type PasswordProblem } from '../../platform/auth/password-policy.ts';
import { checkThrottle, liftAllBlocks, liftUnknownSourcesBlock, recordFailure, subjectFor } from '../../platform/auth/throttle.ts';
import { sha256Hex } from '../../platform/auth/tokens.ts';
import { staffNetwork } from '../../platform/http/staff-network.ts';
import { enqueueMail } from '../../platform/mail/mail.ts';
import type { Lang } from '../../platform/i18n/i18n.ts';
import { confirmSecondFactor, reauthFactor, type ReauthFactor } from '../twofactor/passkeys.service.ts';
import type { RelyingParty } from '../../platform/auth/webauthn.ts';
import { ownerOf } from '../twofactor/twofactor.policy.ts';
import { rulesForIdentity, type PasswordIdentity } from '../account/password.service.ts';

// ---------------------------------------------------------------- shared

type LinkIdentity = PasswordIdentity & { owner: TokenOwner; email: string; hasPassword: boolean; disabled: boolean };

/** Opens the link's row (by its hash) and the identity it belongs to, in one transaction. */
async function withLink<T>(
  deps: AppDeps,
  token: string,
  purpose: LiveToken['purpose'],
  fn: (trx: Tx, link: LiveToken, who: LinkIdentity) => Promise<T>,
): Promise<T | undefined> {
  if (!LINK_TOKEN_RE.test(token)) return undefined;
  const hash = sha256Hex(token);
  return withTenant(deps.database, { sessionHash: hash }, async (trx) => {
    const link = await findLiveToken(trx, token, purpose, deps.clock.now());
    if (!link) return undefined;
    let who: LinkIdentity | undefined;
    if (link.userId) {
      await enterContext(trx, { userId: link.userId, companyId: link.companyId ?? undefined, sessionHash: hash });
      const u = await trx.selectFrom('users').select(['email', 'name', 'password_hash', 'disabled_at']).where('id', '=', link.userId).executeTakeFirst();
      if (u) {
        who = { kind: 'user', userId: link.userId, name: u.name, email: u.email, owner: { userId: link.userId }, hasPassword: u.password_hash !== null, disabled: u.disabled_at !== null };
      }
    } else if (link.staffId) {
      await enterContext(trx, { staffId: link.staffId, sessionHash: hash });
      const s = await trx.selectFrom('staff_accounts').select(['email', 'name', 'password_hash', 'disabled_at']).where('id', '=', link.staffId).executeTakeFirst();
      if (s) who = { kind: 'staff', name: s.name, email: s.email, owner: { staffId: link.staffId }, hasPassword: s.password_hash !== null, disabled: s.disabled_at !== null };
    }
    if (!who || who.disabled) return undefined;
    // Lets the account's own throttle rows be reached (blocks are lifted by resets and unlocks).
    await enterContext(trx, { ...('userId' in who.owner ? { userId: who.owner.userId } : { staffId: who.owner.staffId }), companyId: link.companyId ?? undefined, sessionHash: hash, lookupEmail: who.email });
    return fn(trx, link, who);
  });
}

function whoOf(who: LinkIdentity, companyId: string | null, ip: string): AuditWho {
  return 'userId' in who.owner ? { companyId, actorUserId: who.owner.userId, ip } : { companyId: null, actorStaffId: who.owner.staffId, ip };
}

export type NewPasswordErrors = { next?: 'required' | PasswordProblem[]; repeat?: 'mismatch' };

function checkPasswordPair(next: string, repeat: string, rules: { minLength: number; names: string[] }): NewPasswordErrors {
  const errors: NewPasswordErrors = {};
  if (next === '') errors.next = 'required';
  else {
    const problems = checkNewPassword({ password: next, minLength: rules.minLength, names: rules.names });
    if (problems.length > 0) errors.next = problems;
  }
  if (next !== '' && repeat !== next) errors.repeat = 'mismatch';
  return errors;
}

/** Ends every session and half-finished login of the identity (after a new password). */
async function endEverything(trx: Tx, owner: TokenOwner): Promise<number> {
  if ('userId' in owner) {
    const deleted = await trx.deleteFrom('sessions').where('user_id', '=', owner.userId).executeTakeFirst();
    await sql`delete from pending_logins where user_id = ${owner.userId}`.execute(trx);
    return Number(deleted.numDeletedRows);
  }
  const deleted = await trx.deleteFrom('sessions').where('staff_id', '=', owner.staffId).executeTakeFirst();
  await sql`delete from pending_logins where staff_id = ${owner.staffId}`.execute(trx);
  return Number(deleted.numDeletedRows);
}

async function setPassword(trx: Tx, owner: TokenOwner, hash: string): Promise<void> {
  if ('userId' in owner) await trx.updateTable('users').set({ password_hash: hash }).where('id', '=', owner.userId).execute();
  else await trx.updateTable('staff_accounts').set({ password_hash: hash }).where('id', '=', owner.staffId).execute();
}

// ---------------------------------------------------------------- forgot / reset

/** Always "done": the answer never tells whether the address has an account. */
export async function requestPasswordReset(deps: AppDeps, input: { email: string; ip: string }): Promise<void> {
  await enforceRate(deps, RATE_RULES.resetRequestPerIp, input.ip);
  const email = input.email.trim().toLowerCase();
  const now = deps.clock.now();
  await withTenant(deps.database, { lookupEmail: email }, async (trx) => {
    // Per address: quietly dropped past the limit, with the same answer.
    if (!(await hitRate(trx, RATE_RULES.resetRequestPerEmail, email, now))) return;
    const user = await trx.selectFrom('users').select(['id', 'disabled_at']).where((eb) => eb(eb.fn('lower', ['email']), '=', email)).executeTakeFirst();
    const staff = user
      ? undefined
      : await trx.selectFrom('staff_accounts').select(['id', 'disabled_at']).where((eb) => eb(eb.fn('lower', ['email']), '=', email)).executeTakeFirst();
    const owner: TokenOwner | undefined = user && !user.disabled_at ? { userId: user.id } : staff && !staff.disabled_at ? { staffId: staff.id } : undefined;
    if (!owner) return;
    await enterContext(trx, { ...('userId' in owner ? { userId: owner.userId } : { staffId: owner.staffId }), lookupEmail: email });
    const to = await recipientOf(trx, owner);
    if (!to) return;
    const link = await issueAccountToken(trx, 'password_reset', owner, now);
    await enqueueMail(trx, { to: to.email, lang: to.lang, template: 'password_reset', model: { firstName: to.firstName, path: `/password/reset/${link.token}`, expiresAt: link.expiresAt } });
    const who: AuditWho = 'userId' in owner ? { companyId: null, actorUserId: owner.userId, ip: input.ip } : { companyId: null, actorStaffId: owner.staffId, ip: input.ip };
    await audit(trx, who, { type: 'auth.password_reset.requested' });
  });
}

export type LinkPage = { minLength: number; firstName: string };

/** What the reset page needs, or undefined for a used, expired or unknown link. */
export async function resetPage(deps: AppDeps, token: string, ip: string): Promise<LinkPage | undefined> {
  return withLink(deps, token, 'password_reset', async (trx, _link, who) => {
    if (who.kind === 'staff' && !staffNetwork(deps.config.staffAllowedCidrs)(ip)) return undefined;
    return { minLength: (await rulesForIdentity(trx, who)).minLength, firstName: firstNameOf(who.name) };
  });
}

export type SetPasswordResult = { kind: 'invalid' } | { kind: 'errors'; errors: NewPasswordErrors; minLength: number } | { kind: 'ok'; email: string };

/**
 * Sets the password from a reset or invitation link. The hash is made between two transactions
 * (Argon2 never holds a connection); the link is checked again and spent with the change.
 */
export async function completeSetPassword(
  deps: AppDeps,
  purpose: 'password_reset' | 'invitation',
  input: { token: string; next: string; repeat: string; ip: string },
): Promise<SetPasswordResult> {
  const staffOk = staffNetwork(deps.config.staffAllowedCidrs)(input.ip);
  const first = await withLink(deps, input.token, purpose, async (trx, _link, who) => {
    if (who.kind === 'staff' && !staffOk) return undefined;
    const rules = await rulesForIdentity(trx, who);
    return { rules, errors: checkPasswordPair(input.next, input.repeat, rules) };
  });
  if (!first) return { kind: 'invalid' };
  if (Object.keys(first.errors).length > 0) return { kind: 'errors', errors: first.errors, minLength: first.rules.minLength };
  const hash = await deps.hasher.hash(input.next);
  const now = deps.clock.now();
  const done = await withLink(deps, input.token, purpose, async (trx, link, who) => {
    if (!(await spendToken(trx, link.id, now))) return undefined;
    await setPassword(trx, who.owner, hash);
    const ended = await endEverything(trx, who.owner);
    await liftAllBlocks(trx, subjectFor(who.email), now);
    const auditWho = whoOf(who, link.companyId, input.ip);
    if (purpose === 'invitation') {
      await audit(trx, auditWho, { type: 'auth.invitation.accepted' });
    } else {
      await audit(trx, auditWho, { type: 'auth.password_reset.completed', data: { sessionsEnded: ended } });
      const to = await recipientOf(trx, who.owner);
      if (to) await enqueueMail(trx, { to: to.email, lang: to.lang, template: 'password_changed', model: { firstName: to.firstName, at: now } });
      await mirrorNotice(trx, who.owner, 'password_changed', now);
    }
    return who.email;
  });
  return done ? { kind: 'ok', email: done } : { kind: 'invalid' };
}

// ---------------------------------------------------------------- invitations

/** What the invitation page needs, or undefined for a used, expired or unknown link. */
export async function invitationPage(deps: AppDeps, token: string): Promise<(LinkPage & { companyName: string; email: string }) | undefined> {
  return withLink(deps, token, 'invitation', async (trx, link, who) => {
    const company = await trx.selectFrom('companies').select('name').where('id', '=', link.companyId ?? '').executeTakeFirst();
    if (!company) return undefined;
    return { minLength: (await rulesForIdentity(trx, who)).minLength, firstName: firstNameOf(who.name), companyName: company.name, email: who.email };
  });
}

/**
 * Invites a person who has no password yet to the current company: a 72-hour link by e-mail.
 * Runs inside the admin's transaction (company context), e.g. when an employee is created.
 */
export async function sendInvitation(
  trx: Tx,
  input: { userId: string; companyId: string; companyName: string; email: string; name: string; lang: Lang; who: AuditWho; now: Date },
): Promise<void> {
  const link = await issueAccountToken(trx, 'invitation', { userId: input.userId }, input.now, { companyId: input.companyId });
  await enqueueMail(trx, {
    to: input.email,
    lang: input.lang,
    template: 'invitation',
    model: { firstName: firstNameOf(input.name), companyName: input.companyName, path: `/invitation/${link.token}`, expiresAt: link.expiresAt },
  });
  await audit(trx, input.who, { type: 'auth.invitation.sent', objectType: 'user', objectId: input.userId });
}

// ---------------------------------------------------------------- unlock

export async function unlockPage(deps: AppDeps, token: string): Promise<{ firstName: string } | undefined> {
  return withLink(deps, token, 'unlock', async (_trx, _link, who) => ({ firstName: firstNameOf(who.name) }));
}

export async function completeUnlock(deps: AppDeps, input: { token: string; source: string; ip: string }): Promise<boolean> {
  const now = deps.clock.now();
  const done = await withLink(deps, input.token, 'unlock', async (trx, link, who) => {
    if (!(await spendToken(trx, link.id, now))) return false;
    await liftUnknownSourcesBlock(trx, subjectFor(who.email), input.source, now);
    await audit(trx, whoOf(who, null, input.ip), { type: 'auth.unlocked', data: { via: 'link' } });
    return true;
  });
  return done === true;
}

// ---------------------------------------------------------------- e-mail change

export type EmailChangeErrors = { email?: 'required' | 'invalid' | 'same'; current?: 'required' | 'wrong'; code?: 'required' | 'wrong' };

/** Which second factor the change-e-mail form asks for. */
export async function emailChangeFactor(deps: AppDeps, actor: Actor): Promise<ReauthFactor> {
  return withTenant(deps.database, ownAccountContext(actor), (trx) => reauthFactor(trx, ownerOf(actor)));
}

/**
 * Step one: the current password and second factor again (ASVS 6.2.x, issue 3), then a link to
 * the new address. Wrong password or code count towards the M7 block like a failed login.
 */
export async function requestEmailChange(
  deps: AppDeps,
  actor: Actor,
  input: { email: string; current: string; code: string; passkeyResponse: string; rp: RelyingParty; source: string; ip: string },
): Promise<{ ok: true } | { ok: false; errors: EmailChangeErrors }> {
  const subject = subjectFor(actor.email);
  const newEmail = input.email.trim().toLowerCase();
  const found = await withTenant(deps.database, ownAccountContext(actor), async (trx) => ({
    throttle: await checkThrottle(trx, subject, input.source, deps.clock.now()),
    hash: await passwordHashOf(trx, actor),
    factor: await reauthFactor(trx, ownerOf(actor)),
  }));
  const errors: EmailChangeErrors = {};
  if (newEmail === '') errors.email = 'required';
  else if (newEmail.length > 254 || !/^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/.test(newEmail)) errors.email = 'invalid';
  else if (newEmail === actor.email.toLowerCase()) errors.email = 'same';
  if (input.current === '') errors.current = 'required';
  const currentOk = input.current !== '' && (await deps.hasher.verify(found.hash, input.current)) && !found.throttle.blocked;
  if (input.current !== '' && !currentOk) errors.current = 'wrong';
  if (found.factor === 'totp' && input.code.trim() === '') errors.code = 'required';
  if (found.factor === 'passkey' && input.passkeyResponse === '') errors.code = 'required';

  const now = deps.clock.now();
  const who = whoFromActor(actor, input.ip);
  const refuse = async (trx: Tx) => {
    if (errors.code === 'wrong') await audit(trx, who, { type: 'auth.second_factor.failed', data: { step: 'email_change' } });
    if (errors.current === 'wrong' || errors.code) {
      const started = await recordFailure(trx, subject, input.source, found.throttle.knownSource, now);
      await afterBlocksStarted(trx, { owner: ownerOf(actor), subject, started, who, now, lookupEmail: actor.email.toLowerCase() });
    }
    return { ok: false as const, errors };
  };
  if (Object.keys(errors).length > 0) return withTenant(deps.database, ownAccountContext(actor), refuse);
  return withTenant(deps.database, ownAccountContext(actor), async (trx) => {
    const factorOk = found.factor === 'none' || (await confirmSecondFactor(trx, actor, { code: input.code, passkeyResponse: input.passkeyResponse, rp: input.rp, ip: input.ip, now }));
    if (!factorOk) {
      errors.code = 'wrong';
      return refuse(trx);
    }
    const owner = ownerOf(actor);
    const link = await issueAccountToken(trx, 'email_change', owner, now, { newEmail });
    await enqueueMail(trx, { to: newEmail, lang: actor.lang, template: 'email_change_confirm', model: { firstName: firstNameOf(actor.name), path: `/email-change/${link.token}`, expiresAt: link.expiresAt } });
    await audit(trx, who, { type: 'auth.email_change.requested' });
    return { ok: true as const };
  });
}

export async function emailChangePage(deps: AppDeps, token: string): Promise<{ firstName: string; newEmail: string } | undefined> {
  return withLink(deps, token, 'email_change', async (_trx, link, who) => ({ firstName: firstNameOf(who.name), newEmail: link.newEmail ?? '' }));
}

export type EmailChangeResult = { kind: 'invalid' } | { kind: 'taken' } | { kind: 'ok' };

/** Step two, from the new address: it becomes the login, and the old address gets a notice. */
export async function completeEmailChange(deps: AppDeps, input: { token: string; ip: string }): Promise<EmailChangeResult> {
  const now = deps.clock.now();
  const result = await withLink(deps, input.token, 'email_change', async (trx, link, who): Promise<EmailChangeResult> => {
    const newEmail = link.newEmail ?? '';
    // Look the new address up (and only it) to refuse one that is already a login.
    await enterContext(trx, { ...('userId' in who.owner ? { userId: who.owner.userId } : { staffId: who.owner.staffId }), sessionHash: sha256Hex(input.token), lookupEmail: newEmail });
    const clashUser = await trx.selectFrom('users').select('id').where((eb) => eb(eb.fn('lower', ['email']), '=', newEmail)).executeTakeFirst();
    const clashStaff = await trx.selectFrom('staff_accounts').select('id').where((eb) => eb(eb.fn('lower', ['email']), '=', newEmail)).executeTakeFirst();
    if (clashUser || clashStaff) return { kind: 'taken' };
    if (!(await spendToken(trx, link.id, now))) return { kind: 'invalid' };
    const to = await recipientOf(trx, who.owner);
    if ('userId' in who.owner) await trx.updateTable('users').set({ email: newEmail }).where('id', '=', who.owner.userId).execute();
    else await trx.updateTable('staff_accounts').set({ email: newEmail }).where('id', '=', who.owner.staffId).execute();
    await audit(trx, whoOf(who, null, input.ip), { type: 'auth.email.changed' });
    if (to) await enqueueMail(trx, { to: who.email, lang: to.lang, template: 'email_changed_notice', model: { firstName: to.firstName, at: now } });
    await mirrorNotice(trx, who.owner, 'email_changed_notice', now);
    return { kind: 'ok' };
  });
  return result ?? { kind: 'invalid' };
}
