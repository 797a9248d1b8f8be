/** The dialogue access policy as pure functions (M8): who has a side, what each state allows. */
import { describe, expect, it } from 'vitest';
import {
  isArchived,
  isOverdue,
  mayAdministerRound,
  mayCreateRequestedMus,
  mayRequestMus,
  mayCommentDisagreement,
  mayEditMeeting,
  mayEditPreparation,
  mayFinishMeeting,
  mayFollowUpAgreement,
  mayReopen,
  maySign,
  mayStartMeeting,
  mayTransition,
  othersPreparationVisible,
  reachesTarget,
  roundScope,
  sideOf,
  type DialogueFacts,
} from '../src/modules/dialogues/dialogues.policy.ts';

const base: DialogueFacts = { form_kind: 'mus', employee_employment_id: 'emp', leader_employment_id: 'lead', team_id: 'team', state: 'preparing', employee_submitted_at: null, leader_submitted_at: null };
const at = new Date('2027-03-01T10:00:00Z');

describe('M8 dialogue access policy', () => {
  it('gives a side to the employee, the leader and a delegate with the kind\'s dialogue access on the team, to no one else', () => {
    expect(sideOf({ employmentId: 'emp', dialogueAccess: [] }, base)).toBe('employee');
    expect(sideOf({ employmentId: 'lead', dialogueAccess: [] }, base)).toBe('leader');
    expect(sideOf({ employmentId: 'helper', dialogueAccess: [{ responsibility: 'dialog_access_edp', teamId: 'team' }] }, base)).toBe('leader');
    expect(sideOf({ employmentId: 'helper', dialogueAccess: [{ responsibility: 'dialog_access_edp', teamId: 'other-team' }] }, base)).toBeNull();
    expect(sideOf({ employmentId: 'admin', dialogueAccess: [] }, base)).toBeNull();
    // The delegation must match the form's kind: MUS access opens no sickness-absence dialogue.
    const siab = { employmentId: 'helper', dialogueAccess: [{ responsibility: 'dialog_access_siab' as const, teamId: 'team' }] };
    expect(sideOf(siab, { ...base, form_kind: 'sickness' })).toBe('leader');
    expect(sideOf(siab, base)).toBeNull();
    expect(sideOf({ employmentId: 'helper', dialogueAccess: [{ responsibility: 'dialog_access_edp', teamId: 'team' }] }, { ...base, form_kind: 'sickness' })).toBeNull();
    expect(sideOf({ employmentId: 'helper', dialogueAccess: [{ responsibility: 'dialog_access_edp', teamId: 'team' }] }, { ...base, form_kind: 'grus' })).toBe('leader');
    // A dialogue whose team is gone gives no delegate access.
    expect(sideOf({ employmentId: 'helper', dialogueAccess: [{ responsibility: 'dialog_access_edp', teamId: 'team' }] }, { ...base, team_id: null })).toBeNull();
  });

  it('keeps preparation private until both submitted or the meeting started', () => {
    expect(othersPreparationVisible(base)).toBe(false);
    expect(othersPreparationVisible({ ...base, employee_submitted_at: at })).toBe(false);
    expect(othersPreparationVisible({ ...base, employee_submitted_at: at, leader_submitted_at: at })).toBe(true);
    for (const state of ['meeting', 'signing', 'closed'] as const) expect(othersPreparationVisible({ ...base, state })).toBe(true);
  });

  it('allows each step only in its state and to its side', () => {
    expect(mayEditPreparation(base, 'employee')).toBe(true);
    expect(mayEditPreparation({ ...base, employee_submitted_at: at }, 'employee')).toBe(false);
    expect(mayEditPreparation({ ...base, employee_submitted_at: at }, 'leader')).toBe(true);
    expect(mayEditPreparation({ ...base, state: 'meeting' }, 'employee')).toBe(false);
    expect(mayStartMeeting(base, 'leader')).toBe(true);
    expect(mayStartMeeting(base, 'employee')).toBe(false);
    expect(mayEditMeeting({ ...base, state: 'meeting' })).toBe(true);
    expect(mayEditMeeting({ ...base, state: 'signing' })).toBe(false);
    expect(mayFinishMeeting({ ...base, state: 'meeting' }, 'leader')).toBe(true);
    expect(mayFinishMeeting({ ...base, state: 'meeting' }, 'employee')).toBe(false);
    expect(maySign({ ...base, state: 'signing' }, false)).toBe(true);
    expect(maySign({ ...base, state: 'signing' }, true)).toBe(false);
    expect(maySign({ ...base, state: 'closed' }, false)).toBe(false);
    expect(mayCommentDisagreement({ ...base, state: 'signing' }, 'employee', false)).toBe(true);
    expect(mayCommentDisagreement({ ...base, state: 'signing' }, 'leader', false)).toBe(false);
    expect(mayReopen({ ...base, state: 'closed' }, 'leader')).toBe(true);
    expect(mayReopen({ ...base, state: 'closed' }, 'employee')).toBe(false);
    expect(mayFollowUpAgreement({ ...base, state: 'closed' })).toBe(true);
    expect(mayFollowUpAgreement(base)).toBe(false);
  });

  it('has the state machine invited -> preparing -> meeting -> signing -> closed, and reopen to meeting', () => {
    expect(mayTransition('invited', 'preparing')).toBe(true);
    expect(mayTransition('preparing', 'meeting')).toBe(true);
    expect(mayTransition('meeting', 'signing')).toBe(true);
    expect(mayTransition('signing', 'closed')).toBe(true);
    expect(mayTransition('closed', 'meeting')).toBe(true);
    expect(mayTransition('closed', 'preparing')).toBe(false);
    expect(mayTransition('preparing', 'closed')).toBe(false);
    expect(mayTransition('signing', 'meeting')).toBe(false);
  });

  it('lets admins start rounds anywhere, configuration delegates in their subtree, leaders where responsible', () => {
    const admin = roundScope({ role: 'company_admin', configurationDepartmentIds: [], leadsSomething: false });
    const config = roundScope({ role: 'employee', configurationDepartmentIds: ['d1'], leadsSomething: false });
    const leader = roundScope({ role: 'leader', configurationDepartmentIds: [], leadsSomething: true });
    const nobody = roundScope({ role: 'employee', configurationDepartmentIds: [], leadsSomething: false });
    expect(reachesTarget(admin, ['x'], false)).toBe(true);
    expect(reachesTarget(config, ['d2', 'd1', 'root'], false)).toBe(true);
    expect(reachesTarget(config, ['d3', 'root'], false)).toBe(false);
    expect(reachesTarget(leader, ['x'], true)).toBe(true);
    expect(reachesTarget(leader, ['x'], false)).toBe(false);
    expect(nobody.kind).toBe('none');
    expect(mayAdministerRound(nobody, { created_by: 'me', ancestors: [] }, 'me')).toBe(true);
    expect(mayAdministerRound(leader, { created_by: 'someone', ancestors: [] }, 'me')).toBe(false);
    expect(mayAdministerRound(config, { created_by: 'someone', ancestors: ['d1'] }, 'me')).toBe(true);
  });

  it('counts a preparation overdue only while it is still open', () => {
    expect(isOverdue({ state: 'preparing', preparation_deadline: '2027-03-01' }, 'employee', null, '2027-03-02')).toBe(true);
    expect(isOverdue({ state: 'preparing', preparation_deadline: '2027-03-02' }, 'employee', null, '2027-03-02')).toBe(false);
    expect(isOverdue({ state: 'preparing', preparation_deadline: '2027-03-01' }, 'employee', at, '2027-03-02')).toBe(false);
    expect(isOverdue({ state: 'meeting', preparation_deadline: '2027-03-01' }, 'employee', null, '2027-03-02')).toBe(false);
  });
});

