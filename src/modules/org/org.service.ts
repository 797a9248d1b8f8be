/**
 * The organisation's rules. Every function opens one transaction in the actor's company, loads
 * the actor's scope and authorizes first (unknown or out-of-scope ids are NotFound, never
 * Forbidden), then changes, then writes the audit event in the same transaction.
 *
 * Design note (M8): the tree checks ("is this inside the delegate's subtree", "would this move
 * make a cycle") use department_ancestors() read inside the same transaction; tree moves take a
 * per-company advisory lock first so two concurrent moves cannot together build a cycle.
 * PostgreSQL constraint errors (unique, foreign key, check) become ValidationError/ConflictError,
 * so a race that slips past a check still ends as a 4xx with a message, never a 500.
 */
import { liftBlocksExceptHardCap, subjectFor } from '../../platform/auth/throttle.ts';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { withTenant, type DbContext, type Tx } from '../../platform/db/context.ts';
import type { EmploymentRole, Language, Responsibility } from '../../platform/db/schema.ts';
import { audit, whoFromActor, type AuditInput } from '../../platform/audit/audit.ts';
import { sendInvitation } from '../recovery/recovery.service.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors.ts';
import * as repo from './org.repository.ts';
import {
  assignableRoles,
  delegationTarget,
  mayCreateUnder,
  mayManageDelegations,
  mayMoveOrDeleteDepartment,
  mayRehire,
  mayRestructureDepartment,
  placementAllowed,
  reachesDepartment,
  reachesEmployment,
  reachesPlacement,
  reachesTeam,
  wouldCreateCycle,
  type OrgScope,
} from './org.policy.ts';
import type { OrgKey } from './org.i18n.ts';

export type OrgCtx = { deps: AppDeps; actor: UserActor; ip: string };

/** Validation errors carry org.i18n keys, so the view can show them in the user's language. */
export class OrgValidationError extends ValidationError {
  constructor(code: OrgKey, fields: Record<string, OrgKey> = {}) {
    super(code, fields);
  }
}
export class OrgConflictError extends ConflictError {
  constructor(code: OrgKey) {
    super(code);
  }
}

function notFoundUnless(condition: boolean): asserts condition {
  if (!condition) throw new NotFoundError();
}
function forbiddenUnless(condition: boolean): asserts condition {
  if (!condition) throw new ForbiddenError();
}

type DbErrorMap = { unique?: () => Error; foreignKey?: () => Error; check?: () => Error };

/** One transaction in the actor's company; constraint errors leave it as 4xx errors. */
async function run<T>(ctx: OrgCtx, fn: (trx: Tx) => Promise<T>, map: DbErrorMap = {}, extra: DbContext = {}): Promise<T> {
  try {
    return await withTenant(ctx.deps.database, { companyId: ctx.actor.companyId, userId: ctx.actor.userId, ...extra }, fn);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === '23505') throw map.unique?.() ?? new OrgValidationError('errDuplicate');
    if (code === '23503') throw map.foreignKey?.() ?? new OrgConflictError('errInUse');
    if (code === '23514') throw map.check?.() ?? new OrgValidationError('errInvalidData');
    throw error;
  }
}

async function loadScope(trx: Tx, actor: UserActor): Promise<OrgScope> {
  if (actor.role === 'company_admin') return { kind: 'admin' };
  const departmentIds = await repo.listManagedDepartmentIds(trx, actor.employmentId);
  // Neither admin nor delegate: the organisation pages do not exist for them.
  notFoundUnless(departmentIds.length > 0);
  return { kind: 'delegate', departmentIds };
}

/** Issue 10: what the company's HR system manages through the API is read-only here. */
async function refuseIfApiManaged(trx: Tx, resource: 'department' | 'team' | 'employee' | 'delegation', id: string): Promise<void> {
  if (await repo.isApiManaged(trx, resource, id)) throw new OrgConflictError('errManagedByApi');
}

const rootsOf = (scope: OrgScope) => (scope.kind === 'admin' ? null : scope.departmentIds);

function record(trx: Tx, ctx: OrgCtx, event: AuditInput) {
  return audit(trx, whoFromActor(ctx.actor, ctx.ip), event, ctx.deps.clock.now());
}

