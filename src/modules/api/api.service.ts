/**
 * The integration API's rules: the organisation as an HR system sees it, through the customer's
 * own ids.
 *
 * Design note (M8, issue 10): every function runs in one transaction in the caller's company
 * (withTenant with the token's company; row-level security does the tenant filtering) and
 * writes its audit event there, naming the token. The customer's ids live in api_external_ids;
 * an object without one (made in the UI, like the root department) is outside the API: it is
 * never found by id and shows as `"id": null` where it is nested. The organisation's rules come
 * from the org module (its pure policy functions and its repository, this module being a second
 * front door to the same tables): placement, the 14-day rehire window, tree cycles, delegation
 * targets, "delete only when empty". PostgreSQL constraint errors become 422, so a race that slips
 * past a check is still a clean refusal with nothing half-applied.
 */
import { DialogueValidationError, recordSicknessFromApi, SicknessOverlapError } from '../dialogues/dialogues.service.ts';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import { withTenant, type DbContext, type Tx } from '../../platform/db/context.ts';
import type { ApiResource, EmploymentRole, Language, Responsibility } from '../../platform/db/schema.ts';
import { audit, type AuditInput } from '../../platform/audit/audit.ts';
import * as org from '../org/org.repository.ts';
import { delegationTarget, mayRehire, placementAllowed, wouldCreateCycle } from '../org/org.policy.ts';
import { ApiError, type ApiCaller } from './api.auth.ts';

export type ApiCtx = { deps: AppDeps; caller: ApiCaller };
export type Page = { page: number; perPage: number };
export type Paged<T> = { items: T[]; total: number };

const fieldError = (resource: string, field: string, error: string, message = 'Validation failed') => new ApiError(422, message, [{ resource, field, error }]);
const notFound = (resource: string) => new ApiError(404, `${resource[0]!.toUpperCase()}${resource.slice(1)} not found`);

async function run<T>(ctx: ApiCtx, fn: (trx: Tx) => Promise<T>, extra: DbContext = {}): Promise<T> {
  try {
    return await withTenant(ctx.deps.database, { companyId: ctx.caller.companyId, ...extra }, fn);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === '23505') throw new ApiError(422, 'Validation failed', [{ resource: 'request', field: 'id', error: 'already_exists' }]);
    if (code === '23503') throw new ApiError(422, 'The object is still in use', [{ resource: 'request', field: 'id', error: 'in_use' }]);
    if (code === '23514' || code === '22001' || code === '22007' || code === '22008') throw new ApiError(422, 'Validation failed', [{ resource: 'request', field: 'data', error: 'invalid' }]);
    throw error;
  }
}

function record(trx: Tx, ctx: ApiCtx, event: AuditInput) {
  return audit(
    trx,
    { companyId: ctx.caller.companyId, ip: ctx.caller.ip },
    { ...event, data: { ...(event.data ?? {}), via: 'api', apiTokenId: ctx.caller.tokenId, apiTokenName: ctx.caller.tokenName } },
    ctx.deps.clock.now(),
  );
}

// ---------------------------------------------------------------- id mapping

async function internalId(trx: Tx, resource: ApiResource, externalId: string): Promise<string | undefined> {
  const row = await trx.selectFrom('api_external_ids').select('internal_id').where('resource', '=', resource).where('external_id', '=', externalId).executeTakeFirst();
  return row?.internal_id;
}

async function requireInternal(trx: Tx, resource: ApiResource, externalId: string): Promise<string> {
  const id = await internalId(trx, resource, externalId);
  if (!id) throw notFound(resource);
  return id;
}

/** A reference inside a body (team_id, owner_id, ...): unknown ids are a field error, not 404. */
async function referenced(trx: Tx, resource: ApiResource, externalId: string, bodyResource: string, field: string): Promise<string> {
  const id = await internalId(trx, resource, externalId);
  if (!id) throw fieldError(bodyResource, field, 'not_found');
  return id;
}

async function externalIds(trx: Tx, resource: ApiResource, ids: readonly (string | null)[]): Promise<Map<string, string>> {
  const wanted = [...new Set(ids.filter((x): x is string => x !== null))];
  if (wanted.length === 0) return new Map();
  const rows = await trx.selectFrom('api_external_ids').select(['internal_id', 'external_id']).where('resource', '=', resource).where('internal_id', 'in', wanted).execute();
  return new Map(rows.map((r) => [r.internal_id, r.external_id]));
}

async function link(trx: Tx, ctx: ApiCtx, resource: ApiResource, externalId: string, id: string, bodyResource: string) {
  if (await internalId(trx, resource, externalId)) throw fieldError(bodyResource, 'id', 'already_exists');
  await trx.insertInto('api_external_ids').values({ company_id: ctx.caller.companyId, resource, external_id: externalId, internal_id: id }).execute();
}

async function unlink(trx: Tx, resource: ApiResource, id: string) {
  await trx.deleteFrom('api_external_ids').where('resource', '=', resource).where('internal_id', '=', id).execute();
}

// ---------------------------------------------------------------- shapes

export type UserOut = { id: string; name: string; email: string; username: string | null; gender: string | null; birthday: string | null };
export type PersonOut = { id: string | null; title: string; user: { id: string | null; name: string; email: string } };
export type EmployeeOut = {
  id: string;
  title: string;
  role: EmploymentRole;
  language: Language;
  fired_at: string | null;
  team: { id: string | null; name: string } | null;
  department: { id: string | null; name: string } | null;
  user: UserOut;
};
export type DepartmentOut = { id: string; name: string; parent_id: string | null; owner: PersonOut | null; responsible_employee: PersonOut | null };
export type TeamOut = {
  id: string;
  name: string;
  department: { id: string | null; name: string };
  owner: PersonOut | null;
  responsible_employee: PersonOut | null;
  employees: PersonOut[];
};
export type DelegationOut = { id: string; responsibility: Responsibility; employee: PersonOut; team_id: string | null; department_id: string | null };

