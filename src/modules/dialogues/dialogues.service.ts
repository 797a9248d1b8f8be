/**
 * The dialogue journey's rules: rounds, preparation, meeting, agreements, sign-off. Every function
 * opens one transaction in the actor's company, loads the facts, authorizes with
 * dialogues.policy.ts (a dialogue the actor has no side in is NotFound), changes, and audits in
 * the same transaction. Audit data holds ids, states and versions, never what anyone typed.
 *
 * Design note: answers and notes carry a version number. A save naming an older version changes
 * nothing and returns the stored text, so the page can show both texts side by side; nothing is
 * overwritten silently, whether by two tabs or by two people. State changes lock the dialogue row
 * first, so two concurrent steps run one after the other. The password check of a signature runs
 * between two transactions (Argon2 never holds a connection).
 *
 * GRUS: a group dialogue is one member row per member (see migrations/019). Every step of the
 * group (meeting, finishing, the leader's preparation and signature, reopening) changes all rows
 * of the group in one transaction, each with its own transition row; what is shared (the leader's
 * preparation, meeting answers, notes, agreements the leader owns) is written on the anchor row.
 */
import { notifyMusRequested } from '../reminders/reminders.service.ts';
import { randomUUID } from 'node:crypto';
import { listViewers, recordView } from '../../platform/audit/views.ts';
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import type { AgreementStatus, AnswerSide, DialogueState } from '../../platform/db/schema.ts';
import { audit, whoFromActor, type AuditInput, type AuditWho } from '../../platform/audit/audit.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors.ts';
import { checkThrottle, recordFailure, subjectFor } from '../../platform/auth/throttle.ts';
import { afterBlocksStarted } from '../../platform/auth/login-notices.ts';
import * as forms from '../forms/forms.service.ts';
import { BUILTIN_FORMS } from '../forms/builtin.ts';
import { answersPrivately, findQuestion, normaliseAnswer, type FormDefinition } from '../forms/form-definition.ts';
import * as repo from './dialogues.repository.ts';
import { hasConfirmedTotp, useTotpCode } from '../twofactor/twofactor.repository.ts';
import {
  employeeLeft,
  isArchived,
  isGroup,
  mayCreateRequestedMus,
  mayRequestMus,
  isOverdue,
  mayAdministerRound,
  mayReportSickness,
  sicknessTaskNeeded,
  mayCommentDisagreement,
  mayEditMeeting,
  mayEditPreparation,
  mayFinishMeeting,
  mayFollowUpAgreement,
  mayReopen,
  mayScheduleMeeting,
  maySign,
  mayStartMeeting,
  mayTransition,
  othersPreparationVisible,
  reachesTarget,
  roundScope,
  sideOf,
  submittedAt,
  type RoundScope,
  type Side,
} from './dialogues.policy.ts';
import type { DialogueKey } from './dialogues.i18n.ts';
import { aggregate } from './dialogues.statistics.ts';

export type DialogueCtx = { deps: AppDeps; actor: UserActor; ip: string };

export class DialogueValidationError extends ValidationError {
  constructor(code: DialogueKey, fields: Record<string, DialogueKey> = {}) {
    super(code, fields);
  }
}
export class DialogueConflictError extends ConflictError {
  constructor(code: DialogueKey) {
    super(code);
  }
}

function notFoundUnless(condition: boolean): asserts condition {
  if (!condition) throw new NotFoundError();
}

function run<T>(ctx: DialogueCtx, fn: (trx: Tx) => Promise<T>, lookupEmail?: string): Promise<T> {
  return withTenant(ctx.deps.database, { companyId: ctx.actor.companyId, userId: ctx.actor.userId, lookupEmail }, fn);
}

function record(trx: Tx, ctx: DialogueCtx, event: AuditInput) {
  return audit(trx, whoFromActor(ctx.actor, ctx.ip), event, ctx.deps.clock.now());
}

const who = (ctx: DialogueCtx) => ({ ...whoFromActor(ctx.actor, ctx.ip), companyId: ctx.actor.companyId });

/** Today's date in Copenhagen, as 'YYYY-MM-DD' (deadlines are calendar dates). */
export function today(now: Date): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Copenhagen', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

/** A wall-clock date and time in Copenhagen as an instant. */
export function copenhagenInstant(date: string, time: string): Date {
  const [y, mo, d] = date.split('-').map(Number);
  const [h, mi] = time.split(':').map(Number);
  const guess = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0);
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Copenhagen', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).formatToParts(new Date(guess));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const shown = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
  return new Date(guess - (shown - guess));
}

// ---------------------------------------------------------------- facts and access

async function actorFacts(trx: Tx, actor: UserActor) {
  return { employmentId: actor.employmentId, dialogueAccess: await repo.listDialogueAccess(trx, actor.employmentId) };
}

type Loaded = { d: repo.DialogueRow; side: Side };

/** The dialogue and the actor's side in it; not found for anyone without a side (M8). */
async function loadDialogue(trx: Tx, ctx: DialogueCtx, id: string, lock = false): Promise<Loaded> {
  const d = await repo.findDialogue(trx, id, lock);
  notFoundUnless(d !== undefined);
  const side = sideOf(await actorFacts(trx, ctx.actor), d);
  notFoundUnless(side !== null);
  return { d, side };
}

/** A closed dialogue is locked, an archived one (the employee left, M15) read-only: every write is refused. */
function refuseIfLocked(d: repo.DialogueRow) {
  if (isArchived(d)) throw new DialogueConflictError('errArchived');
  if (d.state === 'closed') throw new DialogueConflictError('errLocked');
}

/** The rows a group step changes: every row of the group, or just the dialogue itself. */
async function rowsOf(trx: Tx, d: repo.DialogueRow, lock = true): Promise<repo.DialogueRow[]> {
  if (!d.group_id) return [d];
  const rows = await repo.listGroupRows(trx, d.group_id, lock);
  return rows.length > 0 ? rows : [d];
}

/** The same step on every row of a group (one transition row and audit event per row). */
async function transitionAll(trx: Tx, ctx: DialogueCtx, rows: repo.DialogueRow[], to: DialogueState) {
  for (const r of rows) await transition(trx, ctx, r, to);
}

async function transition(trx: Tx, ctx: DialogueCtx, d: repo.DialogueRow, to: DialogueState, extra: Parameters<typeof repo.updateDialogue>[2] = {}) {
  if (!mayTransition(d.state, to)) throw new DialogueConflictError('errWrongState');
  const now = ctx.deps.clock.now();
  await repo.updateDialogue(trx, d.id, { ...extra, state: to });
  await repo.insertTransition(trx, { id: randomUUID(), company_id: ctx.actor.companyId, dialogue_id: d.id, from_state: d.state, to_state: to, actor_employment_id: ctx.actor.employmentId, created_at: now });
  await record(trx, ctx, { type: 'dialogues.state_changed', objectType: 'dialogue', objectId: d.id, data: { from: d.state, to } });
  d.state = to;
}