/** Whether the actor may open the organisation pages at all (used to 404 early). */
export async function getScope(ctx: OrgCtx): Promise<OrgScope> {
  return run(ctx, (trx) => loadScope(trx, ctx.actor));
}

// ---------------------------------------------------------------- overview

export async function getOverview(ctx: OrgCtx) {
  return run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const roots = rootsOf(scope);
    const departments = await repo.listDepartments(trx, roots);
    const teams = await repo.listTeams(trx, roots);
    return { scope, departments, teams };
  });
}

// ---------------------------------------------------------------- departments

export type DepartmentInput = { name: string; parentId: string };

export async function createDepartment(ctx: OrgCtx, input: DepartmentInput): Promise<string> {
  return run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const parent = await repo.findDepartment(trx, input.parentId);
    if (!parent || !mayCreateUnder(scope, parent.ancestors ?? [])) throw new OrgValidationError('errInvalidChoice', { parent_id: 'errInvalidChoice' });
    const id = randomUUID();
    await repo.insertDepartment(trx, { id, companyId: ctx.actor.companyId, parentId: parent.id, name: input.name });
    await record(trx, ctx, { type: 'org.department.created', objectType: 'department', objectId: id, data: { name: input.name, parentId: parent.id } });
    return id;
  });
}

/** Every department the actor may see, with who may do what to `id`. */
export async function getDepartmentPage(ctx: OrgCtx, id: string) {
  return run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const d = await repo.findDepartment(trx, id);
    notFoundUnless(d !== undefined && reachesDepartment(scope, d.ancestors ?? []));
    const ancestors = d.ancestors ?? [];
    const isRoot = d.parent_id === null;
    const can = {
      rename: true,
      move: mayMoveOrDeleteDepartment(scope, ancestors, isRoot),
      owner: mayRestructureDepartment(scope, ancestors),
      delete: mayMoveOrDeleteDepartment(scope, ancestors, isRoot),
      delegations: mayManageDelegations(scope),
    };
    const all = await repo.listDepartments(trx, rootsOf(scope));
    // A department cannot move below itself: offer only departments outside its subtree.
    const parentOf = new Map(all.map((x) => [x.id, x.parent_id]));
    const insideSubtree = (candidate: string) => {
      for (let cur: string | null | undefined = candidate, n = 0; cur && n < 200; cur = parentOf.get(cur), n++) if (cur === d.id) return true;
      return false;
    };
    const parentOptions = all.filter((x) => !insideSubtree(x.id));
    const self = all.find((x) => x.id === d.id);
    const ownerOptions = can.owner ? await repo.listOwnerOptions(trx) : [];
    const delegations = await repo.listDelegationsOn(trx, { departmentId: d.id });
    const employmentOptions = can.delegations ? await repo.listActiveEmploymentOptions(trx) : [];
    const teams = (await repo.listTeams(trx, rootsOf(scope))).filter((t) => t.department_id === d.id);
    const children = all.filter((x) => x.parent_id === d.id);
    const managedByApi = await repo.isApiManaged(trx, 'department', d.id);
    if (managedByApi) Object.assign(can, { rename: false, move: false, owner: false, delete: false });
    return { department: d, self, isRoot, can, parentOptions, ownerOptions, delegations, employmentOptions, teams, children, managedByApi };
  });
}
export type DepartmentPageData = Awaited<ReturnType<typeof getDepartmentPage>>;

/** `undefined` for a field the form did not show means: leave it as it is. */
export type DepartmentUpdate = { name: string; parentId?: string | null | undefined; ownerEmploymentId?: string | null | undefined };

