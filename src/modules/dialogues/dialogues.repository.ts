/**
 * SQL for rounds, dialogues and their content. Takes the open transaction first; the tenant is
 * the transaction's (row-level security).
 *
 * Design note: every read and write of what people typed (answers, shared notes, agreements,
 * progress notes, the disagreement comment) goes through the functions in the "content" section
 * below and nowhere else, so per-company encryption (#6) changes this one file. Audit rows never
 * carry any of it.
 */
import { sql } from 'kysely';
import type { Tx } from '../../platform/db/context.ts';
import type { AgreementStatus, AnswerSide, DialogueState, Responsibility } from '../../platform/db/schema.ts';

// ---------------------------------------------------------------- actor facts

/** The actor's dialogue-access delegations (on teams). */
export async function listDialogueAccess(trx: Tx, employmentId: string): Promise<{ responsibility: Responsibility; teamId: string }[]> {
  const rows = await trx.selectFrom('delegations').select(['responsibility', 'team_id']).where('employment_id', '=', employmentId).where('responsibility', 'in', ['dialog_access_edp', 'dialog_access_onboarding', 'dialog_access_siab']).where('team_id', 'is not', null).execute();
  return rows.flatMap((r) => (r.team_id ? [{ responsibility: r.responsibility, teamId: r.team_id }] : []));
}

export async function listConfigurationDepartments(trx: Tx, employmentId: string): Promise<string[]> {
  const rows = await trx.selectFrom('delegations').select('department_id').where('employment_id', '=', employmentId).where('responsibility', '=', 'configuration').where('department_id', 'is not', null).execute();
  return rows.map((r) => r.department_id).filter((x): x is string => x !== null);
}

export async function findUserPasswordHash(trx: Tx, userId: string): Promise<string | null> {
  const row = await trx.selectFrom('users').select('password_hash').where('id', '=', userId).where('disabled_at', 'is', null).executeTakeFirst();
  return row?.password_hash ?? null;
}

const ancestorsOf = (dept: string) => sql<string[]>`array(select a::text from department_ancestors(${dept}::uuid) as a)`;

// ---------------------------------------------------------------- targets

/** Teams and departments with their chains and responsible leaders, for the round form. */
export async function listTargets(trx: Tx) {
  const teams = await trx
    .selectFrom('teams as t')
    .select(['t.id', 't.name', 't.department_id', sql<string | null>`team_responsible_employment(t.id)`.as('responsible'), sql<string[]>`array(select a::text from department_ancestors(t.department_id) as a)`.as('ancestors')])
    .orderBy('t.name')
    .execute();
  const departments = await trx
    .selectFrom('departments as d')
    .select(['d.id', 'd.name', sql<string | null>`department_responsible_employment(d.id)`.as('responsible'), sql<string[]>`array(select a::text from department_ancestors(d.id) as a)`.as('ancestors')])
    .orderBy('d.name')
    .execute();
  return { teams, departments };
}

/** Active people in the given teams with their team's responsible leader. */
export async function listTeamMembersWithLeader(trx: Tx, teamIds: readonly string[]) {
  if (teamIds.length === 0) return [];
  return trx
    .selectFrom('employments as e')
    .select(['e.id', 'e.team_id', sql<string | null>`team_responsible_employment(e.team_id)`.as('leader')])
    .where('e.team_id', 'in', teamIds)
    .where('e.fired_at', 'is', null)
    .orderBy('e.id')
    .execute();
}

/** Active people in teams, with their team's responsible leader (for reporting sickness). */
export async function listActiveTeamMembers(trx: Tx) {
  return trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .innerJoin('teams as t', 't.id', 'e.team_id')
    .select(['e.id', 'e.team_id', 'u.name', 't.name as team_name', sql<string | null>`team_responsible_employment(e.team_id)`.as('leader')])
    .where('e.fired_at', 'is', null)
    .orderBy('u.name')
    .limit(2000)
    .execute();
}

export async function insertSicknessReport(
  trx: Tx,
  row: { id: string; company_id: string; employee_employment_id: string; from_date: string; to_date: string | null; reported_by: string | null; reported_by_api_token?: string | null; dialogue_id: string | null },
) {
  await trx.insertInto('sickness_reports').values(row).execute();
}