async function people(trx: Tx, employmentIds: readonly (string | null)[]): Promise<Map<string, PersonOut>> {
  const ids = [...new Set(employmentIds.filter((x): x is string => x !== null))];
  if (ids.length === 0) return new Map();
  const rows = await trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['e.id', 'e.title', 'e.user_id', 'u.name', 'u.email'])
    .where('e.id', 'in', ids)
    .execute();
  const empExt = await externalIds(trx, 'employee', ids);
  const userExt = await externalIds(trx, 'user', rows.map((r) => r.user_id));
  return new Map(rows.map((r) => [r.id, { id: empExt.get(r.id) ?? null, title: r.title, user: { id: userExt.get(r.user_id) ?? null, name: r.name, email: r.email } }]));
}

function paged<T>(q: Page, rows: T[]): T[] {
  return rows.slice((q.page - 1) * q.perPage, q.page * q.perPage);
}

// ---------------------------------------------------------------- users

export type UserInput = { id: string; name: string; email: string; username?: string | null | undefined; gender?: 'male' | 'female' | 'other' | null | undefined; birthday?: string | null | undefined };
export type UserPatch = Partial<Omit<UserInput, 'id'>>;

async function loadUsers(trx: Tx, userIds: readonly string[] | null, q?: Page): Promise<Paged<UserOut>> {
  let query = trx
    .selectFrom('api_external_ids as x')
    .innerJoin('api_users as a', 'a.user_id', 'x.internal_id')
    .innerJoin('users as u', 'u.id', 'a.user_id')
    .select(['x.external_id', 'u.name', 'u.email', 'a.username', 'a.gender', 'a.birthday'])
    .where('x.resource', '=', 'user')
    .orderBy('x.external_id');
  if (userIds) query = query.where('u.id', 'in', userIds.length ? userIds : ['00000000-0000-0000-0000-000000000000']);
  const rows = await query.execute();
  const items = rows.map((r) => ({ id: r.external_id, name: r.name, email: r.email, username: r.username, gender: r.gender, birthday: r.birthday }));
  return { items: q ? paged(q, items) : items, total: items.length };
}

async function userOut(trx: Tx, userId: string): Promise<UserOut> {
  const u = (await loadUsers(trx, [userId])).items[0];
  if (!u) throw notFound('user');
  return u;
}

export async function listUsers(ctx: ApiCtx, q: Page): Promise<Paged<UserOut>> {
  return run(ctx, (trx) => loadUsers(trx, null, q));
}

export async function getUser(ctx: ApiCtx, ext: string): Promise<UserOut> {
  return run(ctx, async (trx) => userOut(trx, await requireInternal(trx, 'user', ext)));
}

export async function createUser(ctx: ApiCtx, input: UserInput): Promise<UserOut> {
  const email = input.email.trim();
  return run(
    ctx,
    async (trx) => {
      if (await internalId(trx, 'user', input.id)) throw fieldError('user', 'id', 'already_exists');
      if (await org.staffEmailExists(trx, email)) throw fieldError('user', 'email', 'already_exists');
      const existing = await org.findUserByEmail(trx, email);
      let userId: string;
      if (existing) {
        const linked = await trx.selectFrom('api_users').select('user_id').where('user_id', '=', existing.id).where('company_id', '=', ctx.caller.companyId).executeTakeFirst();
        if (linked) throw fieldError('user', 'email', 'already_exists');
        userId = existing.id;
      } else {
        userId = randomUUID();
        await org.insertUser(trx, { id: userId, email, name: input.name, passwordHash: null });
      }
      await trx
        .insertInto('api_users')
        .values({ company_id: ctx.caller.companyId, user_id: userId, username: input.username ?? null, gender: input.gender ?? null, birthday: input.birthday ?? null })
        .execute();
      await link(trx, ctx, 'user', input.id, userId, 'user');
      await record(trx, ctx, { type: 'api.user.created', objectType: 'user', objectId: userId, data: { externalId: input.id, existingIdentity: existing !== undefined } });
      return userOut(trx, userId);
    },
    { lookupEmail: email },
  );
}

/** Whether the identity is also known to another company (then its name and e-mail are not ours to change). */
async function identityShared(ctx: ApiCtx, userId: string): Promise<boolean> {
  return withTenant(ctx.deps.database, { companyId: ctx.caller.companyId, userId }, async (trx) => {
    const e = await trx.selectFrom('employments').select('id').where('user_id', '=', userId).where('company_id', '<>', ctx.caller.companyId).executeTakeFirst();
    const a = await trx.selectFrom('api_users').select('user_id').where('user_id', '=', userId).where('company_id', '<>', ctx.caller.companyId).executeTakeFirst();
    return e !== undefined || a !== undefined;
  });
}