async function loadRoundScope(trx: Tx, actor: UserActor, targets?: Awaited<ReturnType<typeof repo.listTargets>>): Promise<RoundScope> {
  const configurationDepartmentIds = await repo.listConfigurationDepartments(trx, actor.employmentId);
  const t = targets ?? (await repo.listTargets(trx));
  const leadsSomething = t.teams.some((x) => x.responsible === actor.employmentId);
  return roundScope({ role: actor.role, configurationDepartmentIds, leadsSomething });
}

// ---------------------------------------------------------------- rounds

export type RoundFormData = Awaited<ReturnType<typeof getRoundForm>>;

/**
 * GRUS forms start group rounds (one group dialogue per team). The forms module offers the kinds
 * of individual rounds; the GRUS choices (the built-in form and the company's own GRUS forms) are
 * added here, once each.
 */
async function formChoicesWithGrus(trx: Tx): Promise<forms.FormChoice[]> {
  const choices = await forms.listFormChoices(trx);
  const builtin = BUILTIN_FORMS.filter((f) => f.kind === 'grus').map((f) => ({ value: `builtin:${f.key}`, name: f.name, language: f.language, kind: f.kind }));
  const own = (await repo.listGrusForms(trx)).map((f) => ({ value: f.id, name: f.name, language: f.language, kind: 'grus' }));
  return [...choices, ...[...builtin, ...own].filter((c) => !choices.some((x) => x.value === c.value))];
}

async function grusVersionForChoice(trx: Tx, ctx: DialogueCtx, choice: string, now: Date): Promise<string | undefined> {
  if (choice.startsWith('builtin:')) {
    const builtin = BUILTIN_FORMS.find((f) => f.key === choice.slice('builtin:'.length) && f.kind === 'grus');
    return builtin ? forms.ensureBuiltinVersion(trx, who(ctx), builtin.key, now) : undefined;
  }
  return (await repo.listGrusForms(trx)).find((f) => f.id === choice)?.latest ?? undefined;
}

export async function getRoundForm(ctx: DialogueCtx) {
  return run(ctx, async (trx) => {
    const targets = await repo.listTargets(trx);
    const scope = await loadRoundScope(trx, ctx.actor, targets);
    notFoundUnless(scope.kind !== 'none');
    const me = ctx.actor.employmentId;
    return {
      forms: await formChoicesWithGrus(trx),
      teams: targets.teams.filter((x) => reachesTarget(scope, x.ancestors, x.responsible === me)),
      departments: targets.departments.filter((x) => reachesTarget(scope, x.ancestors, x.responsible === me)),
    };
  });
}

export type RoundInput = { name: string; form: string; target: string; preparationDeadline: string; meetingFrom: string; meetingTo: string };

export async function createRound(ctx: DialogueCtx, input: RoundInput): Promise<{ id: string; created: number; skipped: number }> {
  if (input.meetingFrom > input.meetingTo) throw new DialogueValidationError('errMeetingPeriod', { meeting_to: 'errMeetingPeriod' });
  if (input.preparationDeadline > input.meetingTo) throw new DialogueValidationError('errDeadlineAfterMeetings', { preparation_deadline: 'errDeadlineAfterMeetings' });
  return run(ctx, async (trx) => {
    const targets = await repo.listTargets(trx);
    const scope = await loadRoundScope(trx, ctx.actor, targets);
    notFoundUnless(scope.kind !== 'none');
    const me = ctx.actor.employmentId;
    const [kind, targetId] = input.target.split(':');
    let teamIds: string[] = [];
    let teamId: string | null = null;
    let departmentId: string | null = null;
    if (kind === 'team') {
      const team = targets.teams.find((x) => x.id === targetId);
      if (!team || !reachesTarget(scope, team.ancestors, team.responsible === me)) throw new DialogueValidationError('errInvalidChoice', { target: 'errInvalidChoice' });
      teamIds = [team.id];
      teamId = team.id;
    } else if (kind === 'department') {
      const dept = targets.departments.find((x) => x.id === targetId);
      if (!dept || !reachesTarget(scope, dept.ancestors, dept.responsible === me)) throw new DialogueValidationError('errInvalidChoice', { target: 'errInvalidChoice' });
      departmentId = dept.id;
      // The subtree's teams; a leader gets dialogues only for the teams they lead.
      teamIds = targets.teams.filter((x) => x.ancestors.includes(dept.id) && (scope.kind !== 'leader' || x.responsible === me)).map((x) => x.id);
    } else {
      throw new DialogueValidationError('errInvalidChoice', { target: 'errInvalidChoice' });
    }
    const now = ctx.deps.clock.now();
    const versionId = (await forms.versionForChoice(trx, who(ctx), input.form, now)) ?? (await grusVersionForChoice(trx, ctx, input.form, now));
    if (!versionId) throw new DialogueValidationError('errInvalidChoice', { form: 'errInvalidChoice' });

    const roundId = randomUUID();
    await repo.insertRound(trx, {
      id: roundId,
      company_id: ctx.actor.companyId,
      name: input.name,
      form_version_id: versionId,
      team_id: teamId,
      department_id: departmentId,
      preparation_deadline: input.preparationDeadline,
      meeting_from: input.meetingFrom,
      meeting_to: input.meetingTo,
      created_by: me,
    });
    const members = await repo.listTeamMembersWithLeader(trx, teamIds);
    const kindOfForm = (await forms.getVersion(trx, versionId)).kind;
    // Only a MUS carries open agreements on from the last MUS.
    const carries = kindOfForm === 'mus';
    // A GRUS is one group dialogue per team: the team's members with its responsible leader, and
    // only where at least two members take part.
    const grus = kindOfForm === 'grus';
    const groups = new Map<string, string[]>();
    let created = 0;
    let skipped = 0;
    const eligible = members.filter((m) => m.leader && m.leader !== m.id);
    skipped += members.length - eligible.length;
    const perTeam = new Map<string, number>();
    for (const m of eligible) perTeam.set(m.team_id ?? '', (perTeam.get(m.team_id ?? '') ?? 0) + 1);
    for (const m of members) {
      // Nobody holds a dialogue with themself, and a team without a responsible leader has no one to hold it.
      if (!m.leader || m.leader === m.id) continue;
      if (grus && (perTeam.get(m.team_id ?? '') ?? 0) < 2) {
        skipped++;
        continue;
      }
      const dialogueId = randomUUID();
      await repo.insertDialogue(trx, { id: dialogueId, company_id: ctx.actor.companyId, round_id: roundId, form_version_id: versionId, employee_employment_id: m.id, leader_employment_id: m.leader, team_id: m.team_id });
      await repo.insertTransition(trx, { id: randomUUID(), company_id: ctx.actor.companyId, dialogue_id: dialogueId, from_state: null, to_state: 'invited', actor_employment_id: me, created_at: now });
      if (grus) groups.set(m.team_id ?? '', [...(groups.get(m.team_id ?? '') ?? []), dialogueId]);
      // Open agreements from earlier dialogues come along, linked to the originals.
      for (const a of carries ? await repo.readCarryOverAgreements(trx, m.id) : []) {
        await repo.insertAgreement(trx, {
          id: randomUUID(),
          company_id: ctx.actor.companyId,
          dialogue_id: dialogueId,
          employee_employment_id: m.id,
          carried_from: a.id,
          title_text: a.title_text,
          description_text: a.description_text,
          owner: a.owner,
          deadline: a.deadline,
          follow_up: a.follow_up,
          status: a.status,
          progress_text: a.progress_text,
          at: now,
        });
      }
      created++;
    }
    // The first member row of each team is the group's anchor; its id is the group's id.
    for (const ids of groups.values()) if (ids[0]) await repo.setGroup(trx, ids, ids[0]);
    await record(trx, ctx, { type: 'dialogues.round.created', objectType: 'round', objectId: roundId, data: { formVersionId: versionId, teamId, departmentId, dialogues: created, skipped } });
    return { id: roundId, created, skipped };
  });
}

