/**
 * Who may do what with a dialogue or a round. Pure functions: the service loads the facts (the
 * dialogue row, the actor's delegations, the responsible leaders) and asks here.
 *
 * Design note (M8): a dialogue's content (answers, notes, agreements, the disagreement comment)
 * is read by exactly three kinds of people: the employee, the leader it was made with, and an
 * employee holding the dialogue access for the form's kind on the team the dialogue belongs to
 * (`dialog_access_edp` for MUS and GRUS, `dialog_access_onboarding`, `dialog_access_siab` for
 * sickness absence), who acts as the leader. Company admins and `configuration` delegates administer rounds (who has a dialogue,
 * in which state) but do not read content unless one of the three rules above also makes them a
 * participant. Anyone else gets "not found", never "forbidden".
 *
 * Preparation is private: a side sees the other side's private answers only once both have
 * submitted their preparation, or once the meeting has started. In a GRUS (a group of member
 * dialogues sharing group_id) only the meeting reveals them: every member's preparation stays
 * hidden from the other members and the leader until the leader starts the meeting.
 *
 * Hand-over: leader_employment_id follows the team's responsible leader (a trigger in
 * migrations/019 rewrites it when owners change or an owner is fired), so "the leader it was made
 * with" is always the current responsible leader; the one replaced gets "not found".
 *
 * The leader's archive (M15): once the employee has left (employments.fired_at), the dialogue is
 * read-only for everyone, and only the leader side (the current responsible leader, or a delegate
 * with the dialogue access for the team) still has it; the employee side is gone.
 */
import type { DialogueState, FormKind, Responsibility } from '../../platform/db/schema.ts';

export type Side = 'employee' | 'leader';

export type DialogueFacts = {
  form_kind: FormKind;
  employee_employment_id: string;
  leader_employment_id: string;
  team_id: string | null;
  state: DialogueState;
  employee_submitted_at: Date | null;
  leader_submitted_at: Date | null;
  /** GRUS: the anchor row's id on every member row; null for a one-to-one dialogue. */
  group_id?: string | null;
  /** When the employee left; set means the dialogue is in the leader's archive. */
  employee_fired_at?: Date | null;
};

/** Whether the dialogue's employee has left (employments.fired_at): their side is gone. */
export function employeeLeft(d: Pick<DialogueFacts, 'employee_fired_at'>): boolean {
  return d.employee_fired_at !== null && d.employee_fired_at !== undefined;
}

/**
 * A dialogue of someone who left: read-only, in the leader's archive (M15). A GRUS goes on for
 * the rest of the group when one member leaves (their row only loses its employee side), so a
 * group row is never read-only for that reason.
 */
export function isArchived(d: Pick<DialogueFacts, 'employee_fired_at' | 'group_id'>): boolean {
  return employeeLeft(d) && !isGroup(d);
}

export function isGroup(d: Pick<DialogueFacts, 'group_id'>): boolean {
  return d.group_id !== null && d.group_id !== undefined;
}

/** The delegation that gives access to a kind of dialogue on a team (DOMAIN.md). */
export const ACCESS_FOR_KIND: Record<FormKind, Responsibility> = {
  mus: 'dialog_access_edp',
  grus: 'dialog_access_edp',
  onboarding: 'dialog_access_onboarding',
  sickness: 'dialog_access_siab',
};

export type ActorFacts = { employmentId: string; dialogueAccess: readonly { responsibility: Responsibility; teamId: string }[] };

/** The actor's side in the dialogue, or null: then the dialogue does not exist for them. */
export function sideOf(actor: ActorFacts, d: DialogueFacts): Side | null {
  if (actor.employmentId === d.employee_employment_id) return employeeLeft(d) ? null : 'employee';
  if (actor.employmentId === d.leader_employment_id) return 'leader';
  const needed = ACCESS_FOR_KIND[d.form_kind];
  if (d.team_id !== null && actor.dialogueAccess.some((a) => a.teamId === d.team_id && a.responsibility === needed)) return 'leader';
  return null;
}

const AFTER_PREPARATION: readonly DialogueState[] = ['meeting', 'signing', 'closed'];

export function submittedAt(d: Pick<DialogueFacts, 'employee_submitted_at' | 'leader_submitted_at'>, side: Side): Date | null {
  return side === 'employee' ? d.employee_submitted_at : d.leader_submitted_at;
}

/** Whether the other side's private preparation is visible. */
export function othersPreparationVisible(d: DialogueFacts): boolean {
  if (isGroup(d)) return AFTER_PREPARATION.includes(d.state);
  return AFTER_PREPARATION.includes(d.state) || (d.employee_submitted_at !== null && d.leader_submitted_at !== null);
}

/** One's own private answers can be changed until submitted, and never after the meeting starts. */
export function mayEditPreparation(d: DialogueFacts, side: Side): boolean {
  return !isArchived(d) && (d.state === 'invited' || d.state === 'preparing') && submittedAt(d, side) === null;
}

/** Shared answers, notes and new agreements are written together during the meeting. */
export function mayEditMeeting(d: DialogueFacts): boolean {
  return !isArchived(d) && d.state === 'meeting';
}

export function mayScheduleMeeting(d: DialogueFacts, side: Side): boolean {
  return !isArchived(d) && side === 'leader' && (d.state === 'invited' || d.state === 'preparing' || d.state === 'meeting');
}

