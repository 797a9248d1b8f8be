/**
 * SQL for rounds, dialogues and their content. Takes the open transaction first; the tenant is
 * the transaction's (row-level security).
 *
 * Design note: every read and write of what people typed (answers, shared notes, agreements,
 * progress notes, the disagreement comment) goes through the functions in the "content" section
 * below and nowhere else, so per-company encryption (#6) changes this one file. Audit rows never
 * carry any of it.
 *
 * Encryption at rest (issue 6, M16): free text is sealed with the company's data key
 * (src/platform/crypto/envelope.ts) on its way in and opened on its way out, right here. The
 * company is the stored row's own company_id and the row id is the row that stores the value
 * (in a GRUS, the anchor row for the leader's and shared answers and the notes), so a value copied
 * to another row, table or company does not open (DecryptError). Values written before
 * encryption (no `sx1:` prefix) read unchanged. Scale, yes/no and choice answers stay in clear:
 * statistics read them in SQL. Nothing here searches or orders by sealed columns.
 */
import { sql } from 'kysely';
import { openText, sealText } from '../../platform/crypto/envelope.ts';
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
  'g.group_id',
  'ee.fired_at as employee_fired_at',
  'r.name as round_name',
  'r.preparation_deadline',
  'r.meeting_from',
  'r.meeting_to',
  'f.kind as form_kind',
  'f.name as form_name',
  't.name as team_name',
] as const;

function dialogueQuery(trx: Tx) {
  return trx
    .selectFrom('dialogues as g')
    // Sickness-absence dialogues have no round.
    .leftJoin('dialogue_rounds as r', 'r.id', 'g.round_id')
    // The users rows may be gone (purged 14 days after firing, issue #6): the archive then shows
    // the name kept on the employment (M15).
    .innerJoin('employments as ee', 'ee.id', 'g.employee_employment_id')
    .leftJoin('users as eu', 'eu.id', 'ee.user_id')
    .innerJoin('employments as le', 'le.id', 'g.leader_employment_id')
    .leftJoin('users as lu', 'lu.id', 'le.user_id')
    .innerJoin('form_versions as fv', 'fv.id', 'g.form_version_id')
    .innerJoin('forms as f', 'f.id', 'fv.form_id')
    .leftJoin('teams as t', 't.id', 'g.team_id')
    .select(dialogueColumns)
    .select([sql<string>`coalesce(eu.name, ee.display_name, '–')`.as('employee_name'), sql<string>`coalesce(lu.name, le.display_name, '–')`.as('leader_name')]);
}

export type DialogueRow = NonNullable<Awaited<ReturnType<typeof findDialogue>>>;

