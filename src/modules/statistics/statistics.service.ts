/**
 * Statistics (issue 4): completion per department with a CSV export, team and department
 * averages of scale answers under the anonymity threshold, and one employee's scores over the
 * years. Every function opens one transaction in the actor's company, loads the facts, asks
 * statistics.policy.ts, and answers "not found" for anything out of reach. The rules of the
 * arithmetic and the threshold are in statistics.compute.ts.
 */
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { formDefinitionSchema, type Question } from '../forms/form-definition.ts';
import * as repo from './statistics.repository.ts';
import { mayViewEmployeeScores, mayViewUnit, type StatsActor } from './statistics.policy.ts';
import {
  byKeyAndTeam,
  completionOf,
  effectiveThreshold,
  groupCell,
  latestPerEmployee,
  seriesOf,
  share,
  teamCell,
  treeOrder,
  yearOf,
  type AnswerFact,
  type Cell,
  type CompletionCounts,
} from './statistics.compute.ts';

export type StatsCtx = { deps: AppDeps; actor: UserActor; ip: string };

function run<T>(ctx: StatsCtx, fn: (trx: Tx) => Promise<T>): Promise<T> {
  return withTenant(ctx.deps.database, { companyId: ctx.actor.companyId, userId: ctx.actor.userId }, fn);
}

function notFoundUnless(condition: boolean): asserts condition {
  if (!condition) throw new NotFoundError();
}

/** Today's date in Copenhagen as 'YYYY-MM-DD' (agreement deadlines are calendar dates). */
export function todayIn(now: Date): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Copenhagen', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

async function statsActor(trx: Tx, actor: UserActor): Promise<StatsActor> {
  return { employmentId: actor.employmentId, admin: actor.role === 'company_admin', responsibilityDepartments: await repo.listResponsibilityDepartments(trx, actor.employmentId) };
}

async function threshold(trx: Tx, companyId: string): Promise<number> {
  const row = await trx.selectFrom('companies').select('statistics_threshold').where('id', '=', companyId).executeTakeFirstOrThrow();
  return effectiveThreshold(row.statistics_threshold);
}

type Structure = Awaited<ReturnType<typeof repo.listStructure>>;

export type CompletionRow = CompletionCounts & { id: string; name: string; depth: number; share: number | null };

async function completionFacts(trx: Tx, now: Date) {
  const year = yearOf(now);
  const closed = new Set((await repo.listClosedMus(trx)).filter((r) => r.closed_at !== null && yearOf(new Date(r.closed_at)) === year).map((r) => r.employee_employment_id));
  const overdue = new Set(await repo.listOverdueAgreementHolders(trx, todayIn(now)));
  const members = await repo.listActiveTeamMembers(trx);
  return { year, closed, overdue, members };
}

function membersUnder(members: { id: string; team_id: string | null }[], teamIds: ReadonlySet<string>): string[] {
  return members.filter((m) => m.team_id !== null && teamIds.has(m.team_id)).map((m) => m.id);
}

const teamsUnder = (s: Structure, departmentId: string) => s.teams.filter((t) => t.ancestors.includes(departmentId));

/** Completion per visible department (tree order) and per visible team. */
async function completionTables(trx: Tx, ctx: StatsCtx, actor: StatsActor) {
  const s = await repo.listStructure(trx);
  const facts = await completionFacts(trx, ctx.deps.clock.now());
  const row = (id: string, name: string, depth: number, teamIds: string[]): CompletionRow => {
    const c = completionOf(membersUnder(facts.members, new Set(teamIds)), facts.closed, facts.overdue);
    return { id, name, depth, ...c, share: share(c.complete, c.employees) };
  };
  const departments = treeOrder(s.departments)
    .filter((d) => mayViewUnit(actor, d))
    .map((d) => row(d.id, d.name, d.depth, teamsUnder(s, d.id).map((t) => t.id)));
  const teams = s.teams.filter((t) => mayViewUnit(actor, t)).map((t) => row(t.id, t.name, 0, [t.id]));
  return { year: facts.year, departments, teams };
}

export async function getOverview(ctx: StatsCtx) {
  return run(ctx, async (trx) => {
    const actor = await statsActor(trx, ctx.actor);
    const tables = await completionTables(trx, ctx, actor);
    notFoundUnless(tables.departments.length > 0 || tables.teams.length > 0);
    return { ...tables, threshold: await threshold(trx, ctx.actor.companyId) };
  });
}

