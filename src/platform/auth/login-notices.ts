/**
 * The e-mails a login sends on its own (issue 3, M7): a notice when a block starts, an unlock
 * link when the account-wide limit for unknown sources trips, and a notice of a login from a new
 * device. They carry only the recipient's first name, a time and a link (M6, M18).
 *
 * Design note: the notices are written to the outbox in the same transaction as the failure or
 * success that causes them. Lockout notices go out at most once an hour per account
 * (claimLockoutNotice), so tripping blocks cannot be used to flood someone's inbox; the unlock
 * link is sent each time the account-wide block starts (itself at most every 15 minutes, then
 * doubling). A new-device notice is sent only when the account has logged in from somewhere
 * before, so a first login does not alarm anyone.
 */
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/context.ts';
import { enterContext } from '../db/context.ts';
import { audit, type AuditWho } from '../audit/audit.ts';
import { enqueueMail } from '../mail/mail.ts';
import type { Lang } from '../i18n/i18n.ts';
import { issueAccountToken, type TokenOwner } from './account-tokens.ts';
import { claimLockoutNotice, hasKnownSources, isKnownSource, type BlockScope } from './throttle.ts';

export type Recipient = { email: string; firstName: string; lang: Lang };

export function firstNameOf(name: string): string {
  return name.trim().split(/\s+/)[0] ?? '';
}

/** Who an account's notices go to, and in which language (the person's first active employment). */
export async function recipientOf(trx: Tx, owner: TokenOwner): Promise<Recipient | undefined> {
  if ('staffId' in owner) {
    const staff = await trx.selectFrom('staff_accounts').select(['email', 'name', 'language']).where('id', '=', owner.staffId).executeTakeFirst();
    return staff ? { email: staff.email, firstName: firstNameOf(staff.name), lang: staff.language } : undefined;
  }
  const user = await trx.selectFrom('users').select(['email', 'name']).where('id', '=', owner.userId).executeTakeFirst();
  if (!user) return undefined;
  const employment = await trx
    .selectFrom('employments')
    .select('language')
    .where('user_id', '=', owner.userId)
    .where('fired_at', 'is', null)
    .orderBy('created_at')
    .executeTakeFirst();
  return { email: user.email, firstName: firstNameOf(user.name), lang: employment?.language ?? 'da' };
}

/**
 * Audits the blocks a failure started and e-mails the account's owner. `owner` is undefined for
 * an e-mail address without an account (the block is kept all the same: no enumeration).
 * The transaction's context must admit the account's throttle rows (lookupEmail). It leaves the
 * context narrowed to the account's own identity, so call it as the transaction's last step.
 */
export async function afterBlocksStarted(
  trx: Tx,
  input: { owner: TokenOwner | undefined; subject: string; started: BlockScope[]; who: AuditWho; now: Date; lookupEmail: string },
): Promise<void> {
  const { owner, started, who, now } = input;
  for (const scope of started) await audit(trx, who, { type: 'auth.lockout', data: { scope } });
  if (!owner || started.length === 0) return;
  // The person's own rows (employments for the language, their link) need their identity in the context.
  await enterContext(trx, {
    ...('userId' in owner ? { userId: owner.userId } : { staffId: owner.staffId }),
    lookupEmail: input.lookupEmail,
  });
  const to = await recipientOf(trx, owner);
  if (!to) return;
  const firstNotice = await claimLockoutNotice(trx, input.subject, now);
  if (started.includes('unknown_sources') && !started.includes('hard_cap')) {
    const link = await issueAccountToken(trx, 'unlock', owner, now);
    await enqueueMail(trx, { to: to.email, lang: to.lang, template: 'account_unlock', model: { firstName: to.firstName, path: `/unlock/${link.token}`, expiresAt: link.expiresAt } });
    await audit(trx, who, { type: 'auth.unlock_link.sent' });
    return;
  }
  if (!firstNotice && !started.includes('hard_cap')) return;
  // When login opens again by itself (the latest block end); none for the hard cap (a reset is needed).
  const latest = started.includes('hard_cap')
    ? undefined
    : await trx
        .selectFrom('login_throttle')
        .select((eb) => eb.fn.max('blocked_until').as('until'))
        .where('subject', '=', input.subject)
        .where('blocked_until', '>', now)
        .where('blocked_until', '<', new Date('9999-01-01T00:00:00Z'))
        .executeTakeFirst();
  const until = latest?.until ? new Date(latest.until) : undefined;
  await enqueueMail(trx, { to: to.email, lang: to.lang, template: 'lockout', model: { firstName: to.firstName, until } });
  await mirrorNotice(trx, owner, 'lockout', now);
}

/**
 * Before a successful login is recorded: a login from a source the account has never logged in
 * from, when it has logged in from somewhere else before, gets a notice by e-mail.
 */
export async function noticeIfNewDevice(trx: Tx, input: { owner: TokenOwner; subject: string; source: string; now: Date }): Promise<boolean> {
  if (await isKnownSource(trx, input.subject, input.source)) return false;
  if (!(await hasKnownSources(trx, input.subject))) return false;
  const to = await recipientOf(trx, input.owner);
  if (!to) return false;
  await enqueueMail(trx, { to: to.email, lang: to.lang, template: 'new_device_login', model: { firstName: to.firstName, at: input.now } });
  await mirrorNotice(trx, input.owner, 'new_device_login', input.now);
  return true;
}

/** A second factor was added or removed (app, passkey): the owner is told, whoever did it. */
export async function noticeFactorChanged(trx: Tx, owner: TokenOwner, change: 'added' | 'removed', now: Date): Promise<void> {
  const to = await recipientOf(trx, owner);
  if (!to) return;
  await enqueueMail(trx, { to: to.email, lang: to.lang, template: 'second_factor_changed', model: { firstName: to.firstName, change, at: now } });
  await mirrorNotice(trx, owner, 'second_factor_changed', now);
}

/** The account notices that are mirrored as in-app notifications (issue 8), and where they point. */
export const ACCOUNT_NOTICE_PATHS = {
  lockout: '/account/sessions',
  new_device_login: '/account/sessions',
  second_factor_changed: '/account/two-factor',
  password_changed: '/account/sessions',
  email_changed_notice: '/account/email',
} as const;
export type AccountNotice = keyof typeof ACCOUNT_NOTICE_PATHS;

/**
 * Mirrors an account notice in the app, on the person's first active employment (staff have no
 * in-app list). Runs in the caller's transaction, whose context must name the user.
 */
export async function mirrorNotice(trx: Tx, owner: TokenOwner, kind: AccountNotice, at: Date): Promise<void> {
  if (!('userId' in owner)) return;
  const e = await trx
    .selectFrom('employments')
    .select(['id', 'company_id'])
    .where('user_id', '=', owner.userId)
    .where('fired_at', 'is', null)
    .orderBy('created_at')
    .executeTakeFirst();
  if (!e) return;
  await trx
    .insertInto('notifications')
    .values({ id: randomUUID(), company_id: e.company_id, employment_id: e.id, reminder: kind, deadline: null, path: ACCOUNT_NOTICE_PATHS[kind], created_at: at, digested_at: at })
    .execute();
}