/** The employee's sickness periods that overlap [from, to] (an open end reaches to infinity). */
export async function findOverlappingSickness(trx: Tx, employmentId: string, from: string, to: string | null) {
  return trx
    .selectFrom('sickness_reports')
    .select(['id', 'from_date', 'to_date', 'dialogue_id'])
    .where('employee_employment_id', '=', employmentId)
    .where('from_date', '<=', to ?? '9999-12-31')
    .where((eb) => eb.or([eb('to_date', 'is', null), eb('to_date', '>=', from)]))
    .forUpdate()
    .execute();
}

export async function updateSicknessReport(trx: Tx, id: string, set: { from_date: string; to_date: string | null; dialogue_id: string | null; updated_at: Date }) {
  await trx.updateTable('sickness_reports').set(set).where('id', '=', id).execute();
}

// ---------------------------------------------------------------- rounds

export async function insertRound(
  trx: Tx,
  row: { id: string; company_id: string; name: string; form_version_id: string; team_id: string | null; department_id: string | null; preparation_deadline: string; meeting_from: string; meeting_to: string; created_by: string },
) {
  await trx.insertInto('dialogue_rounds').values(row).execute();
}

export async function findRound(trx: Tx, id: string) {
  const r = await trx
    .selectFrom('dialogue_rounds as r')
    .leftJoin('teams as t', 't.id', 'r.team_id')
    .leftJoin('departments as d', 'd.id', 'r.department_id')
    .innerJoin('form_versions as v', 'v.id', 'r.form_version_id')
    .innerJoin('forms as f', 'f.id', 'v.form_id')
    .select(['r.id', 'r.name', 'r.team_id', 'r.department_id', 'r.preparation_deadline', 'r.meeting_from', 'r.meeting_to', 'r.created_by', 'r.created_at', 't.name as team_name', 't.department_id as team_department_id', 'd.name as department_name', 'f.name as form_name', 'v.version as form_version'])
    .where('r.id', '=', id)
    .executeTakeFirst();
  if (!r) return undefined;
  const dept = r.department_id ?? r.team_department_id;
  const ancestors = dept ? (await sql<{ a: string[] }>`select ${ancestorsOf(dept)} as a`.execute(trx)).rows[0]?.a ?? [] : [];
  return { ...r, ancestors };
}

export async function findRoundVersion(trx: Tx, roundId: string): Promise<string> {
  return (await trx.selectFrom('dialogue_rounds').select('form_version_id').where('id', '=', roundId).executeTakeFirstOrThrow()).form_version_id;
}

export async function listRounds(trx: Tx, filter: { createdBy?: string; departmentRoots?: readonly string[] } | null) {
  let q = trx
    .selectFrom('dialogue_rounds as r')
    .leftJoin('teams as t', 't.id', 'r.team_id')
    .leftJoin('departments as d', 'd.id', 'r.department_id')
    .select([
      'r.id',
      'r.name',
      'r.preparation_deadline',
      'r.meeting_from',
      'r.meeting_to',
      'r.created_at',
      't.name as team_name',
      'd.name as department_name',
      (eb) => eb.selectFrom('dialogues as x').select(eb.fn.countAll<number>().as('n')).whereRef('x.round_id', '=', 'r.id').as('total'),
      (eb) => eb.selectFrom('dialogues as x').select(eb.fn.countAll<number>().as('n')).whereRef('x.round_id', '=', 'r.id').where('x.state', '=', 'closed').as('closed'),
    ])
    .orderBy('r.created_at', 'desc')
    .limit(200);
  if (filter) {
    const roots = filter.departmentRoots ?? [];
    const by = filter.createdBy;
    q = q.where((eb) =>
      eb.or([
        ...(by ? [eb('r.created_by', '=', by)] : []),
        ...(roots.length > 0
          ? [sql<boolean>`exists (select 1 from department_ancestors(coalesce(r.department_id, t.department_id)) as a where a in (${sql.join(roots.map((x) => sql`${x}::uuid`))}))`]
          : []),
        sql<boolean>`false`,
      ]),
    );
  }
  return q.execute();
}

