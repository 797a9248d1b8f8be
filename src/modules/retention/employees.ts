/**
 * M15: what happens to an employment after it is fired (src/modules/org fires and rehires).
 *
 *   day 0        fired: sessions in the company end at once; an admin may rehire (undo).
 *   day 14       (fired_at + 14 days) the rehire window closes.
 *   first run    `employees.personal-data`: the personal data is purged (below); the employment
 *   after that   row stays as the leader's archive entry: display_name (copied from the login
 *                identity), role, team_id, department_id, fired_at, purged_at. Its dialogues
 *                (answers, scores, agreements, signatures, dialogue attachments) stay untouched.
 *   year 5       (fired_at + 5 years) `employees.archive`: the dialogues and everything hanging off
 *                them (answers, agreements, transitions, signatures, attachments and their views,
 *                sickness reports) are deleted, then the employment row itself.
 *
 * Purged on day 14+: the login identity (users row; with it, by foreign key, factors, recovery
 * codes, passkeys, challenges, pending logins, sessions and links) when no other employment uses it,
 * its throttle rows and queued mail; in any case the company's sessions, links, API user
 * details and external ids for it, its notifications, reminder state and preferences, the
 * delegations it holds, team/department ownerships, its title, and the files it sent to the
 * secure inbox (with their "viewed by" rows). Decision: inbox files are a one-way channel from
 * the person to HR (doctor's notes, forms), personal and not part of any dialogue, so they go with
 * the person; HR files what it must keep in its own systems within the 14 days. Dialogue
 * attachments stay with their dialogue until year 5.
 *
 * A GRUS anchor (the member row that also holds the group's shared part, migrations/019) whose
 * group still has other members is not deleted at year 5: only the member's own part of it goes
 * (employee-side answers, their signature, agreements they own).
 *
 * An employment row still referenced by someone else's dialogue at year 5 (a leader who led
 * dialogues, created rounds, signed as leader) cannot be deleted; it is kept without its name
 * (display_name null) and tried again on the next run.
 */
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import type { Tx } from '../../platform/db/context.ts';
import { audit } from '../../platform/audit/audit.ts';
import { subjectFor } from '../../platform/auth/throttle.ts';
import { REHIRE_WINDOW_DAYS } from '../org/org.policy.ts';
import { BATCH_SIZE, addDays, addYears, unsafePurgeTransaction, type RetentionOptions, type RetentionStep } from './steps.ts';

export { REHIRE_WINDOW_DAYS };
export const ARCHIVE_YEARS = 5;

/** The moment an employment fired at `firedAt` becomes eligible for the personal-data purge. */
export function personalDataPurgeAt(firedAt: Date): Date {
  return addDays(firedAt, REHIRE_WINDOW_DAYS);
}

/** The moment its archived dialogues (and the row) become eligible for deletion. */
export function archivePurgeAt(firedAt: Date): Date {
  return addYears(firedAt, ARCHIVE_YEARS);
}

const NIL = '00000000-0000-0000-0000-000000000000';
const nonEmpty = (ids: readonly string[]) => (ids.length ? ids : [NIL]);

type Candidate = { id: string; company_id: string; fired_at: Date };

/** One page of candidates (keyset by id), read in a short system transaction. */
async function unsafeCandidates(deps: AppDeps, opts: RetentionOptions, after: string, filter: (trx: Tx) => ReturnType<typeof baseQuery>): Promise<Candidate[]> {
  return unsafePurgeTransaction(deps, async (trx) => {
    let q = filter(trx).where('id', '>', after).orderBy('id').limit(BATCH_SIZE);
    if (opts.onlyCompanyIds) q = q.where('company_id', 'in', nonEmpty(opts.onlyCompanyIds));
    return q.execute();
  });
}

function baseQuery(trx: Tx) {
  return trx.selectFrom('employments').select(['id', 'company_id', 'fired_at']).$narrowType<{ fired_at: Date }>().where('fired_at', 'is not', null);
}

/** fired_at + 5 years <= asOf, in PostgreSQL's calendar arithmetic (addYears matches it). */
const archiveDue = (asOf: Date) => sql<boolean>`fired_at + make_interval(years => ${ARCHIVE_YEARS}) <= ${asOf}`;

const day = (d: Date) => new Date(d).toISOString().slice(0, 10);

