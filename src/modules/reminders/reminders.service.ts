/**
 * Reminders that make people follow up (issue 8; M6, M18).
 *
 * Design note: one periodic job (`reminders.send`) looks at every company's dialogues and
 * agreements for what is due today (Copenhagen dates, from the injectable clock) and, for each
 * reminder not sent before, in one system transaction: records it in `reminders_sent` (its key
 * makes it once-only, also with several nodes), adds an in-app notification, and writes the
 * e-mail to the outbox, unless the person switched that kind off (the in-app notification stays)
 * or chose a daily digest (`reminders.digest` then sends one mail a day with all of them).
 * Security notices (lockout, reset, new device...) are not reminders and cannot be switched off.
 * A mail carries the first name, the company, the kind of task, a date and a link: never another
 * person's name or anything from the dialogue.
 * GRUS (issue 4): members are reminded on their own rows, the leader once per group (anchor row).
 * Event-driven notices (a GRUS member's request for an individual MUS) go through the same
 * `deliver`, in the transaction of the event.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import { unsafeSystemTransaction, withTenant, type Tx } from '../../platform/db/context.ts';
import type { JobDefinition } from '../../platform/jobs/jobs.ts';
import { enqueueMail, REMINDER_KINDS, type ReminderKind } from '../../platform/mail/mail.ts';
import { firstNameOf, type AccountNotice } from '../../platform/auth/login-notices.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { NotFoundError, ConflictError } from '../../platform/errors.ts';
import { isLang } from '../../platform/i18n/i18n.ts';

/** Reminders a person may switch off by e-mail (all of them but the manual nudge). */
export const OPTIONAL_REMINDERS = REMINDER_KINDS.filter((k) => k !== 'nudge');

const ONCE = '1970-01-01';

/** A date 'YYYY-MM-DD' in Copenhagen, `offset` days from `now`. */
export function copenhagenDay(now: Date, offset = 0): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Copenhagen', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(now.getTime() + offset * 86400_000));
}

type Candidate = { companyId: string; subjectId: string; reminder: ReminderKind; employmentId: string; onDate: string; deadline: Date | null; path: string };