export async function findStatisticsThreshold(trx: Tx, companyId: string): Promise<number> {
  const row = await trx.selectFrom('companies').select('statistics_threshold').where('id', '=', companyId).executeTakeFirstOrThrow();
  return row.statistics_threshold;
}

/** Departments on which the actor holds any department responsibility (each grants statistics). */
export async function listResponsibilityDepartments(trx: Tx, employmentId: string): Promise<string[]> {
  const rows = await trx.selectFrom('delegations').select('department_id').where('employment_id', '=', employmentId).where('department_id', 'is not', null).execute();
  return rows.map((r) => r.department_id).filter((x): x is string => x !== null);
}

// ---------------------------------------------------------------- dialogues

export async function insertDialogue(trx: Tx, row: { id: string; company_id: string; round_id: string | null; form_version_id: string; employee_employment_id: string; leader_employment_id: string; team_id: string | null }) {
  await trx.insertInto('dialogues').values(row).execute();
}

const dialogueColumns = [
  'g.id',
  'g.round_id',
  'g.form_version_id',
  'g.employee_employment_id',
  'g.leader_employment_id',
  'g.team_id',
  'g.state',
  'g.employee_submitted_at',
  'g.leader_submitted_at',
  'g.meeting_at',
  'g.meeting_place',
  'g.created_at',
  'r.name as round_name',
  'r.preparation_deadline',
  'r.meeting_from',
  'r.meeting_to',
  'eu.name as employee_name',
  'lu.name as leader_name',
  'f.kind as form_kind',
  'f.name as form_name',
  't.name as team_name',
] as const;

function dialogueQuery(trx: Tx) {
  return trx
    .selectFrom('dialogues as g')
    // Sickness-absence dialogues have no round.
    .leftJoin('dialogue_rounds as r', 'r.id', 'g.round_id')
    .innerJoin('employments as ee', 'ee.id', 'g.employee_employment_id')
    .innerJoin('users as eu', 'eu.id', 'ee.user_id')
    .innerJoin('employments as le', 'le.id', 'g.leader_employment_id')
    .innerJoin('users as lu', 'lu.id', 'le.user_id')
    .innerJoin('form_versions as fv', 'fv.id', 'g.form_version_id')
    .innerJoin('forms as f', 'f.id', 'fv.form_id')
    .leftJoin('teams as t', 't.id', 'g.team_id')
    .select(dialogueColumns);
}

export type DialogueRow = NonNullable<Awaited<ReturnType<typeof findDialogue>>>;

/** `lock` takes a row lock, so two concurrent state changes of one dialogue run one after the other. */
export async function findDialogue(trx: Tx, id: string, lock = false) {
  if (lock) await trx.selectFrom('dialogues').select('id').where('id', '=', id).forUpdate().execute();
  return dialogueQuery(trx).where('g.id', '=', id).executeTakeFirst();
}

/** Every dialogue the transaction may see, newest first, except sickness-absence ones (support's list). */
export async function listDialoguesExceptSickness(trx: Tx, limit: number) {
  return dialogueQuery(trx).where('f.kind', '<>', 'sickness').orderBy('g.created_at', 'desc').limit(limit).execute();
}

export async function listDialoguesOfEmployee(trx: Tx, employmentId: string) {
  return dialogueQuery(trx).where('g.employee_employment_id', '=', employmentId).orderBy('g.created_at', 'desc').limit(200).execute();
}

/**
 * Dialogues the actor holds as leader: made with them, or on a team where they hold the dialogue
 * access for the form's kind (the same rule as ACCESS_FOR_KIND in the policy).
 */
export async function listDialoguesAsLeader(trx: Tx, employmentId: string) {
  return dialogueQuery(trx)
    .where((eb) =>
      eb.or([
        eb('g.leader_employment_id', '=', employmentId),
        sql<boolean>`exists (select 1 from delegations dl where dl.employment_id = ${employmentId} and dl.team_id = g.team_id
          and dl.responsibility = case f.kind when 'onboarding' then 'dialog_access_onboarding' when 'sickness' then 'dialog_access_siab' else 'dialog_access_edp' end)`,
      ]),
    )
    .where('g.employee_employment_id', '<>', employmentId)
    .orderBy('r.preparation_deadline')
    .orderBy('eu.name')
    .limit(500)
    .execute();
}