export async function updateDepartment(ctx: OrgCtx, id: string, input: DepartmentUpdate): Promise<void> {
  await run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const d = await repo.findDepartment(trx, id);
    notFoundUnless(d !== undefined && reachesDepartment(scope, d.ancestors ?? []));
    const ancestors = d.ancestors ?? [];
    const set: { name?: string; parent_id?: string; owner_employment_id?: string | null } = {};
    if (input.name !== d.name) set.name = input.name;
    if (input.parentId !== undefined && input.parentId !== d.parent_id) {
      if (d.parent_id === null) throw new OrgValidationError('errRootCannotMove', { parent_id: 'errRootCannotMove' });
      forbiddenUnless(mayMoveOrDeleteDepartment(scope, ancestors, false));
      if (input.parentId === null) throw new OrgValidationError('errParentRequired', { parent_id: 'errParentRequired' });
      await repo.lockCompanyTree(trx, ctx.actor.companyId);
      const parent = await repo.findDepartment(trx, input.parentId);
      if (!parent || !mayCreateUnder(scope, parent.ancestors ?? [])) throw new OrgValidationError('errInvalidChoice', { parent_id: 'errInvalidChoice' });
      if (wouldCreateCycle(d.id, parent.ancestors ?? [])) throw new OrgValidationError('errMoveBelowItself', { parent_id: 'errMoveBelowItself' });
      set.parent_id = parent.id;
    }
    if (input.ownerEmploymentId !== undefined && input.ownerEmploymentId !== d.owner_employment_id) {
      forbiddenUnless(mayRestructureDepartment(scope, ancestors));
      if (input.ownerEmploymentId !== null && !(await repo.findOwnerCandidate(trx, input.ownerEmploymentId))) {
        throw new OrgValidationError('errInvalidChoice', { owner_employment_id: 'errInvalidChoice' });
      }
      set.owner_employment_id = input.ownerEmploymentId;
    }
    if (Object.keys(set).length === 0) return;
    await refuseIfApiManaged(trx, 'department', d.id);
    await repo.updateDepartment(trx, d.id, set);
    await record(trx, ctx, {
      type: 'org.department.updated',
      objectType: 'department',
      objectId: d.id,
      data: { ...(set.name !== undefined ? { name: set.name } : {}), ...(set.parent_id !== undefined ? { parentId: set.parent_id } : {}), ...(set.owner_employment_id !== undefined ? { ownerEmploymentId: set.owner_employment_id } : {}) },
    });
  });
}

export async function deleteDepartment(ctx: OrgCtx, id: string): Promise<void> {
  await run(
    ctx,
    async (trx) => {
      const scope = await loadScope(trx, ctx.actor);
      const d = await repo.findDepartment(trx, id);
      notFoundUnless(d !== undefined && reachesDepartment(scope, d.ancestors ?? []));
      if (d.parent_id === null) throw new OrgConflictError('errRootCannotDelete');
      await refuseIfApiManaged(trx, 'department', d.id);
      forbiddenUnless(mayMoveOrDeleteDepartment(scope, d.ancestors ?? [], false));
      const c = await repo.countDepartmentContents(trx, d.id);
      if (Number(c.departments) > 0 || Number(c.teams) > 0 || Number(c.employments) > 0) throw new OrgConflictError('errDepartmentNotEmpty');
      await repo.deleteDepartment(trx, d.id);
      await record(trx, ctx, { type: 'org.department.deleted', objectType: 'department', objectId: d.id, data: { name: d.name } });
    },
    { foreignKey: () => new OrgConflictError('errDepartmentNotEmpty') },
  );
}

// ---------------------------------------------------------------- teams

export type TeamInput = { name: string; departmentId: string };

export async function createTeam(ctx: OrgCtx, input: TeamInput): Promise<string> {
  return run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const dept = await repo.findDepartment(trx, input.departmentId);
    if (!dept || !mayCreateUnder(scope, dept.ancestors ?? [])) throw new OrgValidationError('errInvalidChoice', { department_id: 'errInvalidChoice' });
    const id = randomUUID();
    await repo.insertTeam(trx, { id, companyId: ctx.actor.companyId, departmentId: dept.id, name: input.name });
    await record(trx, ctx, { type: 'org.team.created', objectType: 'team', objectId: id, data: { name: input.name, departmentId: dept.id } });
    return id;
  });
}

