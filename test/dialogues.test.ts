/**
 * The MUS journey through the real app and a real database: rounds, private preparation with
 * versioned answers, meeting, agreements, sign-off, lock, reopen and carry-over; who may read
 * what (M8).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, PASSWORD, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn, type Agent } from './helpers/agent.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { BUILTIN_FORMS } from '../src/modules/forms/builtin.ts';
import { allQuestions, formDefinitionSchema } from '../src/modules/forms/form-definition.ts';
import { createFormVersion } from '../src/modules/forms/forms.service.ts';
import { answerRowId, readAgreements, SEALED } from '../src/modules/dialogues/dialogues.repository.ts';
import { openText } from '../src/platform/crypto/envelope.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const DAY = 86_400_000;
const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

async function startRound(agent: Agent, target: string, extra: Record<string, string> = {}) {
  return agent.post('/rounds', {
    name: 'MUS 2027',
    form: 'builtin:mus-da',
    target,
    preparation_deadline: '2027-03-20',
    meeting_from: '2027-03-21',
    meeting_to: '2027-04-30',
    ...extra,
  });
}

async function roundDialogues(roundId: string) {
  return sys((trx) => trx.selectFrom('dialogues').selectAll().where('round_id', '=', roundId).execute());
}

/** A date `days` from the fake clock's today, as the date inputs send it. */
const isoIn = (days: number) => new Date(t.clock.now().getTime() + days * DAY).toISOString().slice(0, 10);

function roundIdFrom(location: unknown): string {
  const m = /\/rounds\/([0-9a-f-]{36})/.exec(String(location));
  if (!m?.[1]) throw new Error(`no round id in ${String(location)}`);
  return m[1];
}

async function dialogueOf(f: CompanyFixture, who: CompanyFixture['employee']) {
  return sys((trx) => trx.selectFrom('dialogues').selectAll().where('company_id', '=', f.companyId).where('employee_employment_id', '=', who.employmentId).orderBy('created_at', 'desc').executeTakeFirstOrThrow());
}

/** The stored answer, its free text opened (sealed with the company's key, M16). */
async function stored(dialogueId: string, questionId: string, side: 'employee' | 'leader' | 'shared') {
  const row = await sys((trx) => trx.selectFrom('dialogue_answers').selectAll().where('dialogue_id', '=', dialogueId).where('question_id', '=', questionId).where('side', '=', side).executeTakeFirst());
  return row && { ...row, value: await openText(row.company_id, SEALED.answers, answerRowId(dialogueId, questionId, side), row.value) };
}

describe('forms', () => {
  it('ships six short built-in forms that validate, in Danish, English and Swedish', () => {
    expect(BUILTIN_FORMS.map((f) => f.key)).toEqual(['mus-da', 'mus-en', 'mus-sv', 'grus-da', 'onboarding-da', 'sickness-da']);
    for (const f of BUILTIN_FORMS) {
      expect(() => formDefinitionSchema.parse(f.definition)).not.toThrow();
      expect(allQuestions(f.definition).length, f.key).toBeLessThanOrEqual(15);
    }
    // The translations ask the same questions in the same order.
    const ids = (key: string) => allQuestions(BUILTIN_FORMS.find((f) => f.key === key)!.definition).map((q) => `${q.id}:${q.type}:${q.answeredBy}`);
    expect(ids('mus-en')).toEqual(ids('mus-da'));
    expect(ids('mus-sv')).toEqual(ids('mus-da'));
  });

  it('offers the built-in round forms to a brand-new company with no manual step', async () => {
    const f = await createCompany(t.deps);
    const admin = await loggedIn(t.app, f.admin.email);
    const page = await admin.get('/rounds/new');
    expect(page.statusCode).toBe(200);
    for (const name of ['MUS (DA)', 'Employee development dialogue (EN)', 'Utvecklingssamtal (SV)', 'Onboardingsamtale (DA)']) expect(page.body).toContain(name);
    // Sickness absence comes from a report; GRUS starts group dialogues (test/grus.test.ts).
    expect(page.body).not.toContain('Sygefraværssamtale');
    expect(page.body).toContain('GRUS (gruppeudviklingssamtale) (DA)');
    expect((await startRound(admin, `team:${f.teamId}`, { form: 'builtin:sickness-da' })).statusCode).toBe(422);
    const onboarding = await startRound(admin, `team:${f.teamId}`, { form: 'builtin:onboarding-da', name: 'Onboarding' });
    expect(onboarding.statusCode).toBe(303);
    expect(await roundDialogues(roundIdFrom(onboarding.headers.location))).toHaveLength(2);
  });

  it('editing a form makes a new immutable version; a running dialogue keeps its own', async () => {
    const f = await createCompany(t.deps);
    const d = await createDialogue(t.deps, f);
    const formId = (await sys((trx) => trx.selectFrom('form_versions').select('form_id').where('id', '=', d.formVersionId).executeTakeFirstOrThrow())).form_id;
    const def = structuredClone(BUILTIN_FORMS[0]!.definition);
    def.sections[0]!.title = 'Tilbageblik (ny udgave)';
    const newId = await withTenant(t.deps.database, { companyId: f.companyId, userId: f.admin.userId }, (trx) =>
      createFormVersion(trx, { companyId: f.companyId, actorUserId: f.admin.userId }, formId, def, t.clock.now()),
    );
    const versions = await sys((trx) => trx.selectFrom('form_versions').select(['id', 'version']).where('form_id', '=', formId).orderBy('version').execute());
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(versions[1]!.id).toBe(newId);
    // The old version cannot be changed, not even by the system role.
    await expect(sys((trx) => trx.updateTable('form_versions').set({ definition: '{}' }).where('id', '=', d.formVersionId).execute())).rejects.toThrow(/immutable/);
    const employee = await loggedIn(t.app, f.employee.email);
    const page = await employee.get(`/dialogues/${d.dialogueId}`);
    expect(page.body).toContain('Tilbageblik');
    expect(page.body).not.toContain('ny udgave');
  });
});

