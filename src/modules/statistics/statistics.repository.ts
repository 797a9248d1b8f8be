/**
 * SQL for statistics. Takes the open transaction first; the company is the transaction's (RLS).
 * These queries read states, dates and scale answers (digits 1-5) only, never free text.
 *
 * Note for the per-company encryption of answers (#6): listClosedEmployeeAnswers reads
 * dialogue_answers.value directly (a bulk read, one query per page). If answer values are ever
 * sealed at rest, this query must open them like dialogues.repository.ts does, or it will find
 * no scale answers (the statistics would show "too few answers" everywhere, never wrong numbers).
 */
import { sql } from 'kysely';
import type { Tx } from '../../platform/db/context.ts';

/** Departments and teams with their chains (self first) and responsible leaders. */
export async function listStructure(trx: Tx) {
  const departments = await trx
    .selectFrom('departments as d')
    .select(['d.id', 'd.name', 'd.parent_id', sql<string | null>`department_responsible_employment(d.id)`.as('responsible'), sql<string[]>`array(select a::text from department_ancestors(d.id) as a)`.as('ancestors')])
    .orderBy('d.name')
    .orderBy('d.id')
    .execute();
  const teams = await trx
    .selectFrom('teams as t')
    .select(['t.id', 't.name', 't.department_id', sql<string | null>`team_responsible_employment(t.id)`.as('responsible'), sql<string[]>`array(select a::text from department_ancestors(t.department_id) as a)`.as('ancestors')])
    .orderBy('t.name')
    .orderBy('t.id')
    .execute();
  return { departments, teams };
}

/** Departments on which the employment holds any responsibility (each grants statistics, DOMAIN.md). */
export async function listResponsibilityDepartments(trx: Tx, employmentId: string): Promise<string[]> {
  const rows = await trx.selectFrom('delegations').select('department_id').where('employment_id', '=', employmentId).where('department_id', 'is not', null).execute();
  return rows.map((r) => r.department_id).filter((x): x is string => x !== null);
}

/** Employees in teams now (not fired). */
export async function listActiveTeamMembers(trx: Tx) {
  return trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['e.id', 'e.team_id', 'u.name'])
    .where('e.team_id', 'is not', null)
    .where('e.fired_at', 'is', null)
    .orderBy('u.name')
    .execute();
}

export async function findEmployee(trx: Tx, employmentId: string) {
  return trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['e.id', 'e.team_id', 'u.name', sql<string | null>`team_responsible_employment(e.team_id)`.as('responsible')])
    .where('e.id', '=', employmentId)
    .executeTakeFirst();
}

/** When each closed MUS was closed (its latest transition to closed), per employee. */
export async function listClosedMus(trx: Tx) {
  return trx
    .selectFrom('dialogues as g')
    .innerJoin('form_versions as fv', 'fv.id', 'g.form_version_id')
    .innerJoin('forms as f', 'f.id', 'fv.form_id')
    .select(['g.employee_employment_id', sql<Date | null>`(select max(x.created_at) from dialogue_transitions x where x.dialogue_id = g.id and x.to_state = 'closed')`.as('closed_at')])
    .where('g.state', '=', 'closed')
    .where('f.kind', '=', 'mus')
    .execute();
}

/**
 * Employees with an agreement that is still open (open or in progress) after its deadline. An
 * agreement carried into a later dialogue is followed up there, so the older copy does not count.
 */
export async function listOverdueAgreementHolders(trx: Tx, today: string): Promise<string[]> {
  const rows = await trx
    .selectFrom('agreements as a')
    .select('a.employee_employment_id')
    .distinct()
    .where('a.status', 'in', ['open', 'in_progress'])
    .where('a.deadline', 'is not', null)
    .where('a.deadline', '<', today)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('agreements as c').select('c.id').whereRef('c.carried_from', '=', 'a.id'))))
    .execute();
  return rows.map((r) => r.employee_employment_id);
}

/**
 * The employee side's answers in closed dialogues (raw material: values are filtered to scale
 * questions against each version's definition by the service), with when the dialogue closed.
 */
export async function listClosedEmployeeAnswers(trx: Tx, filter: { employmentId?: string }) {
  let q = trx
    .selectFrom('dialogue_answers as a')
    .innerJoin('dialogues as g', 'g.id', 'a.dialogue_id')
    .innerJoin('form_versions as fv', 'fv.id', 'g.form_version_id')
    .select([
      'g.employee_employment_id',
      'g.team_id',
      'g.form_version_id',
      'fv.form_id',
      'a.question_id',
      'a.value',
      sql<Date | null>`(select max(x.created_at) from dialogue_transitions x where x.dialogue_id = g.id and x.to_state = 'closed')`.as('closed_at'),
    ])
    .where('g.state', '=', 'closed')
    .where('a.side', '=', 'employee')
    // Scale answers are one digit; this keeps free text out of the query's result entirely.
    .where(sql<boolean>`a.value ~ '^[1-5]$'`);
  if (filter.employmentId) q = q.where('g.employee_employment_id', '=', filter.employmentId);
  return q.execute();
}

export async function findVersions(trx: Tx, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return trx
    .selectFrom('form_versions as v')
    .innerJoin('forms as f', 'f.id', 'v.form_id')
    .select(['v.id', 'v.form_id', 'v.version', 'v.definition', 'f.name'])
    .where('v.id', 'in', [...ids])
    .execute();
}