/**
 * The rounds the actor administers. Someone who administers none but holds a department
 * responsibility sees the rounds of their departments for the statistics only.
 */
export async function listRoundsPage(ctx: DialogueCtx) {
  return run(ctx, async (trx) => {
    const scope = await loadRoundScope(trx, ctx.actor);
    if (scope.kind === 'none') {
      const departments = await repo.listResponsibilityDepartments(trx, ctx.actor.employmentId);
      notFoundUnless(departments.length > 0);
      return { rounds: await repo.listRounds(trx, { departmentRoots: departments }), statisticsOnly: true, canStart: false };
    }
    const filter = scope.kind === 'admin' ? null : { createdBy: ctx.actor.employmentId, ...(scope.kind === 'configuration' ? { departmentRoots: scope.departmentIds } : {}) };
    return { rounds: await repo.listRounds(trx, filter), statisticsOnly: false, canStart: true };
  });
}

/** A round's dialogues: who and which state, never what anyone wrote. */
export async function getRoundPage(ctx: DialogueCtx, id: string) {
  return run(ctx, async (trx) => {
    const round = await repo.findRound(trx, id);
    notFoundUnless(round !== undefined);
    const scope = await loadRoundScope(trx, ctx.actor);
    notFoundUnless(mayAdministerRound(scope, round, ctx.actor.employmentId));
    const dialogues = await repo.listRoundDialogues(trx, id);
    const facts = await actorFacts(trx, ctx.actor);
    return { round, dialogues: dialogues.map((d) => ({ ...d, mine: sideOf(facts, d) !== null })) };
  });
}

/**
 * A round's results: completion per team, and the averages of the employees' scale answers in its
 * closed dialogues, under the company's anonymity threshold. For whoever administers the round,
 * and for department delegates (any department responsibility grants its statistics).
 */
export async function getRoundStatistics(ctx: DialogueCtx, id: string) {
  return run(ctx, async (trx) => {
    const round = await repo.findRound(trx, id);
    notFoundUnless(round !== undefined);
    const scope = await loadRoundScope(trx, ctx.actor);
    const departments = await repo.listResponsibilityDepartments(trx, ctx.actor.employmentId);
    notFoundUnless(mayAdministerRound(scope, round, ctx.actor.employmentId) || round.ancestors.some((a) => departments.includes(a)));
    const dialogues = await repo.listRoundDialogues(trx, id);
    const version = await forms.getVersion(trx, await repo.findRoundVersion(trx, id));
    const questions = version.definition.sections.flatMap((s) => s.questions).filter((q) => q.type === 'scale' && (q.answeredBy === 'employee' || q.answeredBy === 'both'));
    const teamRows = new Map<string, { id: string; name: string; total: number; closed: number }>();
    for (const d of dialogues) {
      if (!d.team_id) continue;
      const row = teamRows.get(d.team_id) ?? { id: d.team_id, name: d.team_name ?? '–', total: 0, closed: 0 };
      row.total++;
      if (d.state === 'closed') row.closed++;
      teamRows.set(d.team_id, row);
    }
    const teams = [...teamRows.values()].sort((a, b) => a.name.localeCompare(b.name));
    const threshold = await repo.findStatisticsThreshold(trx, ctx.actor.companyId);
    const answers = await repo.readRoundScaleAnswers(trx, id, questions.map((q) => q.id));
    const stats = aggregate(answers, questions.map((q) => q.id), teams.map((t) => t.id), threshold);
    return { round, threshold, teams, questions, stats, total: dialogues.length, closed: dialogues.filter((d) => d.state === 'closed').length };
  });
}

// ---------------------------------------------------------------- overview

export type NextStep = 'prepare' | 'waitForMeeting' | 'meeting' | 'sign' | 'waitForSignature' | 'done';

export function nextStep(d: { state: DialogueState; employee_submitted_at: Date | null; leader_submitted_at: Date | null }, side: Side, signed: boolean): NextStep {
  switch (d.state) {
    case 'invited':
    case 'preparing':
      return submittedAt(d, side) === null ? 'prepare' : 'waitForMeeting';
    case 'meeting':
      return 'meeting';
    case 'signing':
      return signed ? 'waitForSignature' : 'sign';
    case 'closed':
      return 'done';
  }
}

export async function getMyDialogues(ctx: DialogueCtx) {
  return run(ctx, async (trx) => {
    const now = ctx.deps.clock.now();
    const day = today(now);
    const facts = await actorFacts(trx, ctx.actor);
    const ownList = await repo.listDialoguesOfEmployee(trx, ctx.actor.employmentId);
    const ledList = await repo.listDialoguesAsLeader(trx, ctx.actor.employmentId);
    const signedSides = await repo.listSignedSides(trx, [...ownList, ...ledList].filter((d) => d.state === 'signing').map((d) => d.id));
    const signed = (id: string, side: Side) => signedSides.some((s) => s.dialogue_id === id && s.side === side);
    const mine = [];
    for (const d of ownList) {
      mine.push({ ...d, next: nextStep(d, 'employee', signed(d.id, 'employee')), overdue: isOverdue(d, 'employee', d.employee_submitted_at, day) });
    }
    const led = [];
    for (const d of ledList) {
      led.push({ ...d, next: nextStep(d, 'leader', signed(d.id, 'leader')), employeeOverdue: isOverdue(d, 'employee', d.employee_submitted_at, day), leaderOverdue: isOverdue(d, 'leader', d.leader_submitted_at, day) });
    }
    const upcoming = led.filter((d) => d.meeting_at !== null && d.meeting_at.getTime() >= now.getTime() && d.state !== 'closed').sort((a, b) => (a.meeting_at?.getTime() ?? 0) - (b.meeting_at?.getTime() ?? 0));
    const agreements = await repo.readAgreementsOfEmployee(trx, ctx.actor.employmentId);
    const canStartRounds = (await loadRoundScope(trx, ctx.actor)).kind !== 'none';
    const canSeeRounds = canStartRounds || (await repo.listResponsibilityDepartments(trx, ctx.actor.employmentId)).length > 0;
    // Agreements to follow up in the coming 30 days, or already past their date.
    const due = await repo.readAgreementsDueForLeader(trx, ctx.actor.employmentId, today(new Date(now.getTime() + 30 * 86_400_000)));
    // The leader's tasks: requested individual MUS not yet created.
    const musTasks = await repo.listOpenMusRequestsForLeader(trx, ctx.actor.employmentId);
    const archived = (await repo.listArchiveForLeader(trx, ctx.actor.employmentId)).length;
    return { mine, led, upcoming, agreements, due, canStartRounds, canSeeRounds, today: day, musTasks, archived };
  });
}

