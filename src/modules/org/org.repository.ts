/**
 * SQL for the organisation module. Every function takes the open transaction first; the tenant
 * is the transaction's (row-level security), so no query here filters on company_id for safety,
 * only to fill in new rows. "Within a subtree" is answered by department_ancestors() in SQL.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import type { Tx } from '../../platform/db/context.ts';
import type { EmploymentRole, Language, Responsibility } from '../../platform/db/schema.ts';

/** department_ancestors(dept) as text[] (nearest first); text[] parses the same on pg and PGlite. */
const ancestorsOf = (dept: Expression<string | null> | string) =>
  sql<string[] | null>`case when ${dept} is null then null else array(select a::text from department_ancestors(${dept}) as a) end`;

/** True when `dept` or one of its ancestors is among `roots`. */
export function withinRoots(dept: Expression<string | null>, roots: readonly string[]) {
  if (roots.length === 0) return sql<SqlBool>`false`;
  return sql<SqlBool>`exists (select 1 from department_ancestors(${dept}) as a where a in (${sql.join(roots.map((r) => sql`${r}::uuid`))}))`;
}

/** True when a strict ancestor of `dept` (its parent or above) is among `roots`. */
function strictlyWithinRoots(dept: Expression<string | null>, roots: readonly string[]) {
  if (roots.length === 0) return sql<SqlBool>`false`;
  return sql<SqlBool>`exists (select 1 from departments p where p.id = ${dept} and p.parent_id is not null and exists (select 1 from department_ancestors(p.parent_id) as a where a in (${sql.join(roots.map((r) => sql`${r}::uuid`))})))`;
}

export async function listManagedDepartmentIds(trx: Tx, employmentId: string): Promise<string[]> {
  const rows = await trx
    .selectFrom('delegations')
    .select('department_id')
    .where('employment_id', '=', employmentId)
    .where('responsibility', '=', 'manage_organisation_department')
    .where('department_id', 'is not', null)
    .execute();
  return rows.map((r) => r.department_id).filter((id): id is string => id !== null);
}

export async function departmentAncestors(trx: Tx, departmentId: string): Promise<string[]> {
  const rows = await sql<{ id: string }>`select a::text as id from department_ancestors(${departmentId}::uuid) as a`.execute(trx);
  return rows.rows.map((r) => r.id);
}

// ---------------------------------------------------------------- departments

export async function findDepartment(trx: Tx, id: string) {
  return trx
    .selectFrom('departments as d')
    .select(['d.id', 'd.parent_id', 'd.name', 'd.owner_employment_id', ancestorsOf(sql.ref('d.id')).as('ancestors')])
    .where('d.id', '=', id)
    .executeTakeFirst();
}

export type DepartmentRow = Awaited<ReturnType<typeof listDepartments>>[number];

/** Departments with their responsible leader; `roots` limits to those subtrees (null: all). */
export async function listDepartments(trx: Tx, roots: readonly string[] | null) {
  let q = trx
    .selectFrom('departments as d')
    .leftJoin('employments as r', (j) => j.on('r.id', '=', sql<string>`department_responsible_employment(d.id)`))
    .leftJoin('users as ru', 'ru.id', 'r.user_id')
    .select(['d.id', 'd.parent_id', 'd.name', 'd.owner_employment_id', 'r.id as responsible_id', 'ru.name as responsible_name'])
    .orderBy('d.name')
    .orderBy('d.id');
  if (roots) q = q.where(withinRoots(sql.ref('d.id'), roots));
  return q.execute();
}

export async function insertDepartment(trx: Tx, row: { id: string; companyId: string; parentId: string; name: string }) {
  await trx.insertInto('departments').values({ id: row.id, company_id: row.companyId, parent_id: row.parentId, name: row.name, owner_employment_id: null }).execute();
}

export async function updateDepartment(trx: Tx, id: string, set: { name?: string; parent_id?: string; owner_employment_id?: string | null }) {
  await trx.updateTable('departments').set(set).where('id', '=', id).execute();
}