describe('sickness absence rules', () => {
  it('makes a task only for a period that has not ended and began at most two months ago', async () => {
    const { addMonths, sicknessTaskNeeded } = await import('../src/modules/dialogues/dialogues.policy.ts');
    expect(addMonths('2027-03-31', -1)).toBe('2027-02-28');
    expect(addMonths('2027-01-15', -2)).toBe('2026-11-15');
    expect(sicknessTaskNeeded('2027-03-01', null, '2027-03-10')).toBe(true);
    expect(sicknessTaskNeeded('2027-03-01', '2027-03-10', '2027-03-10')).toBe(true);
    expect(sicknessTaskNeeded('2027-03-01', '2027-03-09', '2027-03-10')).toBe(false);
    expect(sicknessTaskNeeded('2027-01-10', null, '2027-03-10')).toBe(true);
    expect(sicknessTaskNeeded('2027-01-09', null, '2027-03-10')).toBe(false);
    expect(sicknessTaskNeeded('2027-04-01', null, '2027-03-10')).toBe(true);
  });
});

describe('statistics threshold (pure)', () => {
  it('suppresses small groups and team figures that would allow subtraction', async () => {
    const { aggregate } = await import('../src/modules/dialogues/dialogues.statistics.ts');
    const a = (team: string, value: string) => ({ team_id: team, question_id: 'q', value });
    const answers = [a('A', '5'), a('A', '4'), a('A', '3'), a('B', '1')];
    const [s] = aggregate(answers, ['q'], ['A', 'B'], 3);
    expect(s?.overall).toEqual({ shown: true, n: 4, average: 3.3 });
    expect(s?.teams).toEqual({ A: { shown: false }, B: { shown: false } });
    const [safe] = aggregate(answers.filter((x) => x.team_id === 'A'), ['q'], ['A', 'B'], 3);
    expect(safe?.teams.A).toEqual({ shown: true, n: 3, average: 4 });
    // Answers without a team (the team was deleted) also block team figures when they are few.
    const orphan = [a('A', '5'), a('A', '4'), a('A', '3'), { team_id: null, question_id: 'q', value: '1' }];
    expect(aggregate(orphan, ['q'], ['A'], 3)[0]?.teams.A).toEqual({ shown: false });
    // A threshold below 3 is treated as 3.
    expect(aggregate([a('A', '5'), a('A', '4')], ['q'], ['A'], 1)[0]?.overall).toEqual({ shown: false });
    // Stray values never count.
    expect(aggregate([a('A', '9'), a('A', ''), a('A', '4')], ['q'], ['A'], 3)[0]?.overall).toEqual({ shown: false });
  });
});

