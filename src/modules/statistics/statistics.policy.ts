/**
 * Who sees which statistics (M8). Pure functions over facts the service loads.
 *
 * Design note: aggregated figures (completion, averages under the anonymity threshold) of a
 * department or team are for a company admin, for anyone holding a department responsibility
 * on it or above it (DOMAIN.md: any department responsibility grants the department's
 * statistics), and for its responsible leader. One employee's own scores over the years are
 * content: only the employee and the responsible leader of their team see them; a company admin
 * or a department delegate does not.
 */
export type StatsActor = { employmentId: string; admin: boolean; responsibilityDepartments: readonly string[] };
export type Unit = { ancestors: readonly string[]; responsible: string | null };

export function mayViewUnit(actor: StatsActor, unit: Unit): boolean {
  if (actor.admin) return true;
  if (unit.responsible !== null && unit.responsible === actor.employmentId) return true;
  return unit.ancestors.some((a) => actor.responsibilityDepartments.includes(a));
}

export function mayViewEmployeeScores(actor: Pick<StatsActor, 'employmentId'>, employee: { id: string; responsible: string | null }): boolean {
  return employee.id === actor.employmentId || (employee.responsible !== null && employee.responsible === actor.employmentId);
}