export async function updateUser(ctx: ApiCtx, ext: string, input: UserPatch): Promise<UserOut> {
  const userId = await run(ctx, (trx) => requireInternal(trx, 'user', ext));
  const current = await run(ctx, (trx) => trx.selectFrom('users').select(['name', 'email']).where('id', '=', userId).executeTakeFirstOrThrow());
  const email = input.email?.trim();
  const changesIdentity = (input.name !== undefined && input.name !== current.name) || (email !== undefined && email.toLowerCase() !== current.email.toLowerCase());
  if (changesIdentity && (await identityShared(ctx, userId))) {
    throw fieldError('user', email !== undefined && email.toLowerCase() !== current.email.toLowerCase() ? 'email' : 'name', 'shared_identity', 'The user also belongs to another company; name and e-mail cannot be changed here');
  }
  return run(
    ctx,
    async (trx) => {
      const set: { name?: string; email?: string } = {};
      if (input.name !== undefined && input.name !== current.name) set.name = input.name;
      if (email !== undefined && email !== current.email) {
        if (email.toLowerCase() !== current.email.toLowerCase()) {
          if ((await org.staffEmailExists(trx, email)) || (await org.findUserByEmail(trx, email))) throw fieldError('user', 'email', 'already_exists');
        }
        set.email = email;
      }
      if (Object.keys(set).length) await trx.updateTable('users').set(set).where('id', '=', userId).execute();
      const extra: { username?: string | null; gender?: 'male' | 'female' | 'other' | null; birthday?: string | null } = {};
      if (input.username !== undefined) extra.username = input.username;
      if (input.gender !== undefined) extra.gender = input.gender;
      if (input.birthday !== undefined) extra.birthday = input.birthday;
      if (Object.keys(extra).length) await trx.updateTable('api_users').set(extra).where('user_id', '=', userId).execute();
      if (Object.keys(set).length || Object.keys(extra).length) {
        await record(trx, ctx, { type: 'api.user.updated', objectType: 'user', objectId: userId, data: { externalId: ext, fields: [...Object.keys(set), ...Object.keys(extra)].join(',') } });
      }
      return userOut(trx, userId);
    },
    email ? { lookupEmail: email } : {},
  );
}

/** Only without active employments here; the identity itself stays for the system purge. */
export async function deleteUser(ctx: ApiCtx, ext: string): Promise<void> {
  await run(ctx, async (trx) => {
    const userId = await requireInternal(trx, 'user', ext);
    const active = await trx.selectFrom('employments').select('id').where('user_id', '=', userId).where('company_id', '=', ctx.caller.companyId).where('fired_at', 'is', null).executeTakeFirst();
    if (active) throw new ApiError(422, 'The user still has an active employee', [{ resource: 'user', field: 'employees', error: 'not_empty' }]);
    await trx.deleteFrom('api_users').where('user_id', '=', userId).where('company_id', '=', ctx.caller.companyId).execute();
    await unlink(trx, 'user', userId);
    await record(trx, ctx, { type: 'api.user.deleted', objectType: 'user', objectId: userId, data: { externalId: ext } });
  });
}

// ---------------------------------------------------------------- employees

export type EmployeeInput = {
  id: string;
  title?: string | undefined;
  role?: 'employee' | 'leader' | undefined;
  language?: Language | undefined;
  team_id?: string | null | undefined;
  department_id?: string | null | undefined;
};
export type EmployeePatch = Omit<EmployeeInput, 'id'>;

async function loadEmployees(trx: Tx, filter: { ids?: readonly string[]; teamId?: string }, q?: Page): Promise<Paged<EmployeeOut>> {
  let query = trx
    .selectFrom('api_external_ids as x')
    .innerJoin('employments as e', 'e.id', 'x.internal_id')
    .leftJoin('teams as t', 't.id', 'e.team_id')
    .leftJoin('departments as d', 'd.id', 'e.department_id')
    .select(['x.external_id', 'e.id', 'e.user_id', 'e.title', 'e.role', 'e.language', 'e.fired_at', 'e.team_id', 't.name as team_name', 'e.department_id', 'd.name as department_name'])
    .where('x.resource', '=', 'employee')
    .orderBy('x.external_id');
  if (filter.ids) query = query.where('e.id', 'in', filter.ids.length ? filter.ids : ['00000000-0000-0000-0000-000000000000']);
  if (filter.teamId) query = query.where('e.team_id', '=', filter.teamId);
  const all = await query.execute();
  const rows = q ? paged(q, all) : all;
  const users = new Map<string, UserOut>();
  const userIds = [...new Set(rows.map((r) => r.user_id))];
  for (const u of userIds.length ? (await loadUsersWithIds(trx, userIds)) : []) users.set(u.userId, u.out);
  const teamExt = await externalIds(trx, 'team', rows.map((r) => r.team_id));
  const deptExt = await externalIds(trx, 'department', rows.map((r) => r.department_id));
  const items = rows.map((r) => ({
    id: r.external_id,
    title: r.title,
    role: r.role,
    language: r.language,
    fired_at: r.fired_at ? new Date(r.fired_at).toISOString() : null,
    team: r.team_id ? { id: teamExt.get(r.team_id) ?? null, name: r.team_name ?? '' } : null,
    department: r.department_id ? { id: deptExt.get(r.department_id) ?? null, name: r.department_name ?? '' } : null,
    user: users.get(r.user_id) ?? { id: '', name: '', email: '', username: null, gender: null, birthday: null },
  }));
  return { items, total: all.length };
}

/** Users by internal id, with or without an API link (an employee's user may predate the API). */
async function loadUsersWithIds(trx: Tx, userIds: string[]) {
  const rows = await trx
    .selectFrom('users as u')
    .leftJoin('api_users as a', 'a.user_id', 'u.id')
    .select(['u.id', 'u.name', 'u.email', 'a.username', 'a.gender', 'a.birthday'])
    .where('u.id', 'in', userIds)
    .execute();
  const ext = await externalIds(trx, 'user', userIds);
  return rows.map((r) => ({ userId: r.id, out: { id: ext.get(r.id) ?? '', name: r.name, email: r.email, username: r.username ?? null, gender: r.gender ?? null, birthday: r.birthday ?? null } }));
}

async function employeeOut(trx: Tx, employmentId: string): Promise<EmployeeOut> {
  const e = (await loadEmployees(trx, { ids: [employmentId] })).items[0];
  if (!e) throw notFound('employee');
  return e;
}