export async function listRoundDialogues(trx: Tx, roundId: string) {
  return dialogueQuery(trx).where('g.round_id', '=', roundId).orderBy('eu.name').execute();
}

export async function updateDialogue(
  trx: Tx,
  id: string,
  set: { state?: DialogueState; employee_submitted_at?: Date | null; leader_submitted_at?: Date | null; meeting_at?: Date | null; meeting_place?: string | null },
) {
  await trx.updateTable('dialogues').set(set).where('id', '=', id).execute();
}

export async function insertTransition(trx: Tx, row: { id: string; company_id: string; dialogue_id: string; from_state: DialogueState | null; to_state: DialogueState; actor_employment_id: string | null; created_at: Date }) {
  await trx.insertInto('dialogue_transitions').values(row).execute();
}

export async function listTransitions(trx: Tx, dialogueId: string) {
  return trx
    .selectFrom('dialogue_transitions as x')
    .innerJoin('employments as e', 'e.id', 'x.actor_employment_id')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['x.id', 'x.from_state', 'x.to_state', 'x.created_at', 'u.name as actor_name'])
    .where('x.dialogue_id', '=', dialogueId)
    .orderBy('x.created_at')
    .orderBy('x.id')
    .execute();
}

export async function listSignatures(trx: Tx, dialogueId: string) {
  return trx
    .selectFrom('dialogue_signatures as s')
    .innerJoin('employments as e', 'e.id', 's.employment_id')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['s.side', 's.signed_at', 'u.name'])
    .where('s.dialogue_id', '=', dialogueId)
    .execute();
}

/** Which sides have signed, for many dialogues at once (the overview). */
export async function listSignedSides(trx: Tx, dialogueIds: readonly string[]) {
  if (dialogueIds.length === 0) return [];
  return trx.selectFrom('dialogue_signatures').select(['dialogue_id', 'side']).where('dialogue_id', 'in', dialogueIds).execute();
}

export async function insertSignature(trx: Tx, row: { company_id: string; dialogue_id: string; side: 'employee' | 'leader'; employment_id: string; signed_at: Date }) {
  await trx.insertInto('dialogue_signatures').values(row).execute();
}

export async function deleteSignatures(trx: Tx, dialogueId: string) {
  await trx.deleteFrom('dialogue_signatures').where('dialogue_id', '=', dialogueId).execute();
}

// ---------------------------------------------------------------- content (the one place for what people typed)

export type StoredAnswer = { question_id: string; side: AnswerSide; value: string; version: number; updated_at: Date };

export async function readAnswers(trx: Tx, dialogueId: string): Promise<StoredAnswer[]> {
  return trx.selectFrom('dialogue_answers').select(['question_id', 'side', 'value', 'version', 'updated_at']).where('dialogue_id', '=', dialogueId).execute();
}

export type SaveResult = { ok: true; version: number } | { ok: false; current: { value: string; version: number } };

/**
 * Saves one answer if `expectedVersion` is the stored one (0: none stored yet). Otherwise
 * nothing is written and the stored answer comes back, so the caller can show both texts.
 */
