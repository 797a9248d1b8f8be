/**
 * The one way to send an e-mail: `enqueueMail(trx, ...)` writes a row to the outbox
 * (`mail_outbox`) inside the caller's transaction, so the mail exists if and only if the change
 * that caused it commits. The delivery job (delivery.ts) sends it later, with retries.
 *
 * What a mail may contain (M6/M18): the recipient's first name, the company name, what kind of
 * task it is, a time or deadline, and a link into this portal. Never another person's name,
 * answers, scores, notes or file names. The model types below allow nothing else, the zod
 * schemas in templates.ts drop any extra field before the row is written, and links are built
 * from PUBLIC_URL plus a path, so a mail can only point into the portal.
 */
import { sql } from 'kysely';
import type { Tx } from '../db/context.ts';
import type { Lang } from '../i18n/i18n.ts';
import { parseModel } from './templates.ts';

/** A path inside the portal, starting with a single "/", e.g. `/invitation/<token>`. */
export type PortalPath = string;

/** Each template and the only data it may carry. Dates are points in time; the mail formats them in the recipient's language. */
export type MailModels = {
  invitation: { firstName: string; companyName: string; path: PortalPath; expiresAt: Date };
  password_reset: { firstName: string; path: PortalPath; expiresAt: Date };
  account_unlock: { firstName: string; path: PortalPath; expiresAt: Date };
  /** Too many failed logins; `until` is when login opens again by itself, if it does. */
  lockout: { firstName: string; until?: Date | undefined };
  new_device_login: { firstName: string; at: Date };
  second_factor_changed: { firstName: string; change: 'added' | 'removed'; at: Date };
  password_changed: { firstName: string; at: Date };
  /** Sent to the NEW address: confirm it by following the link. */
  email_change_confirm: { firstName: string; path: PortalPath; expiresAt: Date };
  /** Sent to the OLD address after the change. Deliberately without the new address. */
  email_changed_notice: { firstName: string; at: Date };
  /** A dialogue reminder (issue 8): what kind of task, a date where one applies, a link. */
  reminder: { firstName: string; companyName: string; reminder: ReminderKind; deadline?: Date | undefined; path: PortalPath };
  /** The day's reminders in one mail, for people who chose a daily digest; links to the in-app list. */
  digest: { firstName: string; companyName: string; items: { reminder: ReminderKind; deadline?: Date | undefined }[]; path: PortalPath };
  /** To every company admin: support access was given (until), used for the first time, or withdrawn. */
  support_access: { firstName: string; companyName: string; change: 'given' | 'used' | 'withdrawn'; at: Date; until?: Date | undefined; path: PortalPath };
  /** To every company admin (issue 6, M16): termination started, two days left, or cancelled; purgeAt is when everything is deleted. */
  company_termination: { firstName: string; companyName: string; change: 'started' | 'two_days_left' | 'cancelled'; purgeAt: Date; path: PortalPath };
};

export type MailTemplate = keyof MailModels;

/** The reminders and notices about dialogues (issue 8); none of them names another person. */
export const REMINDER_KINDS = [
  'round_invitation',
  'preparation_due_soon',
  'preparation_overdue',
  'both_prepared',
  'meeting_tomorrow',
  'sign_off_waiting',
  'agreement_follow_up',
  'sickness_dialogue_due',
  'nudge',
  /** To the responsible leader: a member of a group dialogue (GRUS) asked for an individual MUS. */
  'mus_requested',
] as const;
export type ReminderKind = (typeof REMINDER_KINDS)[number];

export const MAIL_TEMPLATES = [
  'invitation',
  'password_reset',
  'account_unlock',
  'lockout',
  'new_device_login',
  'second_factor_changed',
  'password_changed',
  'email_change_confirm',
  'email_changed_notice',
  'support_access',
  'company_termination',
  'reminder',
  'digest',
] as const satisfies readonly MailTemplate[];

export type MailRequest<T extends MailTemplate = MailTemplate> = {
  to: string;
  lang: Lang;
  template: T;
  model: MailModels[T];
  /**
   * The company the mail belongs to. Defaults to the transaction's company context
   * (app.company_id), or none for staff and pre-login mails. Row-level security only lets the
   * app role write the current company (or none when there is no company context).
   */
  companyId?: string | null | undefined;
};

/**
 * Adds a mail to the outbox in the caller's transaction and returns its id. Throws on an invalid
 * model or address (a programming error, not user input): validate user input before this.
 */
export async function enqueueMail<T extends MailTemplate>(trx: Tx, mail: MailRequest<T>): Promise<string> {
  const to = mail.to.trim();
  if (!/^[^\s@<>",;]+@[^\s@<>",;]+$/.test(to) || to.length > 254) throw new Error('enqueueMail: invalid recipient address');
  const model = parseModel(mail.template, mail.model);
  const id = crypto.randomUUID();
  const companyId = mail.companyId === undefined ? sql<string | null>`app_company_id()` : mail.companyId;
  await trx
    .insertInto('mail_outbox')
    .values({
      id,
      company_id: companyId,
      recipient: to,
      language: mail.lang,
      template: mail.template,
      model: JSON.stringify(model),
    })
    .execute();
  return id;
}
