/**
 * Statistics (issue 4) through the real app and database: completion per department and its CSV
 * export (M20), averages under the anonymity threshold both ways, the rule that a department
 * average never lets one answer be derived by difference, score charts for the employee and the
 * responsible leader only, and who sees what (M8).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture, type Person } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { byKeyAndTeam, groupCell, teamCell, type AnswerFact } from '../src/modules/statistics/statistics.compute.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

const scale = ['Slet ikke', 'Lidt', 'Til dels', 'Meget', 'Helt'];
const DEFINITION = {
  sections: [
    {
      id: 'a',
      title: 'Trivsel',
      questions: [
        { id: 'mood', type: 'scale', answeredBy: 'employee', text: 'Jeg trives <b>her</b>.', scaleLabels: scale },
        { id: 'load', type: 'scale', answeredBy: 'both', text: 'Min arbejdsmængde passer.', scaleLabels: scale },
        { id: 'free', type: 'text', answeredBy: 'employee', text: 'Noget andet?' },
      ],
    },
  ],
};

/** A company form with two scale questions (and one text question), version 1. */
async function scaleForm(f: CompanyFixture): Promise<string> {
  const formId = randomUUID();
  const versionId = randomUUID();
  await sys(async (trx) => {
    await trx.insertInto('forms').values({ id: formId, company_id: f.companyId, builtin_key: null, kind: 'mus', name: 'Trivselsskema', language: 'da' }).execute();
    await trx.insertInto('form_versions').values({ id: versionId, company_id: f.companyId, form_id: formId, version: 1, definition: JSON.stringify(DEFINITION) }).execute();
  });
  return versionId;
}

async function addEmployees(f: CompanyFixture, teamId: string, count: number): Promise<Person[]> {
  const people: Person[] = [];
  await sys(async (trx) => {
    for (let i = 0; i < count; i++) {
      const p: Person = { userId: randomUUID(), employmentId: randomUUID(), email: `extra-${randomUUID()}@test.example`, name: `Ekstra ${i}` };
      await trx.insertInto('users').values({ id: p.userId, email: p.email, name: p.name, password_hash: 'x', disabled_at: null }).execute();
      await trx.insertInto('employments').values({ id: p.employmentId, company_id: f.companyId, user_id: p.userId, role: 'employee', title: 'x', language: 'da', team_id: teamId, department_id: null, fired_at: null, fired_by: null }).execute();
      people.push(p);
    }
  });
  return people;
}

/** A closed MUS (no round) with the employee's answers, closed at `closedAt`. */
async function closedMus(f: CompanyFixture, versionId: string, who: Person, teamId: string, closedAt: string, answers: Record<string, string>, agreements: { deadline: string | null; status: 'open' | 'done' }[] = []) {
  const id = randomUUID();
  await sys(async (trx) => {
    await trx.insertInto('dialogues').values({ id, company_id: f.companyId, round_id: null, form_version_id: versionId, employee_employment_id: who.employmentId, leader_employment_id: f.leader.employmentId, team_id: teamId, state: 'closed' }).execute();
    await trx.insertInto('dialogue_transitions').values({ id: randomUUID(), company_id: f.companyId, dialogue_id: id, from_state: 'signing', to_state: 'closed', actor_employment_id: f.leader.employmentId, created_at: new Date(closedAt) }).execute();
    for (const [q, v] of Object.entries(answers)) {
      await trx.insertInto('dialogue_answers').values({ company_id: f.companyId, dialogue_id: id, question_id: q, side: 'employee', value: v, version: 1, updated_by: who.employmentId }).execute();
    }
    // The leader's side never counts in the employee's scores.
    await trx.insertInto('dialogue_answers').values({ company_id: f.companyId, dialogue_id: id, question_id: 'load', side: 'leader', value: '1', version: 1, updated_by: f.leader.employmentId }).execute();
    for (const a of agreements) {
      await trx.insertInto('agreements').values({ id: randomUUID(), company_id: f.companyId, dialogue_id: id, employee_employment_id: who.employmentId, carried_from: null, title_text: 'Aftale', owner: 'employee', deadline: a.deadline, follow_up: null, status: a.status }).execute();
    }
  });
  return id;
}

const setThreshold = (f: CompanyFixture, n: number) => sys((trx) => trx.updateTable('companies').set({ statistics_threshold: n }).where('id', '=', f.companyId).execute());