// ---------------------------------------------------------------- sickness absence

/** The people the actor may report sick; empty means the reporting form does not exist for them. */
export async function getSicknessOptions(ctx: DialogueCtx) {
  return run(ctx, async (trx) => {
    const actor = { ...(await actorFacts(trx, ctx.actor)), role: ctx.actor.role };
    return (await repo.listActiveTeamMembers(trx)).filter(
      (m) => m.team_id !== null && m.id !== ctx.actor.employmentId && m.leader !== null && m.leader !== m.id && mayReportSickness(actor, { teamId: m.team_id, leader: m.leader }),
    );
  });
}

export type SicknessInput = { employmentId: string; from: string; to: string | null };

/**
 * Records that an employee is sick from a date (optionally to a date). When the period still
 * matters, the responsible leader gets a task: a sickness-absence dialogue with the built-in form.
 * The dates are health data and stay out of the audit trail.
 */
export async function reportSickness(ctx: DialogueCtx, input: SicknessInput): Promise<{ task: boolean; dialogueId: string | null }> {
  if (input.to !== null && input.to < input.from) throw new DialogueValidationError('errSickPeriod', { to: 'errSickPeriod' });
  return run(ctx, async (trx) => {
    const facts = { ...(await actorFacts(trx, ctx.actor)), role: ctx.actor.role };
    const target = (await repo.listActiveTeamMembers(trx)).find((m) => m.id === input.employmentId);
    // Someone the actor may not report for is simply not a choice.
    if (!target || target.team_id === null || target.id === ctx.actor.employmentId || !mayReportSickness(facts, { teamId: target.team_id, leader: target.leader })) {
      throw new DialogueValidationError('errInvalidChoice', { employment_id: 'errInvalidChoice' });
    }
    if (target.leader === null || target.leader === target.id) throw new DialogueValidationError('errNoLeader', { employment_id: 'errNoLeader' });
    const now = ctx.deps.clock.now();
    const dialogueId = sicknessTaskNeeded(input.from, input.to, today(now))
      ? await createSicknessTask(trx, { companyId: ctx.actor.companyId, who: who(ctx), target: { id: target.id, leader: target.leader, teamId: target.team_id }, actorEmploymentId: ctx.actor.employmentId, now })
      : null;
    const reportId = randomUUID();
    await repo.insertSicknessReport(trx, { id: reportId, company_id: ctx.actor.companyId, employee_employment_id: target.id, from_date: input.from, to_date: input.to, reported_by: ctx.actor.employmentId, dialogue_id: dialogueId });
    await record(trx, ctx, { type: 'dialogues.sickness.reported', objectType: 'sickness_report', objectId: reportId, data: { employmentId: target.id, task: dialogueId !== null, dialogueId } });
    return { task: dialogueId !== null, dialogueId };
  });
}

/** The responsible leader's task: a sickness-absence dialogue with the built-in form. */
async function createSicknessTask(
  trx: Tx,
  input: { companyId: string; who: AuditWho & { companyId: string }; target: { id: string; leader: string; teamId: string }; actorEmploymentId: string | null; now: Date },
): Promise<string> {
  const versionId = await forms.ensureBuiltinVersion(trx, input.who, 'sickness-da', input.now);
  const dialogueId = randomUUID();
  await repo.insertDialogue(trx, { id: dialogueId, company_id: input.companyId, round_id: null, form_version_id: versionId, employee_employment_id: input.target.id, leader_employment_id: input.target.leader, team_id: input.target.teamId });
  await repo.insertTransition(trx, { id: randomUUID(), company_id: input.companyId, dialogue_id: dialogueId, from_state: null, to_state: 'invited', actor_employment_id: input.actorEmploymentId, created_at: input.now });
  return dialogueId;
}

export class SicknessOverlapError extends Error {}

/**
 * A sickness period reported by the integration API (/v3/siab/dialogs), inside the caller's
 * company transaction. A period that overlaps none of the employee's periods is new; one that
 * overlaps exactly one replaces its dates (for example the employee is reported fit: the same
 * start and an end date); one that overlaps two or more is refused (SicknessOverlapError). A task
 * (a sickness-absence dialogue for the responsible leader) is made when the period still matters
 * and none exists yet. The dates are health data: never in the audit trail.
 */
export async function recordSicknessFromApi(
  trx: Tx,
  input: {
    companyId: string;
    employmentId: string;
    from: string;
    to: string | null;
    apiTokenId: string;
    who: AuditWho & { companyId: string };
    now: Date;
    /** Added to the audit data (e.g. which API token). */
    auditData?: Record<string, string | number | boolean | null>;
  },
): Promise<{ outcome: 'created' | 'updated'; reportId: string; dialogueId: string | null }> {
  const target = (await repo.listActiveTeamMembers(trx)).find((m) => m.id === input.employmentId);
  if (!target || target.team_id === null) throw new DialogueValidationError('errInvalidChoice', { employment_id: 'errInvalidChoice' });
  if (target.leader === null || target.leader === target.id) throw new DialogueValidationError('errNoLeader', { employment_id: 'errNoLeader' });
  const overlapping = await repo.findOverlappingSickness(trx, target.id, input.from, input.to);
  if (overlapping.length > 1) throw new SicknessOverlapError();
  const existing = overlapping[0];
  const needed = sicknessTaskNeeded(input.from, input.to, today(input.now));
  const taskTarget = { id: target.id, leader: target.leader, teamId: target.team_id };
  if (existing) {
    const dialogueId = existing.dialogue_id ?? (needed ? await createSicknessTask(trx, { companyId: input.companyId, who: input.who, target: taskTarget, actorEmploymentId: null, now: input.now }) : null);
    await repo.updateSicknessReport(trx, existing.id, { from_date: input.from, to_date: input.to, dialogue_id: dialogueId, updated_at: input.now });
    await audit(trx, input.who, { type: 'dialogues.sickness.updated', objectType: 'sickness_report', objectId: existing.id, data: { ...input.auditData, employmentId: target.id, task: dialogueId !== null, dialogueId } }, input.now);
    return { outcome: 'updated', reportId: existing.id, dialogueId };
  }
  const dialogueId = needed ? await createSicknessTask(trx, { companyId: input.companyId, who: input.who, target: taskTarget, actorEmploymentId: null, now: input.now }) : null;
  const reportId = randomUUID();
  await repo.insertSicknessReport(trx, { id: reportId, company_id: input.companyId, employee_employment_id: target.id, from_date: input.from, to_date: input.to, reported_by: null, reported_by_api_token: input.apiTokenId, dialogue_id: dialogueId });
  await audit(trx, input.who, { type: 'dialogues.sickness.reported', objectType: 'sickness_report', objectId: reportId, data: { ...input.auditData, employmentId: target.id, task: dialogueId !== null, dialogueId } }, input.now);
  return { outcome: 'created', reportId, dialogueId };
}