/** Everything due today, across companies (system transaction). */
async function candidates(trx: Tx, now: Date): Promise<Candidate[]> {
  const today = copenhagenDay(now);
  const in3 = copenhagenDay(now, 3);
  const yesterday = copenhagenDay(now, -1);
  const tomorrow = copenhagenDay(now, 1);
  // GRUS (issue 4): every member has their own row, all sharing group_id = the anchor row's id.
  // Members are reminded on their own rows; the leader, whose preparation and signature count for
  // the whole group, once per group: on the anchor row only.
  const leaderOnce = sql`(x.side = 'employee' or g.group_id is null or g.id = g.group_id)`;
  const rows = (
    await sql<{ company_id: string; subject_id: string; reminder: ReminderKind; employment_id: string; on_date: string; deadline: Date | null; path: string }>`
      -- A new round dialogue: both sides are invited to prepare.
      select g.company_id, g.id as subject_id, 'round_invitation' as reminder, x.emp as employment_id, ${ONCE} as on_date,
             r.preparation_deadline::timestamptz as deadline, '/dialogues/' || g.id as path
        from dialogues g join dialogue_rounds r on r.id = g.round_id
        cross join lateral (values (g.employee_employment_id, 'employee'), (g.leader_employment_id, 'leader')) x(emp, side)
       where g.state in ('invited', 'preparing') and ${leaderOnce}
      union all
      -- The preparation deadline in 3 days, and the day after it passed: the side(s) not done.
      select g.company_id, g.id, case when r.preparation_deadline::text = ${in3} then 'preparation_due_soon' else 'preparation_overdue' end,
             x.emp, r.preparation_deadline::text, r.preparation_deadline::timestamptz, '/dialogues/' || g.id
        from dialogues g join dialogue_rounds r on r.id = g.round_id
        cross join lateral (values (g.employee_employment_id, g.employee_submitted_at, 'employee'), (g.leader_employment_id, g.leader_submitted_at, 'leader')) x(emp, done, side)
       where g.state in ('invited', 'preparing') and x.done is null and ${leaderOnce}
         and r.preparation_deadline::text in (${in3}, ${yesterday})
      union all
      -- Both prepared, no meeting yet: the leader can book it. In a GRUS: once, on the anchor row,
      -- when the leader and every member have prepared.
      select g.company_id, g.id, 'both_prepared', g.leader_employment_id, ${ONCE}, null, '/dialogues/' || g.id
        from dialogues g
       where g.state in ('invited', 'preparing') and g.employee_submitted_at is not null and g.leader_submitted_at is not null and g.meeting_at is null
         and (g.group_id is null
              or (g.id = g.group_id and not exists (select 1 from dialogues m where m.group_id = g.group_id and m.employee_submitted_at is null)))
      union all
      -- The meeting is tomorrow.
      select g.company_id, g.id, 'meeting_tomorrow', x.emp, ${tomorrow}, g.meeting_at, '/dialogues/' || g.id
        from dialogues g cross join lateral (values (g.employee_employment_id, 'employee'), (g.leader_employment_id, 'leader')) x(emp, side)
       where g.state in ('invited', 'preparing', 'meeting') and g.meeting_at is not null and ${leaderOnce}
         and (g.meeting_at at time zone 'Europe/Copenhagen')::date::text = ${tomorrow}
      union all
      -- Signing: the side that has not signed.
      select g.company_id, g.id, 'sign_off_waiting', x.emp, ${ONCE}, null, '/dialogues/' || g.id
        from dialogues g cross join lateral (values ('employee', g.employee_employment_id), ('leader', g.leader_employment_id)) x(side, emp)
       where g.state = 'signing' and ${leaderOnce}
         and not exists (select 1 from dialogue_signatures s where s.dialogue_id = g.id and s.side = x.side)
      union all
      -- An agreement's follow-up date is today: its owner.
      select a.company_id, a.id, 'agreement_follow_up', case when a.owner = 'employee' then a.employee_employment_id else g.leader_employment_id end,
             ${today}, a.follow_up::timestamptz, '/dialogues/' || g.id
        from agreements a join dialogues g on g.id = a.dialogue_id
       where a.follow_up::text = ${today} and a.status in ('open', 'in_progress')
      union all
      -- A sickness-absence dialogue to hold: the leader.
      select g.company_id, g.id, 'sickness_dialogue_due', g.leader_employment_id, ${ONCE}, null, '/dialogues/' || g.id
        from dialogues g join form_versions v on v.id = g.form_version_id join forms f on f.id = v.form_id
       where g.round_id is null and f.kind = 'sickness' and g.state = 'invited'`.execute(trx)
  ).rows;
  return rows.map((r) => ({ companyId: r.company_id, subjectId: r.subject_id, reminder: r.reminder, employmentId: r.employment_id, onDate: r.on_date, deadline: r.deadline ? new Date(r.deadline) : null, path: r.path }));
}

type Recipient = { email: string; name: string; language: string; companyName: string; off: string[]; digest: boolean; active: boolean };

async function recipient(trx: Tx, employmentId: string): Promise<Recipient | undefined> {
  const r = await trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .innerJoin('companies as c', 'c.id', 'e.company_id')
    .select(['u.email', 'u.name', 'u.disabled_at', 'e.language', 'e.fired_at', 'e.reminders_off', 'e.reminders_digest', 'c.name as company_name'])
    .where('e.id', '=', employmentId)
    .executeTakeFirst();
  if (!r) return undefined;
  return { email: r.email, name: r.name, language: r.language, companyName: r.company_name, off: r.reminders_off ?? [], digest: r.reminders_digest, active: r.fired_at === null && r.disabled_at === null };
}

/** Records one reminder (once), its in-app notification and, as the person chose, its e-mail. */
async function deliver(trx: Tx, c: Candidate, now: Date): Promise<boolean> {
  const inserted = await trx
    .insertInto('reminders_sent')
    .values({ company_id: c.companyId, subject_id: c.subjectId, reminder: c.reminder, employment_id: c.employmentId, on_date: c.onDate })
    .onConflict((oc) => oc.doNothing())
    .returning('subject_id')
    .executeTakeFirst();
  if (!inserted) return false;
  const to = await recipient(trx, c.employmentId);
  if (!to?.active) return true;
  await trx.insertInto('notifications').values({ id: randomUUID(), company_id: c.companyId, employment_id: c.employmentId, reminder: c.reminder, deadline: c.deadline, path: c.path, created_at: now, digested_at: to.digest ? null : now }).execute();
  if (to.digest || to.off.includes(c.reminder)) return true;
  await enqueueMail(trx, {
    to: to.email,
    lang: isLang(to.language) ? to.language : 'da',
    companyId: c.companyId,
    template: 'reminder',
    model: { firstName: firstNameOf(to.name), companyName: to.companyName, reminder: c.reminder, deadline: c.deadline ?? undefined, path: c.path },
  });
  return true;
}