/** `lock` takes a row lock, so two concurrent state changes of one dialogue run one after the other. */
export async function findDialogue(trx: Tx, id: string, lock = false) {
  if (lock) {
    // A GRUS step changes every row of its group: lock them all, always in the same order, so two
    // members acting at once wait for each other instead of deadlocking.
    const g = await trx.selectFrom('dialogues').select('group_id').where('id', '=', id).executeTakeFirst();
    if (g?.group_id) await trx.selectFrom('dialogues').select('id').where('group_id', '=', g.group_id).orderBy('id').forUpdate().execute();
    await trx.selectFrom('dialogues').select('id').where('id', '=', id).forUpdate().execute();
  }
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
 * Held as leader (`g` a dialogue, `f` its form): made with them, or on a team where they hold the
 * dialogue access for the form's kind (the same rule as ACCESS_FOR_KIND in the policy).
 */
function heldAsLeader(employmentId: string) {
  return sql<boolean>`(g.leader_employment_id = ${employmentId} or exists (select 1 from delegations dl where dl.employment_id = ${employmentId} and dl.team_id = g.team_id
    and dl.responsibility = case f.kind when 'onboarding' then 'dialog_access_onboarding' when 'sickness' then 'dialog_access_siab' else 'dialog_access_edp' end))`;
}

/**
 * Dialogues the actor holds as leader: made with them, or on a team where they hold the dialogue
 * access for the form's kind (the same rule as ACCESS_FOR_KIND in the policy).
 */
export async function listDialoguesAsLeader(trx: Tx, employmentId: string) {
  return dialogueQuery(trx)
    .where(heldAsLeader(employmentId))
    .where('g.employee_employment_id', '<>', employmentId)
    .where('ee.fired_at', 'is', null)
    .orderBy('r.preparation_deadline')
    .orderBy(sql`coalesce(eu.name, ee.display_name)`)
    .limit(500)
    .execute();
}

/**
 * The leader's archive (M15): dialogues of people who left, held by the actor as leader (the same
 * rule as listDialoguesAsLeader). Relies only on employments and the dialogue tables.
 */
export async function listArchiveForLeader(trx: Tx, employmentId: string) {
  return dialogueQuery(trx)
    .where(heldAsLeader(employmentId))
    .where('g.employee_employment_id', '<>', employmentId)
    .where('ee.fired_at', 'is not', null)
    .orderBy(sql`coalesce(eu.name, ee.display_name)`)
    .orderBy('g.created_at', 'desc')
    .limit(1000)
    .execute();
}

// ---------------------------------------------------------------- GRUS groups

/** The company's own GRUS forms with their newest version. */
export async function listGrusForms(trx: Tx) {
  const rows = await trx
    .selectFrom('forms as f')
    .select(['f.id', 'f.name', 'f.language', (eb) => eb.selectFrom('form_versions as v').select('v.id').whereRef('v.form_id', '=', 'f.id').orderBy('v.version', 'desc').limit(1).as('latest')])
    .where('f.kind', '=', 'grus')
    .where('f.builtin_key', 'is', null)
    .orderBy('f.name')
    .execute();
  return rows.filter((r) => r.latest !== null);
}

/** Every member row of a group, anchor first; `lock` locks them all (state changes). */
export async function listGroupRows(trx: Tx, groupId: string, lock = false) {
  if (lock) await trx.selectFrom('dialogues').select('id').where('group_id', '=', groupId).orderBy('id').forUpdate().execute();
  const rows = await dialogueQuery(trx).where('g.group_id', '=', groupId).orderBy(sql`coalesce(eu.name, ee.display_name)`).execute();
  return [...rows.filter((r) => r.id === groupId), ...rows.filter((r) => r.id !== groupId)];
}

export async function updateGroupRows(trx: Tx, groupId: string, set: { state?: DialogueState; leader_submitted_at?: Date | null; meeting_at?: Date | null; meeting_place?: string | null }) {
  await trx.updateTable('dialogues').set(set).where('group_id', '=', groupId).execute();
}

export async function setGroup(trx: Tx, ids: readonly string[], groupId: string) {
  if (ids.length > 0) await trx.updateTable('dialogues').set({ group_id: groupId }).where('id', 'in', ids).execute();
}

// ---------------------------------------------------------------- requests for an individual MUS

/** Opens a request's reason (sealed with the request's own id). */
async function openRequest<R extends { id: string; company_id: string; reason_text: string }>(r: R): Promise<R> {
  return { ...r, reason_text: await openText(r.company_id, SEALED.musReason, r.id, r.reason_text) };
}

export async function findOpenMusRequest(trx: Tx, grusDialogueId: string) {
  const r = await trx.selectFrom('mus_requests').select(['id', 'company_id', 'created_at', 'reason_text']).where('grus_dialogue_id', '=', grusDialogueId).where('fulfilled_at', 'is', null).executeTakeFirst();
  return r ? openRequest(r) : undefined;
}

export async function insertMusRequest(trx: Tx, row: { id: string; company_id: string; grus_dialogue_id: string; employee_employment_id: string; reason_text: string; created_at: Date }) {
  await trx
    .insertInto('mus_requests')
    .values({ ...row, reason_text: await sealText(row.company_id, SEALED.musReason, row.id, row.reason_text) })
    .execute();
}

export async function fulfilMusRequest(trx: Tx, id: string, set: { mus_dialogue_id: string; fulfilled_at: Date; fulfilled_by: string }) {
  await trx.updateTable('mus_requests').set(set).where('id', '=', id).where('fulfilled_at', 'is', null).execute();
}

/** Open requests in the given member rows (a GRUS page). */
export async function listMusRequests(trx: Tx, grusDialogueIds: readonly string[]) {
  if (grusDialogueIds.length === 0) return [];
  const rows = await trx
    .selectFrom('mus_requests')
    .select(['id', 'company_id', 'grus_dialogue_id', 'employee_employment_id', 'reason_text', 'created_at', 'mus_dialogue_id', 'fulfilled_at'])
    .where('grus_dialogue_id', 'in', grusDialogueIds)
    .orderBy('created_at')
    .execute();
  return Promise.all(rows.map(openRequest));
}

/** The leader's tasks: open requests in GRUS dialogues the actor holds as leader (same rule as listDialoguesAsLeader). */
export async function listOpenMusRequestsForLeader(trx: Tx, employmentId: string) {
  const rows = await trx
    .selectFrom('mus_requests as q')
    .innerJoin('dialogues as g', 'g.id', 'q.grus_dialogue_id')
    .innerJoin('employments as ee', 'ee.id', 'q.employee_employment_id')
    .leftJoin('users as eu', 'eu.id', 'ee.user_id')
    .select(['q.id', 'q.company_id', 'q.grus_dialogue_id', 'q.created_at', 'q.reason_text', sql<string>`coalesce(eu.name, ee.display_name, '–')`.as('employee_name')])
    .where('q.fulfilled_at', 'is', null)
    .where('ee.fired_at', 'is', null)
    .where('q.employee_employment_id', '<>', employmentId)
    .where((eb) =>
      eb.or([
        eb('g.leader_employment_id', '=', employmentId),
        sql<boolean>`exists (select 1 from delegations dl where dl.employment_id = ${employmentId} and dl.team_id = g.team_id and dl.responsibility = 'dialog_access_edp')`,
      ]),
    )
    .orderBy('q.created_at')
    .limit(200)
    .execute();
  return Promise.all(rows.map(openRequest));
}

export async function findEmploymentLanguage(trx: Tx, employmentId: string) {
  return (await trx.selectFrom('employments').select('language').where('id', '=', employmentId).executeTakeFirstOrThrow()).language;
}

export async function listRoundDialogues(trx: Tx, roundId: string) {
  return dialogueQuery(trx).where('g.round_id', '=', roundId).orderBy(sql`coalesce(eu.name, ee.display_name)`).execute();
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
    .leftJoin('employments as e', 'e.id', 'x.actor_employment_id')
    .leftJoin('users as u', 'u.id', 'e.user_id')
    .select(['x.id', 'x.from_state', 'x.to_state', 'x.created_at', sql<string>`coalesce(u.name, e.display_name, '–')`.as('actor_name')])
    .where('x.dialogue_id', '=', dialogueId)
    .orderBy('x.created_at')
    .orderBy('x.id')
    .execute();
}

/** The signatures of many dialogues (a GRUS group's rows). */
export async function listSignaturesOf(trx: Tx, dialogueIds: readonly string[]) {
  if (dialogueIds.length === 0) return [];
  return trx.selectFrom('dialogue_signatures').select(['dialogue_id', 'side', 'employment_id', 'signed_at']).where('dialogue_id', 'in', dialogueIds).execute();
}

export async function listSignatures(trx: Tx, dialogueId: string) {
  return trx
    .selectFrom('dialogue_signatures as s')
    .innerJoin('employments as e', 'e.id', 's.employment_id')
    .leftJoin('users as u', 'u.id', 'e.user_id')
    .select(['s.side', 's.signed_at', 's.employment_id', sql<string>`coalesce(u.name, e.display_name, '–')`.as('name')])
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

/** The envelope's table names (associated data) for each sealed column. */
export const SEALED = {
  answers: 'dialogue_answers',
  notes: 'dialogues.notes',
  disagreement: 'dialogues.disagreement',
  title: 'agreements.title',
  description: 'agreements.description',
  progress: 'agreements.progress',
  musReason: 'mus_requests',
} as const;

/** An answer's row id in the envelope: the row that stores it (dialogue, question, side). */
export const answerRowId = (dialogueId: string, questionId: string, side: AnswerSide) => `${dialogueId}/${questionId}/${side}`;

export type StoredAnswer = { question_id: string; side: AnswerSide; value: string; version: number; updated_at: Date };

export async function readAnswers(trx: Tx, dialogueId: string): Promise<StoredAnswer[]> {
  const rows = await trx.selectFrom('dialogue_answers').select(['company_id', 'question_id', 'side', 'value', 'version', 'updated_at']).where('dialogue_id', '=', dialogueId).execute();
  return Promise.all(
    rows.map(async ({ company_id, ...r }) => ({ ...r, value: await openText(company_id, SEALED.answers, answerRowId(dialogueId, r.question_id, r.side), r.value) })),
  );
}

export type SaveResult = { ok: true; version: number } | { ok: false; current: { value: string; version: number } };

/**
 * Saves one answer if `expectedVersion` is the stored one (0: none stored yet). Otherwise
 * nothing is written and the stored answer comes back (opened), so the caller can show both
 * texts. `seal`: free text is stored sealed with the company's key; scale, yes/no and choice
 * answers are not (statistics read them in SQL).
 */
export async function writeAnswer(
  trx: Tx,
  a: { companyId: string; dialogueId: string; questionId: string; side: AnswerSide; value: string; seal: boolean; expectedVersion: number; by: string; at: Date },
): Promise<SaveResult> {
  const rowId = answerRowId(a.dialogueId, a.questionId, a.side);
  const stored = a.seal ? await sealText(a.companyId, SEALED.answers, rowId, a.value) : a.value;
  if (a.expectedVersion === 0) {
    const inserted = await trx
      .insertInto('dialogue_answers')
      .values({ company_id: a.companyId, dialogue_id: a.dialogueId, question_id: a.questionId, side: a.side, value: stored, version: 1, updated_by: a.by, updated_at: a.at })
      .onConflict((oc) => oc.columns(['company_id', 'dialogue_id', 'question_id', 'side']).doNothing())
      .returning('version')
      .executeTakeFirst();
    if (inserted) return { ok: true, version: 1 };
  } else {
    const updated = await trx
      .updateTable('dialogue_answers')
      .set({ value: stored, version: a.expectedVersion + 1, updated_by: a.by, updated_at: a.at })
      .where('dialogue_id', '=', a.dialogueId)
      .where('question_id', '=', a.questionId)
      .where('side', '=', a.side)
      .where('version', '=', a.expectedVersion)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 1) return { ok: true, version: a.expectedVersion + 1 };
  }
  const row = await trx
    .selectFrom('dialogue_answers')
    .select(['company_id', 'value', 'version'])
    .where('dialogue_id', '=', a.dialogueId)
    .where('question_id', '=', a.questionId)
    .where('side', '=', a.side)
    .executeTakeFirst();
  const current = row ? { value: await openText(row.company_id, SEALED.answers, rowId, row.value), version: row.version } : undefined;
  // The same text saved twice (two tabs, a resubmitted form) is no conflict: nothing changes.
  // Compared opened: two seals of one text never look alike.
  if (current && current.value === a.value) return { ok: true, version: current.version };
  return { ok: false, current: current ?? { value: '', version: 0 } };
}

/**
 * The employee's scale answers in a round's closed dialogues, with the team each dialogue
 * belongs to: the raw material of the round's statistics (never shown one by one). Scale
 * answers are stored in clear (never sealed).
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

/** The company of a stored row (to seal a value written with an update). */
async function companyOfDialogue(trx: Tx, dialogueId: string): Promise<string | undefined> {
  return (await trx.selectFrom('dialogues').select('company_id').where('id', '=', dialogueId).executeTakeFirst())?.company_id;
}

export async function readNotes(trx: Tx, dialogueId: string): Promise<{ text: string; version: number }> {
  const row = await trx.selectFrom('dialogues').select(['company_id', 'notes_text', 'notes_version']).where('id', '=', dialogueId).executeTakeFirstOrThrow();
  return { text: await openText(row.company_id, SEALED.notes, dialogueId, row.notes_text), version: row.notes_version };
}

export async function writeNotes(trx: Tx, dialogueId: string, text: string, expectedVersion: number): Promise<SaveResult> {
  const companyId = await companyOfDialogue(trx, dialogueId);
  if (companyId !== undefined) {
    const updated = await trx
      .updateTable('dialogues')
      .set({ notes_text: await sealText(companyId, SEALED.notes, dialogueId, text), notes_version: expectedVersion + 1 })
      .where('id', '=', dialogueId)
      .where('notes_version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 1) return { ok: true, version: expectedVersion + 1 };
  }
  const cur = await readNotes(trx, dialogueId);
  return { ok: false, current: { value: cur.text, version: cur.version } };
}

export async function readDisagreement(trx: Tx, dialogueId: string): Promise<string | null> {
  const row = await trx.selectFrom('dialogues').select(['company_id', 'disagreement_text']).where('id', '=', dialogueId).executeTakeFirstOrThrow();
  return openText(row.company_id, SEALED.disagreement, dialogueId, row.disagreement_text);
}

export async function writeDisagreement(trx: Tx, dialogueId: string, text: string | null) {
  const companyId = await companyOfDialogue(trx, dialogueId);
  if (companyId === undefined) return;
  await trx
    .updateTable('dialogues')
    .set({ disagreement_text: await sealText(companyId, SEALED.disagreement, dialogueId, text) })
    .where('id', '=', dialogueId)
    .execute();
}

export type AgreementRow = Awaited<ReturnType<typeof readAgreements>>[number];

const agreementColumns = ['a.id', 'a.company_id', 'a.dialogue_id', 'a.employee_employment_id', 'a.carried_from', 'a.title_text', 'a.description_text', 'a.owner', 'a.deadline', 'a.follow_up', 'a.status', 'a.progress_text', 'a.created_at', 'a.updated_at'] as const;

/** Opens an agreement's title, description and progress note (each sealed with the agreement's id). */
async function openAgreement<R extends { id: string; company_id: string; title_text: string; description_text: string; progress_text: string }>(r: R): Promise<R> {
  const [title_text, description_text, progress_text] = await Promise.all([
    openText(r.company_id, SEALED.title, r.id, r.title_text),
    openText(r.company_id, SEALED.description, r.id, r.description_text),
    openText(r.company_id, SEALED.progress, r.id, r.progress_text),
  ]);
  return { ...r, title_text, description_text, progress_text };
}

export async function readAgreements(trx: Tx, dialogueId: string) {
  const rows = await trx.selectFrom('agreements as a').select(agreementColumns).where('a.dialogue_id', '=', dialogueId).orderBy('a.created_at').orderBy('a.id').execute();
  return Promise.all(rows.map(openAgreement));
}

export async function readAgreement(trx: Tx, id: string) {
  const row = await trx.selectFrom('agreements as a').select(agreementColumns).where('a.id', '=', id).executeTakeFirst();
  return row ? openAgreement(row) : undefined;
}

/** The employee's agreements across dialogues, newest dialogue first (for "my agreements"). */
export async function readAgreementsOfEmployee(trx: Tx, employmentId: string) {
  const rows = await trx
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
  return Promise.all(rows.map(openAgreement));
}

/**
 * Open and in-progress agreements in the closed dialogues the actor leads (the same rule as
 * listDialoguesAsLeader) whose deadline or follow-up date falls on or before `until`.
 */
export async function readAgreementsDueForLeader(trx: Tx, employmentId: string, until: string) {
  const rows = await trx
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
    .where(heldAsLeader(employmentId))
    // Only the newest copy of a carried agreement counts.
    .where((eb) => eb.not(eb.exists(eb.selectFrom('agreements as n').select('n.id').whereRef('n.carried_from', '=', 'a.id'))))
    .orderBy(sql`least(coalesce(a.deadline, a.follow_up), coalesce(a.follow_up, a.deadline))`)
    .limit(200)
    .execute();
  return Promise.all(rows.map(openAgreement));
}

/**
 * Open or in-progress agreements of this employee from earlier closed MUS dialogues that were not
 * already carried forward: the ones the next MUS starts with. Returned opened: a carried copy is
 * sealed again for its own row by insertAgreement (the row id is part of the associated data).
 */
export async function readCarryOverAgreements(trx: Tx, employmentId: string) {
  const rows = await trx
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
  return Promise.all(rows.map(openAgreement));
}

export async function insertAgreement(
  trx: Tx,
  row: { id: string; company_id: string; dialogue_id: string; employee_employment_id: string; carried_from: string | null; title_text: string; description_text: string; owner: 'employee' | 'leader'; deadline: string | null; follow_up: string | null; status: AgreementStatus; progress_text: string; at: Date },
) {
  const { at, ...values } = row;
  const [title_text, description_text, progress_text] = await Promise.all([
    sealText(row.company_id, SEALED.title, row.id, row.title_text),
    sealText(row.company_id, SEALED.description, row.id, row.description_text),
    sealText(row.company_id, SEALED.progress, row.id, row.progress_text),
  ]);
  await trx
    .insertInto('agreements')
    .values({ ...values, title_text, description_text, progress_text, created_at: at, updated_at: at })
    .execute();
}

export async function updateAgreement(
  trx: Tx,
  id: string,
  set: { title_text?: string; description_text?: string; owner?: 'employee' | 'leader'; deadline?: string | null; follow_up?: string | null; status?: AgreementStatus; progress_text?: string; updated_at: Date },
) {
  const companyId = (await trx.selectFrom('agreements').select('company_id').where('id', '=', id).executeTakeFirst())?.company_id;
  if (companyId === undefined) return;
  const sealed = { ...set };
  if (set.title_text !== undefined) sealed.title_text = await sealText(companyId, SEALED.title, id, set.title_text);
  if (set.description_text !== undefined) sealed.description_text = await sealText(companyId, SEALED.description, id, set.description_text);
  if (set.progress_text !== undefined) sealed.progress_text = await sealText(companyId, SEALED.progress, id, set.progress_text);
  await trx.updateTable('agreements').set(sealed).where('id', '=', id).execute();
}