describe('rounds', () => {
  it('a leader starts a round for their team: one dialogue per active employee, audited, each "invited"', async () => {
    const f = await createCompany(t.deps);
    const leader = await loggedIn(t.app, f.leader.email);
    const form = await leader.get('/rounds/new');
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('Start en samtalerunde');
    const res = await startRound(leader, `team:${f.teamId}`);
    expect(res.statusCode).toBe(303);
    const roundId = roundIdFrom(res.headers.location);
    const dialogues = await roundDialogues(roundId);
    expect(dialogues.map((d) => d.employee_employment_id).sort()).toEqual([f.employee.employmentId, f.colleague.employmentId].sort());
    expect(dialogues.every((d) => d.leader_employment_id === f.leader.employmentId && d.state === 'invited')).toBe(true);
    const transitions = await sys((trx) => trx.selectFrom('dialogue_transitions').selectAll().where('dialogue_id', '=', dialogues[0]!.id).execute());
    expect(transitions).toMatchObject([{ from_state: null, to_state: 'invited', actor_employment_id: f.leader.employmentId }]);
    const audit = await sys((trx) => trx.selectFrom('audit_events').selectAll().where('company_id', '=', f.companyId).where('event_type', '=', 'dialogues.round.created').executeTakeFirstOrThrow());
    expect(audit.data).toMatchObject({ dialogues: 2, teamId: f.teamId });
    const page = await leader.get(String(res.headers.location));
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Runden er startet med 2 samtaler.');
  });

  it('a company admin starts a round for a department subtree; bad input is a 422 in Danish', async () => {
    const f = await createCompany(t.deps);
    const admin = await loggedIn(t.app, f.admin.email);
    const bad = await startRound(admin, `department:${f.departmentId}`, { meeting_from: '2027-05-01', meeting_to: '2027-04-01' });
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toContain('Periodens slutning skal ligge efter dens start.');
    const badDate = await startRound(admin, `department:${f.departmentId}`, { preparation_deadline: '2027-02-31' });
    expect(badDate.statusCode).toBe(422);
    const res = await startRound(admin, `department:${f.departmentId}`);
    expect(res.statusCode).toBe(303);
    const dialogues = await roundDialogues(roundIdFrom(res.headers.location));
    expect(dialogues).toHaveLength(4);
  });

  it('M8 a leader cannot start a round for a team they do not lead, an employee not at all', async () => {
    const f = await createCompany(t.deps);
    const other = await createCompany(t.deps);
    const leader = await loggedIn(t.app, f.leader.email);
    expect((await startRound(leader, `team:${other.teamId}`)).statusCode).toBe(422);
    expect((await startRound(leader, `department:${f.rootDepartmentId}`)).statusCode).toBe(422);
    const employee = await loggedIn(t.app, f.employee.email);
    expect((await employee.get('/rounds/new')).statusCode).toBe(404);
    expect((await startRound(employee, `team:${f.teamId}`)).statusCode).toBe(404);
  });

  it('M8 a configuration delegate starts rounds inside their departments only', async () => {
    const f = await createCompany(t.deps);
    await sys((trx) =>
      trx.insertInto('delegations').values({ id: randomUUID(), company_id: f.companyId, employment_id: f.colleague.employmentId, responsibility: 'configuration', team_id: null, department_id: f.subDepartmentId }).execute(),
    );
    const delegate = await loggedIn(t.app, f.colleague.email);
    expect((await startRound(delegate, `team:${f.teamId}`)).statusCode).toBe(422);
    const res = await startRound(delegate, `team:${f.otherTeamId}`);
    expect(res.statusCode).toBe(303);
    expect(await roundDialogues(roundIdFrom(res.headers.location))).toHaveLength(2);
  });
});