describe('statistics threshold arithmetic', () => {
  const fact = (team: string, value: number, employee = randomUUID()): AnswerFact => ({ employee, team, key: 'k', value, closedAt: new Date('2027-01-01') });
  it('shows a team average only from the threshold on, never below 3', () => {
    const four = byKeyAndTeam([1, 2, 3, 4].map((v) => fact('A', v)));
    expect(teamCell(four.get('k'), 'A', 5)).toEqual({ shown: false });
    const five = byKeyAndTeam([1, 2, 3, 4, 5].map((v) => fact('A', v)));
    expect(teamCell(five.get('k'), 'A', 5)).toEqual({ shown: true, n: 5, average: 3 });
    const two = byKeyAndTeam([4, 5].map((v) => fact('A', v)));
    expect(teamCell(two.get('k'), 'A', 1)).toEqual({ shown: false });
  });
  it('hides a group figure when one of its teams with answers is below the threshold (no derivation by difference)', () => {
    const values = byKeyAndTeam([...[1, 2, 3, 4, 5].map((v) => fact('A', v)), fact('B', 5)]).get('k');
    expect(teamCell(values, 'A', 5).shown).toBe(true);
    expect(groupCell(values, ['A', 'B'], 5)).toEqual({ shown: false });
    expect(groupCell(values, ['A', 'C'], 5)).toEqual({ shown: true, n: 5, average: 3 });
  });
});