// ---------------------------------------------------------------- one dialogue

export type DialoguePage = Awaited<ReturnType<typeof getDialoguePage>>;

/**
 * A GRUS as its reader sees it: the members, what each has submitted and signed, and each
 * member's answers only once the meeting has started (before that only one's own). The leader
 * reads and writes on the anchor row, a member on their own row.
 */
async function groupView(trx: Tx, ctx: DialogueCtx, d: repo.DialogueRow, side: Side) {
  const groupId = d.group_id;
  if (!groupId) return null;
  const rows = await repo.listGroupRows(trx, groupId);
  const anchor = rows.find((r) => r.id === groupId) ?? d;
  const visible = othersPreparationVisible(anchor);
  const ids = rows.map((r) => r.id);
  const signatures = await repo.listSignaturesOf(trx, ids);
  const memberAnswers: Record<string, repo.StoredAnswer[]> = {};
  for (const r of rows) {
    if (visible || (side === 'employee' && r.id === d.id)) memberAnswers[r.id] = (await repo.readAnswers(trx, r.id)).filter((a) => a.side === 'employee');
  }
  const disagreements: { name: string; text: string }[] = [];
  const agreements: (repo.AgreementRow & { owner_name: string })[] = [];
  for (const r of rows) {
    if (anchor.state === 'signing' || anchor.state === 'closed') {
      const text = await repo.readDisagreement(trx, r.id);
      if (text) disagreements.push({ name: r.employee_name, text });
    }
    for (const a of await repo.readAgreements(trx, r.id)) agreements.push({ ...a, owner_name: a.owner === 'leader' ? anchor.leader_name : r.employee_name });
  }
  agreements.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
  const requests = await repo.listMusRequests(trx, side === 'leader' ? ids : [d.id]);
  return {
    anchorId: anchor.id,
    /** Where this reader's forms post: the member's own row, or the anchor for the leader. */
    postId: side === 'leader' ? anchor.id : d.id,
    members: rows.map((r) => ({
      id: r.id,
      employmentId: r.employee_employment_id,
      name: r.employee_name,
      submitted: r.employee_submitted_at !== null,
      left: r.employee_fired_at !== null,
      signedAt: signatures.find((x) => x.dialogue_id === r.id && x.side === 'employee')?.signed_at ?? null,
      request: requests.find((q) => q.grus_dialogue_id === r.id) ?? null,
    })),
    leaderSignedAt: signatures.find((x) => x.dialogue_id === anchor.id && x.side === 'leader')?.signed_at ?? null,
    memberAnswers,
    agreements,
    disagreements,
    myRequest: side === 'employee' ? (requests.find((q) => q.grus_dialogue_id === d.id && q.fulfilled_at === null) ?? null) : null,
  };
}

export async function getDialoguePage(ctx: DialogueCtx, id: string) {
  return run(ctx, async (trx) => {
    const loaded = await loadDialogue(trx, ctx, id);
    const side = loaded.side;
    // The leader of a GRUS reads the group through its anchor row, whichever member row was asked for.
    const d = loaded.d.group_id && side === 'leader' && loaded.d.group_id !== loaded.d.id ? ((await repo.findDialogue(trx, loaded.d.group_id)) ?? loaded.d) : loaded.d;
    const group = await groupView(trx, ctx, d, side);
    const version = await forms.getVersion(trx, d.form_version_id);
    const other: Side = side === 'employee' ? 'leader' : 'employee';
    const showOther = othersPreparationVisible(d);
    const showShared = d.state !== 'invited' && d.state !== 'preparing';
    let answers = (await repo.readAnswers(trx, d.id)).filter((a) => a.side === side || (a.side === other && showOther) || (a.side === 'shared' && showShared));
    if (group && side === 'employee') {
      // A member's own row holds their answers; the leader's and the shared ones are on the anchor.
      const anchorAnswers = group.anchorId === d.id ? answers : await repo.readAnswers(trx, group.anchorId);
      answers = [...answers.filter((a) => a.side === 'employee'), ...anchorAnswers.filter((a) => (a.side === 'leader' && showOther) || (a.side === 'shared' && showShared))];
    }
    const signatures = await repo.listSignatures(trx, d.id);
    const signedByMe = signatures.some((s) => s.side === side);
    // M14: the read and its "viewed by" row in one transaction (no read without its row).
    const role = side === 'employee' ? 'employee' : d.leader_employment_id === ctx.actor.employmentId ? 'leader' : 'delegate';
    await recordView(trx, { companyId: ctx.actor.companyId, objectType: 'dialogue', objectId: d.id, viewer: { userId: ctx.actor.userId }, role, at: ctx.deps.clock.now() });
    if (d.id !== loaded.d.id) await recordView(trx, { companyId: ctx.actor.companyId, objectType: 'dialogue', objectId: loaded.d.id, viewer: { userId: ctx.actor.userId }, role, at: ctx.deps.clock.now() });
    const notesId = group ? group.anchorId : d.id;
    const hasTotp = await hasConfirmedTotp(trx, { userId: ctx.actor.userId });
    return {
      viewers: await listViewers(trx, 'dialogue', d.id),
      dialogue: d,
      side,
      form: version,
      answers,
      showOther,
      group,
      archived: isArchived(d),
      hasTotp,
      notes: showShared ? await repo.readNotes(trx, notesId) : { text: '', version: 0 },
      agreements: await repo.readAgreements(trx, d.id),
      disagreement: await repo.readDisagreement(trx, d.id),
      signatures,
      transitions: await repo.listTransitions(trx, d.id),
      can: {
        editPreparation: mayEditPreparation(d, side),
        submit: mayEditPreparation(d, side),
        schedule: mayScheduleMeeting(d, side),
        startMeeting: mayStartMeeting(d, side),
        editMeeting: mayEditMeeting(d),
        finishMeeting: mayFinishMeeting(d, side),
        sign: maySign(d, signedByMe),
        disagree: mayCommentDisagreement(d, side, signedByMe),
        reopen: mayReopen(d, side),
        followUp: mayFollowUpAgreement(d),
        requestMus: mayRequestMus(d, side),
        createMus: group !== null && mayCreateRequestedMus(d, side),
      },
    };
  });
}

export type AnswerInput = { questionId: string; value: string | string[]; version: number };
export type AnswerOutcome =
  | { ok: true; version: number; questionId: string; side: AnswerSide }
  | { ok: false; questionId: string; side: AnswerSide; mine: string; theirs: string; version: number };