export async function deleteDepartment(trx: Tx, id: string) {
  await trx.deleteFrom('departments').where('id', '=', id).execute();
}

export async function countDepartmentContents(trx: Tx, id: string) {
  return trx
    .selectNoFrom((eb) => [
      eb.selectFrom('departments').select(eb.fn.countAll<number>().as('n')).where('parent_id', '=', id).as('departments'),
      eb.selectFrom('teams').select(eb.fn.countAll<number>().as('n')).where('department_id', '=', id).as('teams'),
      eb.selectFrom('employments').select(eb.fn.countAll<number>().as('n')).where('department_id', '=', id).as('employments'),
    ])
    .executeTakeFirstOrThrow();
}

/** Serialises tree moves in one company, so two concurrent moves cannot build a cycle. */
export async function lockCompanyTree(trx: Tx, companyId: string) {
  await sql`select pg_advisory_xact_lock(hashtext('org-tree:' || ${companyId}::text))`.execute(trx);
}

// ---------------------------------------------------------------- teams

export async function findTeam(trx: Tx, id: string) {
  return trx
    .selectFrom('teams as t')
    .select(['t.id', 't.name', 't.department_id', 't.owner_employment_id', ancestorsOf(sql.ref('t.department_id')).as('ancestors')])
    .where('t.id', '=', id)
    .executeTakeFirst();
}

export type TeamRow = Awaited<ReturnType<typeof listTeams>>[number];

export async function listTeams(trx: Tx, roots: readonly string[] | null) {
  let q = trx
    .selectFrom('teams as t')
    .leftJoin('employments as r', (j) => j.on('r.id', '=', sql<string>`team_responsible_employment(t.id)`))
    .leftJoin('users as ru', 'ru.id', 'r.user_id')
    .select([
      't.id',
      't.name',
      't.department_id',
      't.owner_employment_id',
      'r.id as responsible_id',
      'ru.name as responsible_name',
      (eb) => eb.selectFrom('employments as e').select(eb.fn.countAll<number>().as('n')).whereRef('e.team_id', '=', 't.id').where('e.fired_at', 'is', null).as('members'),
    ])
    .orderBy('t.name')
    .orderBy('t.id');
  if (roots) q = q.where(withinRoots(sql.ref('t.department_id'), roots));
  return q.execute();
}

export async function insertTeam(trx: Tx, row: { id: string; companyId: string; departmentId: string; name: string }) {
  await trx.insertInto('teams').values({ id: row.id, company_id: row.companyId, department_id: row.departmentId, name: row.name, owner_employment_id: null }).execute();
}

export async function updateTeam(trx: Tx, id: string, set: { name?: string; department_id?: string; owner_employment_id?: string | null }) {
  await trx.updateTable('teams').set(set).where('id', '=', id).execute();
}

export async function deleteTeam(trx: Tx, id: string) {
  await trx.deleteFrom('teams').where('id', '=', id).execute();
}

/** Every employment in the team, fired ones still awaiting removal included. */
export async function countTeamEmployments(trx: Tx, id: string): Promise<number> {
  const row = await trx.selectFrom('employments').select((eb) => eb.fn.countAll<number>().as('n')).where('team_id', '=', id).executeTakeFirstOrThrow();
  return Number(row.n);
}

// ---------------------------------------------------------------- people

/** Active leaders and admins: the people who can own a team or department. */
export async function listOwnerOptions(trx: Tx) {
  return trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['e.id', 'u.name', 'e.title'])
    .where('e.fired_at', 'is', null)
    .where('e.role', 'in', ['leader', 'company_admin'])
    .orderBy('u.name')
    .execute();
}

export async function findOwnerCandidate(trx: Tx, employmentId: string) {
  return trx
    .selectFrom('employments')
    .select('id')
    .where('id', '=', employmentId)
    .where('fired_at', 'is', null)
    .where('role', 'in', ['leader', 'company_admin'])
    .executeTakeFirst();
}