/** The employee `ext` of the API user `userExt`: 404 unless both exist and belong together. */
async function employeeOfUser(trx: Tx, userExt: string, ext: string) {
  const userId = await requireInternal(trx, 'user', userExt);
  const id = await requireInternal(trx, 'employee', ext);
  const e = await trx.selectFrom('employments').select(['id', 'user_id', 'role', 'title', 'language', 'team_id', 'department_id', 'fired_at'])
    .where('id', '=', id)
    // Locked like the retention purge locks it, so a rehire and a purge never cross.
    .forUpdate()
    .executeTakeFirst();
  if (!e || e.user_id !== userId) throw notFound('employee');
  return e;
}

async function placement(trx: Tx, role: EmploymentRole, teamExt: string | null | undefined, deptExt: string | null | undefined) {
  const teamId = teamExt ? await referenced(trx, 'team', teamExt, 'employee', 'team_id') : null;
  const departmentId = deptExt ? await referenced(trx, 'department', deptExt, 'employee', 'department_id') : null;
  const rule = placementAllowed(role, { teamId, departmentId });
  if (rule === 'onlyOne') throw fieldError('employee', 'department_id', 'only_one_placement');
  if (rule === 'needTeam' && departmentId) throw fieldError('employee', 'department_id', 'leaders_only');
  // An employee may be without a team for a while (removed from one, not yet added to another).
  if (rule === 'needOne' && role !== 'employee') throw fieldError('employee', 'department_id', 'missing');
  return { teamId, departmentId };
}

export async function listEmployees(ctx: ApiCtx, q: Page): Promise<Paged<EmployeeOut>> {
  return run(ctx, (trx) => loadEmployees(trx, {}, q));
}

export async function listEmployeesOfUser(ctx: ApiCtx, userExt: string, q: Page): Promise<Paged<EmployeeOut>> {
  return run(ctx, async (trx) => {
    const userId = await requireInternal(trx, 'user', userExt);
    const ids = (await trx.selectFrom('employments').select('id').where('user_id', '=', userId).where('company_id', '=', ctx.caller.companyId).execute()).map((r) => r.id);
    return loadEmployees(trx, { ids }, q);
  });
}

export async function getEmployee(ctx: ApiCtx, userExt: string, ext: string): Promise<EmployeeOut> {
  return run(ctx, async (trx) => employeeOut(trx, (await employeeOfUser(trx, userExt, ext)).id));
}

export async function createEmployee(ctx: ApiCtx, userExt: string, input: EmployeeInput): Promise<EmployeeOut> {
  return run(ctx, async (trx) => {
    const userId = await requireInternal(trx, 'user', userExt);
    if (await internalId(trx, 'employee', input.id)) throw fieldError('employee', 'id', 'already_exists');
    const existing = await org.findEmploymentOfUser(trx, ctx.caller.companyId, userId);
    const role = input.role ?? 'employee';
    const place = await placement(trx, role, input.team_id, input.department_id);
    if (existing) {
      // A person already employed here from before the integration (made in the UI) is adopted:
      // the HR system's id is attached and its fields applied. Company admins are never adopted.
      const row = await trx.selectFrom('employments').select(['id', 'role']).where('id', '=', existing.id).executeTakeFirstOrThrow();
      if (row.role === 'company_admin' || (await org.isApiManaged(trx, 'employee', row.id))) {
        throw fieldError('employee', 'user_id', 'already_employed', 'The user already has an employee in this company');
      }
      const set = { title: input.title ?? '', role, team_id: place.teamId, department_id: place.departmentId, ...(input.language ? { language: input.language } : {}) };
      await org.updateEmployment(trx, row.id, set);
      await link(trx, ctx, 'employee', input.id, row.id, 'employee');
      await record(trx, ctx, { type: 'org.employee.updated', objectType: 'employment', objectId: row.id, data: { adoptedBy: 'api', externalId: input.id, role, team_id: place.teamId, department_id: place.departmentId } });
      return employeeOut(trx, row.id);
    }
    const id = randomUUID();
    await org.insertEmployment(trx, { id, company_id: ctx.caller.companyId, user_id: userId, title: input.title ?? '', role, language: input.language ?? 'da', team_id: place.teamId, department_id: place.departmentId });
    await link(trx, ctx, 'employee', input.id, id, 'employee');
    await record(trx, ctx, { type: 'org.employee.created', objectType: 'employment', objectId: id, data: { userId, role, newUser: false, externalId: input.id } });
    return employeeOut(trx, id);
  });
}