export async function writeAnswer(
  trx: Tx,
  a: { companyId: string; dialogueId: string; questionId: string; side: AnswerSide; value: string; expectedVersion: number; by: string; at: Date },
): Promise<SaveResult> {
  if (a.expectedVersion === 0) {
    const inserted = await trx
      .insertInto('dialogue_answers')
      .values({ company_id: a.companyId, dialogue_id: a.dialogueId, question_id: a.questionId, side: a.side, value: a.value, version: 1, updated_by: a.by, updated_at: a.at })
      .onConflict((oc) => oc.columns(['company_id', 'dialogue_id', 'question_id', 'side']).doNothing())
      .returning('version')
      .executeTakeFirst();
    if (inserted) return { ok: true, version: 1 };
  } else {
    const updated = await trx
      .updateTable('dialogue_answers')
      .set({ value: a.value, version: a.expectedVersion + 1, updated_by: a.by, updated_at: a.at })
      .where('dialogue_id', '=', a.dialogueId)
      .where('question_id', '=', a.questionId)
      .where('side', '=', a.side)
      .where('version', '=', a.expectedVersion)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 1) return { ok: true, version: a.expectedVersion + 1 };
  }
  const current = await trx
    .selectFrom('dialogue_answers')
    .select(['value', 'version'])
    .where('dialogue_id', '=', a.dialogueId)
    .where('question_id', '=', a.questionId)
    .where('side', '=', a.side)
    .executeTakeFirst();
  // The same text saved twice (two tabs, a resubmitted form) is no conflict: nothing changes.
  if (current && current.value === a.value) return { ok: true, version: current.version };
  return { ok: false, current: current ?? { value: '', version: 0 } };
}

/**
 * The employee's scale answers in a round's closed dialogues, with the team each dialogue
 * belongs to: the raw material of the round's statistics (never shown one by one).
 */
export async function readRoundScaleAnswers(trx: Tx, roundId: string, questionIds: readonly string[]) {
  if (questionIds.length === 0) return [];
  return trx
    .selectFrom('dialogue_answers as a')
    .innerJoin('dialogues as g', 'g.id', 'a.dialogue_id')
    .select(['g.team_id', 'a.question_id', 'a.value'])
    .where('g.round_id', '=', roundId)
    .where('g.state', '=', 'closed')
    .where('a.side', '=', 'employee')
    .where('a.question_id', 'in', questionIds)
    .execute();
}

export async function readNotes(trx: Tx, dialogueId: string): Promise<{ text: string; version: number }> {
  const row = await trx.selectFrom('dialogues').select(['notes_text', 'notes_version']).where('id', '=', dialogueId).executeTakeFirstOrThrow();
  return { text: row.notes_text, version: row.notes_version };
}

export async function writeNotes(trx: Tx, dialogueId: string, text: string, expectedVersion: number): Promise<SaveResult> {
  const updated = await trx
    .updateTable('dialogues')
    .set({ notes_text: text, notes_version: expectedVersion + 1 })
    .where('id', '=', dialogueId)
    .where('notes_version', '=', expectedVersion)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 1) return { ok: true, version: expectedVersion + 1 };
  const cur = await readNotes(trx, dialogueId);
  return { ok: false, current: { value: cur.text, version: cur.version } };
}

export async function readDisagreement(trx: Tx, dialogueId: string): Promise<string | null> {
  const row = await trx.selectFrom('dialogues').select('disagreement_text').where('id', '=', dialogueId).executeTakeFirstOrThrow();
  return row.disagreement_text;
}

export async function writeDisagreement(trx: Tx, dialogueId: string, text: string | null) {
  await trx.updateTable('dialogues').set({ disagreement_text: text }).where('id', '=', dialogueId).execute();
}

export type AgreementRow = Awaited<ReturnType<typeof readAgreements>>[number];

const agreementColumns = ['a.id', 'a.dialogue_id', 'a.carried_from', 'a.title_text', 'a.description_text', 'a.owner', 'a.deadline', 'a.follow_up', 'a.status', 'a.progress_text', 'a.created_at', 'a.updated_at'] as const;

export async function readAgreements(trx: Tx, dialogueId: string) {
  return trx.selectFrom('agreements as a').select(agreementColumns).where('a.dialogue_id', '=', dialogueId).orderBy('a.created_at').orderBy('a.id').execute();
}

export async function readAgreement(trx: Tx, id: string) {
  return trx.selectFrom('agreements as a').select(agreementColumns).where('a.id', '=', id).executeTakeFirst();
}