describe('M8 statistics and scores', () => {
  let f: CompanyFixture;
  let versionId: string;
  let teamA: Person[];
  beforeAll(async () => {
    f = await createCompany(t.deps);
    versionId = await scaleForm(f);
    // Team (in the department): the employee, the colleague and three more; the other team (in
    // the sub-department) has one answer only.
    teamA = [f.employee, f.colleague, ...(await addEmployees(f, f.teamId, 3))];
    const values = ['2', '3', '4', '4', '5'];
    for (const [i, p] of teamA.slice(0, 4).entries()) await closedMus(f, versionId, p, f.teamId, '2027-02-10T10:00:00Z', { mood: values[i] ?? '3', load: '3', free: 'privat tekst' });
    await closedMus(f, versionId, f.employee, f.teamId, '2026-05-01T10:00:00Z', { mood: '1', load: '2' });
    await closedMus(f, versionId, f.member, f.otherTeamId, '2027-02-11T10:00:00Z', { mood: '1', load: '1' });
  });

  it('shows "too few answers" and no number below the threshold, and the average once it is reached', async () => {
    const admin = await loggedIn(t.app, f.admin.email);
    let page = await admin.get(`/statistics/teams/${f.teamId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Jeg trives &lt;b>her&lt;/b>.');
    expect(page.body).toContain('For få svar');
    expect(page.body).not.toMatch(/\d,\d \(\d svar\)/);
    // The fifth employee closes their dialogue: 2, 3, 4, 4, 5 -> 3.6 over five answers.
    await closedMus(f, versionId, teamA[4] as Person, f.teamId, '2027-02-12T10:00:00Z', { mood: '5', load: '3' });
    page = await admin.get(`/statistics/teams/${f.teamId}`);
    expect(page.body).toContain('3,6 (5 svar)');
    expect(page.body).toContain('3 (5 svar)');
    // The leader's own answers and last year's answers do not count.
    expect(page.body).not.toContain('(6 svar)');
    // A company may raise the threshold: then the same team is below it.
    await setThreshold(f, 6);
    page = await admin.get(`/statistics/teams/${f.teamId}`);
    expect(page.body).toContain('For få svar');
    expect(page.body).not.toContain('3,6');
    await setThreshold(f, 5);
  });

  it('never shows a department average that one answer could be derived from by difference', async () => {
    const admin = await loggedIn(t.app, f.admin.email);
    const team = await admin.get(`/statistics/teams/${f.teamId}`);
    expect(team.body).toContain('3,6 (5 svar)');
    // The department holds the team (5 answers) and, below it, the other team (1 answer):
    // showing the department (6) next to the team (5) would give the sixth answer away.
    const dept = await admin.get(`/statistics/departments/${f.departmentId}`);
    expect(dept.statusCode).toBe(200);
    expect(dept.body).toContain('For få svar');
    expect(dept.body).not.toContain('(6 svar)');
    const sub = await admin.get(`/statistics/departments/${f.subDepartmentId}`);
    expect(sub.body).not.toMatch(/\(1 svar\)/);
    // Earlier years stay selectable and follow the same rule.
    const last = await admin.get(`/statistics/teams/${f.teamId}?year=2026`);
    expect(last.body).toContain('For få svar');
  });

  it('draws the employee\'s own answers over the years as an accessible SVG with a data table', async () => {
    const employee = await loggedIn(t.app, f.employee.email);
    const page = await employee.get('/statistics/me');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<svg');
    expect(page.body).toMatch(/<title id="chart-0-title">Jeg trives &lt;b>her&lt;\/b>.<\/title>/);
    expect(page.body).toContain('<desc id="chart-0-desc">Svar pr. år: 2026: 1, 2027: 2.</desc>');
    expect(page.body).toContain('<caption>Svarene som tabel</caption>');
    expect(page.body).not.toContain('privat tekst');
    expect((await employee.get(`/statistics/employees/${f.employee.employmentId}`)).statusCode).toBe(200);
  });

  it('shows an employee\'s chart to their responsible leader, and to no one else', async () => {
    const leader = await loggedIn(t.app, f.leader.email);
    const page = await leader.get(`/statistics/employees/${f.employee.employmentId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(f.employee.name);
    expect((await leader.get(`/statistics/teams/${f.teamId}`)).body).toContain(`/statistics/employees/${f.employee.employmentId}`);
    for (const who of [f.admin, f.colleague, f.delegate]) {
      const a = await loggedIn(t.app, who.email);
      expect((await a.get(`/statistics/employees/${f.employee.employmentId}`)).statusCode, who.email).toBe(404);
    }
    const other = await createCompany(t.deps);
    const otherAdmin = await loggedIn(t.app, other.admin.email);
    expect((await otherAdmin.get(`/statistics/employees/${f.employee.employmentId}`)).statusCode).toBe(404);
    expect((await otherAdmin.get(`/statistics/teams/${f.teamId}`)).statusCode).toBe(404);
    expect((await otherAdmin.get(`/statistics/departments/${f.departmentId}`)).statusCode).toBe(404);
  });

  it('gives department delegates their subtree only, and employees no aggregate pages', async () => {
    const delegate = await loggedIn(t.app, f.delegate.email);
    const overview = await delegate.get('/statistics');
    expect(overview.statusCode).toBe(200);
    expect(overview.body).toContain(`/statistics/departments/${f.subDepartmentId}`);
    expect(overview.body).not.toContain(`/statistics/departments/${f.departmentId}"`);
    expect((await delegate.get(`/statistics/departments/${f.subDepartmentId}`)).statusCode).toBe(200);
    expect((await delegate.get(`/statistics/teams/${f.otherTeamId}`)).statusCode).toBe(200);
    expect((await delegate.get(`/statistics/departments/${f.departmentId}`)).statusCode).toBe(404);
    expect((await delegate.get(`/statistics/teams/${f.teamId}`)).statusCode).toBe(404);
    const employee = await loggedIn(t.app, f.employee.email);
    expect((await employee.get('/statistics')).statusCode).toBe(404);
    expect((await employee.get('/statistics/completion.csv')).statusCode).toBe(404);
    expect((await employee.get(`/statistics/teams/${f.teamId}`)).statusCode).toBe(404);
  });
});

describe('M20 completion per department and its CSV export', () => {
  it('counts closed MUS this year and up-to-date agreement lists per department subtree, and exports them safely', async () => {
    const f = await createCompany(t.deps);
    await sys((trx) => trx.updateTable('departments').set({ name: '=HYPERLINK("x")' }).where('id', '=', f.subDepartmentId).execute());
    const versionId = await scaleForm(f);
    // employee: closed this year, agreements fine -> complete. colleague: closed this year but an
    // open agreement past its deadline. member (other team): closed last year only.
    await closedMus(f, versionId, f.employee, f.teamId, '2027-01-20T10:00:00Z', { mood: '4' }, [{ deadline: '2027-06-01', status: 'open' }, { deadline: '2027-01-01', status: 'done' }]);
    await closedMus(f, versionId, f.colleague, f.teamId, '2027-02-01T10:00:00Z', { mood: '4' }, [{ deadline: '2027-02-15', status: 'open' }]);
    await closedMus(f, versionId, f.member, f.otherTeamId, '2026-11-20T10:00:00Z', { mood: '4' });

    const admin = await loggedIn(t.app, f.admin.email);
    const page = await admin.get('/statistics');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Gennemførelse pr. afdeling (2027)');
    expect(page.body).toContain('href="/statistics/completion.csv"');

    const csv = await admin.get('/statistics/completion.csv');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(String(csv.headers['content-disposition'])).toMatch(/^attachment; filename="samtale-completion-2027-03-01\.csv"$/);
    expect(csv.headers['cache-control']).toBe('no-store');
    const lines = csv.body.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toBe('unit,name,depth,employees,closed_mus_2027,agreements_up_to_date,complete,share_complete_percent');
    const row = (name: string) => lines.find((l) => l.includes(`"${name}"`));
    // The department holds both teams: 4 employees (employee, colleague, delegate, member).
    expect(row(`Afdeling ${f.name.replace('Firma ', '')}`)).toBe(`"Afdeling","Afdeling ${f.name.replace('Firma ', '')}","1","4","2","3","1","25"`);
    expect(lines.some((l) => l.includes(`"'=HYPERLINK(""x"")"`))).toBe(true);
    expect(lines.some((l) => l.startsWith('"Afdeling","=') || l.includes(',"=HYPERLINK'))).toBe(false);
    const events = await sys((trx) => trx.selectFrom('audit_events').select(['event_type', 'actor_user_id']).where('company_id', '=', f.companyId).where('event_type', '=', 'statistics.exported').execute());
    expect(events).toEqual([{ event_type: 'statistics.exported', actor_user_id: f.admin.userId }]);
  });
});
