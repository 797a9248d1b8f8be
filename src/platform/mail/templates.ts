/**
 * Mail templates: a zod schema per template (the only fields a mail may carry, M6/M18) and the
 * rendering to a subject, a plain-text part and a simple HTML part in the recipient's language.
 *
 * The HTML part is rendered with preact-render-to-string, so every value is escaped. Subjects
 * carry no model values at all (no header injection, no names in mailbox previews). Links are
 * PUBLIC_URL plus a validated path, so a mail can only point into the portal.
 *
 * Adding a template (for example issue 8's round reminders): add its model to MailModels in
 * mail.ts, its schema to `schemas` below, its texts to mail.i18n.ts and a case to `bodyLines`.
 */
import { h, type VNode } from 'preact';
import { render } from 'preact-render-to-string';
import { z } from 'zod';
import { formatDate, formatDateTime, translator, type Lang } from '../i18n/i18n.ts';
import { REMINDER_KINDS, type MailModels, type MailTemplate, type ReminderKind } from './mail.ts';
import { mailMessages, type MailMessageKey } from './mail.i18n.ts';

// A first name: one line, no control characters, short. Only the first word of a full name
// should be passed, but we cut it down here too.
const firstName = z
  .string()
  .transform((v) => v.replace(/[\p{Cc}\p{Cf}]+/gu, ' ').trim().split(/\s+/)[0] ?? '')
  .pipe(z.string().max(100));
const companyName = z
  .string()
  .transform((v) => v.replace(/[\p{Cc}\p{Cf}]+/gu, ' ').trim())
  .pipe(z.string().min(1).max(200));
// A path inside the portal: one leading slash (never "//host"), no backslash, no whitespace.
const path = z.string().regex(/^\/(?![/\\])[^\s\\]*$/, 'must be a path inside the portal').max(2000);
const when = z.coerce.date();

const schemas = {
  invitation: z.object({ firstName, companyName, path, expiresAt: when }),
  password_reset: z.object({ firstName, path, expiresAt: when }),
  account_unlock: z.object({ firstName, path, expiresAt: when }),
  lockout: z.object({ firstName, until: when.optional() }),
  new_device_login: z.object({ firstName, at: when }),
  second_factor_changed: z.object({ firstName, change: z.enum(['added', 'removed']), at: when }),
  password_changed: z.object({ firstName, at: when }),
  email_change_confirm: z.object({ firstName, path, expiresAt: when }),
  email_changed_notice: z.object({ firstName, at: when }),
  reminder: z.object({ firstName, companyName, reminder: z.enum(REMINDER_KINDS), deadline: when.optional(), path }),
  digest: z.object({ firstName, companyName, items: z.array(z.object({ reminder: z.enum(REMINDER_KINDS), deadline: when.optional() })).min(1).max(100), path }),
  support_access: z.object({ firstName, companyName, change: z.enum(['given', 'used', 'withdrawn']), at: when, until: when.optional(), path }),
  company_termination: z.object({ firstName, companyName, change: z.enum(['started', 'two_days_left', 'cancelled']), purgeAt: when, path }),
} satisfies { [T in MailTemplate]: z.ZodType<MailModels[T], unknown> };

export function isMailTemplate(value: string): value is MailTemplate {
  return Object.hasOwn(schemas, value);
}