export async function getTeamPage(ctx: OrgCtx, id: string) {
  return run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const team = await repo.findTeam(trx, id);
    notFoundUnless(team !== undefined && reachesTeam(scope, team.ancestors ?? []));
    const can = { delegations: mayManageDelegations(scope) };
    const departmentOptions = await repo.listDepartments(trx, rootsOf(scope));
    const self = (await repo.listTeams(trx, rootsOf(scope))).find((t) => t.id === team.id);
    const ownerOptions = await repo.listOwnerOptions(trx);
    const delegations = await repo.listDelegationsOn(trx, { teamId: team.id });
    const employmentOptions = can.delegations ? await repo.listActiveEmploymentOptions(trx) : [];
    const members = (await repo.listEmployees(trx, { roots: null })).filter((e) => e.team_id === team.id);
    const managedByApi = await repo.isApiManaged(trx, 'team', team.id);
    return { team, self, can, departmentOptions, ownerOptions, delegations, employmentOptions, members, managedByApi };
  });
}
export type TeamPageData = Awaited<ReturnType<typeof getTeamPage>>;

export type TeamUpdate = { name: string; departmentId?: string | undefined; ownerEmploymentId?: string | null | undefined };

export async function updateTeam(ctx: OrgCtx, id: string, input: TeamUpdate): Promise<void> {
  await run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const team = await repo.findTeam(trx, id);
    notFoundUnless(team !== undefined && reachesTeam(scope, team.ancestors ?? []));
    const set: { name?: string; department_id?: string; owner_employment_id?: string | null } = {};
    if (input.name !== team.name) set.name = input.name;
    if (input.departmentId !== undefined && input.departmentId !== team.department_id) {
      const dept = await repo.findDepartment(trx, input.departmentId);
      if (!dept || !reachesTeam(scope, dept.ancestors ?? [])) throw new OrgValidationError('errInvalidChoice', { department_id: 'errInvalidChoice' });
      set.department_id = dept.id;
    }
    if (input.ownerEmploymentId !== undefined && input.ownerEmploymentId !== team.owner_employment_id) {
      if (input.ownerEmploymentId !== null && !(await repo.findOwnerCandidate(trx, input.ownerEmploymentId))) {
        throw new OrgValidationError('errInvalidChoice', { owner_employment_id: 'errInvalidChoice' });
      }
      set.owner_employment_id = input.ownerEmploymentId;
    }
    if (Object.keys(set).length === 0) return;
    await refuseIfApiManaged(trx, 'team', team.id);
    await repo.updateTeam(trx, team.id, set);
    await record(trx, ctx, {
      type: 'org.team.updated',
      objectType: 'team',
      objectId: team.id,
      data: { ...(set.name !== undefined ? { name: set.name } : {}), ...(set.department_id !== undefined ? { departmentId: set.department_id } : {}), ...(set.owner_employment_id !== undefined ? { ownerEmploymentId: set.owner_employment_id } : {}) },
    });
  });
}

export async function deleteTeam(ctx: OrgCtx, id: string): Promise<void> {
  await run(
    ctx,
    async (trx) => {
      const scope = await loadScope(trx, ctx.actor);
      const team = await repo.findTeam(trx, id);
      notFoundUnless(team !== undefined && reachesTeam(scope, team.ancestors ?? []));
      await refuseIfApiManaged(trx, 'team', team.id);
      // Fired people still inside their rehire window keep their team; they block the delete too.
      if ((await repo.countTeamEmployments(trx, team.id)) > 0) throw new OrgConflictError('errTeamNotEmpty');
      await repo.deleteTeam(trx, team.id);
      await record(trx, ctx, { type: 'org.team.deleted', objectType: 'team', objectId: team.id, data: { name: team.name } });
    },
    { foreignKey: () => new OrgConflictError('errTeamNotEmpty') },
  );
}

// ---------------------------------------------------------------- employees

export async function listEmployeesPage(ctx: OrgCtx, q: string) {
  return run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const employees = await repo.listEmployees(trx, {
      roots: rootsOf(scope),
      ...(scope.kind === 'delegate' ? { excludeEmploymentId: ctx.actor.employmentId } : {}),
      ...(q ? { q } : {}),
    });
    return { scope, employees };
  });
}