/** Active employments (anyone may be granted a responsibility). */
export async function listActiveEmploymentOptions(trx: Tx) {
  return trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['e.id', 'u.name', 'u.email'])
    .where('e.fired_at', 'is', null)
    .orderBy('u.name')
    .execute();
}

export type EmployeeRow = Awaited<ReturnType<typeof listEmployees>>[number];

const employeeColumns = [
  'e.id',
  'e.user_id',
  'e.title',
  'e.role',
  'e.language',
  'e.team_id',
  'e.department_id',
  'e.fired_at',
  'e.fired_by',
  'u.name',
  'u.email',
  't.name as team_name',
  'd.name as department_name',
] as const;

/**
 * People in the company; a delegate's `roots` limits the list to the teams in their subtrees
 * and leaders placed strictly below, never company admins or the delegate themself.
 */
export async function listEmployees(trx: Tx, filter: { roots: readonly string[] | null; excludeEmploymentId?: string; q?: string }) {
  let q = trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .leftJoin('teams as t', 't.id', 'e.team_id')
    .leftJoin('departments as d', 'd.id', 'e.department_id')
    .select(employeeColumns)
    .orderBy('u.name')
    .orderBy('e.id')
    .limit(1000);
  if (filter.roots) {
    const roots = filter.roots;
    q = q
      .where('e.role', '<>', 'company_admin')
      .where((eb) => eb.or([withinRoots(sql.ref('t.department_id'), roots), strictlyWithinRoots(sql.ref('e.department_id'), roots)]));
  }
  if (filter.excludeEmploymentId) q = q.where('e.id', '<>', filter.excludeEmploymentId);
  if (filter.q) {
    // LIKE wildcards in the search text are taken literally.
    const pattern = `%${filter.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) => eb.or([eb(eb.fn('lower', ['u.name']), 'like', pattern), eb(eb.fn('lower', ['u.email']), 'like', pattern)]));
  }
  return q.execute();
}

/** Every employed person's e-mail in the company, lower-cased (the employee import's duplicate check). */
export async function listEmploymentEmails(trx: Tx): Promise<string[]> {
  const rows = await trx.selectFrom('employments as e').innerJoin('users as u', 'u.id', 'e.user_id').select((eb) => eb.fn<string>('lower', ['u.email']).as('email')).execute();
  return rows.map((r) => r.email);
}

/**
 * One employment, purged ones included (M15: their login identity is gone, so name and e-mail
 * come from the row's kept display_name and are empty; purged_at says so).
 */
export async function findEmployee(trx: Tx, id: string) {
  return trx
    .selectFrom('employments as e')
    .leftJoin('users as u', 'u.id', 'e.user_id')
    .leftJoin('teams as t', 't.id', 'e.team_id')
    .leftJoin('departments as d', 'd.id', 'e.department_id')
    .select([
      'e.id',
      'e.user_id',
      'e.title',
      'e.role',
      'e.language',
      'e.team_id',
      'e.department_id',
      'e.fired_at',
      'e.fired_by',
      'e.purged_at',
      sql<string>`coalesce(u.name, e.display_name, '')`.as('name'),
      sql<string>`coalesce(u.email, '')`.as('email'),
      't.name as team_name',
      'd.name as department_name',
      ancestorsOf(sql.ref('t.department_id')).as('team_ancestors'),
      ancestorsOf(sql.ref('e.department_id')).as('department_ancestors'),
    ])
    .where('e.id', '=', id)
    .executeTakeFirst();
}

/** Needs the transaction's lookup e-mail (or an employment in this company) to see the user. */
export async function findUserByEmail(trx: Tx, email: string) {
  return trx
    .selectFrom('users')
    .select(['id', 'name', 'email'])
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
}

export async function staffEmailExists(trx: Tx, email: string): Promise<boolean> {
  const row = await trx
    .selectFrom('staff_accounts')
    .select('id')
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
  return row !== undefined;
}

export async function findEmploymentOfUser(trx: Tx, companyId: string, userId: string) {
  return trx.selectFrom('employments').select(['id']).where('company_id', '=', companyId).where('user_id', '=', userId).executeTakeFirst();
}

export async function insertUser(trx: Tx, row: { id: string; email: string; name: string; passwordHash: string | null }) {
  await trx.insertInto('users').values({ id: row.id, email: row.email, name: row.name, password_hash: row.passwordHash, disabled_at: null }).execute();
}

export type EmploymentValues = {
  title: string;
  role: EmploymentRole;
  language: Language;
  team_id: string | null;
  department_id: string | null;
};

export async function insertEmployment(trx: Tx, row: EmploymentValues & { id: string; company_id: string; user_id: string }) {
  await trx.insertInto('employments').values({ ...row, fired_at: null, fired_by: null }).execute();
}

export async function updateEmployment(trx: Tx, id: string, set: Partial<EmploymentValues> & { fired_at?: Date | null; fired_by?: string | null }) {
  await trx.updateTable('employments').set(set).where('id', '=', id).execute();
}

/**
 * Locks the employment row for a rehire and re-reads its state: the retention runner purges under
 * the same lock, so a rehire and a purge of one person never both win.
 */
export async function lockEmploymentForRehire(trx: Tx, id: string) {
  return trx.selectFrom('employments').select(['id', 'fired_at', 'purged_at']).where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Ends a person's sessions in this company (the sessions_company_end policy admits exactly these). */
export async function deleteSessionsOfUserInCompany(trx: Tx, companyId: string, userId: string): Promise<number> {
  const res = await trx.deleteFrom('sessions').where('company_id', '=', companyId).where('user_id', '=', userId).executeTakeFirst();
  return Number(res.numDeletedRows);
}

// ---------------------------------------------------------------- delegations

export async function listDelegationsOn(trx: Tx, on: { departmentId: string } | { teamId: string }) {
  let q = trx
    .selectFrom('delegations as g')
    .innerJoin('employments as e', 'e.id', 'g.employment_id')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['g.id', 'g.responsibility', 'g.employment_id', 'u.name', 'e.fired_at'])
    .orderBy('u.name')
    .orderBy('g.responsibility');
  q = 'departmentId' in on ? q.where('g.department_id', '=', on.departmentId) : q.where('g.team_id', '=', on.teamId);
  return q.execute();
}

export async function findDelegation(trx: Tx, id: string) {
  return trx.selectFrom('delegations').select(['id', 'employment_id', 'responsibility', 'team_id', 'department_id']).where('id', '=', id).executeTakeFirst();
}

export async function findActiveEmployment(trx: Tx, id: string) {
  return trx.selectFrom('employments').select(['id', 'user_id', 'role']).where('id', '=', id).where('fired_at', 'is', null).executeTakeFirst();
}

export async function insertDelegation(trx: Tx, row: { id: string; company_id: string; employment_id: string; responsibility: Responsibility; team_id: string | null; department_id: string | null }) {
  await trx.insertInto('delegations').values(row).execute();
}

export async function deleteDelegation(trx: Tx, id: string) {
  await trx.deleteFrom('delegations').where('id', '=', id).execute();
}

// ---------------------------------------------------------------- integration API

/**
 * Whether the company's HR system manages this object through the integration API (it has the
 * customer's id in api_external_ids): its synced fields are then read-only in the UI (issue 10).
 */
export async function isApiManaged(trx: Tx, resource: 'department' | 'team' | 'employee' | 'delegation', id: string): Promise<boolean> {
  const row = await trx.selectFrom('api_external_ids').select('internal_id').where('resource', '=', resource).where('internal_id', '=', id).executeTakeFirst();
  return row !== undefined;
}
