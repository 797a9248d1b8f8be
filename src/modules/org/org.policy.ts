/**
 * Who may change which part of the organisation. Pure functions: the service loads the facts
 * (the actor's scope, the object's chain of departments from department_ancestors) and asks here.
 *
 * Design note (M8): a company admin manages the whole company. A delegate holding
 * `manage_organisation_department` on department D manages what lies strictly below D (sub-
 * departments, teams anywhere in D's subtree, the people in those teams, leaders placed in the
 * sub-departments) and may rename D itself; never D's place in the tree, its owner, delegations,
 * company admins or their own employment. Anything the scope does not reach is answered as not
 * found by the service; only a reachable object with a refused action is "forbidden".
 */
import type { EmploymentRole, Responsibility } from '../../platform/db/schema.ts';

export type OrgScope = { kind: 'admin' } | { kind: 'delegate'; departmentIds: readonly string[] };

/** `ancestors` is department_ancestors(dept): the department itself first, then its parents. */
export type Chain = readonly string[];

const inScope = (scope: OrgScope, ids: Chain) => scope.kind === 'admin' || ids.some((id) => scope.departmentIds.includes(id));

/** May see and rename the department (the delegated department itself included). */
export function reachesDepartment(scope: OrgScope, ancestors: Chain): boolean {
  return inScope(scope, ancestors);
}

/** May move, re-own, delete or create under-structure: strictly below a delegated department. */
export function mayRestructureDepartment(scope: OrgScope, ancestors: Chain): boolean {
  return inScope(scope, ancestors.slice(1));
}

/** The root (no parent) is never moved or deleted; everything else by those who restructure. */
export function mayMoveOrDeleteDepartment(scope: OrgScope, ancestors: Chain, isRoot: boolean): boolean {
  return !isRoot && mayRestructureDepartment(scope, ancestors);
}

/** Creating a department or a team under `parentAncestors` (the parent may be the delegated one). */
export function mayCreateUnder(scope: OrgScope, parentAncestors: Chain): boolean {
  return inScope(scope, parentAncestors);
}

/** A team belongs to the subtree when its department is in it. */
export function reachesTeam(scope: OrgScope, departmentAncestors: Chain): boolean {
  return inScope(scope, departmentAncestors);
}

/** Moving a department under `newParentAncestors` must never put it inside its own subtree. */
export function wouldCreateCycle(departmentId: string, newParentAncestors: Chain): boolean {
  return newParentAncestors.includes(departmentId);
}

export type EmploymentFacts = {
  id: string;
  role: EmploymentRole;
  /** Set when the person works in a team: ancestors of the team's department. */
  teamDepartmentAncestors: Chain | null;
  /** Set when a leader or admin sits in a department: that department's ancestors. */
  departmentAncestors: Chain | null;
};

/** A placement (team or department) is within reach for people. */
export function reachesPlacement(scope: OrgScope, p: { teamDepartmentAncestors: Chain | null; departmentAncestors: Chain | null }): boolean {
  if (p.teamDepartmentAncestors) return inScope(scope, p.teamDepartmentAncestors);
  if (p.departmentAncestors) return mayRestructureDepartment(scope, p.departmentAncestors);
  return scope.kind === 'admin';
}

export function reachesEmployment(scope: OrgScope, actorEmploymentId: string, e: EmploymentFacts): boolean {
  if (scope.kind === 'admin') return true;
  if (e.id === actorEmploymentId || e.role === 'company_admin') return false;
  return reachesPlacement(scope, e);
}

export function assignableRoles(scope: OrgScope): EmploymentRole[] {
  return scope.kind === 'admin' ? ['employee', 'leader', 'company_admin'] : ['employee', 'leader'];
}

/** Employees work in a team; leaders and admins may sit in a department instead. */
export function placementAllowed(role: EmploymentRole, placement: { teamId: string | null; departmentId: string | null }): 'ok' | 'needTeam' | 'needOne' | 'onlyOne' {
  if (placement.teamId && placement.departmentId) return 'onlyOne';
  if (role === 'employee' && !placement.teamId) return 'needTeam';
  if (!placement.teamId && !placement.departmentId) return 'needOne';
  return 'ok';
}

export function mayManageDelegations(scope: OrgScope): boolean {
  return scope.kind === 'admin';
}

/** Dialogue access is granted on teams, everything else on departments (as the database checks). */
export function delegationTarget(r: Responsibility): 'team' | 'department' {
  return r.startsWith('dialog_access_') ? 'team' : 'department';
}

export const REHIRE_WINDOW_DAYS = 14;
const DAY = 86_400_000;

export function purgeDate(firedAt: Date): Date {
  return new Date(firedAt.getTime() + REHIRE_WINDOW_DAYS * DAY);
}

export function mayRehire(firedAt: Date | null, now: Date): boolean {
  return firedAt !== null && now.getTime() < purgeDate(firedAt).getTime();
}