/** Changes fields; on a fired employee within the 14-day window it is also the rehire. */
export async function updateEmployee(ctx: ApiCtx, userExt: string, ext: string, input: EmployeePatch): Promise<EmployeeOut> {
  return run(ctx, async (trx) => {
    const e = await employeeOfUser(trx, userExt, ext);
    const now = ctx.deps.clock.now();
    if (e.fired_at !== null) {
      if (!mayRehire(e.fired_at, now)) throw fieldError('employee', 'fired_at', 'rehire_window_passed', 'The employee was fired more than 14 days ago and cannot be restored');
      await org.updateEmployment(trx, e.id, { fired_at: null, fired_by: null });
      await record(trx, ctx, { type: 'org.employee.rehired', objectType: 'employment', objectId: e.id, data: { userId: e.user_id } });
    }
    if (e.role === 'company_admin' && input.role !== undefined) throw fieldError('employee', 'role', 'not_allowed');
    const role = input.role ?? e.role;
    const teamExt = input.team_id !== undefined ? input.team_id : undefined;
    const deptExt = input.department_id !== undefined ? input.department_id : undefined;
    const set: Partial<org.EmploymentValues> = {};
    if (input.title !== undefined && input.title !== e.title) set.title = input.title;
    if (role !== e.role) set.role = role;
    if (input.language !== undefined && input.language !== e.language) set.language = input.language;
    if (teamExt !== undefined || deptExt !== undefined || role !== e.role) {
      const teamId = teamExt === undefined ? e.team_id : teamExt ? await referenced(trx, 'team', teamExt, 'employee', 'team_id') : null;
      let departmentId = deptExt === undefined ? e.department_id : deptExt ? await referenced(trx, 'department', deptExt, 'employee', 'department_id') : null;
      // A new team replaces a department seat unless both were sent.
      if (teamExt && deptExt === undefined) departmentId = null;
      const rule = placementAllowed(role, { teamId, departmentId });
      if (rule === 'onlyOne') throw fieldError('employee', 'department_id', 'only_one_placement');
      if (rule === 'needTeam' && departmentId) throw fieldError('employee', 'department_id', 'leaders_only');
      if (rule === 'needOne' && role !== 'employee') throw fieldError('employee', 'department_id', 'missing');
      if (teamId !== e.team_id) set.team_id = teamId;
      if (departmentId !== e.department_id) set.department_id = departmentId;
    }
    if (Object.keys(set).length) {
      await org.updateEmployment(trx, e.id, set);
      const data: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(set)) data[k] = v;
      await record(trx, ctx, { type: 'org.employee.updated', objectType: 'employment', objectId: e.id, data });
    }
    return employeeOut(trx, e.id);
  });
}

/** Firing is a soft delete: undone by a PATCH within 14 days. Firing twice changes nothing. */
export async function fireEmployee(ctx: ApiCtx, userExt: string, ext: string): Promise<EmployeeOut> {
  return run(ctx, async (trx) => {
    const e = await employeeOfUser(trx, userExt, ext);
    if (e.fired_at === null) {
      await org.updateEmployment(trx, e.id, { fired_at: ctx.deps.clock.now(), fired_by: null });
      const ended = await org.deleteSessionsOfUserInCompany(trx, ctx.caller.companyId, e.user_id);
      await record(trx, ctx, { type: 'org.employee.fired', objectType: 'employment', objectId: e.id, data: { userId: e.user_id, sessionsEnded: ended } });
    }
    return employeeOut(trx, e.id);
  });
}

// ---------------------------------------------------------------- departments

export type DepartmentInput = { id: string; name: string; owner_id?: string | null | undefined };
export type DepartmentPatch = { name?: string | undefined; owner_id?: string | null | undefined };

async function ownerFor(trx: Tx, ext: string | null | undefined, resource: string): Promise<string | null | undefined> {
  if (ext === undefined) return undefined;
  if (ext === null) return null;
  const id = await referenced(trx, 'employee', ext, resource, 'owner_id');
  if (!(await org.findOwnerCandidate(trx, id))) throw fieldError(resource, 'owner_id', 'not_a_leader');
  return id;
}

async function loadDepartments(trx: Tx, ids: readonly string[] | null, q?: Page): Promise<Paged<DepartmentOut>> {
  let query = trx
    .selectFrom('api_external_ids as x')
    .innerJoin('departments as d', 'd.id', 'x.internal_id')
    .select(['x.external_id', 'd.id', 'd.name', 'd.parent_id', 'd.owner_employment_id', sql<string | null>`department_responsible_employment(d.id)`.as('responsible')])
    .where('x.resource', '=', 'department')
    .orderBy('x.external_id');
  if (ids) query = query.where('d.id', 'in', ids.length ? ids : ['00000000-0000-0000-0000-000000000000']);
  const all = await query.execute();
  const rows = q ? paged(q, all) : all;
  const parents = await externalIds(trx, 'department', rows.map((r) => r.parent_id));
  const who = await people(trx, rows.flatMap((r) => [r.owner_employment_id, r.responsible]));
  const items = rows.map((r) => ({
    id: r.external_id,
    name: r.name,
    parent_id: r.parent_id ? (parents.get(r.parent_id) ?? null) : null,
    owner: r.owner_employment_id ? (who.get(r.owner_employment_id) ?? null) : null,
    responsible_employee: r.responsible ? (who.get(r.responsible) ?? null) : null,
  }));
  return { items, total: all.length };
}

async function departmentOut(trx: Tx, id: string): Promise<DepartmentOut> {
  const d = (await loadDepartments(trx, [id])).items[0];
  if (!d) throw notFound('department');
  return d;
}

export async function listDepartments(ctx: ApiCtx, q: Page) {
  return run(ctx, (trx) => loadDepartments(trx, null, q));
}

export async function getDepartment(ctx: ApiCtx, ext: string) {
  return run(ctx, async (trx) => departmentOut(trx, await requireInternal(trx, 'department', ext)));
}

/** Under `parentExt`, or under the company's root department when none is given. */
export async function createDepartment(ctx: ApiCtx, parentExt: string | null, input: DepartmentInput): Promise<DepartmentOut> {
  return run(ctx, async (trx) => {
    const parentId = parentExt ? await requireInternal(trx, 'department', parentExt) : await rootDepartment(trx);
    if (await internalId(trx, 'department', input.id)) throw fieldError('department', 'id', 'already_exists');
    const owner = await ownerFor(trx, input.owner_id, 'department');
    const id = randomUUID();
    await org.insertDepartment(trx, { id, companyId: ctx.caller.companyId, parentId, name: input.name });
    if (owner) await org.updateDepartment(trx, id, { owner_employment_id: owner });
    await link(trx, ctx, 'department', input.id, id, 'department');
    await record(trx, ctx, { type: 'org.department.created', objectType: 'department', objectId: id, data: { name: input.name, parentId, externalId: input.id } });
    return departmentOut(trx, id);
  });
}