/** Validates a model and drops every field the template does not know (zod objects strip unknown keys). */
export function parseModel<T extends MailTemplate>(template: T, model: unknown): MailModels[T] {
  const schema = schemas[template] as unknown as z.ZodType<MailModels[T], unknown>;
  const parsed = schema.safeParse(model);
  if (!parsed.success) throw new Error(`mail model for ${template} is invalid: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  return parsed.data;
}

export type RenderedMail = { subject: string; text: string; html: string; link: string | undefined };

type Line = { key: MailMessageKey; params?: Record<string, string> };

/** Builds the absolute link: PUBLIC_URL (default http://localhost:3000) plus the path. */
export function portalLink(publicUrl: string | undefined, path: string): string {
  const base = new URL(publicUrl ?? 'http://localhost:3000');
  return base.origin + base.pathname.replace(/\/$/, '') + path;
}

const REMINDER_LINE: Record<ReminderKind, MailMessageKey> = {
  round_invitation: 'remRoundInvitation',
  preparation_due_soon: 'remPreparationDueSoon',
  preparation_overdue: 'remPreparationOverdue',
  both_prepared: 'remBothPrepared',
  meeting_tomorrow: 'remMeetingTomorrow',
  sign_off_waiting: 'remSignOffWaiting',
  agreement_follow_up: 'remAgreementFollowUp',
  sickness_dialogue_due: 'remSicknessDue',
  nudge: 'remNudge',
  mus_requested: 'remMusRequested',
};

function dateOnly(lang: Lang, d: Date): string {
  return formatDate(lang, d);
}

function bodyLines(template: MailTemplate, m: Record<string, unknown>, lang: Lang): { subject: MailMessageKey; lines: Line[]; linkLabel?: MailMessageKey } {
  const at = (d: unknown) => formatDateTime(lang, d as Date);
  switch (template) {
    case 'invitation':
      return {
        subject: 'invitationSubject',
        lines: [{ key: 'invitationBody', params: { company: m.companyName as string } }, { key: 'linkExpires', params: { time: at(m.expiresAt) } }],
        linkLabel: 'invitationLink',
      };
    case 'password_reset':
      return {
        subject: 'resetSubject',
        lines: [{ key: 'resetBody' }, { key: 'linkExpires', params: { time: at(m.expiresAt) } }, { key: 'notYou' }],
        linkLabel: 'resetLink',
      };
    case 'account_unlock':
      return {
        subject: 'unlockSubject',
        lines: [{ key: 'unlockBody' }, { key: 'linkExpires', params: { time: at(m.expiresAt) } }, { key: 'notYouSecurity' }],
        linkLabel: 'unlockLink',
      };
    case 'lockout':
      return {
        subject: 'lockoutSubject',
        lines: [
          { key: 'lockoutBody' },
          m.until ? { key: 'lockoutUntil', params: { time: at(m.until) } } : { key: 'lockoutNoUntil' },
          { key: 'notYouSecurity' },
        ],
      };
    case 'new_device_login':
      return { subject: 'newDeviceSubject', lines: [{ key: 'newDeviceBody', params: { time: at(m.at) } }, { key: 'notYouSecurity' }] };
    case 'second_factor_changed':
      return {
        subject: 'secondFactorSubject',
        lines: [{ key: m.change === 'added' ? 'secondFactorAdded' : 'secondFactorRemoved', params: { time: at(m.at) } }, { key: 'notYouSecurity' }],
      };
    case 'password_changed':
      return { subject: 'passwordChangedSubject', lines: [{ key: 'passwordChangedBody', params: { time: at(m.at) } }, { key: 'notYouSecurity' }] };
    case 'email_change_confirm':
      return {
        subject: 'emailConfirmSubject',
        lines: [{ key: 'emailConfirmBody' }, { key: 'linkExpires', params: { time: at(m.expiresAt) } }, { key: 'notYou' }],
        linkLabel: 'emailConfirmLink',
      };
    case 'email_changed_notice':
      return { subject: 'emailChangedSubject', lines: [{ key: 'emailChangedBody', params: { time: at(m.at) } }, { key: 'notYouSecurity' }] };
    case 'reminder': {
      const deadline = m.deadline ? dateOnly(lang, m.deadline as Date) : '';
      return {
        subject: 'reminderSubject',
        lines: [{ key: REMINDER_LINE[m.reminder as ReminderKind], params: { company: m.companyName as string, deadline } }],
        linkLabel: 'reminderLink',
      };
    }
    case 'digest': {
      const items = m.items as { reminder: ReminderKind; deadline?: Date }[];
      return {
        subject: 'digestSubject',
        lines: [
          { key: 'digestIntro', params: { company: m.companyName as string, n: String(items.length) } },
          ...items.map((i) => ({ key: REMINDER_LINE[i.reminder], params: { company: m.companyName as string, deadline: i.deadline ? dateOnly(lang, i.deadline) : '' } })),
        ],
        linkLabel: 'digestLink',
      };
    }
    case 'support_access': {
      const params = { company: m.companyName as string, time: at(m.at), until: m.until ? at(m.until) : '' };
      const key = m.change === 'given' ? 'supportGivenBody' : m.change === 'used' ? 'supportUsedBody' : 'supportWithdrawnBody';
      return { subject: 'supportSubject', lines: [{ key, params }, { key: 'supportAudit' }], linkLabel: 'supportLink' };
    }
    case 'company_termination': {
      const params = { company: m.companyName as string, time: at(m.purgeAt) };
      if (m.change === 'cancelled') return { subject: 'terminationCancelledSubject', lines: [{ key: 'terminationCancelledBody', params }], linkLabel: 'terminationLink' };
      const first: Line = m.change === 'started' ? { key: 'terminationStartedBody', params } : { key: 'terminationSoonBody', params };
      return { subject: m.change === 'started' ? 'terminationStartedSubject' : 'terminationSoonSubject', lines: [first, { key: 'terminationCancelHint' }], linkLabel: 'terminationLink' };
    }
  }
}

/** Renders one mail. `model` is validated again, so a row written by hand cannot smuggle in a field. */
export function renderMail(template: MailTemplate, rawModel: unknown, lang: Lang, publicUrl: string | undefined): RenderedMail {
  const model = parseModel(template, rawModel) as Record<string, unknown>;
  const t = translator(lang, mailMessages);
  const { subject, lines, linkLabel } = bodyLines(template, model, lang);
  const name = model.firstName as string;
  const greeting = name ? t('greeting', { name }) : t('greetingNoName');
  const link = typeof model.path === 'string' ? portalLink(publicUrl, model.path) : undefined;
  const paragraphs = lines.map((l) => t(l.key, l.params));

  const text = [
    greeting,
    '',
    ...paragraphs.flatMap((p, i) => (i === 0 && link && linkLabel ? [p, '', `${t(linkLabel)}:`, link, ''] : [p, ''])),
    t('signature'),
    '',
    t('automatic'),
    '',
  ].join('\n');

  const body: VNode[] = [h('p', null, greeting)];
  paragraphs.forEach((p, i) => {
    body.push(h('p', null, p));
    if (i === 0 && link && linkLabel) body.push(h('p', null, h('a', { href: link }, t(linkLabel))), h('p', null, link));
  });
  body.push(h('p', null, t('signature')), h('p', null, h('small', null, t('automatic'))));
  const html =
    '<!doctype html>' +
    render(
      h('html', { lang }, [
        h('head', null, [h('meta', { charset: 'utf-8' }), h('title', null, t(subject))]),
        h('body', null, body),
      ]),
    );
  return { subject: t(subject), text, html, link };
}