async function placementOptions(trx: Tx, scope: OrgScope) {
  const roots = rootsOf(scope);
  const teams = await repo.listTeams(trx, roots);
  const allDepartments = await repo.listDepartments(trx, roots);
  // Delegates place leaders only strictly below their delegated departments (as the policy says).
  const parentOf = new Map(allDepartments.map((d) => [d.id, d.parent_id]));
  const departments = allDepartments.filter((d) => {
    const chain: string[] = [];
    for (let cur: string | null | undefined = d.id, n = 0; cur && n < 200; cur = parentOf.get(cur), n++) chain.push(cur);
    return reachesPlacement(scope, { teamDepartmentAncestors: null, departmentAncestors: chain });
  });
  return { teams, departments, roles: assignableRoles(scope) };
}

export async function getNewEmployeeForm(ctx: OrgCtx) {
  return run(ctx, async (trx) => placementOptions(trx, await loadScope(trx, ctx.actor)));
}
export type PlacementOptions = Awaited<ReturnType<typeof getNewEmployeeForm>>;

export type EmployeeFields = { title: string; role: EmploymentRole; language: Language; teamId: string | null; departmentId: string | null };
export type NewEmployee = EmployeeFields & { name: string; email: string };

/** Checks a role and placement against the scope; field errors name the form fields. */
async function checkPlacement(trx: Tx, scope: OrgScope, input: EmployeeFields): Promise<void> {
  if (!assignableRoles(scope).includes(input.role)) throw new OrgValidationError('errInvalidChoice', { role: 'errInvalidChoice' });
  const rule = placementAllowed(input.role, { teamId: input.teamId, departmentId: input.departmentId });
  if (rule === 'needTeam') throw new OrgValidationError('errNeedTeam', { team_id: 'errNeedTeam' });
  if (rule === 'needOne') throw new OrgValidationError('errNeedPlacement', { team_id: 'errNeedPlacement' });
  if (rule === 'onlyOne') throw new OrgValidationError('errOnlyOnePlacement', { department_id: 'errOnlyOnePlacement' });
  if (input.teamId) {
    const team = await repo.findTeam(trx, input.teamId);
    if (!team || !reachesPlacement(scope, { teamDepartmentAncestors: team.ancestors ?? [], departmentAncestors: null })) {
      throw new OrgValidationError('errInvalidChoice', { team_id: 'errInvalidChoice' });
    }
  } else if (input.departmentId) {
    const dept = await repo.findDepartment(trx, input.departmentId);
    if (!dept || !reachesPlacement(scope, { teamDepartmentAncestors: null, departmentAncestors: dept.ancestors ?? [] })) {
      throw new OrgValidationError('errInvalidChoice', { department_id: 'errInvalidChoice' });
    }
  }
}

export type CreatedEmployee = { employmentId: string; name: string; email: string; existingUser: boolean; invited: boolean };

/**
 * A new employment; for a new e-mail also a new user without a password, who gets an invitation
 * by e-mail (a single-use link, 72 h) in the same transaction, and chooses a password there.
 * No password is ever made up, shown or passed on by the admin.
 */
export async function createEmployee(ctx: OrgCtx, input: NewEmployee): Promise<CreatedEmployee> {
  const lookup = { lookupEmail: input.email };
  const emailTaken = () => new OrgValidationError('errEmailTaken', { email: 'errEmailTaken' });
  return run(ctx, async (trx) => createEmployeeIn(trx, ctx, await loadScope(trx, ctx.actor), input), { unique: emailTaken }, lookup);
}

/**
 * The creation itself, inside a transaction the caller opened in the actor's company with the
 * scope it loaded there (the employee import creates many people in one transaction this way).
 * Authorizes the placement, creates, audits and invites exactly as createEmployee does.
 */