function sideForQuestion(def: FormDefinition, questionId: string, side: Side): { side: AnswerSide; shared: boolean } {
  const q = findQuestion(def, questionId);
  if (!q || q.type === 'agreements') throw new DialogueValidationError('errUnknownQuestion');
  if (q.answeredBy === 'meeting') return { side: 'shared', shared: true };
  if (!answersPrivately(q, side)) throw new DialogueValidationError('errNotYourQuestion');
  return { side, shared: false };
}

/** Saves one answer with its version check; a stale version returns both texts, saving nothing. */
export async function saveAnswer(ctx: DialogueCtx, id: string, input: AnswerInput): Promise<AnswerOutcome> {
  return run(ctx, async (trx) => {
    const { d, side } = await loadDialogue(trx, ctx, id, true);
    refuseIfLocked(d);
    const def = (await forms.getVersion(trx, d.form_version_id)).definition;
    const target = sideForQuestion(def, input.questionId, side);
    if (target.shared ? !mayEditMeeting(d) : !mayEditPreparation(d, side)) throw new DialogueConflictError(target.shared ? 'errMeetingNotOpen' : 'errPreparationClosed');
    const q = findQuestion(def, input.questionId);
    const value = q ? normaliseAnswer(q, input.value) : null;
    if (value === null) throw new DialogueValidationError('errInvalidAnswer', { [`q_${input.questionId}`]: 'errInvalidAnswer' });
    const now = ctx.deps.clock.now();
    // In a GRUS the leader's and the shared answers live on the anchor row (and are sealed for it:
    // free text is encrypted with the company's key, M16; scale and choice answers stay in clear).
    const targetId = d.group_id && (target.shared || side === 'leader') ? d.group_id : d.id;
    const result = await repo.writeAnswer(trx, { companyId: ctx.actor.companyId, dialogueId: targetId, questionId: input.questionId, side: target.side, value, seal: q?.type === 'text', expectedVersion: input.version, by: ctx.actor.employmentId, at: now });
    if (!result.ok) {
      await record(trx, ctx, { type: 'dialogues.answer.conflict', objectType: 'dialogue', objectId: d.id, data: { questionId: input.questionId, side: target.side, sentVersion: input.version, storedVersion: result.current.version } });
      return { ok: false, questionId: input.questionId, side: target.side, mine: value, theirs: result.current.value, version: result.current.version };
    }
    if (d.state === 'invited') await transitionAll(trx, ctx, await rowsOf(trx, d), 'preparing');
    await record(trx, ctx, { type: 'dialogues.answer.saved', objectType: 'dialogue', objectId: d.id, data: { questionId: input.questionId, side: target.side, version: result.version } });
    return { ok: true, version: result.version, questionId: input.questionId, side: target.side };
  });
}

export async function submitPreparation(ctx: DialogueCtx, id: string): Promise<void> {
  await run(ctx, async (trx) => {
    const { d, side } = await loadDialogue(trx, ctx, id, true);
    refuseIfLocked(d);
    if (!mayEditPreparation(d, side)) throw new DialogueConflictError('errPreparationClosed');
    const now = ctx.deps.clock.now();
    const set = side === 'employee' ? { employee_submitted_at: now } : { leader_submitted_at: now };
    if (d.group_id) {
      // A member submits their own row; the leader's one preparation counts for the whole group.
      if (side === 'employee') await repo.updateDialogue(trx, d.id, set);
      else await repo.updateGroupRows(trx, d.group_id, set);
      if (d.state === 'invited') await transitionAll(trx, ctx, await rowsOf(trx, d), 'preparing');
    } else if (d.state === 'invited') await transition(trx, ctx, d, 'preparing', set);
    else await repo.updateDialogue(trx, d.id, set);
    await record(trx, ctx, { type: 'dialogues.preparation.submitted', objectType: 'dialogue', objectId: d.id, data: { side } });
  });
}

export type MeetingInput = { date: string; time: string; place: string };

export async function scheduleMeeting(ctx: DialogueCtx, id: string, input: MeetingInput): Promise<void> {
  await run(ctx, async (trx) => {
    const { d, side } = await loadDialogue(trx, ctx, id, true);
    refuseIfLocked(d);
    if (!mayScheduleMeeting(d, side)) throw new DialogueConflictError(side === 'leader' ? 'errWrongState' : 'errLeaderOnly');
    const at = copenhagenInstant(input.date, input.time);
    if (d.group_id) await repo.updateGroupRows(trx, d.group_id, { meeting_at: at, meeting_place: input.place || null });
    else await repo.updateDialogue(trx, d.id, { meeting_at: at, meeting_place: input.place || null });
    await record(trx, ctx, { type: 'dialogues.meeting.scheduled', objectType: 'dialogue', objectId: d.id, data: { at: at.toISOString() } });
  });
}

export async function startMeeting(ctx: DialogueCtx, id: string): Promise<void> {
  await run(ctx, async (trx) => {
    const { d, side } = await loadDialogue(trx, ctx, id, true);
    refuseIfLocked(d);
    if (!mayStartMeeting(d, side)) throw new DialogueConflictError(side === 'leader' ? 'errWrongState' : 'errLeaderOnly');
    await transitionAll(trx, ctx, await rowsOf(trx, d), 'meeting');
  });
}

export async function finishMeeting(ctx: DialogueCtx, id: string): Promise<void> {
  await run(ctx, async (trx) => {
    const { d, side } = await loadDialogue(trx, ctx, id, true);
    refuseIfLocked(d);
    if (!mayFinishMeeting(d, side)) throw new DialogueConflictError(side === 'leader' ? 'errWrongState' : 'errLeaderOnly');
    await transitionAll(trx, ctx, await rowsOf(trx, d), 'signing');
  });
}

export type NotesOutcome = { ok: true; version: number } | { ok: false; mine: string; theirs: string; version: number };

export async function saveNotes(ctx: DialogueCtx, id: string, input: { text: string; version: number }): Promise<NotesOutcome> {
  return run(ctx, async (trx) => {
    const { d } = await loadDialogue(trx, ctx, id, true);
    refuseIfLocked(d);
    if (!mayEditMeeting(d)) throw new DialogueConflictError('errMeetingNotOpen');
    // A GRUS has one set of notes, on the anchor row.
    const result = await repo.writeNotes(trx, d.group_id ?? d.id, input.text, input.version);
    if (!result.ok) {
      await record(trx, ctx, { type: 'dialogues.answer.conflict', objectType: 'dialogue', objectId: d.id, data: { questionId: 'notes', sentVersion: input.version, storedVersion: result.current.version } });
      return { ok: false, mine: input.text, theirs: result.current.value, version: result.current.version };
    }
    await record(trx, ctx, { type: 'dialogues.notes.saved', objectType: 'dialogue', objectId: d.id, data: { version: result.version } });
    return { ok: true, version: result.version };
  });
}

/** In a GRUS, `ownerEmploymentId` names the member who owns it (owner 'employee'). */
export type AgreementInput = { title: string; description: string; owner: 'employee' | 'leader'; ownerEmploymentId?: string | undefined; deadline: string | null; followUp: string | null; status: AgreementStatus };