async function rootDepartment(trx: Tx): Promise<string> {
  const root = await trx.selectFrom('departments').select('id').where('parent_id', 'is', null).executeTakeFirst();
  if (!root) throw new ApiError(422, 'The company has no root department', [{ resource: 'department', field: 'parent_id', error: 'missing' }]);
  return root.id;
}

/** Renames or re-owns; with `parentExt` also moves under that department (a PATCH on the new parent's path). */
export async function updateDepartment(ctx: ApiCtx, parentExt: string | null, ext: string, input: DepartmentPatch): Promise<DepartmentOut> {
  return run(ctx, async (trx) => {
    const id = await requireInternal(trx, 'department', ext);
    const d = await org.findDepartment(trx, id);
    if (!d) throw notFound('department');
    const set: { name?: string; parent_id?: string; owner_employment_id?: string | null } = {};
    if (input.name !== undefined && input.name !== d.name) set.name = input.name;
    const owner = await ownerFor(trx, input.owner_id, 'department');
    if (owner !== undefined && owner !== d.owner_employment_id) set.owner_employment_id = owner;
    if (parentExt) {
      await org.lockCompanyTree(trx, ctx.caller.companyId);
      const parentId = await requireInternal(trx, 'department', parentExt);
      const parent = await org.findDepartment(trx, parentId);
      if (!parent) throw notFound('department');
      if (wouldCreateCycle(d.id, parent.ancestors ?? [])) throw fieldError('department', 'parent_id', 'cycle', 'A department cannot move below itself');
      if (parentId !== d.parent_id) set.parent_id = parentId;
    }
    if (Object.keys(set).length) {
      await org.updateDepartment(trx, d.id, set);
      await record(trx, ctx, {
        type: 'org.department.updated',
        objectType: 'department',
        objectId: d.id,
        data: { ...(set.name !== undefined ? { name: set.name } : {}), ...(set.parent_id !== undefined ? { parentId: set.parent_id } : {}), ...(set.owner_employment_id !== undefined ? { ownerEmploymentId: set.owner_employment_id } : {}) },
      });
    }
    return departmentOut(trx, d.id);
  });
}

export async function deleteDepartment(ctx: ApiCtx, ext: string): Promise<void> {
  await run(ctx, async (trx) => {
    const id = await requireInternal(trx, 'department', ext);
    const d = await org.findDepartment(trx, id);
    if (!d) throw notFound('department');
    const c = await org.countDepartmentContents(trx, id);
    if (Number(c.departments) > 0 || Number(c.teams) > 0 || Number(c.employments) > 0) {
      throw new ApiError(422, 'The department is not empty', [{ resource: 'department', field: 'id', error: 'not_empty' }]);
    }
    await trx.deleteFrom('api_external_ids').where('resource', '=', 'delegation').where('internal_id', 'in', trx.selectFrom('delegations').select('id').where('department_id', '=', id)).execute();
    await unlink(trx, 'department', id);
    await org.deleteDepartment(trx, id);
    await record(trx, ctx, { type: 'org.department.deleted', objectType: 'department', objectId: id, data: { name: d.name, externalId: ext } });
  });
}

// ---------------------------------------------------------------- teams

export type TeamInput = { id: string; name: string; owner_id?: string | null | undefined };
export type TeamPatch = { name?: string | undefined; owner_id?: string | null | undefined };

async function loadTeams(trx: Tx, ids: readonly string[] | null, q?: Page): Promise<Paged<TeamOut>> {
  let query = trx
    .selectFrom('api_external_ids as x')
    .innerJoin('teams as t', 't.id', 'x.internal_id')
    .innerJoin('departments as d', 'd.id', 't.department_id')
    .select(['x.external_id', 't.id', 't.name', 't.department_id', 'd.name as department_name', 't.owner_employment_id', sql<string | null>`team_responsible_employment(t.id)`.as('responsible')])
    .where('x.resource', '=', 'team')
    .orderBy('x.external_id');
  if (ids) query = query.where('t.id', 'in', ids.length ? ids : ['00000000-0000-0000-0000-000000000000']);
  const all = await query.execute();
  const rows = q ? paged(q, all) : all;
  const teamIds = rows.map((r) => r.id);
  const members = teamIds.length
    ? await trx.selectFrom('employments').select(['id', 'team_id']).where('team_id', 'in', teamIds).where('fired_at', 'is', null).execute()
    : [];
  const depts = await externalIds(trx, 'department', rows.map((r) => r.department_id));
  const who = await people(trx, [...rows.flatMap((r) => [r.owner_employment_id, r.responsible]), ...members.map((m) => m.id)]);
  const items = rows.map((r) => ({
    id: r.external_id,
    name: r.name,
    department: { id: depts.get(r.department_id) ?? null, name: r.department_name },
    owner: r.owner_employment_id ? (who.get(r.owner_employment_id) ?? null) : null,
    responsible_employee: r.responsible ? (who.get(r.responsible) ?? null) : null,
    employees: members.filter((m) => m.team_id === r.id).map((m) => who.get(m.id)).filter((p): p is PersonOut => p !== undefined),
  }));
  return { items, total: all.length };
}

async function teamOut(trx: Tx, id: string): Promise<TeamOut> {
  const t = (await loadTeams(trx, [id])).items[0];
  if (!t) throw notFound('team');
  return t;
}

export async function listTeams(ctx: ApiCtx, q: Page) {
  return run(ctx, (trx) => loadTeams(trx, null, q));
}

export async function getTeam(ctx: ApiCtx, ext: string) {
  return run(ctx, async (trx) => teamOut(trx, await requireInternal(trx, 'team', ext)));
}