export async function createEmployeeIn(trx: Tx, ctx: OrgCtx, scope: OrgScope, input: NewEmployee): Promise<CreatedEmployee> {
  // The identity lookups (users, staff accounts) see only the e-mail named in the context.
  await sql`select set_config('app.lookup_email', ${input.email.toLowerCase()}, true)`.execute(trx);
  await checkPlacement(trx, scope, input);
  if (await repo.staffEmailExists(trx, input.email)) throw new OrgValidationError('errEmailTaken', { email: 'errEmailTaken' });
  const employmentId = randomUUID();
  const fields = { title: input.title, role: input.role, language: input.language, team_id: input.teamId, department_id: input.departmentId };
  const user = await repo.findUserByEmail(trx, input.email);
  if (user) {
    if (await repo.findEmploymentOfUser(trx, ctx.actor.companyId, user.id)) {
      throw new OrgValidationError('errAlreadyEmployed', { email: 'errAlreadyEmployed' });
    }
    await repo.insertEmployment(trx, { id: employmentId, company_id: ctx.actor.companyId, user_id: user.id, ...fields });
    await record(trx, ctx, { type: 'org.employee.created', objectType: 'employment', objectId: employmentId, data: { userId: user.id, role: input.role, newUser: false } });
    return { employmentId, name: user.name, email: user.email, existingUser: true, invited: false };
  }
  const userId = randomUUID();
  await repo.insertUser(trx, { id: userId, email: input.email, name: input.name, passwordHash: null });
  await repo.insertEmployment(trx, { id: employmentId, company_id: ctx.actor.companyId, user_id: userId, ...fields });
  await record(trx, ctx, { type: 'org.employee.created', objectType: 'employment', objectId: employmentId, data: { userId, role: input.role, newUser: true } });
  await sendInvitation(trx, {
    userId,
    companyId: ctx.actor.companyId,
    companyName: ctx.actor.companyName,
    email: input.email,
    name: input.name,
    lang: input.language,
    who: whoFromActor(ctx.actor, ctx.ip),
    now: ctx.deps.clock.now(),
  });
  return { employmentId, name: input.name, email: input.email, existingUser: false, invited: true };
}

/** The actor's organisation scope inside an open transaction (NotFound for anyone else). */
export function orgScopeIn(trx: Tx, actor: UserActor): Promise<OrgScope> {
  return loadScope(trx, actor);
}

/** The teams the scope reaches (for the import's team column: a name or an id). */
export async function reachableTeamsIn(trx: Tx, scope: OrgScope): Promise<{ id: string; name: string }[]> {
  return (await repo.listTeams(trx, rootsOf(scope))).map((t) => ({ id: t.id, name: t.name }));
}

/** The lower-cased e-mails of everyone employed in the company (fired people inside their rehire window too). */
export async function employedEmailsIn(trx: Tx): Promise<Set<string>> {
  return new Set(await repo.listEmploymentEmails(trx));
}

/**
 * Sends a new invitation to an employee who has not chosen a password yet (the old link stops
 * working). Admins and organisation delegates who can reach the employee may do it.
 */
export async function resendInvitation(ctx: OrgCtx, id: string): Promise<void> {
  await run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const e = await reachableEmployee(trx, ctx, scope, id);
    if (e.fired_at !== null) throw new OrgConflictError('errInvitationNotNeeded');
    const user = await trx.selectFrom('users').select(['password_hash', 'name', 'email']).where('id', '=', e.user_id).executeTakeFirst();
    if (!user || user.password_hash !== null) throw new OrgConflictError('errInvitationNotNeeded');
    await sendInvitation(trx, {
      userId: e.user_id,
      companyId: ctx.actor.companyId,
      companyName: ctx.actor.companyName,
      email: user.email,
      name: user.name,
      lang: e.language,
      who: whoFromActor(ctx.actor, ctx.ip),
      now: ctx.deps.clock.now(),
    });
  });
}

async function reachableEmployee(trx: Tx, ctx: OrgCtx, scope: OrgScope, id: string) {
  const e = await repo.findEmployee(trx, id);
  notFoundUnless(
    e !== undefined &&
      reachesEmployment(scope, ctx.actor.employmentId, { id: e.id, role: e.role, teamDepartmentAncestors: e.team_ancestors, departmentAncestors: e.department_ancestors }),
  );
  return e;
}