/** Whether the actor sees any statistics beyond their own scores (for links). */
export async function mayUseStatistics(ctx: StatsCtx): Promise<boolean> {
  try {
    await getOverview(ctx);
    return true;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
}

/** The CSV export of the completion table, audited in the same transaction as the read (M20). */
export async function exportCompletion(ctx: StatsCtx) {
  return run(ctx, async (trx) => {
    const actor = await statsActor(trx, ctx.actor);
    const tables = await completionTables(trx, ctx, actor);
    notFoundUnless(tables.departments.length > 0 || tables.teams.length > 0);
    await audit(trx, whoFromActor(ctx.actor, ctx.ip), { type: 'statistics.exported', objectType: 'statistics', data: { kind: 'completion', year: tables.year, rows: tables.departments.length + tables.teams.length } }, ctx.deps.clock.now());
    return tables;
  });
}

// ---------------------------------------------------------------- scale answers

export type QuestionLabel = { key: string; text: string; formName: string; labels: readonly string[] | undefined };

/** Answers to scale questions only (checked against each version's definition), with their labels. */
async function scaleFacts(trx: Tx, rows: Awaited<ReturnType<typeof repo.listClosedEmployeeAnswers>>): Promise<{ facts: AnswerFact[]; labels: Map<string, QuestionLabel> }> {
  const versions = await repo.findVersions(trx, [...new Set(rows.map((r) => r.form_version_id))]);
  const questions = new Map<string, Map<string, Question>>();
  const labels = new Map<string, QuestionLabel & { version: number; order: number }>();
  for (const v of versions) {
    const parsed = formDefinitionSchema.safeParse(v.definition);
    if (!parsed.success) continue;
    const qs = new Map<string, Question>();
    let order = 0;
    for (const s of parsed.data.sections)
      for (const q of s.questions) {
        order++;
        if (q.type !== 'scale' || (q.answeredBy !== 'employee' && q.answeredBy !== 'both')) continue;
        qs.set(q.id, q);
        const key = `${v.form_id}:${q.id}`;
        const cur = labels.get(key);
        // The newest version's wording names the question.
        if (!cur || cur.version < v.version) labels.set(key, { key, text: q.text, formName: v.name, labels: q.scaleLabels, version: v.version, order });
      }
    questions.set(v.id, qs);
  }
  const facts: AnswerFact[] = [];
  for (const r of rows) {
    if (r.closed_at === null || !questions.get(r.form_version_id)?.has(r.question_id)) continue;
    facts.push({ employee: r.employee_employment_id, team: r.team_id, key: `${r.form_id}:${r.question_id}`, value: Number(r.value), closedAt: new Date(r.closed_at) });
  }
  const ordered = [...labels.values()].sort((a, b) => a.formName.localeCompare(b.formName) || a.order - b.order);
  return { facts, labels: new Map(ordered.map((l) => [l.key, { key: l.key, text: l.text, formName: l.formName, labels: l.labels }])) };
}

export type AverageRow = { question: QuestionLabel; cell: Cell };

async function averagesFor(trx: Tx, year: number, teamIds: readonly string[], limit: number) {
  const { facts, labels } = await scaleFacts(trx, await repo.listClosedEmployeeAnswers(trx, {}));
  const inYear = latestPerEmployee(facts.filter((f) => yearOf(f.closedAt) === year));
  const values = byKeyAndTeam(inYear);
  const years = [...new Set(facts.map((f) => yearOf(f.closedAt)))].sort((a, b) => b - a);
  const keys = [...labels.keys()].filter((k) => values.has(k));
  const rows: AverageRow[] = keys.map((key) => ({
    question: labels.get(key) as QuestionLabel,
    cell: teamIds.length === 1 ? teamCell(values.get(key), teamIds[0] as string, limit) : groupCell(values.get(key), teamIds, limit),
  }));
  // Only questions someone in the group answered that year, and never their count when hidden.
  return { rows: rows.filter((r) => teamIds.some((t) => (values.get(r.question.key)?.get(t)?.length ?? 0) > 0)), years };
}

export async function getDepartmentStats(ctx: StatsCtx, id: string, year: number | undefined) {
  return run(ctx, async (trx) => {
    const actor = await statsActor(trx, ctx.actor);
    const s = await repo.listStructure(trx);
    const dept = s.departments.find((d) => d.id === id);
    notFoundUnless(dept !== undefined && mayViewUnit(actor, dept));
    const y = year ?? yearOf(ctx.deps.clock.now());
    const teams = teamsUnder(s, dept.id);
    const limit = await threshold(trx, ctx.actor.companyId);
    const averages = await averagesFor(trx, y, teams.map((t) => t.id), limit);
    const facts = await completionFacts(trx, ctx.deps.clock.now());
    const teamRows = teams.map((t) => {
      const c = completionOf(membersUnder(facts.members, new Set([t.id])), facts.closed, facts.overdue);
      return { id: t.id, name: t.name, visible: mayViewUnit(actor, t), ...c, share: share(c.complete, c.employees) };
    });
    return { department: { id: dept.id, name: dept.name }, year: y, threshold: limit, averages: averages.rows, years: averages.years, teams: teamRows, completionYear: facts.year };
  });
}

export async function getTeamStats(ctx: StatsCtx, id: string, year: number | undefined) {
  return run(ctx, async (trx) => {
    const actor = await statsActor(trx, ctx.actor);
    const s = await repo.listStructure(trx);
    const team = s.teams.find((t) => t.id === id);
    notFoundUnless(team !== undefined && mayViewUnit(actor, team));
    const y = year ?? yearOf(ctx.deps.clock.now());
    const limit = await threshold(trx, ctx.actor.companyId);
    const averages = await averagesFor(trx, y, [team.id], limit);
    // Individual charts are linked for the team's responsible leader only.
    const members = team.responsible === ctx.actor.employmentId ? (await repo.listActiveTeamMembers(trx)).filter((m) => m.team_id === team.id).map((m) => ({ id: m.id, name: m.name })) : [];
    return { team: { id: team.id, name: team.name }, year: y, threshold: limit, averages: averages.rows, years: averages.years, members };
  });
}

/** One employee's scale answers over the years, for the employee and their responsible leader. */
export async function getEmployeeScores(ctx: StatsCtx, employmentId: string) {
  return run(ctx, async (trx) => {
    const employee = await repo.findEmployee(trx, employmentId);
    notFoundUnless(employee !== undefined && mayViewEmployeeScores(ctx.actor, employee));
    const { facts, labels } = await scaleFacts(trx, await repo.listClosedEmployeeAnswers(trx, { employmentId }));
    const series = seriesOf(facts)
      .map((s) => ({ ...s, question: labels.get(s.key) as QuestionLabel }))
      .filter((s) => s.question !== undefined);
    const order = [...labels.keys()];
    series.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
    return { employee: { id: employee.id, name: employee.name }, own: employee.id === ctx.actor.employmentId, series };
  });
}