export async function createTeam(ctx: ApiCtx, departmentExt: string, input: TeamInput): Promise<TeamOut> {
  return run(ctx, async (trx) => {
    const departmentId = await requireInternal(trx, 'department', departmentExt);
    if (await internalId(trx, 'team', input.id)) throw fieldError('team', 'id', 'already_exists');
    const owner = await ownerFor(trx, input.owner_id, 'team');
    const id = randomUUID();
    await org.insertTeam(trx, { id, companyId: ctx.caller.companyId, departmentId, name: input.name });
    if (owner) await org.updateTeam(trx, id, { owner_employment_id: owner });
    await link(trx, ctx, 'team', input.id, id, 'team');
    await record(trx, ctx, { type: 'org.team.created', objectType: 'team', objectId: id, data: { name: input.name, departmentId, externalId: input.id } });
    return teamOut(trx, id);
  });
}

export async function updateTeam(ctx: ApiCtx, departmentExt: string | null, ext: string, input: TeamPatch): Promise<TeamOut> {
  return run(ctx, async (trx) => {
    const id = await requireInternal(trx, 'team', ext);
    const team = await org.findTeam(trx, id);
    if (!team) throw notFound('team');
    const set: { name?: string; department_id?: string; owner_employment_id?: string | null } = {};
    if (input.name !== undefined && input.name !== team.name) set.name = input.name;
    const owner = await ownerFor(trx, input.owner_id, 'team');
    if (owner !== undefined && owner !== team.owner_employment_id) set.owner_employment_id = owner;
    if (departmentExt) {
      const departmentId = await requireInternal(trx, 'department', departmentExt);
      if (departmentId !== team.department_id) set.department_id = departmentId;
    }
    if (Object.keys(set).length) {
      await org.updateTeam(trx, team.id, set);
      await record(trx, ctx, {
        type: 'org.team.updated',
        objectType: 'team',
        objectId: team.id,
        data: { ...(set.name !== undefined ? { name: set.name } : {}), ...(set.department_id !== undefined ? { departmentId: set.department_id } : {}), ...(set.owner_employment_id !== undefined ? { ownerEmploymentId: set.owner_employment_id } : {}) },
      });
    }
    return teamOut(trx, team.id);
  });
}

/** Only without employees (fired ones in their 14 days included: they still belong to it). */
export async function deleteTeam(ctx: ApiCtx, ext: string): Promise<void> {
  await run(ctx, async (trx) => {
    const id = await requireInternal(trx, 'team', ext);
    const team = await org.findTeam(trx, id);
    if (!team) throw notFound('team');
    if ((await org.countTeamEmployments(trx, id)) > 0) throw new ApiError(422, 'The team still has employees', [{ resource: 'team', field: 'employees', error: 'not_empty' }]);
    await trx.deleteFrom('api_external_ids').where('resource', '=', 'delegation').where('internal_id', 'in', trx.selectFrom('delegations').select('id').where('team_id', '=', id)).execute();
    await unlink(trx, 'team', id);
    await org.deleteTeam(trx, id);
    await record(trx, ctx, { type: 'org.team.deleted', objectType: 'team', objectId: id, data: { name: team.name, externalId: ext } });
  });
}

// ---------------------------------------------------------------- team employees

export async function listTeamEmployees(ctx: ApiCtx, teamExt: string, q: Page) {
  return run(ctx, async (trx) => loadEmployees(trx, { teamId: await requireInternal(trx, 'team', teamExt) }, q));
}

/** Adding moves the employee from their old team (or department seat) to this team. */
export async function addTeamEmployee(ctx: ApiCtx, teamExt: string, employeeExt: string): Promise<EmployeeOut> {
  return run(ctx, async (trx) => {
    const teamId = await requireInternal(trx, 'team', teamExt);
    const id = await referenced(trx, 'employee', employeeExt, 'employee', 'id');
    const e = await trx.selectFrom('employments').select(['id', 'team_id', 'department_id', 'fired_at']).where('id', '=', id).executeTakeFirstOrThrow();
    if (e.fired_at !== null) throw fieldError('employee', 'id', 'fired');
    if (e.team_id !== teamId) {
      await org.updateEmployment(trx, id, { team_id: teamId, department_id: null });
      await record(trx, ctx, { type: 'org.employee.updated', objectType: 'employment', objectId: id, data: { team_id: teamId, fromTeamId: e.team_id, department_id: null } });
    }
    return employeeOut(trx, id);
  });
}

export async function removeTeamEmployee(ctx: ApiCtx, teamExt: string, employeeExt: string): Promise<void> {
  await run(ctx, async (trx) => {
    const teamId = await requireInternal(trx, 'team', teamExt);
    const id = await requireInternal(trx, 'employee', employeeExt);
    const e = await trx.selectFrom('employments').select(['id', 'team_id', 'role']).where('id', '=', id).executeTakeFirst();
    if (!e || e.team_id !== teamId) throw notFound('employee');
    await org.updateEmployment(trx, id, { team_id: null });
    await record(trx, ctx, { type: 'org.employee.updated', objectType: 'employment', objectId: id, data: { team_id: null, fromTeamId: teamId } });
  });
}

// ---------------------------------------------------------------- delegations

export type DelegationInput = { id: string; employee_id: string; responsibility: Responsibility };
type Target = { kind: 'team' | 'department'; ext: string };

async function targetId(trx: Tx, t: Target) {
  return requireInternal(trx, t.kind, t.ext);
}