describe('M8 GRUS and M15 archive policy', () => {
  const grus: DialogueFacts = { ...base, form_kind: 'grus', group_id: 'anchor' };
  it('keeps a GRUS member’s preparation hidden until the meeting, even when everyone has submitted', () => {
    expect(othersPreparationVisible({ ...grus, employee_submitted_at: at, leader_submitted_at: at })).toBe(false);
    expect(othersPreparationVisible({ ...base, employee_submitted_at: at, leader_submitted_at: at })).toBe(true);
    for (const state of ['meeting', 'signing', 'closed'] as const) expect(othersPreparationVisible({ ...grus, state })).toBe(true);
  });

  it('lets only a GRUS member ask for an individual MUS, and only the leader side create it', () => {
    expect(mayRequestMus(grus, 'employee')).toBe(true);
    expect(mayRequestMus(grus, 'leader')).toBe(false);
    expect(mayRequestMus(base, 'employee')).toBe(false);
    expect(mayRequestMus({ ...grus, group_id: null }, 'employee')).toBe(false);
    expect(mayCreateRequestedMus(grus, 'leader')).toBe(true);
    expect(mayCreateRequestedMus(grus, 'employee')).toBe(false);
  });

  it('M15 makes the dialogue of someone who left read-only and takes away the employee side', () => {
    const gone: DialogueFacts = { ...base, state: 'meeting', employee_fired_at: at };
    expect(isArchived(gone)).toBe(true);
    expect(isArchived(base)).toBe(false);
    expect(sideOf({ employmentId: 'emp', dialogueAccess: [] }, gone)).toBeNull();
    expect(sideOf({ employmentId: 'lead', dialogueAccess: [] }, gone)).toBe('leader');
    expect(mayEditMeeting(gone)).toBe(false);
    expect(mayFinishMeeting(gone, 'leader')).toBe(false);
    expect(mayFollowUpAgreement({ ...gone, state: 'closed' })).toBe(false);
    expect(mayReopen({ ...gone, state: 'closed' }, 'leader')).toBe(false);
    expect(maySign({ ...gone, state: 'signing' }, false)).toBe(false);
    expect(mayRequestMus({ ...grus, employee_fired_at: at }, 'employee')).toBe(false);
    // A GRUS goes on for the others when one member leaves: only that member's side is gone.
    const leftGroupRow: DialogueFacts = { ...grus, state: 'meeting', employee_fired_at: at };
    expect(isArchived(leftGroupRow)).toBe(false);
    expect(sideOf({ employmentId: 'emp', dialogueAccess: [] }, leftGroupRow)).toBeNull();
    expect(mayEditMeeting(leftGroupRow)).toBe(true);
  });
});