export async function addAgreement(ctx: DialogueCtx, id: string, input: AgreementInput): Promise<string> {
  return run(ctx, async (trx) => {
    const { d } = await loadDialogue(trx, ctx, id, true);
    refuseIfLocked(d);
    if (!mayEditMeeting(d)) throw new DialogueConflictError('errMeetingNotOpen');
    const agreementId = randomUUID();
    // A GRUS agreement belongs to its owner: a member's on that member's row, the leader's on the anchor.
    let holder = d;
    if (d.group_id) {
      const rows = await rowsOf(trx, d, false);
      const found = input.owner === 'leader' ? rows.find((r) => r.id === d.group_id) : rows.find((r) => r.employee_employment_id === input.ownerEmploymentId && r.employee_fired_at === null);
      if (!found) throw new DialogueValidationError('errInvalidChoice', { owner: 'errInvalidChoice' });
      holder = found;
    }
    await repo.insertAgreement(trx, {
      id: agreementId,
      company_id: ctx.actor.companyId,
      dialogue_id: holder.id,
      employee_employment_id: holder.employee_employment_id,
      carried_from: null,
      title_text: input.title,
      description_text: input.description,
      owner: input.owner,
      deadline: input.deadline,
      follow_up: input.followUp,
      status: input.status,
      progress_text: '',
      at: ctx.deps.clock.now(),
    });
    await record(trx, ctx, { type: 'dialogues.agreement.created', objectType: 'agreement', objectId: agreementId, data: { dialogueId: holder.id, owner: input.owner, status: input.status } });
    return agreementId;
  });
}

/** The dialogue an agreement belongs to, for an actor with a side in it (else not found). */
export async function getAgreementDialogueId(ctx: DialogueCtx, agreementId: string): Promise<string> {
  return run(ctx, async (trx) => {
    const a = await repo.readAgreement(trx, agreementId);
    notFoundUnless(a !== undefined);
    return (await loadDialogue(trx, ctx, a.dialogue_id)).d.id;
  });
}

/** Status and progress notes through the year; allowed also after the dialogue is locked. */
export async function followUpAgreement(ctx: DialogueCtx, agreementId: string, input: { status: AgreementStatus; progress: string }): Promise<string> {
  return run(ctx, async (trx) => {
    const a = await repo.readAgreement(trx, agreementId);
    notFoundUnless(a !== undefined);
    const { d } = await loadDialogue(trx, ctx, a.dialogue_id, true);
    if (isArchived(d)) throw new DialogueConflictError('errArchived');
    if (!mayFollowUpAgreement(d)) throw new DialogueConflictError('errMeetingNotOpen');
    await repo.updateAgreement(trx, a.id, { status: input.status, progress_text: input.progress, updated_at: ctx.deps.clock.now() });
    await record(trx, ctx, { type: 'dialogues.agreement.updated', objectType: 'agreement', objectId: a.id, data: { dialogueId: d.id, status: input.status } });
    return d.id;
  });
}

/**
 * `source` is the M7 throttle's source (the login's device cookie, else the IP address). Either
 * `password` or `code` (a current code from the authenticator app, for people with a confirmed
 * TOTP factor) proves who signs.
 */
export type SignInput = { password: string; code?: string; disagreement: string; source: string };

/**
 * Both sides sign with their password or their second factor. Read the facts in one transaction,
 * verify outside any transaction (Argon2 never holds a connection), then sign in a second one
 * that checks everything again. A TOTP code is checked, and its time step used up, in the first
 * transaction. Passkeys are not offered for signing.
 */
export async function sign(ctx: DialogueCtx, id: string, input: SignInput): Promise<{ closed: boolean; group: boolean }> {
  // M7: a wrong password or code here counts towards the same block as at the login, so a
  // borrowed session cannot be used to guess either.
  const subject = subjectFor(ctx.actor.email);
  const lookup = ctx.actor.email.toLowerCase();
  const code = (input.code ?? '').replace(/\s+/g, '');
  const useCode = code !== '';
  if (!useCode && input.password === '') throw new DialogueValidationError('errPasswordOrCode', { password: 'errPasswordOrCode' });
  const found = await run(
    ctx,
    async (trx) => {
      const { d, side } = await loadDialogue(trx, ctx, id);
      refuseIfLocked(d);
      const signed = (await repo.listSignatures(trx, d.id)).some((s) => s.side === side);
      if (!maySign(d, signed)) throw new DialogueConflictError(signed ? 'errAlreadySigned' : 'errNotSigning');
      const throttle = await checkThrottle(trx, subject, input.source, ctx.deps.clock.now());
      if (useCode) {
        const owner = { userId: ctx.actor.userId };
        if (!(await hasConfirmedTotp(trx, owner))) throw new DialogueValidationError('errNoSecondFactor', { code: 'errNoSecondFactor' });
        // A blocked source is told only "wrong", and its code is not even tried.
        const codeOk = !throttle.blocked && (await useTotpCode(trx, owner, code, ctx.deps.clock.now(), false));
        return { hash: null, throttle, codeOk };
      }
      return { hash: await repo.findUserPasswordHash(trx, ctx.actor.userId), throttle, codeOk: false };
    },
    lookup,
  );
  // Always the same Argon2 work on the password path; a blocked source is told only "wrong".
  const valid = useCode ? found.codeOk : (await ctx.deps.hasher.verify(found.hash, input.password)) && !found.throttle.blocked;
  if (!valid) {
    // The refusal is audited and counted in a transaction of its own, so it survives the error.
    await run(
      ctx,
      async (trx) => {
        const { d, side } = await loadDialogue(trx, ctx, id);
        const now = ctx.deps.clock.now();
        await record(trx, ctx, { type: 'dialogues.sign.refused', objectType: 'dialogue', objectId: d.id, data: { side, reason: useCode ? 'totp' : 'password' } });
        const started = await recordFailure(trx, subject, input.source, found.throttle.knownSource, now);
        await afterBlocksStarted(trx, { owner: { userId: ctx.actor.userId }, subject, started, who: whoFromActor(ctx.actor, ctx.ip), now, lookupEmail: lookup });
      },
      lookup,
    );
    if (useCode) throw new DialogueValidationError('errWrongCode', { code: 'errWrongCode' });
    throw new DialogueValidationError('errWrongPassword', { password: 'errWrongPassword' });
  }
  return run(ctx, async (trx) => {
    const { d, side } = await loadDialogue(trx, ctx, id, true);
    refuseIfLocked(d);
    const rows = await rowsOf(trx, d);
    const signatures = await repo.listSignatures(trx, d.id);
    if (!maySign(d, signatures.some((s) => s.side === side))) throw new DialogueConflictError('errAlreadySigned');
    if (side === 'employee') await repo.writeDisagreement(trx, d.id, input.disagreement.trim() === '' ? null : input.disagreement.trim());
    const now = ctx.deps.clock.now();
    // The leader of a GRUS signs the whole group at once; a member signs their own row.
    const signedRows = side === 'leader' ? rows : [d];
    const already = await repo.listSignaturesOf(trx, signedRows.map((r) => r.id));
    for (const r of signedRows) {
      if (already.some((x) => x.dialogue_id === r.id && x.side === side)) continue;
      await repo.insertSignature(trx, { company_id: ctx.actor.companyId, dialogue_id: r.id, side, employment_id: ctx.actor.employmentId, signed_at: now });
    }
    await record(trx, ctx, { type: 'dialogues.signed', objectType: 'dialogue', objectId: d.id, data: { side, disagreement: side === 'employee' && input.disagreement.trim() !== '', factor: useCode ? 'totp' : 'password' } });
    // Locked when everyone has signed: both sides, on every row of a group whose member is still employed.
    const all = await repo.listSignaturesOf(trx, rows.map((r) => r.id));
    const complete = rows
      .filter((r) => r.employee_fired_at === null)
      .every((r) => all.some((x) => x.dialogue_id === r.id && x.side === 'employee') && all.some((x) => x.dialogue_id === r.id && x.side === 'leader'));
    if (complete) await transitionAll(trx, ctx, rows, 'closed');
    return { closed: complete, group: isGroup(d) };
  });
}