describe('preparation is private, answers are versioned', () => {
  let f: CompanyFixture;
  let dialogueId: string;
  let employee: Agent;
  let leader: Agent;
  beforeAll(async () => {
    f = await createCompany(t.deps);
    dialogueId = (await createDialogue(t.deps, f)).dialogueId;
    employee = await loggedIn(t.app, f.employee.email);
    leader = await loggedIn(t.app, f.leader.email);
  });

  it('M8 neither side sees the other’s answers before both have submitted', async () => {
    const saved = await employee.post(`/dialogues/${dialogueId}/answers`, { q_proud: 'Min hemmelige stolthed', v_proud: '0', q_wellbeing: '4', v_wellbeing: '0' });
    expect(saved.statusCode).toBe(303);
    expect((await dialogueOf(f, f.employee)).state).toBe('preparing');
    expect((await leader.post(`/dialogues/${dialogueId}/answers`, { q_proud: 'Lederens private note', v_proud: '0' })).statusCode).toBe(303);
    const leaderView = await leader.get(`/dialogues/${dialogueId}`);
    expect(leaderView.statusCode).toBe(200);
    expect(leaderView.body).toContain('Lederens private note');
    expect(leaderView.body).not.toContain('Min hemmelige stolthed');
    expect(leaderView.body).not.toContain('4 – I høj grad');
    const employeeView = await employee.get(`/dialogues/${dialogueId}`);
    expect(employeeView.body).toContain('Min hemmelige stolthed');
    expect(employeeView.body).not.toContain('Lederens private note');
    // The leader cannot answer the employee's own questions.
    const wrong = await leader.post(`/dialogues/${dialogueId}/answers`, { q_wellbeing: '1', v_wellbeing: '0' });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('Dette spørgsmål besvares af den anden part.');
    // Invalid values are refused with a message, never a 500.
    const invalid = await employee.post(`/dialogues/${dialogueId}/answers`, { q_wellbeing: '9', v_wellbeing: '1' });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.body).toContain('Svaret passer ikke til spørgsmålet.');

    expect((await employee.post(`/dialogues/${dialogueId}/submit`)).statusCode).toBe(303);
    expect((await leader.get(`/dialogues/${dialogueId}`)).body).not.toContain('Min hemmelige stolthed');
    // Submitted: the employee's preparation is closed.
    const late = await employee.post(`/dialogues/${dialogueId}/answers`, { q_proud: 'Ændret', v_proud: '1' });
    expect(late.statusCode).toBe(409);
    expect(late.body).toContain('Forberedelsen er afsluttet');
    expect((await stored(dialogueId, 'proud', 'employee'))?.value).toBe('Min hemmelige stolthed');

    expect((await leader.post(`/dialogues/${dialogueId}/submit`)).statusCode).toBe(303);
    const both = await leader.get(`/dialogues/${dialogueId}`);
    expect(both.body).toContain('Min hemmelige stolthed');
    expect(both.body).toContain('4 – I høj grad');
    expect((await employee.get(`/dialogues/${dialogueId}`)).body).toContain('Lederens private note');
  });

  it('never puts what people wrote into the audit trail', async () => {
    const rows = await sys((trx) => trx.selectFrom('audit_events').select(['event_type', 'data']).where('company_id', '=', f.companyId).execute());
    expect(rows.some((r) => r.event_type === 'dialogues.answer.saved')).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('hemmelige');
    expect(JSON.stringify(rows)).not.toContain('private note');
  });
});