export async function getEmployeePage(ctx: OrgCtx, id: string) {
  return run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const employee = await reachableEmployee(trx, ctx, scope, id);
    const options = await placementOptions(trx, scope);
    const isSelf = employee.id === ctx.actor.employmentId;
    const now = ctx.deps.clock.now();
    // A user who has not chosen a password yet is still waiting for (or has lost) the invitation.
    const login = employee.user_id ? await trx.selectFrom('users').select('password_hash').where('id', '=', employee.user_id).executeTakeFirst() : undefined;
    const invitationPending = login !== undefined && login.password_hash === null && employee.fired_at === null;
    const managedByApi = await repo.isApiManaged(trx, 'employee', employee.id);
    // M15: after the purge only the archive entry is left; nothing about it can be changed here.
    const purged = employee.purged_at !== null;
    const can = {
      edit: !managedByApi && !purged,
      fire: !isSelf && !managedByApi && employee.fired_at === null,
      rehire: !managedByApi && !purged && mayRehire(employee.fired_at, now),
      changeRole: !isSelf,
      unlock: scope.kind === 'admin' && !isSelf && !purged,
      invite: invitationPending,
    };
    return { employee, options, can, isSelf, managedByApi, purged };
  });
}
export type EmployeePageData = Awaited<ReturnType<typeof getEmployeePage>>;

export async function updateEmployee(ctx: OrgCtx, id: string, input: EmployeeFields): Promise<void> {
  await run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const e = await reachableEmployee(trx, ctx, scope, id);
    if (e.purged_at !== null) throw new OrgConflictError('errPurged');
    // Nobody changes their own role: an admin could lock the company out, a delegate promote themself.
    if (e.id === ctx.actor.employmentId && input.role !== e.role) throw new OrgValidationError('errOwnRole', { role: 'errOwnRole' });
    await checkPlacement(trx, scope, input);
    const set: Partial<repo.EmploymentValues> = {};
    if (input.title !== e.title) set.title = input.title;
    if (input.role !== e.role) set.role = input.role;
    if (input.language !== e.language) set.language = input.language;
    if (input.teamId !== e.team_id) set.team_id = input.teamId;
    if (input.departmentId !== e.department_id) set.department_id = input.departmentId;
    if (Object.keys(set).length === 0) return;
    await refuseIfApiManaged(trx, 'employee', e.id);
    await repo.updateEmployment(trx, e.id, set);
    const data: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(set)) data[k] = v;
    await record(trx, ctx, { type: 'org.employee.updated', objectType: 'employment', objectId: e.id, data });
  });
}

/** Soft delete: the employment stays (rehire within 14 days) but its sessions end now. */
export async function fireEmployee(ctx: OrgCtx, id: string): Promise<void> {
  await run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const e = await reachableEmployee(trx, ctx, scope, id);
    if (e.id === ctx.actor.employmentId) throw new OrgConflictError('errCannotFireSelf');
    if (e.fired_at !== null) throw new OrgConflictError('errAlreadyLeft');
    await refuseIfApiManaged(trx, 'employee', e.id);
    const now = ctx.deps.clock.now();
    await repo.updateEmployment(trx, e.id, { fired_at: now, fired_by: ctx.actor.employmentId });
    // Every session of the person in this company ends in the same transaction (M15).
    const ended = e.user_id ? await repo.deleteSessionsOfUserInCompany(trx, ctx.actor.companyId, e.user_id) : 0;
    await record(trx, ctx, { type: 'org.employee.fired', objectType: 'employment', objectId: e.id, data: { userId: e.user_id, sessionsEnded: ended } });
  });
}

export async function rehireEmployee(ctx: OrgCtx, id: string): Promise<void> {
  await run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    const e = await reachableEmployee(trx, ctx, scope, id);
    // Under the row lock the retention runner takes too: the purge and the rehire never both win.
    const locked = await repo.lockEmploymentForRehire(trx, e.id);
    notFoundUnless(locked !== undefined);
    if (locked.purged_at !== null) throw new OrgConflictError('errRehirePurged');
    if (locked.fired_at === null) throw new OrgConflictError('errNotLeft');
    await refuseIfApiManaged(trx, 'employee', e.id);
    if (!mayRehire(locked.fired_at, ctx.deps.clock.now())) throw new OrgConflictError('errRehireWindowPassed');
    await repo.updateEmployment(trx, e.id, { fired_at: null, fired_by: null });
    await record(trx, ctx, { type: 'org.employee.rehired', objectType: 'employment', objectId: e.id, data: { userId: e.user_id } });
  });
}

/**
 * M7: a company admin lifts the login blocks on a person's account (all sources), e.g. after
 * the person called in; not the hard cap, which only the person's own password reset lifts. Delegates cannot: unblocking is an account-security act.
 */