async function loadDelegations(trx: Tx, on: { teamId?: string; departmentId?: string; ids?: string[] }, q?: Page): Promise<Paged<DelegationOut>> {
  let query = trx
    .selectFrom('api_external_ids as x')
    .innerJoin('delegations as g', 'g.id', 'x.internal_id')
    .select(['x.external_id', 'g.id', 'g.responsibility', 'g.employment_id', 'g.team_id', 'g.department_id'])
    .where('x.resource', '=', 'delegation')
    .orderBy('x.external_id');
  if (on.teamId) query = query.where('g.team_id', '=', on.teamId);
  if (on.departmentId) query = query.where('g.department_id', '=', on.departmentId);
  if (on.ids) query = query.where('g.id', 'in', on.ids);
  const all = await query.execute();
  const rows = q ? paged(q, all) : all;
  const who = await people(trx, rows.map((r) => r.employment_id));
  const teams = await externalIds(trx, 'team', rows.map((r) => r.team_id));
  const depts = await externalIds(trx, 'department', rows.map((r) => r.department_id));
  const items = rows.map((r) => ({
    id: r.external_id,
    responsibility: r.responsibility,
    employee: who.get(r.employment_id) ?? { id: null, title: '', user: { id: null, name: '', email: '' } },
    team_id: r.team_id ? (teams.get(r.team_id) ?? null) : null,
    department_id: r.department_id ? (depts.get(r.department_id) ?? null) : null,
  }));
  return { items, total: all.length };
}

export async function listDelegations(ctx: ApiCtx, t: Target, q: Page) {
  return run(ctx, async (trx) => {
    const id = await targetId(trx, t);
    return loadDelegations(trx, t.kind === 'team' ? { teamId: id } : { departmentId: id }, q);
  });
}

export async function createDelegation(ctx: ApiCtx, t: Target, input: DelegationInput): Promise<DelegationOut> {
  return run(ctx, async (trx) => {
    const on = await targetId(trx, t);
    if (delegationTarget(input.responsibility) !== t.kind) throw fieldError('delegation', 'responsibility', t.kind === 'team' ? 'department_only' : 'team_only');
    if (await internalId(trx, 'delegation', input.id)) throw fieldError('delegation', 'id', 'already_exists');
    const employmentId = await referenced(trx, 'employee', input.employee_id, 'delegation', 'employee_id');
    if (!(await org.findActiveEmployment(trx, employmentId))) throw fieldError('delegation', 'employee_id', 'fired');
    const dup = await trx
      .selectFrom('delegations')
      .select('id')
      .where('employment_id', '=', employmentId)
      .where('responsibility', '=', input.responsibility)
      .where(t.kind === 'team' ? 'team_id' : 'department_id', '=', on)
      .executeTakeFirst();
    if (dup) throw fieldError('delegation', 'responsibility', 'already_exists');
    const id = randomUUID();
    const row = { id, company_id: ctx.caller.companyId, employment_id: employmentId, responsibility: input.responsibility, team_id: t.kind === 'team' ? on : null, department_id: t.kind === 'department' ? on : null };
    await org.insertDelegation(trx, row);
    await link(trx, ctx, 'delegation', input.id, id, 'delegation');
    await record(trx, ctx, { type: 'org.delegation.granted', objectType: 'delegation', objectId: id, data: { employmentId, responsibility: input.responsibility, teamId: row.team_id, departmentId: row.department_id } });
    const out = (await loadDelegations(trx, { ids: [id] })).items[0];
    if (!out) throw notFound('delegation');
    return out;
  });
}

export async function deleteDelegation(ctx: ApiCtx, t: Target, ext: string): Promise<void> {
  await run(ctx, async (trx) => {
    const on = await targetId(trx, t);
    const id = await requireInternal(trx, 'delegation', ext);
    const d = await org.findDelegation(trx, id);
    if (!d || (t.kind === 'team' ? d.team_id : d.department_id) !== on) throw notFound('delegation');
    await unlink(trx, 'delegation', id);
    await org.deleteDelegation(trx, id);
    await record(trx, ctx, { type: 'org.delegation.revoked', objectType: 'delegation', objectId: id, data: { employmentId: d.employment_id, responsibility: d.responsibility, teamId: d.team_id, departmentId: d.department_id } });
  });
}

// ---------------------------------------------------------------- sickness (/v3/siab/dialogs)

export type SicknessApiInput = { employee_id: string; from: string; to?: string | null | undefined };
export type SicknessOut = { employee_id: string; from: string; to: string | null; task: boolean };

/**
 * Reports an employee sick (or, with an end date, fit). 201 for a new period, 200 for an update of
 * the one it overlaps, 422 for a range overlapping two periods; a period that has already ended or
 * began more than two months ago makes no dialogue task. The rules are the dialogue module's.
 */
export async function reportSickness(ctx: ApiCtx, input: SicknessApiInput): Promise<{ status: 200 | 201; body: SicknessOut }> {
  const to = input.to ?? null;
  if (to !== null && to < input.from) throw fieldError('dialog', 'to', 'before_from');
  return run(ctx, async (trx) => {
    const employmentId = await referenced(trx, 'employee', input.employee_id, 'dialog', 'employee_id');
    try {
      const r = await recordSicknessFromApi(trx, {
        companyId: ctx.caller.companyId,
        employmentId,
        from: input.from,
        to,
        apiTokenId: ctx.caller.tokenId,
        who: { companyId: ctx.caller.companyId, ip: ctx.caller.ip },
        now: ctx.deps.clock.now(),
        auditData: { via: 'api', apiTokenId: ctx.caller.tokenId, apiTokenName: ctx.caller.tokenName },
      });
      return { status: r.outcome === 'created' ? 201 : 200, body: { employee_id: input.employee_id, from: input.from, to, task: r.dialogueId !== null } };
    } catch (error) {
      if (error instanceof SicknessOverlapError) throw fieldError('dialog', 'from', 'overlaps_two_periods', 'The period overlaps two existing sickness periods');
      if (error instanceof DialogueValidationError) {
        throw fieldError('dialog', 'employee_id', error.code === 'errNoLeader' ? 'no_responsible_leader' : 'not_in_a_team');
      }
      throw error;
    }
  });
}