/** The employee's agreements across dialogues, newest dialogue first (for "my agreements"). */
export async function readAgreementsOfEmployee(trx: Tx, employmentId: string) {
  return trx
    .selectFrom('agreements as a')
    .innerJoin('dialogues as g', 'g.id', 'a.dialogue_id')
    .leftJoin('dialogue_rounds as r', 'r.id', 'g.round_id')
    .innerJoin('form_versions as fv', 'fv.id', 'g.form_version_id')
    .innerJoin('forms as f', 'f.id', 'fv.form_id')
    .select([...agreementColumns, 'r.name as round_name', 'f.name as form_name', 'g.state as dialogue_state'])
    .where('a.employee_employment_id', '=', employmentId)
    .where('g.state', '=', 'closed')
    .orderBy('g.created_at', 'desc')
    .orderBy('a.created_at')
    .limit(500)
    .execute();
}

/**
 * Open and in-progress agreements in the closed dialogues the actor leads (the same rule as
 * listDialoguesAsLeader) whose deadline or follow-up date falls on or before `until`.
 */
export async function readAgreementsDueForLeader(trx: Tx, employmentId: string, until: string) {
  return trx
    .selectFrom('agreements as a')
    .innerJoin('dialogues as g', 'g.id', 'a.dialogue_id')
    .innerJoin('form_versions as fv', 'fv.id', 'g.form_version_id')
    .innerJoin('forms as f', 'f.id', 'fv.form_id')
    .innerJoin('employments as ee', 'ee.id', 'g.employee_employment_id')
    .innerJoin('users as eu', 'eu.id', 'ee.user_id')
    .select([...agreementColumns, 'eu.name as employee_name'])
    .where('g.state', '=', 'closed')
    .where('a.status', 'in', ['open', 'in_progress'])
    .where('g.employee_employment_id', '<>', employmentId)
    .where((eb) => eb.or([eb('a.deadline', '<=', until), eb('a.follow_up', '<=', until)]))
    .where((eb) =>
      eb.or([
        eb('g.leader_employment_id', '=', employmentId),
        sql<boolean>`exists (select 1 from delegations dl where dl.employment_id = ${employmentId} and dl.team_id = g.team_id
          and dl.responsibility = case f.kind when 'onboarding' then 'dialog_access_onboarding' when 'sickness' then 'dialog_access_siab' else 'dialog_access_edp' end)`,
      ]),
    )
    // Only the newest copy of a carried agreement counts.
    .where((eb) => eb.not(eb.exists(eb.selectFrom('agreements as n').select('n.id').whereRef('n.carried_from', '=', 'a.id'))))
    .orderBy(sql`least(coalesce(a.deadline, a.follow_up), coalesce(a.follow_up, a.deadline))`)
    .limit(200)
    .execute();
}

/**
 * Open or in-progress agreements of this employee from earlier closed MUS dialogues that were not
 * already carried forward: the ones the next MUS starts with.
 */
export async function readCarryOverAgreements(trx: Tx, employmentId: string) {
  return trx
    .selectFrom('agreements as a')
    .innerJoin('dialogues as g', 'g.id', 'a.dialogue_id')
    .innerJoin('form_versions as fv', 'fv.id', 'g.form_version_id')
    .innerJoin('forms as f', 'f.id', 'fv.form_id')
    .select(agreementColumns)
    .where('f.kind', '=', 'mus')
    .where('a.employee_employment_id', '=', employmentId)
    .where('a.status', 'in', ['open', 'in_progress'])
    .where('g.state', '=', 'closed')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('agreements as n').select('n.id').whereRef('n.carried_from', '=', 'a.id'))))
    .orderBy('a.created_at')
    .execute();
}

export async function insertAgreement(
  trx: Tx,
  row: { id: string; company_id: string; dialogue_id: string; employee_employment_id: string; carried_from: string | null; title_text: string; description_text: string; owner: 'employee' | 'leader'; deadline: string | null; follow_up: string | null; status: AgreementStatus; progress_text: string; at: Date },
) {
  const { at, ...values } = row;
  await trx.insertInto('agreements').values({ ...values, created_at: at, updated_at: at }).execute();
}

export async function updateAgreement(
  trx: Tx,
  id: string,
  set: { title_text?: string; description_text?: string; owner?: 'employee' | 'leader'; deadline?: string | null; follow_up?: string | null; status?: AgreementStatus; progress_text?: string; updated_at: Date },
) {
  await trx.updateTable('agreements').set(set).where('id', '=', id).execute();
}