export function mayStartMeeting(d: DialogueFacts, side: Side): boolean {
  return !isArchived(d) && side === 'leader' && (d.state === 'invited' || d.state === 'preparing');
}

export function mayFinishMeeting(d: DialogueFacts, side: Side): boolean {
  return !isArchived(d) && side === 'leader' && d.state === 'meeting';
}

export function maySign(d: DialogueFacts, alreadySigned: boolean): boolean {
  return !isArchived(d) && d.state === 'signing' && !alreadySigned;
}

/** Only the employee writes the disagreement comment, and only while signing is open. */
export function mayCommentDisagreement(d: DialogueFacts, side: Side, alreadySigned: boolean): boolean {
  return !isArchived(d) && side === 'employee' && d.state === 'signing' && !alreadySigned;
}

export function mayReopen(d: DialogueFacts, side: Side): boolean {
  return !isArchived(d) && side === 'leader' && d.state === 'closed';
}

/**
 * Following an agreement up through the year (status and progress notes) stays open after the
 * dialogue is locked: the agreement list is a living plan. Its title and description do not.
 * Not in the archive: the employee has left.
 */
export function mayFollowUpAgreement(d: DialogueFacts): boolean {
  return !isArchived(d) && (d.state === 'meeting' || d.state === 'signing' || d.state === 'closed');
}

/** A GRUS member may ask for an individual MUS at any time while they are employed. */
export function mayRequestMus(d: DialogueFacts, side: Side): boolean {
  return !employeeLeft(d) && side === 'employee' && d.form_kind === 'grus' && isGroup(d);
}

/** The leader side creates the requested MUS. */
export function mayCreateRequestedMus(d: DialogueFacts, side: Side): boolean {
  return !employeeLeft(d) && side === 'leader';
}

/** Whether the state machine allows the step at all (the service also checks who asks). */
export const TRANSITIONS: Record<DialogueState, readonly DialogueState[]> = {
  invited: ['preparing', 'meeting'],
  preparing: ['meeting'],
  meeting: ['signing'],
  signing: ['closed'],
  closed: ['meeting'],
};

export function mayTransition(from: DialogueState, to: DialogueState): boolean {
  return TRANSITIONS[from].includes(to);
}

// ---------------------------------------------------------------- rounds

/**
 * Who may start a round and administer it: a company admin for any team or department; a
 * delegate with `configuration` on a department (and everything below it); a leader for the
 * teams and departments they are the responsible leader of, where only the teams they lead get
 * dialogues.
 */
export type RoundScope =
  | { kind: 'admin' }
  | { kind: 'configuration'; departmentIds: readonly string[] }
  | { kind: 'leader' }
  | { kind: 'none' };

export function roundScope(actor: { role: string; configurationDepartmentIds: readonly string[]; leadsSomething: boolean }): RoundScope {
  if (actor.role === 'company_admin') return { kind: 'admin' };
  if (actor.configurationDepartmentIds.length > 0) return { kind: 'configuration', departmentIds: actor.configurationDepartmentIds };
  if (actor.leadsSomething) return { kind: 'leader' };
  return { kind: 'none' };
}

/**
 * A target (a team's department chain, or a department's own chain, nearest first) is in reach:
 * for a leader, `responsibleIsActor` says whether they are its responsible leader.
 */
export function reachesTarget(scope: RoundScope, ancestors: readonly string[], responsibleIsActor: boolean): boolean {
  switch (scope.kind) {
    case 'admin':
      return true;
    case 'configuration':
      return ancestors.some((a) => scope.departmentIds.includes(a));
    case 'leader':
      return responsibleIsActor;
    case 'none':
      return false;
  }
}

/** Viewing a round's list (names and states, never content). */
export function mayAdministerRound(scope: RoundScope, round: { created_by: string; ancestors: readonly string[] }, actorEmploymentId: string): boolean {
  if (round.created_by === actorEmploymentId) return true;
  if (scope.kind === 'admin') return true;
  if (scope.kind === 'configuration') return round.ancestors.some((a) => scope.departmentIds.includes(a));
  return false;
}

/** A dialogue without a deadline (sickness absence) is never overdue. */
/** 'YYYY-MM-DD' moved by whole calendar months (the day is kept, or the month's last day). */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number);
  const target = new Date(Date.UTC(y ?? 0, (m ?? 1) - 1 + months, 1));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d ?? 1, last));
  return target.toISOString().slice(0, 10);
}

/**
 * Whether a sickness report makes a task (a sickness-absence dialogue for the responsible
 * leader): not for a period that has already ended, nor for one that began more than two months
 * ago (issue #4).
 */
export function sicknessTaskNeeded(from: string, to: string | null, today: string): boolean {
  if (to !== null && to < today) return false;
  return from >= addMonths(today, -2);
}

/** Who may report someone sick: a company admin, their responsible leader, or a dialog_access_siab delegate on their team. */
export function mayReportSickness(actor: ActorFacts & { role: string }, target: { teamId: string; leader: string | null }): boolean {
  if (actor.role === 'company_admin') return true;
  if (target.leader !== null && target.leader === actor.employmentId) return true;
  return actor.dialogueAccess.some((a) => a.teamId === target.teamId && a.responsibility === 'dialog_access_siab');
}

export function isOverdue(d: { state: DialogueState; preparation_deadline: string | null }, side: Side, submitted: Date | null, today: string): boolean {
  return (d.state === 'invited' || d.state === 'preparing') && submitted === null && d.preparation_deadline !== null && d.preparation_deadline < today;
}
