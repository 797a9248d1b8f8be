/**
 * Issue 10, parts 3-4: every /v3/core endpoint driven with real JWTs, through the real app and
 * database. The customer's ids go in and come back; Samtale's internal ids never appear.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { apiClientFor, TEST_API_KEY, type ApiClient } from './helpers/api-client.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ API_TOKEN_KEY: TEST_API_KEY });
});
afterAll(async () => t?.close());

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const DAY = 86_400_000;

async function setup(): Promise<{ c: CompanyFixture; api: ApiClient }> {
  const c = await createCompany(t.deps);
  const { api } = await apiClientFor(t, c.companyId, c.admin.email);
  return { c, api };
}

function noInternalIds(body: string, c: CompanyFixture) {
  for (const id of [c.companyId, c.rootDepartmentId, c.departmentId, c.teamId, c.admin.userId, c.admin.employmentId]) expect(body).not.toContain(id);
  // No UUID at all: every id in a response is the customer's own.
  expect(body).not.toMatch(UUID);
}

const events = (companyId: string, type: string) =>
  unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('audit_events').select(['data', 'actor_user_id']).where('company_id', '=', companyId).where('event_type', '=', type).execute());

describe('API users and employees', () => {
  it('creates, lists (paginated), shows, updates and deletes users; bodies are wrapped; errors are in the reference format', async () => {
    const { c, api } = await setup();
    const email = (n: number) => `u${n}-${c.companyId.slice(0, 8)}@test.example`;
    for (let i = 1; i <= 3; i++) {
      const res = await api.post('/v3/core/users', { user: { id: `U${i}`, name: `Person ${i}`, email: email(i), username: `p${i}`, gender: 'female', birthday: '1980-05-0' + i } });
      expect(res.statusCode).toBe(201);
    }
    const list = await api.get('/v3/core/users?per_page=2&page=2');
    expect(list.statusCode).toBe(200);
    expect(list.headers.total).toBe('3');
    expect(list.headers['per-page']).toBe('2');
    expect(list.json().map((u: { id: string }) => u.id)).toEqual(['U3']);
    expect((await api.get('/v3/core/users')).headers['per-page']).toBe('25');
    expect((await api.get('/v3/core/users?per_page=1001')).statusCode).toBe(400);

    const shown = await api.get('/v3/core/users/U1');
    expect(shown.json()).toEqual({ id: 'U1', name: 'Person 1', email: email(1), username: 'p1', gender: 'female', birthday: '1980-05-01' });
    noInternalIds(shown.body, c);

    const upd = await api.patch('/v3/core/users/U1', { user: { name: 'Person Én', username: null } });
    expect(upd.json()).toMatchObject({ name: 'Person Én', username: null });
    expect((await events(c.companyId, 'api.user.updated'))[0]?.data).toMatchObject({ via: 'api', apiTokenName: 'HR-system' });

    // Errors: not wrapped (400), invalid fields (422 with field errors), unknown id (404), duplicate id (422).
    expect((await api.post('/v3/core/users', { id: 'x', name: 'n', email: 'a@b.dk' })).statusCode).toBe(400);
    const bad = await api.post('/v3/core/users', { user: { id: 'U9', name: '', email: 'not-an-email' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().errors).toEqual(
      expect.arrayContaining([
        { resource: 'user', field: 'name', error: 'too_short' },
        { resource: 'user', field: 'email', error: 'invalid' },
      ]),
    );
    expect((await api.get('/v3/core/users/nope')).json()).toEqual({ message: 'User not found', errors: [] });
    const dup = await api.post('/v3/core/users', { user: { id: 'U1', name: 'X', email: email(9) } });
    expect(dup.statusCode).toBe(422);
    expect(dup.json().errors).toEqual([{ resource: 'user', field: 'id', error: 'already_exists' }]);
    const badJson = await api.call('POST', '/v3/core/users', undefined, { 'content-type': 'application/json' });
    expect(badJson.statusCode).toBe(400);

    const unknownPath = await api.get('/v3/core/nothing-here');
    expect(unknownPath.statusCode).toBe(404);
    expect(unknownPath.json()).toMatchObject({ errors: [] });
    expect((await api.del('/v3/core/users/U3')).statusCode).toBe(204);
    expect((await api.get('/v3/core/users/U3')).statusCode).toBe(404);
  });

  it('refuses to change the name or e-mail of an identity that another company also employs', async () => {
    const { c, api } = await setup();
    const other = await createCompany(t.deps);
    // The other company's employee is linked by e-mail: the identity is shared.
    expect((await api.post('/v3/core/users', { user: { id: 'S', name: 'Shared', email: other.employee.email } })).statusCode).toBe(201);
    const res = await api.patch('/v3/core/users/S', { user: { email: `evil-${c.companyId.slice(0, 13)}@test.example` } });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors[0]).toMatchObject({ field: 'email', error: 'shared_identity' });
    const still = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('users').select('email').where('id', '=', other.employee.userId).executeTakeFirstOrThrow());
    expect(still.email).toBe(other.employee.email);
  });

  it('creates employees under users, places, moves, fires (14-day rule) and rehires with PATCH', async () => {
    const { c, api } = await setup();
    await api.post('/v3/core/departments', { department: { id: 'D', name: 'Drift' } });
    await api.post('/v3/core/departments/D/teams', { team: { id: 'T1', name: 'Hold 1' } });
    await api.post('/v3/core/departments/D/teams', { team: { id: 'T2', name: 'Hold 2' } });
    await api.post('/v3/core/users', { user: { id: 'U', name: 'Eva', email: `eva-${c.companyId.slice(0, 13)}@test.example` } });
    const created = await api.post('/v3/core/users/U/employees', { employee: { id: 'E', title: 'Smed', team_id: 'T1' } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ id: 'E', title: 'Smed', role: 'employee', team: { id: 'T1', name: 'Hold 1' }, user: { id: 'U', name: 'Eva' }, fired_at: null });
    noInternalIds(created.body, c);
    expect((await api.post('/v3/core/users/U/employees', { employee: { id: 'E2', team_id: 'T1' } })).statusCode).toBe(422);
    await api.post('/v3/core/users', { user: { id: 'U2', name: 'Ib', email: `ib-${c.companyId.slice(0, 13)}@test.example` } });
    const unknownTeam = await api.post('/v3/core/users/U2/employees', { employee: { id: 'E3', team_id: 'nope' } });
    expect(unknownTeam.json().errors).toEqual([{ resource: 'employee', field: 'team_id', error: 'not_found' }]);

    const moved = await api.patch('/v3/core/users/U/employees/E', { employee: { title: 'Mester', team_id: 'T2' } });
    expect(moved.json()).toMatchObject({ title: 'Mester', team: { id: 'T2' } });

    // A leader may sit in a department; an employee and a department at once is refused.
    expect((await api.patch('/v3/core/users/U/employees/E', { employee: { role: 'employee', team_id: 'T1', department_id: 'D' } })).statusCode).toBe(422);

    const seat = await api.patch('/v3/core/users/U/employees/E', { employee: { team_id: null, department_id: 'D' } });
    expect(seat.json().errors).toEqual([{ resource: 'employee', field: 'department_id', error: 'leaders_only' }]);
    const leader = await api.patch('/v3/core/users/U/employees/E', { employee: { role: 'leader', team_id: null, department_id: 'D' } });
    expect(leader.json()).toMatchObject({ role: 'leader', team: null, department: { id: 'D', name: 'Drift' } });
    await api.patch('/v3/core/users/U/employees/E', { employee: { role: 'employee', team_id: 'T2', department_id: null } });
    const fired = await api.del('/v3/core/users/U/employees/E');
    expect(fired.statusCode).toBe(200);
    expect(fired.json().fired_at).toBe(t.clock.now().toISOString());
    expect((await api.get('/v3/core/teams/T2')).json().employees).toEqual([]);
    t.clock.advance(3 * DAY);
    const back = await api.patch('/v3/core/users/U/employees/E', { employee: {} });
    expect(back.json().fired_at).toBeNull();
    await api.del('/v3/core/users/U/employees/E');
    t.clock.advance(15 * DAY);
    const late = await api.patch('/v3/core/users/U/employees/E', { employee: {} });
    expect(late.statusCode).toBe(422);
    expect(late.json().errors[0].error).toBe('rehire_window_passed');
    const audit = await events(c.companyId, 'org.employee.fired');
    expect(audit).toHaveLength(2);
    expect(audit[0]?.data).toMatchObject({ via: 'api', apiTokenName: 'HR-system' });
    expect(audit[0]?.actor_user_id).toBeNull();

    // The user still has a fired employment only: deleting the user is now allowed.
    expect((await api.del('/v3/core/users/U')).statusCode).toBe(204);
  });

  it('refuses to delete a user with an active employee', async () => {
    const { c, api } = await setup();
    await api.post('/v3/core/departments', { department: { id: 'D', name: 'Drift' } });
    await api.post('/v3/core/departments/D/teams', { team: { id: 'T', name: 'Hold' } });
    await api.post('/v3/core/users', { user: { id: 'U', name: 'Bo', email: `bo-${c.companyId.slice(0, 13)}@test.example` } });
    await api.post('/v3/core/users/U/employees', { employee: { id: 'E', team_id: 'T' } });
    const res = await api.del('/v3/core/users/U');
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toEqual([{ resource: 'user', field: 'employees', error: 'not_empty' }]);
    expect((await api.get('/v3/core/users/U/employees')).json().map((e: { id: string }) => e.id)).toEqual(['E']);
    expect((await api.get('/v3/core/users/U/employees/E')).json().id).toBe('E');
    expect((await api.get('/v3/core/employees')).headers.total).toBe('1');
  });
});

describe('API adoption of people made in the UI', () => {
  it('attaches the HR system\'s ids to an existing employee (never to a company admin)', async () => {
    const { c, api } = await setup();
    await api.post('/v3/core/departments', { department: { id: 'D', name: 'D' } });
    await api.post('/v3/core/departments/D/teams', { team: { id: 'T', name: 'T' } });
    expect((await api.post('/v3/core/users', { user: { id: 'emp', name: 'x', email: c.employee.email } })).json().name).toBe(c.employee.name);
    const adopted = await api.post('/v3/core/users/emp/employees', { employee: { id: 'E-emp', title: 'Adopteret', team_id: 'T' } });
    expect(adopted.statusCode).toBe(201);
    expect(adopted.json()).toMatchObject({ id: 'E-emp', title: 'Adopteret', team: { id: 'T' }, user: { id: 'emp' } });
    const row = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('employments').select(['title', 'fired_at']).where('id', '=', c.employee.employmentId).executeTakeFirstOrThrow());
    expect(row.title).toBe('Adopteret');
    await api.post('/v3/core/users', { user: { id: 'adm', name: 'x', email: c.admin.email } });
    const admin = await api.post('/v3/core/users/adm/employees', { employee: { id: 'E-adm', team_id: 'T' } });
    expect(admin.statusCode).toBe(422);
    expect(admin.json().errors[0].error).toBe('already_employed');
  });
});

describe('API departments, teams, team employees and delegations', () => {
  it('builds and moves the tree, with responsible leaders following owner inheritance', async () => {
    const { c, api } = await setup();
    await api.post('/v3/core/users', { user: { id: 'L', name: 'Leder', email: `l-${c.companyId.slice(0, 13)}@test.example` } });
    await api.post('/v3/core/departments', { department: { id: 'A', name: 'A' } });
    await api.post('/v3/core/users/L/employees', { employee: { id: 'EL', role: 'leader', department_id: 'A', title: 'Chef' } });
    await api.patch('/v3/core/departments/A', { department: { owner_id: 'EL' } });
    const b = await api.post('/v3/core/departments/A/departments', { department: { id: 'B', name: 'B' } });
    expect(b.json()).toMatchObject({ id: 'B', parent_id: 'A', owner: null, responsible_employee: { id: 'EL', title: 'Chef', user: { id: 'L', name: 'Leder' } } });
    const team = await api.post('/v3/core/departments/B/teams', { team: { id: 'T', name: 'Team' } });
    expect(team.json()).toMatchObject({ id: 'T', department: { id: 'B', name: 'B' }, owner: null, responsible_employee: { id: 'EL' }, employees: [] });
    noInternalIds(team.body, c);
    // An ordinary employee cannot own a team.
    await api.post('/v3/core/users', { user: { id: 'W', name: 'Worker', email: `w-${c.companyId.slice(0, 13)}@test.example` } });
    await api.post('/v3/core/users/W/employees', { employee: { id: 'EW', team_id: 'T' } });
    expect((await api.patch('/v3/core/teams/T', { team: { owner_id: 'EW' } })).json().errors[0].error).toBe('not_a_leader');

    await api.post('/v3/core/departments', { department: { id: 'C', name: 'C' } });
    // Move B under C with a PATCH on the new parent's path; a move below itself is refused.
    const movedB = await api.patch('/v3/core/departments/C/departments/B', { department: { name: 'B2' } });
    expect(movedB.json()).toMatchObject({ id: 'B', name: 'B2', parent_id: 'C', responsible_employee: null });
    const cycle = await api.patch('/v3/core/departments/B/departments/C', { department: {} });
    expect(cycle.statusCode).toBe(422);
    expect(cycle.json().errors[0].error).toBe('cycle');
    // Move the team to A: responsible is A's owner again.
    const movedT = await api.patch('/v3/core/departments/A/teams/T', { team: {} });
    expect(movedT.json()).toMatchObject({ department: { id: 'A' }, responsible_employee: { id: 'EL' }, employees: [{ id: 'EW' }] });

    // Deletes: only when empty.
    expect((await api.del('/v3/core/departments/A')).json().errors[0].error).toBe('not_empty');
    expect((await api.del('/v3/core/teams/T')).json().errors[0].error).toBe('not_empty');
    expect((await api.del('/v3/core/teams/T/employees/EW')).statusCode).toBe(204);
    expect((await api.del('/v3/core/teams/T')).statusCode).toBe(204);
    expect((await api.get('/v3/core/teams/T')).statusCode).toBe(404);
    const list = await api.get('/v3/core/departments');
    expect(list.headers.total).toBe('3');
    noInternalIds(list.body, c);
    expect((await api.del('/v3/core/departments/nope')).statusCode).toBe(404);
  });

  it('adding an employee to a team moves them from the old one; removing takes them out', async () => {
    const { c, api } = await setup();
    await api.post('/v3/core/departments', { department: { id: 'D', name: 'D' } });
    await api.post('/v3/core/departments/D/teams', { team: { id: 'T1', name: 'T1' } });
    await api.post('/v3/core/departments/D/teams', { team: { id: 'T2', name: 'T2' } });
    await api.post('/v3/core/users', { user: { id: 'U', name: 'U', email: `u-${c.companyId.slice(0, 13)}@test.example` } });
    await api.post('/v3/core/users/U/employees', { employee: { id: 'E', team_id: 'T1' } });
    const added = await api.post('/v3/core/teams/T2/employees', { employee: { id: 'E' } });
    expect(added.statusCode).toBe(200);
    expect(added.json().team).toEqual({ id: 'T2', name: 'T2' });
    expect((await api.get('/v3/core/teams/T1/employees')).json()).toEqual([]);
    const inT2 = await api.get('/v3/core/teams/T2/employees');
    expect(inT2.headers.total).toBe('1');
    expect((await api.del('/v3/core/teams/T1/employees/E')).statusCode).toBe(404);
    expect((await api.del('/v3/core/teams/T2/employees/E')).statusCode).toBe(204);
    expect((await api.get('/v3/core/users/U/employees/E')).json().team).toBeNull();
  });

  it('grants and revokes delegations on teams and departments with the reference responsibility names', async () => {
    const { c, api } = await setup();
    await api.post('/v3/core/departments', { department: { id: 'D', name: 'D' } });
    await api.post('/v3/core/departments/D/teams', { team: { id: 'T', name: 'T' } });
    await api.post('/v3/core/users', { user: { id: 'U', name: 'U', email: `d-${c.companyId.slice(0, 13)}@test.example` } });
    await api.post('/v3/core/users/U/employees', { employee: { id: 'E', team_id: 'T' } });
    const g = await api.post('/v3/core/teams/T/delegations', { delegation: { id: 'G1', employee_id: 'E', responsibility: 'dialog_access_siab' } });
    expect(g.statusCode).toBe(201);
    expect(g.json()).toMatchObject({ id: 'G1', responsibility: 'dialog_access_siab', team_id: 'T', department_id: null, employee: { id: 'E' } });
    const wrong = await api.post('/v3/core/teams/T/delegations', { delegation: { id: 'G2', employee_id: 'E', responsibility: 'configuration' } });
    expect(wrong.json().errors).toEqual([{ resource: 'delegation', field: 'responsibility', error: 'department_only' }]);
    const unknown = await api.post('/v3/core/teams/T/delegations', { delegation: { id: 'G2', employee_id: 'E', responsibility: 'root' } });
    expect(unknown.statusCode).toBe(422);
    expect((await api.post('/v3/core/departments/D/delegations', { delegation: { id: 'G3', employee_id: 'E', responsibility: 'manage_organisation_department' } })).statusCode).toBe(201);
    expect((await api.get('/v3/core/departments/D/delegations')).json().map((d: { id: string }) => d.id)).toEqual(['G3']);
    expect((await api.del('/v3/core/departments/D/delegations/G1')).statusCode).toBe(404);
    expect((await api.del('/v3/core/teams/T/delegations/G1')).statusCode).toBe(204);
    expect((await api.get('/v3/core/teams/T/delegations')).json()).toEqual([]);
    expect((await events(c.companyId, 'org.delegation.granted')).map((e) => e.data.apiTokenName)).toEqual(['HR-system', 'HR-system']);
  });
});

describe('API sickness absence (/v3/siab/dialogs)', () => {
  it('reports sick (201, with a task for the leader), updates the overlapping period when fit (200), refuses a range over two periods (422), makes no task for a past absence', async () => {
    const { c, api } = await setup();
    const day = (offset: number) => new Date(t.clock.now().getTime() + offset * DAY).toISOString().slice(0, 10);
    expect((await api.post('/v3/core/departments', { department: { id: 'D-sick', name: 'Sick dept' } })).statusCode).toBe(201);
    for (const [id, name] of [['U-lead', 'Lea Leder'], ['U-emp', 'Emil Ansat'], ['U-old', 'Olga Gammel']] as const) {
      expect((await api.post('/v3/core/users', { user: { id, name, email: `${id.toLowerCase()}-${c.companyId.slice(0, 8)}@api.example` } })).statusCode).toBe(201);
    }
    expect((await api.post('/v3/core/users/U-lead/employees', { employee: { id: 'E-lead', role: 'leader', department_id: 'D-sick' } })).statusCode).toBe(201);
    expect((await api.post('/v3/core/departments/D-sick/teams', { team: { id: 'T-sick', name: 'Sick team', owner_id: 'E-lead' } })).statusCode).toBe(201);
    expect((await api.post('/v3/core/users/U-emp/employees', { employee: { id: 'E-emp', team_id: 'T-sick' } })).statusCode).toBe(201);
    expect((await api.post('/v3/core/users/U-old/employees', { employee: { id: 'E-old', team_id: 'T-sick' } })).statusCode).toBe(201);

    const sick = await api.post('/v3/siab/dialogs', { dialog: { employee_id: 'E-emp', from: day(0) } });
    expect(sick.statusCode).toBe(201);
    expect(sick.json()).toEqual({ employee_id: 'E-emp', from: day(0), to: null, task: true });
    noInternalIds(sick.body, c);
    const fit = await api.post('/v3/siab/dialogs', { dialog: { employee_id: 'E-emp', from: day(0), to: day(3) } });
    expect(fit.statusCode).toBe(200);
    expect(fit.json().task).toBe(true);
    expect((await api.post('/v3/siab/dialogs', { dialog: { employee_id: 'E-emp', from: day(10) } })).statusCode).toBe(201);
    const both = await api.post('/v3/siab/dialogs', { dialog: { employee_id: 'E-emp', from: day(2), to: day(12) } });
    expect(both.statusCode).toBe(422);
    expect(both.json().errors).toEqual([{ resource: 'dialog', field: 'from', error: 'overlaps_two_periods' }]);
    const past = await api.post('/v3/siab/dialogs', { dialog: { employee_id: 'E-old', from: day(-100), to: day(-90) } });
    expect(past.statusCode).toBe(201);
    expect(past.json().task).toBe(false);

    // One task per period, for the responsible leader; the dates stay out of the audit trail.
    const tasks = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('dialogues as g').innerJoin('employments as e', 'e.id', 'g.employee_employment_id').innerJoin('users as u', 'u.id', 'e.user_id').select(['u.name', 'g.leader_employment_id']).where('g.company_id', '=', c.companyId).where('g.round_id', 'is', null).execute(),
    );
    expect(tasks.map((x) => x.name).sort()).toEqual(['Emil Ansat', 'Emil Ansat']);
    const audits = [...(await events(c.companyId, 'dialogues.sickness.reported')), ...(await events(c.companyId, 'dialogues.sickness.updated'))];
    expect(audits).toHaveLength(4);
    expect(JSON.stringify(audits)).not.toContain(day(0));
    expect(JSON.stringify(audits)).toContain('apiTokenName');

    // Bad input: clear 422s in the reference format.
    expect((await api.post('/v3/siab/dialogs', { dialog: { employee_id: 'nobody', from: day(0) } })).json().errors).toEqual([{ resource: 'dialog', field: 'employee_id', error: 'not_found' }]);
    expect((await api.post('/v3/siab/dialogs', { dialog: { employee_id: 'E-emp', from: '2027-02-30' } })).statusCode).toBe(422);
    expect((await api.post('/v3/siab/dialogs', { dialog: { employee_id: 'E-emp', from: day(5), to: day(1) } })).json().errors).toEqual([{ resource: 'dialog', field: 'to', error: 'before_from' }]);
  });
});