/**
 * The job: every due reminder of every company, each once (cross-company: samtale_system).
 * `onlyCompany` narrows it to one company (tests that share a database with others).
 */
export async function unsafeSendDueReminders(deps: AppDeps, onlyCompany?: string): Promise<number> {
  const now = deps.clock.now();
  return unsafeSystemTransaction(deps.database, async (trx) => {
    let sent = 0;
    for (const c of await candidates(trx, now)) {
      if (onlyCompany && c.companyId !== onlyCompany) continue;
      if (await deliver(trx, c, now)) sent++;
    }
    return sent;
  });
}

/** Once a day, one mail with the day's reminders for people who chose a digest. */
export async function unsafeSendDigests(deps: AppDeps, onlyCompany?: string): Promise<number> {
  const now = deps.clock.now();
  const today = copenhagenDay(now);
  return unsafeSystemTransaction(deps.database, async (trx) => {
    let q = trx.selectFrom('notifications').select(['company_id', 'employment_id']).where('digested_at', 'is', null);
    if (onlyCompany) q = q.where('company_id', '=', onlyCompany);
    const waiting = await q.distinct().execute();
    let mails = 0;
    for (const w of waiting) {
      const first = await trx
        .insertInto('reminders_sent')
        .values({ company_id: w.company_id, subject_id: w.employment_id, reminder: 'digest', employment_id: w.employment_id, on_date: today })
        .onConflict((oc) => oc.doNothing())
        .returning('subject_id')
        .executeTakeFirst();
      if (!first) continue;
      const items = await trx
        .selectFrom('notifications')
        .select(['id', 'reminder', 'deadline'])
        .where('employment_id', '=', w.employment_id)
        .where('digested_at', 'is', null)
        .orderBy('created_at')
        .limit(100)
        .execute();
      await trx.updateTable('notifications').set({ digested_at: now }).where('id', 'in', items.map((i) => i.id)).execute();
      const to = await recipient(trx, w.employment_id);
      const mailed = items.filter((i) => !to?.off.includes(i.reminder));
      if (!to?.active || mailed.length === 0) continue;
      await enqueueMail(trx, {
        to: to.email,
        lang: isLang(to.language) ? to.language : 'da',
        companyId: w.company_id,
        template: 'digest',
        model: { firstName: firstNameOf(to.name), companyName: to.companyName, items: mailed.map((i) => ({ reminder: i.reminder as ReminderKind, deadline: i.deadline ?? undefined })), path: '/notifications' },
      });
      mails++;
    }
    return mails;
  });
}

export const remindersJob: JobDefinition = { name: 'reminders.send', intervalSeconds: 15 * 60, run: (deps) => unsafeSendDueReminders(deps) };
export const digestJob: JobDefinition = { name: 'reminders.digest', intervalSeconds: 60 * 60, run: (deps) => unsafeSendDigests(deps) };

/**
 * A member of a GRUS asked for an individual MUS (issue 4): the responsible leader gets an in-app
 * notification linking to the member's dialogue and, as they chose, an e-mail (or it joins their
 * daily digest). Runs in the caller's transaction (the member's, with the company's tenant
 * context), so the notification and the mail exist only if the request is saved. Nothing of the
 * request (no reason text, no name) goes into either: the kind of task, the company and a link.
 * Once per request (`requestId`); returns whether anything was recorded.
 */