export async function unlockEmployeeLogin(ctx: OrgCtx, id: string): Promise<void> {
  const email = await run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    notFoundUnless(scope.kind === 'admin');
    return (await reachableEmployee(trx, ctx, scope, id)).email;
  });
  // The throttle rows are reachable only with the account's e-mail in the lookup context.
  await run(
    ctx,
    async (trx) => {
      const scope = await loadScope(trx, ctx.actor);
      notFoundUnless(scope.kind === 'admin');
      const e = await reachableEmployee(trx, ctx, scope, id);
      // The hard cap (M7) stays: only a password reset by the person lifts it.
      const rows = await liftBlocksExceptHardCap(trx, subjectFor(e.email), ctx.deps.clock.now());
      await record(trx, ctx, { type: 'auth.unlocked', objectType: 'employment', objectId: e.id, data: { userId: e.user_id, rows } });
    },
    {},
    { lookupEmail: email },
  );
}

// ---------------------------------------------------------------- delegations

export type DelegationInput = { employmentId: string; responsibility: Responsibility; teamId: string | null; departmentId: string | null };

/** Returns the page to go back to. */
export async function grantDelegation(ctx: OrgCtx, input: DelegationInput): Promise<string> {
  const exists = () => new OrgValidationError('errDelegationExists', { employment_id: 'errDelegationExists' });
  return run(
    ctx,
    async (trx) => {
      const scope = await loadScope(trx, ctx.actor);
      // Delegations are the admin's alone; to anyone else these forms do not exist.
      notFoundUnless(mayManageDelegations(scope));
      const target = delegationTarget(input.responsibility);
      if (target === 'team' && (!input.teamId || input.departmentId)) throw new OrgValidationError('errTeamOnly', { responsibility: 'errTeamOnly' });
      if (target === 'department' && (!input.departmentId || input.teamId)) throw new OrgValidationError('errDepartmentOnly', { responsibility: 'errDepartmentOnly' });
      if (input.teamId) notFoundUnless((await repo.findTeam(trx, input.teamId)) !== undefined);
      if (input.departmentId) notFoundUnless((await repo.findDepartment(trx, input.departmentId)) !== undefined);
      const employment = await repo.findActiveEmployment(trx, input.employmentId);
      if (!employment) throw new OrgValidationError('errInvalidChoice', { employment_id: 'errInvalidChoice' });
      const id = randomUUID();
      await repo.insertDelegation(trx, {
        id,
        company_id: ctx.actor.companyId,
        employment_id: employment.id,
        responsibility: input.responsibility,
        team_id: input.teamId,
        department_id: input.departmentId,
      });
      await record(trx, ctx, {
        type: 'org.delegation.granted',
        objectType: 'delegation',
        objectId: id,
        data: { employmentId: employment.id, responsibility: input.responsibility, teamId: input.teamId, departmentId: input.departmentId },
      });
      return input.teamId ? `/org/teams/${input.teamId}` : `/org/departments/${input.departmentId ?? ''}`;
    },
    { unique: exists, check: () => new OrgValidationError(target(input.responsibility), { responsibility: target(input.responsibility) }) },
  );
}
const target = (r: Responsibility): OrgKey => (delegationTarget(r) === 'team' ? 'errTeamOnly' : 'errDepartmentOnly');

export async function revokeDelegation(ctx: OrgCtx, id: string): Promise<string> {
  return run(ctx, async (trx) => {
    const scope = await loadScope(trx, ctx.actor);
    notFoundUnless(mayManageDelegations(scope));
    const d = await repo.findDelegation(trx, id);
    notFoundUnless(d !== undefined);
    await refuseIfApiManaged(trx, 'delegation', d.id);
    await repo.deleteDelegation(trx, d.id);
    await record(trx, ctx, {
      type: 'org.delegation.revoked',
      objectType: 'delegation',
      objectId: d.id,
      data: { employmentId: d.employment_id, responsibility: d.responsibility, teamId: d.team_id, departmentId: d.department_id },
    });
    return d.team_id ? `/org/teams/${d.team_id}` : `/org/departments/${d.department_id ?? ''}`;
  });
}