describe('version conflicts keep both texts', () => {
  it('a stale save is refused with 409, a clear message and both texts; nothing is overwritten', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    const tab1 = await loggedIn(t.app, f.employee.email);
    const tab2 = await loggedIn(t.app, f.employee.email);
    expect((await tab1.post(`/dialogues/${dialogueId}/answers`, { q_hard: 'Tekst fra fane et', v_hard: '0' })).statusCode).toBe(303);
    // The second tab still holds version 0.
    const stale = await tab2.post(`/dialogues/${dialogueId}/answers`, { q_hard: 'Tekst fra fane to', v_hard: '0' });
    expect(stale.statusCode).toBe(409);
    expect(stale.body).toContain('Teksten blev ikke gemt');
    expect(stale.body).toContain('Tekst fra fane et');
    expect(stale.body).toContain('Tekst fra fane to');
    expect((await stored(dialogueId, 'hard', 'employee'))).toMatchObject({ value: 'Tekst fra fane et', version: 1 });
    // The refused page now carries the stored version: saving again is a deliberate replacement.
    expect(stale.body).toContain('name="v_hard" value="1"');
    const again = await tab2.post(`/dialogues/${dialogueId}/answers`, { q_hard: 'Tekst fra fane to', v_hard: '1' });
    expect(again.statusCode).toBe(303);
    expect(await stored(dialogueId, 'hard', 'employee')).toMatchObject({ value: 'Tekst fra fane to', version: 2 });
    const audit = await sys((trx) => trx.selectFrom('audit_events').selectAll().where('company_id', '=', f.companyId).where('event_type', '=', 'dialogues.answer.conflict').executeTakeFirstOrThrow());
    expect(audit.data).toMatchObject({ questionId: 'hard', sentVersion: 0, storedVersion: 1 });
  });

  it('htmx autosave answers with a fragment: the new version out of band, or the conflict as 409', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    const a = await loggedIn(t.app, f.employee.email);
    const hx = { headers: { 'hx-request': 'true' } };
    const ok = await a.post(`/dialogues/${dialogueId}/answers`, { q_tasks: 'Første udkast', v_tasks: '0' }, hx);
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('Gemt');
    expect(ok.body).toContain('id="v_tasks" name="v_tasks" value="1" hx-swap-oob="true"');
    expect(ok.body).not.toContain('<html');
    const same = await a.post(`/dialogues/${dialogueId}/answers`, { q_tasks: 'Første udkast', v_tasks: '0' }, hx);
    expect(same.statusCode).toBe(200);
    const clash = await a.post(`/dialogues/${dialogueId}/answers`, { q_tasks: 'Andet udkast', v_tasks: '0' }, hx);
    expect(clash.statusCode).toBe(409);
    expect(clash.body).toContain('Første udkast');
    expect(clash.body).toContain('Andet udkast');
    expect(await stored(dialogueId, 'tasks', 'employee')).toMatchObject({ value: 'Første udkast', version: 1 });
  });

  it('multiple choice saves the chosen options, and clearing them all saves too', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    const a = await loggedIn(t.app, f.employee.email);
    const body = new URLSearchParams([['_csrf', a.csrf], ['q_competences', ''], ['q_competences', 'course'], ['q_competences', 'mentor'], ['v_competences', '0']]).toString();
    const res = await t.app.inject({ method: 'POST', url: `/dialogues/${dialogueId}/answers`, payload: body, headers: { host: 'samtale.test', origin: 'http://samtale.test', 'content-type': 'application/x-www-form-urlencoded', cookie: [...a.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    expect(res.statusCode).toBe(303);
    expect((await stored(dialogueId, 'competences', 'employee'))?.value).toBe('["course","mentor"]');
    expect((await a.post(`/dialogues/${dialogueId}/answers`, { q_competences: '', v_competences: '1' })).statusCode).toBe(303);
    expect((await stored(dialogueId, 'competences', 'employee'))?.value).toBe('[]');
  });
});

describe('M8 who may read a dialogue', () => {
  it('employee and leader yes; colleague, admin, an org delegate and another company no (404)', async () => {
    const f = await createCompany(t.deps);
    const other = await createCompany(t.deps);
    const { dialogueId, roundId } = await createDialogue(t.deps, f);
    for (const who of [f.employee, f.leader]) expect((await (await loggedIn(t.app, who.email)).get(`/dialogues/${dialogueId}`)).statusCode).toBe(200);
    for (const who of [f.colleague, f.admin, f.delegate, f.member, other.admin]) {
      const agent = await loggedIn(t.app, who.email);
      expect((await agent.get(`/dialogues/${dialogueId}`)).statusCode, who.email).toBe(404);
      expect((await agent.post(`/dialogues/${dialogueId}/answers`, { q_proud: 'x', v_proud: '0' })).statusCode, who.email).toBe(404);
    }
    // The admin administers the round: names and states, no content and no link into it.
    const admin = await loggedIn(t.app, f.admin.email);
    const round = await admin.get(`/rounds/${roundId}`);
    expect(round.statusCode).toBe(200);
    expect(round.body).toContain(f.employee.name);
    expect(round.body).not.toContain(`/dialogues/${dialogueId}`);
    expect((await (await loggedIn(t.app, other.admin.email)).get(`/rounds/${roundId}`)).statusCode).toBe(404);
  });

  it('a delegate with dialog_access_edp on the team acts as the leader', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    await sys((trx) =>
      trx.insertInto('delegations').values({ id: randomUUID(), company_id: f.companyId, employment_id: f.member.employmentId, responsibility: 'dialog_access_edp', team_id: f.teamId, department_id: null }).execute(),
    );
    const delegate = await loggedIn(t.app, f.member.email);
    const page = await delegate.get(`/dialogues/${dialogueId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Du deltager som leder.');
    expect((await delegate.post(`/dialogues/${dialogueId}/start`)).statusCode).toBe(303);
    expect((await dialogueOf(f, f.employee)).state).toBe('meeting');
    const overview = await delegate.get('/dialogues');
    expect(overview.body).toContain(`/dialogues/${dialogueId}`);
  });

  it('row-level security keeps the dialogue tables of another company invisible', async () => {
    const f = await createCompany(t.deps);
    const other = await createCompany(t.deps);
    await createDialogue(t.deps, f);
    const seen = await withTenant(t.deps.database, { companyId: other.companyId, userId: other.admin.userId }, async (trx) => ({
      dialogues: await trx.selectFrom('dialogues').select('id').where('company_id', '=', f.companyId).execute(),
      agreements: await trx.selectFrom('agreements').select('id').where('company_id', '=', f.companyId).execute(),
      forms: await trx.selectFrom('form_versions').select('id').where('company_id', '=', f.companyId).execute(),
    }));
    expect(seen).toEqual({ dialogues: [], agreements: [], forms: [] });
  });
});

describe('meeting, agreements, sign-off, lock, reopen, carry-over', () => {
  it('runs the whole MUS and carries the open agreement into the next round', async () => {
    const f = await createCompany(t.deps);
    const leader = await loggedIn(t.app, f.leader.email);
    const employee = await loggedIn(t.app, f.employee.email);
    const res = await startRound(leader, `team:${f.teamId}`);
    const d = await dialogueOf(f, f.employee);
    const id = d.id;
    expect(res.statusCode).toBe(303);

    // Only the leader schedules and starts the meeting.
    expect((await employee.post(`/dialogues/${id}/start`)).statusCode).toBe(409);
    const badTime = await leader.post(`/dialogues/${id}/meeting`, { date: '2027-03-25', time: '25:00', place: '' });
    expect(badTime.statusCode).toBe(422);
    expect((await leader.post(`/dialogues/${id}/meeting`, { date: '2027-03-25', time: '10:00', place: 'Mødelokale 2' })).statusCode).toBe(303);
    const scheduled = await dialogueOf(f, f.employee);
    expect(scheduled.meeting_at?.toISOString()).toBe('2027-03-25T09:00:00.000Z');
    expect((await leader.get('/dialogues')).body).toContain('Mødelokale 2');

    expect((await leader.post(`/dialogues/${id}/start`)).statusCode).toBe(303);
    expect((await employee.post(`/dialogues/${id}/notes`, { notes: 'Vi talte om kurser.', version: '0' })).statusCode).toBe(303);
    const staleNotes = await leader.post(`/dialogues/${id}/notes`, { notes: 'Lederens version', version: '0' });
    expect(staleNotes.statusCode).toBe(409);
    expect(staleNotes.body).toContain('Vi talte om kurser.');
    expect(staleNotes.body).toContain('Lederens version');
    expect((await employee.post(`/dialogues/${id}/answers`, { q_meeting_summary: 'Fælles opsummering', v_meeting_summary: '0' })).statusCode).toBe(303);
    expect((await leader.post(`/dialogues/${id}/agreements`, { title: '', owner: 'employee' })).statusCode).toBe(422);
    expect((await leader.post(`/dialogues/${id}/agreements`, { title: 'Tag kursus i facilitering', description: 'Inden sommer', owner: 'employee', deadline: '2027-06-30', follow_up: '2027-09-01', status: 'open' })).statusCode).toBe(303);
    expect((await leader.post(`/dialogues/${id}/agreements`, { title: 'Ugentlig sparring', owner: 'leader', status: 'done' })).statusCode).toBe(303);

    expect((await employee.post(`/dialogues/${id}/finish`)).statusCode).toBe(409);
    expect((await leader.post(`/dialogues/${id}/finish`)).statusCode).toBe(303);

    // Signing needs the password; a wrong one signs nothing.
    const wrong = await employee.post(`/dialogues/${id}/sign`, { password: 'not the password', disagreement: 'Jeg er uenig i arbejdsmængden.' });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('Adgangskoden er forkert');
    expect(wrong.body).toContain('Jeg er uenig i arbejdsmængden.');
    expect(await sys((trx) => trx.selectFrom('dialogue_signatures').selectAll().where('dialogue_id', '=', id).execute())).toEqual([]);
    expect((await employee.post(`/dialogues/${id}/sign`, { password: PASSWORD, disagreement: 'Jeg er uenig i arbejdsmængden.' })).statusCode).toBe(303);
    expect((await dialogueOf(f, f.employee)).state).toBe('signing');
    expect((await employee.post(`/dialogues/${id}/sign`, { password: PASSWORD })).statusCode).toBe(409);
    const closed = await leader.post(`/dialogues/${id}/sign`, { password: PASSWORD });
    expect(closed.statusCode).toBe(303);
    expect(String(closed.headers.location)).toContain('done=closed');
    expect((await dialogueOf(f, f.employee)).state).toBe('closed');

    // Locked: every write is a 409 with a message, and nothing changes.
    for (const [path, body] of [
      ['answers', { q_meeting_summary: 'Ændret bagefter', v_meeting_summary: '1' }],
      ['notes', { notes: 'Ændret bagefter', version: '1' }],
      ['agreements', { title: 'Ny aftale bagefter', owner: 'employee' }],
      ['start', {}],
      ['submit', {}],
    ] as const) {
      const r = await employee.post(`/dialogues/${id}/${path}`, body);
      expect(r.statusCode, path).toBe(409);
      expect(r.body, path).toContain('Samtalen er afsluttet og låst');
    }
    const page = await employee.get(`/dialogues/${id}`);
    expect(page.body).toContain('Fælles opsummering');
    expect(page.body).toContain('Vi talte om kurser.');
    expect(page.body).toContain('Jeg er uenig i arbejdsmængden.');
    expect(page.body).not.toContain('Ændret bagefter');
    const history = await sys((trx) => trx.selectFrom('dialogue_transitions').select(['to_state', 'actor_employment_id']).where('dialogue_id', '=', id).orderBy('created_at').orderBy('to_state').execute());
    expect(history.map((h) => h.to_state)).toEqual(expect.arrayContaining(['invited', 'meeting', 'signing', 'closed']));

    // Follow-up through the year stays open.
    // Titles are sealed at rest (M16): find it by its opened title.
    const agreement = (await sys((trx) => readAgreements(trx, id))).find((a) => a.title_text === 'Ugentlig sparring')!;
    expect((await employee.post(`/agreements/${agreement.id}`, { status: 'in_progress', progress: 'Vi mødes hver fredag.' })).statusCode).toBe(303);
    expect((await employee.get('/dialogues')).body).toContain('Ugentlig sparring');

    // Reopen: the leader only; signatures go.
    expect((await employee.post(`/dialogues/${id}/reopen`)).statusCode).toBe(409);
    expect((await leader.post(`/dialogues/${id}/reopen`)).statusCode).toBe(303);
    expect((await dialogueOf(f, f.employee)).state).toBe('meeting');
    expect(await sys((trx) => trx.selectFrom('dialogue_signatures').selectAll().where('dialogue_id', '=', id).execute())).toEqual([]);
    await leader.post(`/dialogues/${id}/finish`);
    await employee.post(`/dialogues/${id}/sign`, { password: PASSWORD });
    await leader.post(`/dialogues/${id}/sign`, { password: PASSWORD });
    expect((await dialogueOf(f, f.employee)).state).toBe('closed');

    // Next year: the open and in-progress agreements come along; the done one does not.
    t.clock.advance(300 * DAY);
    // Sessions do not survive the year: log in again.
    const leader2 = await loggedIn(t.app, f.leader.email);
    const employee2 = await loggedIn(t.app, f.employee.email);
    const second = await startRound(leader2, `team:${f.teamId}`, { name: 'MUS 2028', preparation_deadline: '2028-01-20', meeting_from: '2028-01-21', meeting_to: '2028-02-28' });
    expect(second.statusCode, second.body.slice(0, 3000)).toBe(303);
    const next = await dialogueOf(f, f.employee);
    expect(next.id).not.toBe(id);
    const carried = (await sys((trx) => readAgreements(trx, next.id))).sort((a, b) => a.title_text.localeCompare(b.title_text));
    expect(carried.map((a) => [a.title_text, a.status, a.carried_from !== null])).toEqual([
      ['Tag kursus i facilitering', 'open', true],
      ['Ugentlig sparring', 'in_progress', true],
    ]);
    const nextPage = await employee2.get(`/dialogues/${next.id}`);
    expect(nextPage.body).toContain('Tag kursus i facilitering');
    expect(nextPage.body).toContain('fra sidste samtale');
  });
});

describe('seeing: my dialogues and my teams', () => {
  it('shows the employee the next step and the leader states, overdue preparations and upcoming meetings', async () => {
    const f = await createCompany(t.deps);
    const leader = await loggedIn(t.app, f.leader.email);
    await startRound(leader, `team:${f.teamId}`, { preparation_deadline: isoIn(4), meeting_from: isoIn(5), meeting_to: isoIn(40) });
    const employee = await loggedIn(t.app, f.employee.email);
    const mine = await employee.get('/dialogues');
    expect(mine.statusCode).toBe(200);
    expect(mine.body).toContain('Mine samtaler');
    expect(mine.body).toContain('Forbered dig');
    expect(mine.body).not.toContain('over fristen');
    const dash = await employee.get('/dashboard');
    expect(dash.body).toContain('href="/dialogues"');
    expect(dash.body).toContain('Forbered dig');

    t.clock.advance(10 * DAY);
    const overdue = await (await loggedIn(t.app, f.leader.email)).get('/dialogues');
    expect(overdue.body).toContain('Forberedelser over fristen');
    expect(overdue.body).toContain('Medarbejderen er over fristen');
    expect(overdue.body).toContain(f.colleague.name);
    const employeeAgain = await loggedIn(t.app, f.employee.email);
    expect((await employeeAgain.get('/dialogues')).body).toContain('over fristen');
  });
});

describe('M7 signing with a password', () => {
  it('counts wrong passwords towards the login block: after 3, even the right one is refused', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    await sys((trx) => trx.updateTable('dialogues').set({ state: 'signing' }).where('id', '=', dialogueId).execute());
    const employee = await loggedIn(t.app, f.employee.email);
    for (let i = 0; i < 3; i++) {
      const r = await employee.post(`/dialogues/${dialogueId}/sign`, { password: `wrong ${i}` });
      expect(r.statusCode).toBe(422);
      expect(r.body).toContain('Adgangskoden er forkert');
    }
    const blocked = await employee.post(`/dialogues/${dialogueId}/sign`, { password: PASSWORD });
    expect(blocked.statusCode).toBe(422);
    expect(await sys((trx) => trx.selectFrom('dialogue_signatures').selectAll().where('dialogue_id', '=', dialogueId).execute())).toEqual([]);
    const events = await sys((trx) => trx.selectFrom('audit_events').select('event_type').where('company_id', '=', f.companyId).execute());
    expect(events.filter((e) => e.event_type === 'dialogues.sign.refused')).toHaveLength(4);
    expect(events.some((e) => e.event_type === 'auth.lockout')).toBe(true);
  });
});

describe('sickness absence', () => {
  it('a leader reports an employee sick: an open period gives the responsible leader a sickness-absence dialogue', async () => {
    const f = await createCompany(t.deps);
    const leader = await loggedIn(t.app, f.leader.email);
    const page = await leader.get('/dialogues');
    expect(page.body).toContain('Meld sygefravær');
    const res = await leader.post('/sickness-reports', { employment_id: f.employee.employmentId, from: isoIn(-3), to: '' });
    expect(res.statusCode).toBe(303);
    expect(String(res.headers.location)).toContain('done=sick-task');
    const d = await dialogueOf(f, f.employee);
    expect(d).toMatchObject({ round_id: null, leader_employment_id: f.leader.employmentId, state: 'invited', team_id: f.teamId });
    const report = await sys((trx) => trx.selectFrom('sickness_reports').selectAll().where('company_id', '=', f.companyId).executeTakeFirstOrThrow());
    expect(report).toMatchObject({ employee_employment_id: f.employee.employmentId, dialogue_id: d.id, to_date: null, reported_by: f.leader.employmentId });
    // The dates are health data: not in the audit trail.
    const audit = await sys((trx) => trx.selectFrom('audit_events').selectAll().where('company_id', '=', f.companyId).where('event_type', '=', 'dialogues.sickness.reported').executeTakeFirstOrThrow());
    expect(audit.data).toEqual({ employmentId: f.employee.employmentId, task: true, dialogueId: d.id });
    const overview = await leader.get('/dialogues?done=sick-task');
    expect(overview.body).toContain('Den ansvarlige leder har fået en sygefraværssamtale som opgave.');
    expect(overview.body).toContain(`/dialogues/${d.id}`);
    const employee = await loggedIn(t.app, f.employee.email);
    const dialogue = await employee.get(`/dialogues/${d.id}`);
    expect(dialogue.statusCode).toBe(200);
    expect(dialogue.body).toContain('Sygefraværssamtale');
    expect(dialogue.body).toContain('Du skal ikke fortælle om din diagnose.');
    // Not a round: the rounds list does not show it.
    expect((await (await loggedIn(t.app, f.admin.email)).get('/rounds')).body).not.toContain('Sygefraværssamtale');
  });

  it('periods that ended, or began more than two months ago, create no task; bad periods are refused', async () => {
    const f = await createCompany(t.deps);
    const admin = await loggedIn(t.app, f.admin.email);
    const ended = await admin.post('/sickness-reports', { employment_id: f.employee.employmentId, from: isoIn(-10), to: isoIn(-1) });
    expect(String(ended.headers.location)).toContain('done=sick-notask');
    const old = await admin.post('/sickness-reports', { employment_id: f.colleague.employmentId, from: isoIn(-70), to: '' });
    expect(String(old.headers.location)).toContain('done=sick-notask');
    const reports = await sys((trx) => trx.selectFrom('sickness_reports').selectAll().where('company_id', '=', f.companyId).execute());
    expect(reports.map((r) => r.dialogue_id)).toEqual([null, null]);
    expect(await sys((trx) => trx.selectFrom('dialogues').select('id').where('company_id', '=', f.companyId).execute())).toEqual([]);
    const backwards = await admin.post('/sickness-reports', { employment_id: f.employee.employmentId, from: isoIn(0), to: isoIn(-1) });
    expect(backwards.statusCode).toBe(422);
    expect(backwards.body).toContain('Slutdatoen skal ligge på eller efter startdatoen.');
  });

  it('M8 only the leader, an admin or a dialog_access_siab delegate report; MUS access opens no sickness dialogue', async () => {
    const f = await createCompany(t.deps);
    const employee = await loggedIn(t.app, f.employee.email);
    expect((await employee.post('/sickness-reports', { employment_id: f.colleague.employmentId, from: isoIn(0) })).statusCode).toBe(404);
    expect((await employee.get('/dialogues')).body).not.toContain('Meld sygefravær');
    await sys(async (trx) => {
      await trx.insertInto('delegations').values({ id: randomUUID(), company_id: f.companyId, employment_id: f.member.employmentId, responsibility: 'dialog_access_siab', team_id: f.teamId, department_id: null }).execute();
      await trx.insertInto('delegations').values({ id: randomUUID(), company_id: f.companyId, employment_id: f.delegate.employmentId, responsibility: 'dialog_access_edp', team_id: f.teamId, department_id: null }).execute();
    });
    const siab = await loggedIn(t.app, f.member.email);
    // Only people on the delegated team are choices.
    expect((await siab.post('/sickness-reports', { employment_id: f.delegate.employmentId, from: isoIn(0) })).statusCode).toBe(422);
    expect((await siab.post('/sickness-reports', { employment_id: f.employee.employmentId, from: isoIn(0) })).statusCode).toBe(303);
    const d = await dialogueOf(f, f.employee);
    expect((await siab.get(`/dialogues/${d.id}`)).statusCode).toBe(200);
    expect((await (await loggedIn(t.app, f.delegate.email)).get(`/dialogues/${d.id}`)).statusCode).toBe(404);
    expect((await (await loggedIn(t.app, f.colleague.email)).get(`/dialogues/${d.id}`)).statusCode).toBe(404);
  });
});

describe('round statistics under the anonymity threshold', () => {
  async function closedDialogues(f: CompanyFixture, d: { roundId: string; formVersionId: string }, teamId: string, values: number[]) {
    await sys(async (trx) => {
      for (const v of values) {
        const userId = randomUUID();
        const employmentId = randomUUID();
        await trx.insertInto('users').values({ id: userId, email: `stat-${userId}@test.example`, name: `Stat ${userId.slice(0, 6)}`, password_hash: null, disabled_at: null }).execute();
        await trx.insertInto('employments').values({ id: employmentId, company_id: f.companyId, user_id: userId, team_id: teamId, department_id: null, fired_at: null, fired_by: null }).execute();
        const dialogueId = randomUUID();
        await trx
          .insertInto('dialogues')
          .values({ id: dialogueId, company_id: f.companyId, round_id: d.roundId, form_version_id: d.formVersionId, employee_employment_id: employmentId, leader_employment_id: f.leader.employmentId, team_id: teamId, state: 'closed' })
          .execute();
        await trx.insertInto('dialogue_answers').values({ company_id: f.companyId, dialogue_id: dialogueId, question_id: 'wellbeing', side: 'employee', value: String(v), version: 1, updated_by: employmentId }).execute();
      }
    });
  }

  it('shows averages only where enough people answered, and team figures only when every team does', async () => {
    const f = await createCompany(t.deps);
    const d = await createDialogue(t.deps, f);
    await sys((trx) => trx.updateTable('companies').set({ statistics_threshold: 3 }).where('id', '=', f.companyId).execute());
    await closedDialogues(f, d, f.teamId, [5, 4, 4]);
    await closedDialogues(f, d, f.otherTeamId, [1, 2]);
    const admin = await loggedIn(t.app, f.admin.email);
    expect((await admin.get(`/rounds/${d.roundId}`)).body).toContain(`/rounds/${d.roundId}/statistics`);
    const first = await admin.get(`/rounds/${d.roundId}/statistics`);
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('Jeg trives i mit arbejde.');
    expect(first.body).toContain('3,2 (5 svar)');
    // One team has only two answers: no team figures at all, or subtraction would reveal them.
    expect(first.body).not.toContain('4,3 (3 svar)');
    expect(first.body).not.toContain('1,5');
    expect(first.body).toContain('For få svar');
    expect(first.body).toContain('5 af 6 samtaler er afsluttet.');

    await closedDialogues(f, d, f.otherTeamId, [2]);
    const second = await admin.get(`/rounds/${d.roundId}/statistics`);
    expect(second.body).toContain('3 (6 svar)');
    expect(second.body).toContain('4,3 (3 svar)');
    expect(second.body).toContain('1,7 (3 svar)');
  });

  it('keeps the threshold at 3 or more, and shows nothing under the default of 5', async () => {
    const f = await createCompany(t.deps);
    const d = await createDialogue(t.deps, f);
    await expect(sys((trx) => trx.updateTable('companies').set({ statistics_threshold: 2 }).where('id', '=', f.companyId).execute())).rejects.toThrow();
    await closedDialogues(f, d, f.teamId, [5, 4, 4, 3]);
    const page = await (await loggedIn(t.app, f.admin.email)).get(`/rounds/${d.roundId}/statistics`);
    expect(page.body).toContain('mindst 5 har svaret');
    expect(page.body).not.toContain('svar)');
  });

  it('M8 statistics are for the round’s administrators and department delegates only', async () => {
    const f = await createCompany(t.deps);
    const d = await createDialogue(t.deps, f);
    for (const who of [f.leader, f.employee, f.delegate]) expect((await (await loggedIn(t.app, who.email)).get(`/rounds/${d.roundId}/statistics`)).statusCode, who.email).toBe(404);
    await sys((trx) =>
      trx.insertInto('delegations').values({ id: randomUUID(), company_id: f.companyId, employment_id: f.colleague.employmentId, responsibility: 'department_task_report_edp', team_id: null, department_id: f.departmentId }).execute(),
    );
    const departmentDelegate = await loggedIn(t.app, f.colleague.email);
    expect((await departmentDelegate.get(`/rounds/${d.roundId}/statistics`)).statusCode).toBe(200);
    // They find it through the rounds list, which links them to the statistics and nothing else.
    const list = await departmentDelegate.get('/rounds');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain(`/rounds/${d.roundId}/statistics`);
    expect(list.body).not.toContain('href="/rounds/new"');
    expect((await departmentDelegate.get(`/rounds/${d.roundId}`)).statusCode).toBe(404);
  });
});

describe('agreements due', () => {
  it('shows the leader open agreements whose deadline or follow-up is near or past, not done ones', async () => {
    const f = await createCompany(t.deps);
    const d = await createDialogue(t.deps, f);
    await sys(async (trx) => {
      await trx.updateTable('dialogues').set({ state: 'closed' }).where('id', '=', d.dialogueId).execute();
      await trx.updateTable('agreements').set({ follow_up: isoIn(10) }).where('id', '=', d.agreementId).execute();
      await trx
        .insertInto('agreements')
        .values([
          { id: randomUUID(), company_id: f.companyId, dialogue_id: d.dialogueId, employee_employment_id: f.employee.employmentId, carried_from: null, title_text: 'Allerede klaret', owner: 'leader', deadline: isoIn(-5), follow_up: null, status: 'done' },
          { id: randomUUID(), company_id: f.companyId, dialogue_id: d.dialogueId, employee_employment_id: f.employee.employmentId, carried_from: null, title_text: 'Langt ude i fremtiden', owner: 'leader', deadline: isoIn(200), follow_up: null },
          { id: randomUUID(), company_id: f.companyId, dialogue_id: d.dialogueId, employee_employment_id: f.employee.employmentId, carried_from: null, title_text: 'Over tid', owner: 'employee', deadline: isoIn(-2), follow_up: null, status: 'in_progress' },
        ])
        .execute();
    });
    const page = await (await loggedIn(t.app, f.leader.email)).get('/dialogues');
    expect(page.body).toContain('Aftaler til opfølgning');
    expect(page.body).toContain('Kursus i projektledelse');
    expect(page.body).toContain('Over tid');
    expect(page.body).not.toContain('Allerede klaret');
    expect(page.body).not.toContain('Langt ude i fremtiden');
    // Not for a colleague.
    expect((await (await loggedIn(t.app, f.colleague.email)).get('/dialogues')).body).not.toContain('Kursus i projektledelse');
  });
});