// ---------------------------------------------------------------- GRUS: asking for an individual MUS

/** A GRUS member asks for an individual MUS (optionally saying why); the leader then has a task. */
export async function requestMus(ctx: DialogueCtx, id: string, input: { reason: string }): Promise<void> {
  await run(ctx, async (trx) => {
    const { d, side } = await loadDialogue(trx, ctx, id, true);
    if (isArchived(d)) throw new DialogueConflictError('errArchived');
    if (d.form_kind !== 'grus' || !isGroup(d)) throw new DialogueConflictError('errNotGrus');
    if (!mayRequestMus(d, side)) throw new DialogueConflictError('errMemberOnly');
    if (await repo.findOpenMusRequest(trx, d.id)) throw new DialogueConflictError('errRequestOpen');
    const requestId = randomUUID();
    await repo.insertMusRequest(trx, { id: requestId, company_id: ctx.actor.companyId, grus_dialogue_id: d.id, employee_employment_id: d.employee_employment_id, reason_text: input.reason.trim(), created_at: ctx.deps.clock.now() });
    // The leader hears of it in the app (and by mail, as they chose), in this transaction.
    await notifyMusRequested(trx, ctx.deps, { companyId: ctx.actor.companyId, leaderEmploymentId: d.leader_employment_id, dialogueId: d.id, requestId });
    await record(trx, ctx, { type: 'dialogues.mus_request.created', objectType: 'mus_request', objectId: requestId, data: { dialogueId: d.id, reason: input.reason.trim() !== '' } });
  });
}

/**
 * The leader holds the requested MUS: a MUS dialogue of its own (no round, like a sickness-absence
 * dialogue) with the built-in MUS form in the employee's language, open agreements from earlier
 * MUS carried in. The request is then done. `id` is the member's row in the GRUS.
 */
export async function createRequestedMus(ctx: DialogueCtx, id: string): Promise<string> {
  return run(ctx, async (trx) => {
    const { d, side } = await loadDialogue(trx, ctx, id, true);
    // Someone who has left gets no new dialogue.
    if (employeeLeft(d)) throw new DialogueConflictError('errArchived');
    if (!mayCreateRequestedMus(d, side)) throw new DialogueConflictError('errLeaderOnly');
    const request = await repo.findOpenMusRequest(trx, d.id);
    if (!request) throw new DialogueConflictError('errNoRequest');
    const now = ctx.deps.clock.now();
    const language = await repo.findEmploymentLanguage(trx, d.employee_employment_id);
    const versionId = await forms.ensureBuiltinVersion(trx, who(ctx), `mus-${language}`, now);
    const dialogueId = randomUUID();
    await repo.insertDialogue(trx, { id: dialogueId, company_id: ctx.actor.companyId, round_id: null, form_version_id: versionId, employee_employment_id: d.employee_employment_id, leader_employment_id: d.leader_employment_id, team_id: d.team_id });
    await repo.insertTransition(trx, { id: randomUUID(), company_id: ctx.actor.companyId, dialogue_id: dialogueId, from_state: null, to_state: 'invited', actor_employment_id: ctx.actor.employmentId, created_at: now });
    for (const a of await repo.readCarryOverAgreements(trx, d.employee_employment_id)) {
      await repo.insertAgreement(trx, {
        id: randomUUID(),
        company_id: ctx.actor.companyId,
        dialogue_id: dialogueId,
        employee_employment_id: d.employee_employment_id,
        carried_from: a.id,
        title_text: a.title_text,
        description_text: a.description_text,
        owner: a.owner,
        deadline: a.deadline,
        follow_up: a.follow_up,
        status: a.status,
        progress_text: a.progress_text,
        at: now,
      });
    }
    await repo.fulfilMusRequest(trx, request.id, { mus_dialogue_id: dialogueId, fulfilled_at: now, fulfilled_by: ctx.actor.employmentId });
    await record(trx, ctx, { type: 'dialogues.mus_request.fulfilled', objectType: 'mus_request', objectId: request.id, data: { grusDialogueId: d.id, dialogueId } });
    return dialogueId;
  });
}

// ---------------------------------------------------------------- the leader's archive (M15)

/** 'YYYY-MM-DD' five years after the employee left: when the retention runner purges the dialogue. */
export function archivePurgeDate(firedAt: Date): string {
  const d = new Date(firedAt.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + 5);
  return today(d);
}

/** Dialogues of people who left, for the leader side that holds them now. Names, types and dates only. */
export async function getArchive(ctx: DialogueCtx) {
  return run(ctx, async (trx) => {
    const rows = await repo.listArchiveForLeader(trx, ctx.actor.employmentId);
    return rows.map((r) => ({
      id: r.id,
      employee_name: r.employee_name,
      form_kind: r.form_kind,
      form_name: r.form_name,
      round_name: r.round_name,
      state: r.state,
      // The round's year (its meeting period), else the year the dialogue was made.
      year: Number(String(r.meeting_from ?? today(r.created_at)).slice(0, 4)),
      purge_on: r.employee_fired_at ? archivePurgeDate(r.employee_fired_at) : '',
      left_on: r.employee_fired_at ? today(r.employee_fired_at) : '',
    }));
  });
}

export async function reopen(ctx: DialogueCtx, id: string): Promise<void> {
  await run(ctx, async (trx) => {
    const { d, side } = await loadDialogue(trx, ctx, id, true);
    if (isArchived(d)) throw new DialogueConflictError('errArchived');
    if (!mayReopen(d, side)) throw new DialogueConflictError(side === 'leader' ? 'errWrongState' : 'errLeaderOnly');
    // Reopening takes back both signatures (every signature of a group): the changed dialogue must be signed again.
    const rows = await rowsOf(trx, d);
    for (const r of rows) await repo.deleteSignatures(trx, r.id);
    await transitionAll(trx, ctx, rows, 'meeting');
  });
}