export async function notifyMusRequested(
  trx: Tx,
  deps: Pick<AppDeps, 'clock'>,
  input: { companyId: string; leaderEmploymentId: string; dialogueId: string; requestId: string },
): Promise<boolean> {
  const now = deps.clock.now();
  return deliver(trx, { companyId: input.companyId, subjectId: input.requestId, reminder: 'mus_requested', employmentId: input.leaderEmploymentId, onDate: ONCE, deadline: null, path: `/dialogues/${input.dialogueId}` }, now);
}

// ---- the person's own side -----------------------------------------------------------------------

/** What a notification is about: a reminder, or a mirrored account or support notice. */
export type NotificationKind = ReminderKind | AccountNotice | 'support_access';
export type Notification = { id: string; reminder: NotificationKind; deadline: Date | null; path: string; createdAt: Date; read: boolean };

export async function myNotifications(deps: AppDeps, actor: UserActor): Promise<Notification[]> {
  return withTenant(deps.database, { companyId: actor.companyId, userId: actor.userId }, async (trx) => {
    const rows = await trx
      .selectFrom('notifications')
      .select(['id', 'reminder', 'deadline', 'path', 'created_at', 'read_at'])
      .where('employment_id', '=', actor.employmentId)
      .orderBy('created_at', 'desc')
      .limit(100)
      .execute();
    return rows.map((r) => ({ id: r.id, reminder: r.reminder as NotificationKind, deadline: r.deadline, path: r.path, createdAt: new Date(r.created_at), read: r.read_at !== null }));
  });
}

export async function markAllRead(deps: AppDeps, actor: UserActor): Promise<void> {
  await withTenant(deps.database, { companyId: actor.companyId, userId: actor.userId }, (trx) =>
    trx.updateTable('notifications').set({ read_at: deps.clock.now() }).where('employment_id', '=', actor.employmentId).where('read_at', 'is', null).execute(),
  );
}

export type ReminderPrefs = { off: ReminderKind[]; digest: boolean };

export async function getPrefs(deps: AppDeps, actor: UserActor): Promise<ReminderPrefs> {
  const row = await withTenant(deps.database, { companyId: actor.companyId, userId: actor.userId }, (trx) =>
    trx.selectFrom('employments').select(['reminders_off', 'reminders_digest']).where('id', '=', actor.employmentId).executeTakeFirstOrThrow(),
  );
  return { off: (row.reminders_off ?? []).filter((k): k is ReminderKind => (REMINDER_KINDS as readonly string[]).includes(k)), digest: row.reminders_digest };
}

export async function savePrefs(deps: AppDeps, actor: UserActor, prefs: ReminderPrefs, ip: string): Promise<void> {
  const off = prefs.off.filter((k) => (OPTIONAL_REMINDERS as readonly string[]).includes(k));
  await withTenant(deps.database, { companyId: actor.companyId, userId: actor.userId }, async (trx) => {
    await trx.updateTable('employments').set({ reminders_off: off, reminders_digest: prefs.digest }).where('id', '=', actor.employmentId).execute();
    await audit(trx, whoFromActor(actor, ip), { type: 'settings.reminders_changed', data: { off: off.join(','), digest: prefs.digest } });
  });
}

/**
 * A leader's manual nudge: the employee of one of their dialogues (not closed) gets a reminder
 * now, in the app and by e-mail (unless switched off), at most once a day per dialogue.
 */
export async function nudge(deps: AppDeps, actor: UserActor, dialogueId: string, ip: string): Promise<'sent' | 'already'> {
  const now = deps.clock.now();
  return withTenant(deps.database, { companyId: actor.companyId, userId: actor.userId }, async (trx) => {
    const d = await trx.selectFrom('dialogues').select(['id', 'employee_employment_id', 'leader_employment_id', 'state']).where('id', '=', dialogueId).executeTakeFirst();
    if (!d || d.leader_employment_id !== actor.employmentId) throw new NotFoundError();
    if (d.state === 'closed') throw new ConflictError('closed');
    const c: Candidate = { companyId: actor.companyId, subjectId: d.id, reminder: 'nudge', employmentId: d.employee_employment_id, onDate: copenhagenDay(now), deadline: null, path: `/dialogues/${d.id}` };
    const fresh = await deliver(trx, c, now);
    if (fresh) await audit(trx, whoFromActor(actor, ip), { type: 'reminders.nudged', objectType: 'dialogue', objectId: d.id });
    return fresh ? 'sent' : 'already';
  });
}
