/**
 * The arithmetic of statistics, as pure functions tested on their own.
 *
 * Completion (per department subtree): of the employees now in its teams, how many had a MUS
 * closed this calendar year (Copenhagen time; the dialogue's latest transition to "closed"), how
 * many have an up-to-date agreement list (no agreement still open or in progress after its
 * deadline; an agreement carried into a later dialogue counts only there), and how many both.
 *
 * Averages and the anonymity threshold N (the company's statistics_threshold, never below 3):
 *   - every employee counts once per question and year (their latest closed dialogue's answer);
 *   - a team's average is shown only when at least N of its employees answered;
 *   - a department's average (its whole subtree) is shown only when at least N answered AND every
 *     team under it that has any answer has at least N. Every shown figure is then a sum over
 *     whole teams of N or more people, so no difference between two shown figures (a department
 *     minus one of its teams, a department minus a sub-department) can isolate fewer than N
 *     people. Below the threshold no number is shown, not even the count.
 * Answers from dialogues whose team no longer exists belong to no team and are left out.
 */
import { MIN_THRESHOLD, type Cell } from '../dialogues/dialogues.statistics.ts';

export { MIN_THRESHOLD, type Cell };

export const effectiveThreshold = (t: number) => Math.max(t, MIN_THRESHOLD);

const yearFormat = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Copenhagen', year: 'numeric' });
export const yearOf = (d: Date) => Number(yearFormat.format(d));

export type Dept = { id: string; name: string; parent_id: string | null };
export type Team = { id: string; name: string; department_id: string; ancestors: readonly string[] };

/** Departments in tree order (parents before children, siblings by name) with their depth. */
export function treeOrder<D extends Dept>(departments: readonly D[]): (D & { depth: number })[] {
  const children = new Map<string | null, D[]>();
  const ids = new Set(departments.map((d) => d.id));
  for (const d of departments) {
    const parent = d.parent_id !== null && ids.has(d.parent_id) ? d.parent_id : null;
    children.set(parent, [...(children.get(parent) ?? []), d]);
  }
  const out: (D & { depth: number })[] = [];
  const walk = (parent: string | null, depth: number) => {
    for (const d of [...(children.get(parent) ?? [])].sort((a, b) => a.name.localeCompare(b.name))) {
      out.push({ ...d, depth });
      if (depth < 100) walk(d.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

export type CompletionCounts = { employees: number; closedMus: number; agreementsUpToDate: number; complete: number };

export function completionOf(memberIds: readonly string[], closedThisYear: ReadonlySet<string>, overdue: ReadonlySet<string>): CompletionCounts {
  let closedMus = 0;
  let agreementsUpToDate = 0;
  let complete = 0;
  for (const id of memberIds) {
    const closed = closedThisYear.has(id);
    const upToDate = !overdue.has(id);
    if (closed) closedMus++;
    if (upToDate) agreementsUpToDate++;
    if (closed && upToDate) complete++;
  }
  return { employees: memberIds.length, closedMus, agreementsUpToDate, complete };
}

/** A whole percentage, or null when there is no one to count. */
export const share = (part: number, whole: number): number | null => (whole === 0 ? null : Math.round((part / whole) * 100));

export type AnswerFact = { employee: string; team: string | null; key: string; value: number; closedAt: Date };

/** Keeps each employee's latest answer per question (key) among the given facts. */
export function latestPerEmployee(facts: readonly AnswerFact[]): AnswerFact[] {
  const best = new Map<string, AnswerFact>();
  for (const f of facts) {
    const k = `${f.employee}|${f.key}`;
    const cur = best.get(k);
    if (!cur || cur.closedAt < f.closedAt) best.set(k, f);
  }
  return [...best.values()];
}

function cellOf(values: readonly number[], threshold: number): Cell {
  if (values.length < effectiveThreshold(threshold)) return { shown: false };
  const sum = values.reduce((a, b) => a + b, 0);
  return { shown: true, n: values.length, average: Math.round((sum / values.length) * 10) / 10 };
}

/** Values per question key and team. */
export function byKeyAndTeam(facts: readonly AnswerFact[]): Map<string, Map<string, number[]>> {
  const out = new Map<string, Map<string, number[]>>();
  for (const f of facts) {
    if (f.team === null) continue;
    const teams = out.get(f.key) ?? new Map<string, number[]>();
    teams.set(f.team, [...(teams.get(f.team) ?? []), f.value]);
    out.set(f.key, teams);
  }
  return out;
}

export function teamCell(values: Map<string, number[]> | undefined, teamId: string, threshold: number): Cell {
  return cellOf(values?.get(teamId) ?? [], threshold);
}

/** A group of teams (a department's subtree): shown only if every team with answers reaches N. */
export function groupCell(values: Map<string, number[]> | undefined, teamIds: readonly string[], threshold: number): Cell {
  const parts = teamIds.map((id) => values?.get(id) ?? []);
  if (parts.some((p) => p.length > 0 && p.length < effectiveThreshold(threshold))) return { shown: false };
  return cellOf(parts.flat(), threshold);
}

export type Series = { key: string; points: { year: number; value: number }[] };

/** One employee's answers as a series per question: the latest answer of each year. */
export function seriesOf(facts: readonly AnswerFact[]): Series[] {
  const byKey = new Map<string, Map<number, AnswerFact>>();
  for (const f of facts) {
    const years = byKey.get(f.key) ?? new Map<number, AnswerFact>();
    const y = yearOf(f.closedAt);
    const cur = years.get(y);
    if (!cur || cur.closedAt < f.closedAt) years.set(y, f);
    byKey.set(f.key, years);
  }
  return [...byKey.entries()].map(([key, years]) => ({
    key,
    points: [...years.entries()].sort((a, b) => a[0] - b[0]).map(([year, f]) => ({ year, value: f.value })),
  }));
}