// ---------------------------------------------------------------- day 14: personal data

type PersonalPurge = { identityDeleted: boolean; inboxFiles: number; delegations: number; notifications: number };

async function purgePersonalData(trx: Tx, deps: AppDeps, id: string, cutoff: Date): Promise<PersonalPurge | null> {
  // Re-check under the row lock: a rehire that committed first wins.
  const e = await trx
    .selectFrom('employments')
    .select(['id', 'company_id', 'user_id', 'display_name'])
    .where('id', '=', id)
    .where('fired_at', 'is not', null)
    .where('fired_at', '<=', cutoff)
    .where('purged_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
  if (!e) return null;
  const user = e.user_id ? await trx.selectFrom('users').select(['id', 'name', 'email']).where('id', '=', e.user_id).executeTakeFirst() : undefined;

  const delegations = await trx.deleteFrom('delegations').where('employment_id', '=', e.id).executeTakeFirst();
  const notifications = await trx.deleteFrom('notifications').where('employment_id', '=', e.id).executeTakeFirst();
  await trx.deleteFrom('reminders_sent').where('employment_id', '=', e.id).execute();
  await trx.updateTable('departments').set({ owner_employment_id: null }).where('owner_employment_id', '=', e.id).execute();
  await trx.updateTable('teams').set({ owner_employment_id: null }).where('owner_employment_id', '=', e.id).execute();

  const inbox = await trx.selectFrom('files').select('id').where('company_id', '=', e.company_id).where('uploaded_by', '=', e.id).where('purpose', '=', 'inbox').execute();
  const inboxIds = inbox.map((f) => f.id);
  if (inboxIds.length) {
    await trx.deleteFrom('document_views').where('company_id', '=', e.company_id).where('object_type', '=', 'file').where('object_id', 'in', inboxIds).execute();
    await trx.deleteFrom('files').where('company_id', '=', e.company_id).where('id', 'in', inboxIds).execute();
  }

  await trx.deleteFrom('api_external_ids').where('company_id', '=', e.company_id).where('resource', '=', 'employee').where('internal_id', '=', e.id).execute();
  if (user) {
    await trx.deleteFrom('sessions').where('company_id', '=', e.company_id).where('user_id', '=', user.id).execute();
    await trx.deleteFrom('account_tokens').where('company_id', '=', e.company_id).where('user_id', '=', user.id).execute();
    await trx.deleteFrom('api_users').where('company_id', '=', e.company_id).where('user_id', '=', user.id).execute();
    await trx.deleteFrom('api_external_ids').where('company_id', '=', e.company_id).where('resource', '=', 'user').where('internal_id', '=', user.id).execute();
    await trx.deleteFrom('mail_outbox').where('company_id', '=', e.company_id).where((eb) => eb(eb.fn('lower', ['recipient']), '=', user.email.toLowerCase())).execute();
  }

  await trx
    .updateTable('employments')
    .set({
      display_name: e.display_name ?? user?.name ?? null,
      title: '',
      user_id: sql<string>`null`,
      reminders_off: [],
      purged_at: deps.clock.now(),
    })
    .where('id', '=', e.id)
    .execute();

  let identityDeleted = false;
  if (user) {
    const other = await trx.selectFrom('employments').select('id').where('user_id', '=', user.id).limit(1).executeTakeFirst();
    if (!other) {
      await trx.deleteFrom('mail_outbox').where((eb) => eb(eb.fn('lower', ['recipient']), '=', user.email.toLowerCase())).execute();
      await trx.deleteFrom('login_throttle').where('subject', '=', subjectFor(user.email)).execute();
      await trx.deleteFrom('users').where('id', '=', user.id).execute();
      identityDeleted = true;
    }
  }
  const result = {
    identityDeleted,
    inboxFiles: inboxIds.length,
    delegations: Number(delegations.numDeletedRows),
    notifications: Number(notifications.numDeletedRows),
  };
  await audit(
    trx,
    { companyId: e.company_id },
    { type: 'retention.employee_purged', objectType: 'employment', objectId: e.id, data: { actor: 'system', ...result } },
    deps.clock.now(),
  );
  return result;
}

/** Day 14 after firing: the employment's personal data and, if unused, its login identity. */
export const personalDataStep: RetentionStep = {
  name: 'employees.personal-data',
  async run(deps, opts) {
    const cutoff = addDays(opts.asOf, -REHIRE_WINDOW_DAYS);
    const lines: string[] = [];
    const say = (line: string) => {
      lines.push(line);
      opts.log(line);
    };
    let purged = 0;
    let after = NIL;
    for (;;) {
      const page = await unsafeCandidates(deps, opts, after, (trx) => baseQuery(trx).where('fired_at', '<=', cutoff).where('purged_at', 'is', null));
      if (page.length === 0) break;
      after = page[page.length - 1]!.id;
      for (const c of page) {
        if (opts.dryRun) {
          say(`would purge personal data of employment ${c.id} (company ${c.company_id}, fired ${day(c.fired_at)})`);
          purged++;
          continue;
        }
        const r = await unsafePurgeTransaction(deps, (trx) => purgePersonalData(trx, deps, c.id, cutoff));
        if (!r) continue;
        purged++;
        say(
          `purged personal data of employment ${c.id} (company ${c.company_id}, fired ${day(c.fired_at)}): ` +
            `login identity ${r.identityDeleted ? 'deleted' : 'kept (other employment)'}, ${r.inboxFiles} inbox file(s), ${r.delegations} delegation(s), ${r.notifications} notification(s)`,
        );
      }
      if (page.length < BATCH_SIZE) break;
    }
    return { purged, lines };
  },
};

// ---------------------------------------------------------------- year 5: the archive

type ArchivePurge = { dialogues: number; sharedKept: number; files: number; sicknessReports: number; rowDeleted: boolean };

async function purgeArchive(trx: Tx, deps: AppDeps, id: string, cutoff: Date): Promise<ArchivePurge | null> {
  const e = await trx
    .selectFrom('employments')
    .select(['id', 'company_id', 'display_name'])
    .where('id', '=', id)
    .where('fired_at', 'is not', null)
    .where(archiveDue(cutoff))
    .where('purged_at', 'is not', null)
    .forUpdate()
    .executeTakeFirst();
  if (!e) return null;
  const own = await trx
    .selectFrom('dialogues as d')
    .select((eb) => [
      'd.id',
      // The anchor row of a GRUS also holds the group's shared part (migrations/019).
      eb
        .exists(eb.selectFrom('dialogues as m').select('m.id').whereRef('m.group_id', '=', 'd.id').whereRef('m.id', '<>', 'd.id'))
        .as('anchors_others'),
    ])
    .where('d.company_id', '=', e.company_id)
    .where('d.employee_employment_id', '=', e.id)
    .execute();
  const dialogueIds = own.filter((d) => !d.anchors_others).map((d) => d.id);
  // An anchor other members still use stays; only this member's own part of it goes.
  const anchorIds = own.filter((d) => d.anchors_others).map((d) => d.id);
  let anchorParts = 0;
  if (anchorIds.length) {
    for (const q of [
      trx.deleteFrom('dialogue_answers').where('company_id', '=', e.company_id).where('dialogue_id', 'in', anchorIds).where('side', '=', 'employee'),
      trx.deleteFrom('dialogue_signatures').where('company_id', '=', e.company_id).where('dialogue_id', 'in', anchorIds).where('side', '=', 'employee'),
      trx.deleteFrom('agreements').where('company_id', '=', e.company_id).where('dialogue_id', 'in', anchorIds).where('owner', '=', 'employee'),
    ]) {
      anchorParts += Number((await q.executeTakeFirst()).numDeletedRows);
    }
  }
  const fileIds = dialogueIds.length
    ? (await trx.selectFrom('files').select('id').where('company_id', '=', e.company_id).where('dialogue_id', 'in', dialogueIds).execute()).map((f) => f.id)
    : [];
  if (dialogueIds.length) {
    await trx.deleteFrom('document_views').where('company_id', '=', e.company_id).where('object_type', '=', 'dialogue').where('object_id', 'in', dialogueIds).execute();
    await trx.deleteFrom('reminders_sent').where('company_id', '=', e.company_id).where('subject_id', 'in', dialogueIds).execute();
  }
  if (fileIds.length) {
    await trx.deleteFrom('document_views').where('company_id', '=', e.company_id).where('object_type', '=', 'file').where('object_id', 'in', fileIds).execute();
  }
  const sickness = await trx.deleteFrom('sickness_reports').where('company_id', '=', e.company_id).where('employee_employment_id', '=', e.id).executeTakeFirst();
  if (dialogueIds.length) {
    // Answers, agreements, transitions, signatures and attachments (with their chunks) go by foreign key.
    await trx.deleteFrom('files').where('company_id', '=', e.company_id).where('id', 'in', nonEmpty(fileIds)).execute();
    await trx.deleteFrom('dialogues').where('company_id', '=', e.company_id).where('id', 'in', dialogueIds).execute();
  }
  // The row goes too, unless someone else's records still point at it (then it stays nameless).
  let rowDeleted = true;
  await sql`savepoint retention_row`.execute(trx);
  try {
    await trx.deleteFrom('employments').where('id', '=', e.id).execute();
    await sql`release savepoint retention_row`.execute(trx);
  } catch (err) {
    if ((err as { code?: unknown }).code !== '23503') throw err;
    await sql`rollback to savepoint retention_row`.execute(trx);
    rowDeleted = false;
  }
  const result = { dialogues: dialogueIds.length, sharedKept: anchorIds.length, files: fileIds.length, sicknessReports: Number(sickness.numDeletedRows), rowDeleted };
  if (!rowDeleted) {
    // Nothing was there to purge any more: stay quiet on the daily re-try.
    if (e.display_name === null && result.dialogues === 0 && result.sicknessReports === 0 && anchorParts === 0) return null;
    await trx.updateTable('employments').set({ display_name: null }).where('id', '=', e.id).execute();
  }
  await audit(
    trx,
    { companyId: e.company_id },
    { type: 'retention.archive_purged', objectType: 'employment', objectId: e.id, data: { actor: 'system', ...result } },
    deps.clock.now(),
  );
  return result;
}

/** Five years after firing: the archived dialogues, then the employment row. */
export const archiveStep: RetentionStep = {
  name: 'employees.archive',
  async run(deps, opts) {
    // Judged in the database (fired_at + 5 years <= asOf), so 29 February needs no special case here.
    const cutoff = opts.asOf;
    const lines: string[] = [];
    const say = (line: string) => {
      lines.push(line);
      opts.log(line);
    };
    let purged = 0;
    let after = NIL;
    for (;;) {
      const page = await unsafeCandidates(deps, opts, after, (trx) => baseQuery(trx).where(archiveDue(cutoff)).where('purged_at', 'is not', null));
      if (page.length === 0) break;
      after = page[page.length - 1]!.id;
      for (const c of page) {
        if (opts.dryRun) {
          const n = await unsafePurgeTransaction(deps, (trx) =>
            trx
              .selectFrom('employments as e')
              .select((eb) => [
                'e.display_name',
                eb
                  .selectFrom('dialogues as d')
                  .select(eb.fn.countAll<string>().as('c'))
                  .whereRef('d.employee_employment_id', '=', 'e.id')
                  .where(sql<boolean>`not exists (select 1 from dialogues m where m.group_id = d.id and m.id <> d.id)`)
                  .as('n'),
              ])
              .where('e.id', '=', c.id)
              .executeTakeFirstOrThrow(),
          );
          // A nameless row kept for others' records has nothing left to purge.
          if (n.display_name === null && Number(n.n) === 0) continue;
          say(`would purge the archive of employment ${c.id} (company ${c.company_id}, fired ${day(c.fired_at)}): ${Number(n.n)} dialogue(s)`);
          purged++;
          continue;
        }
        const r = await unsafePurgeTransaction(deps, (trx) => purgeArchive(trx, deps, c.id, cutoff));
        if (!r) continue;
        purged++;
        say(
          `purged the archive of employment ${c.id} (company ${c.company_id}, fired ${day(c.fired_at)}): ${r.dialogues} dialogue(s), ${r.files} attachment(s), ` +
            `${r.sicknessReports} sickness report(s)${r.sharedKept ? `, ${r.sharedKept} shared GRUS dialogue(s) kept for the group` : ''}; employment row ${r.rowDeleted ? 'deleted' : 'kept without name (still referenced)'}`,
        );
      }
      if (page.length < BATCH_SIZE) break;
    }
    return { purged, lines };
  },
};

export const employeeSteps: readonly RetentionStep[] = [personalDataStep, archiveStep];
