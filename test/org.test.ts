import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newestMails } from './helpers/mail.ts';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { formatDate } from '../src/platform/i18n/i18n.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const DAY = 86_400_000;

/** Every state change must leave an audit row: the newest row of the company is checked. */
async function lastAudit(companyId: string) {
  return unsafeSystemTransaction(t.deps.database, (trx) =>
    trx.selectFrom('audit_events').selectAll().where('company_id', '=', companyId).orderBy('id', 'desc').executeTakeFirstOrThrow(),
  );
}

async function expectAudit(companyId: string, type: string, objectId?: string) {
  const row = await lastAudit(companyId);
  expect(row.event_type).toBe(type);
  if (objectId) expect(row.object_id).toBe(objectId);
  return row;
}

function idFrom(location: unknown): string {
  const m = /\/([0-9a-f-]{36})(\?|$)/.exec(String(location));
  if (!m?.[1]) throw new Error(`no id in ${String(location)}`);
  return m[1];
}

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

describe('departments', () => {
  let a: CompanyFixture;
  let admin: Agent;
  beforeAll(async () => {
    a = await createCompany(t.deps);
    admin = await loggedIn(t.app, a.admin.email);
  });

  it('shows the tree with owners, inherited ones marked', async () => {
    const res = await admin.get('/org');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`Afdeling `);
    expect(res.body).toContain(`Ansvarlig leder: ${a.leader.name}`);
    expect(res.body).toContain('arvet');
    expect(res.body).toContain(`/org/teams/${a.teamId}`);
  });

  it('creates, renames, moves and deletes a department, auditing each change', async () => {
    const created = await admin.post('/org/departments', { name: 'Salg', parent_id: a.departmentId });
    expect(created.statusCode).toBe(303);
    const id = idFrom(created.headers.location);
    await expectAudit(a.companyId, 'org.department.created', id);

    const page = await admin.get(`/org/departments/${id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Salg');

    const renamed = await admin.post(`/org/departments/${id}`, { name: 'Salg og marketing', parent_id: a.departmentId, owner_employment_id: '' });
    expect(renamed.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.department.updated', id);

    const moved = await admin.post(`/org/departments/${id}`, { name: 'Salg og marketing', parent_id: a.subDepartmentId, owner_employment_id: a.leader.employmentId });
    expect(moved.statusCode).toBe(303);
    const row = await expectAudit(a.companyId, 'org.department.updated', id);
    expect(row.data).toMatchObject({ parentId: a.subDepartmentId, ownerEmploymentId: a.leader.employmentId });
    const stored = await sys((trx) => trx.selectFrom('departments').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
    expect(stored.parent_id).toBe(a.subDepartmentId);
    expect(stored.name).toBe('Salg og marketing');

    const deleted = await admin.post(`/org/departments/${id}/delete`);
    expect(deleted.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.department.deleted', id);
    expect((await admin.get(`/org/departments/${id}`)).statusCode).toBe(404);
  });

  it('refuses to move a department below itself, with a clear message', async () => {
    const before = await lastAudit(a.companyId);
    for (const target of [a.departmentId, a.subDepartmentId]) {
      const res = await admin.post(`/org/departments/${a.departmentId}`, { name: 'Nyt navn', parent_id: target, owner_employment_id: a.leader.employmentId });
      expect(res.statusCode).toBe(422);
      expect(res.body).toContain('kan ikke flyttes ind under sig selv');
      expect(res.body).toContain('value="Nyt navn"');
    }
    const stored = await sys((trx) => trx.selectFrom('departments').selectAll().where('id', '=', a.departmentId).executeTakeFirstOrThrow());
    expect(stored.parent_id).toBe(a.rootDepartmentId);
    expect((await lastAudit(a.companyId)).id).toBe(before.id);
  });

  it('refuses to delete a non-empty department (409) and the root', async () => {
    const res = await admin.post(`/org/departments/${a.departmentId}/delete`);
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('Afdelingen kan ikke slettes');
    const root = await admin.post(`/org/departments/${a.rootDepartmentId}/delete`);
    expect(root.statusCode).toBe(409);
    expect(root.body).toContain('øverste afdeling kan ikke slettes');
    const move = await admin.post(`/org/departments/${a.rootDepartmentId}`, { name: a.name, parent_id: a.departmentId });
    expect(move.statusCode).toBe(422);
    expect(move.body).toContain('øverste afdeling kan ikke flyttes');
    const rows = await sys((trx) => trx.selectFrom('departments').select(['id', 'parent_id']).where('id', 'in', [a.rootDepartmentId, a.departmentId]).execute());
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.id === a.rootDepartmentId)?.parent_id).toBeNull();
  });
});

describe('teams', () => {
  let a: CompanyFixture;
  let admin: Agent;
  beforeAll(async () => {
    a = await createCompany(t.deps);
    admin = await loggedIn(t.app, a.admin.email);
  });

  it('creates, renames, moves, re-owns and deletes a team', async () => {
    const created = await admin.post('/org/teams', { team_name: 'Support', department_id: a.departmentId });
    expect(created.statusCode).toBe(303);
    const id = idFrom(created.headers.location);
    await expectAudit(a.companyId, 'org.team.created', id);

    const updated = await admin.post(`/org/teams/${id}`, { name: 'Kundeservice', department_id: a.subDepartmentId, owner_employment_id: a.leader.employmentId });
    expect(updated.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.team.updated', id);
    const stored = await sys((trx) => trx.selectFrom('teams').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
    expect(stored).toMatchObject({ name: 'Kundeservice', department_id: a.subDepartmentId, owner_employment_id: a.leader.employmentId });

    const page = await admin.get(`/org/teams/${id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Kundeservice');

    const deleted = await admin.post(`/org/teams/${id}/delete`);
    expect(deleted.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.team.deleted', id);
  });

  it('refuses to delete a team with employees, fired ones in their 14 days included', async () => {
    const res = await admin.post(`/org/teams/${a.teamId}/delete`);
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('Teamet kan ikke slettes');

    const created = await admin.post('/org/teams', { team_name: 'Kortvarigt', department_id: a.departmentId });
    const teamId = idFrom(created.headers.location);
    const emp = await admin.post('/org/employees', { name: 'Kort Tid', email: `kort-${Date.now()}@test.example`, title: '', role: 'employee', language: 'da', team_id: teamId, department_id: '' });
    expect(emp.statusCode).toBe(201);
    const employmentId = idFrom(/href="(\/org\/employees\/[0-9a-f-]{36})"/.exec(emp.body)?.[1]);
    expect((await admin.post(`/org/employees/${employmentId}/fire`)).statusCode).toBe(303);
    const refused = await admin.post(`/org/teams/${teamId}/delete`);
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toContain('fratrådte');
  });
});

describe('employees', () => {
  let a: CompanyFixture;
  let admin: Agent;
  beforeAll(async () => {
    a = await createCompany(t.deps);
    admin = await loggedIn(t.app, a.admin.email);
  });

  it('lists and searches employees', async () => {
    const list = await admin.get('/org/employees');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain(a.employee.email);
    expect(list.body).toContain('<th scope="col">');
    const search = await admin.get(`/org/employees?q=${encodeURIComponent(a.colleague.email)}`);
    expect(search.body).toContain(a.colleague.name);
    expect(search.body).not.toContain(a.employee.email);
  });

  it('creates a new user without a password and invites them by e-mail in their language', async () => {
    expect((await admin.get('/org/employees/new')).statusCode).toBe(200);
    const email = `ny-${Date.now()}@test.example`;
    const res = await admin.post('/org/employees', { name: 'Ny Person', email, title: 'Udvikler', role: 'employee', language: 'en', team_id: a.teamId, department_id: '' });
    expect(res.statusCode).toBe(201);
    expect(res.body).toContain('invitation pr. e-mail');
    const user = await sys((trx) => trx.selectFrom('users').select('password_hash').where('email', '=', email).executeTakeFirstOrThrow());
    expect(user.password_hash).toBeNull();
    await expectAudit(a.companyId, 'auth.invitation.sent');
    const row = await sys((trx) =>
      trx.selectFrom('audit_events').select('data').where('company_id', '=', a.companyId).where('event_type', '=', 'org.employee.created').orderBy('id', 'desc').executeTakeFirstOrThrow(),
    );
    expect(row.data).toMatchObject({ newUser: true });
    const [mail] = await newestMails(t.deps, email);
    expect(mail?.template).toBe('invitation');
    expect(mail?.subject).toMatch(/invit/i);
    expect(mail?.text).toContain(a.name);
    expect(mail?.text).not.toContain('Udvikler');
    // Without a password nobody can log in as the new user until the link is used.
    expect((await new Agent(t.app).login(email, '')).statusCode).not.toBe(303);
  });

  it('attaches an existing user of another company as a second employment', async () => {
    const b = await createCompany(t.deps);
    const res = await admin.post('/org/employees', { name: 'Ignored Name', email: b.employee.email.toUpperCase(), title: 'Konsulent', role: 'employee', language: 'da', team_id: a.otherTeamId, department_id: '' });
    expect(res.statusCode).toBe(201);
    expect(res.body).not.toContain('invitation pr. e-mail');
    expect(res.body).toContain(b.employee.name);
    const rows = await sys((trx) => trx.selectFrom('employments').select(['company_id', 'team_id']).where('user_id', '=', b.employee.userId).execute());
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => r.company_id).sort()).toEqual([a.companyId, b.companyId].sort());
    const row = await expectAudit(a.companyId, 'org.employee.created');
    expect(row.data).toMatchObject({ newUser: false, userId: b.employee.userId });
    // The user's existing password works, and the new company is offered on their dashboard.
    const agent = await loggedIn(t.app, b.employee.email);
    expect((await agent.get('/dashboard')).body).toContain(a.name);

    const again = await admin.post('/org/employees', { name: 'X', email: b.employee.email, title: '', role: 'employee', language: 'da', team_id: a.teamId, department_id: '' });
    expect(again.statusCode).toBe(422);
    expect(again.body).toContain('allerede ansat');
  });

  it('moves an employee to another team and enforces placement rules', async () => {
    const res = await admin.post(`/org/employees/${a.colleague.employmentId}`, { title: 'Senior', role: 'employee', language: 'da', team_id: a.otherTeamId, department_id: '' });
    expect(res.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.employee.updated', a.colleague.employmentId);
    const row = await sys((trx) => trx.selectFrom('employments').selectAll().where('id', '=', a.colleague.employmentId).executeTakeFirstOrThrow());
    expect(row).toMatchObject({ team_id: a.otherTeamId, title: 'Senior', department_id: null });

    const noTeam = await admin.post(`/org/employees/${a.colleague.employmentId}`, { title: 'Senior', role: 'employee', language: 'da', team_id: '', department_id: a.departmentId });
    expect(noTeam.statusCode).toBe(422);
    expect(noTeam.body).toContain('skal være i et team');
    const both = await admin.post(`/org/employees/${a.leader.employmentId}`, { title: 'Chef', role: 'leader', language: 'da', team_id: a.teamId, department_id: a.departmentId });
    expect(both.statusCode).toBe(422);
    expect(both.body).toContain('ikke begge');
    const ownRole = await admin.post(`/org/employees/${a.admin.employmentId}`, { title: 'HR', role: 'employee', language: 'da', team_id: a.teamId, department_id: '' });
    expect(ownRole.statusCode).toBe(422);
    expect(ownRole.body).toContain('egen rolle');
  });

  it('fires (ending sessions) and rehires within 14 days, refuses after', async () => {
    const victim = await loggedIn(t.app, a.employee.email);
    expect((await victim.get('/dashboard')).statusCode).toBe(200);

    const self = await admin.post(`/org/employees/${a.admin.employmentId}/fire`);
    expect(self.statusCode).toBe(409);
    expect(self.body).toContain('din egen fratræden');

    const fired = await admin.post(`/org/employees/${a.employee.employmentId}/fire`);
    expect(fired.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.employee.fired', a.employee.employmentId);
    const gone = await victim.get('/dashboard');
    expect(gone.statusCode).toBe(303);
    expect(gone.headers.location).toContain('/login');
    const sessions = await sys((trx) => trx.selectFrom('sessions').select('id').where('user_id', '=', a.employee.userId).execute());
    expect(sessions).toHaveLength(0);

    const purge = formatDate('da', new Date(t.clock.now().getTime() + 14 * DAY));
    const page = await admin.get(`/org/employees/${a.employee.employmentId}`);
    expect(page.body).toContain(purge);
    expect((await admin.get('/org/employees')).body).toContain(`Fratrådt – fjernes ${purge}`);

    const rehired = await admin.post(`/org/employees/${a.employee.employmentId}/rehire`);
    expect(rehired.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.employee.rehired', a.employee.employmentId);
    expect((await loggedIn(t.app, a.employee.email)).csrf).not.toBe('');

    expect((await admin.post(`/org/employees/${a.employee.employmentId}/fire`)).statusCode).toBe(303);
    t.clock.advance(15 * DAY);
    const admin2 = await loggedIn(t.app, a.admin.email);
    const late = await admin2.post(`/org/employees/${a.employee.employmentId}/rehire`);
    expect(late.statusCode).toBe(409);
    expect(late.body).toContain('mere end 14 dage');
    const row = await sys((trx) => trx.selectFrom('employments').select('fired_at').where('id', '=', a.employee.employmentId).executeTakeFirstOrThrow());
    expect(row.fired_at).not.toBeNull();
    admin = admin2;
  });
});

describe('delegations', () => {
  let a: CompanyFixture;
  let admin: Agent;
  beforeAll(async () => {
    a = await createCompany(t.deps);
    admin = await loggedIn(t.app, a.admin.email);
  });

  it('grants and revokes a team delegation, refusing the wrong kind of target', async () => {
    const granted = await admin.post('/org/delegations', { employment_id: a.colleague.employmentId, responsibility: 'dialog_access_edp', team_id: a.teamId });
    expect(granted.statusCode).toBe(303);
    expect(granted.headers.location).toBe(`/org/teams/${a.teamId}?done=granted`);
    const row = await expectAudit(a.companyId, 'org.delegation.granted');
    const delegationId = String(row.object_id);

    const dup = await admin.post('/org/delegations', { employment_id: a.colleague.employmentId, responsibility: 'dialog_access_edp', team_id: a.teamId });
    expect(dup.statusCode).toBe(422);
    expect(dup.body).toContain('allerede dette ansvar');

    const wrong = await admin.post('/org/delegations', { employment_id: a.colleague.employmentId, responsibility: 'dialog_access_edp', department_id: a.departmentId });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('kun gives på et team');
    const wrong2 = await admin.post('/org/delegations', { employment_id: a.colleague.employmentId, responsibility: 'configuration', team_id: a.teamId });
    expect(wrong2.statusCode).toBe(422);
    expect(wrong2.body).toContain('kun gives på en afdeling');

    const dept = await admin.post('/org/delegations', { employment_id: a.leader.employmentId, responsibility: 'configuration', department_id: a.departmentId });
    expect(dept.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.delegation.granted');

    const revoked = await admin.post(`/org/delegations/${delegationId}/delete`);
    expect(revoked.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.delegation.revoked', delegationId);
    const left = await sys((trx) => trx.selectFrom('delegations').select('id').where('id', '=', delegationId).execute());
    expect(left).toHaveLength(0);
    expect((await admin.post(`/org/delegations/${delegationId}/delete`)).statusCode).toBe(404);
  });
});

describe('the organisation delegate', () => {
  let a: CompanyFixture;
  let delegate: Agent;
  beforeAll(async () => {
    a = await createCompany(t.deps);
    delegate = await loggedIn(t.app, a.delegate.email);
  });

  it('manages inside the delegated subtree', async () => {
    const tree = await delegate.get('/org');
    expect(tree.statusCode).toBe(200);
    expect(tree.body).toContain(`/org/departments/${a.subDepartmentId}`);
    expect(tree.body).toContain(`/org/teams/${a.otherTeamId}`);
    expect(tree.body).not.toContain(`/org/teams/${a.teamId}`);
    expect(tree.body).not.toContain(`/org/departments/${a.departmentId}"`);

    const renamed = await delegate.post(`/org/departments/${a.subDepartmentId}`, { name: 'Omdøbt af delegeret' });
    expect(renamed.statusCode).toBe(303);
    await expectAudit(a.companyId, 'org.department.updated', a.subDepartmentId);
    // The delegated department itself stays where it is.
    const move = await delegate.post(`/org/departments/${a.subDepartmentId}`, { name: 'Omdøbt af delegeret', parent_id: a.rootDepartmentId });
    expect(move.statusCode).toBe(403);
    expect((await delegate.post(`/org/departments/${a.subDepartmentId}/delete`)).statusCode).toBe(403);

    const child = await delegate.post('/org/departments', { name: 'Under', parent_id: a.subDepartmentId });
    expect(child.statusCode).toBe(303);
    const childId = idFrom(child.headers.location);
    const team = await delegate.post('/org/teams', { team_name: 'Delegeret team', department_id: childId });
    expect(team.statusCode).toBe(303);
    const teamId = idFrom(team.headers.location);
    const person = await delegate.post('/org/employees', { name: 'Via Delegat', email: `via-${Date.now()}@test.example`, title: '', role: 'employee', language: 'da', team_id: teamId, department_id: '' });
    expect(person.statusCode).toBe(201);
    const admin = await delegate.post('/org/employees', { name: 'Ikke Admin', email: `adm-${Date.now()}@test.example`, title: '', role: 'company_admin', language: 'da', team_id: teamId, department_id: '' });
    expect(admin.statusCode).toBe(422);
    // A team in the subtree may not be placed outside it.
    const out = await delegate.post(`/org/teams/${teamId}`, { name: 'Delegeret team', department_id: a.departmentId, owner_employment_id: '' });
    expect(out.statusCode).toBe(422);
    expect((await delegate.post(`/org/teams/${teamId}/delete`)).statusCode).toBe(409);
  });

  it('gets 404 outside the subtree and for delegations', async () => {
    for (const url of [`/org/departments/${a.departmentId}`, `/org/departments/${a.rootDepartmentId}`, `/org/teams/${a.teamId}`, `/org/employees/${a.employee.employmentId}`, `/org/employees/${a.admin.employmentId}`, `/org/employees/${a.delegate.employmentId}`]) {
      expect((await delegate.get(url)).statusCode, url).toBe(404);
    }
    expect((await delegate.post(`/org/departments/${a.departmentId}`, { name: 'x' })).statusCode).toBe(404);
    expect((await delegate.post(`/org/teams/${a.teamId}/delete`)).statusCode).toBe(404);
    expect((await delegate.post(`/org/employees/${a.employee.employmentId}/fire`)).statusCode).toBe(404);
    expect((await delegate.post('/org/delegations', { employment_id: a.colleague.employmentId, responsibility: 'dialog_access_edp', team_id: a.otherTeamId })).statusCode).toBe(404);
    const outside = await delegate.post('/org/teams', { team_name: 'Udenfor', department_id: a.departmentId });
    expect(outside.statusCode).toBe(422);
    const list = await delegate.get('/org/employees');
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(a.employee.email);
    expect(list.body).not.toContain(a.admin.email);
  });
});

describe('who gets 404', () => {
  let a: CompanyFixture;
  beforeAll(async () => {
    a = await createCompany(t.deps);
  });

  it('an employee and a leader get 404 on every /org page', async () => {
    for (const email of [a.employee.email, a.leader.email]) {
      const agent = await loggedIn(t.app, email);
      for (const url of ['/org', '/org/employees', '/org/employees/new', `/org/departments/${a.departmentId}`, `/org/teams/${a.teamId}`, `/org/employees/${a.colleague.employmentId}`]) {
        expect((await agent.get(url)).statusCode, `${email} ${url}`).toBe(404);
      }
      expect((await agent.post('/org/departments', { name: 'x', parent_id: a.departmentId })).statusCode).toBe(404);
      expect((await agent.post(`/org/employees/${a.colleague.employmentId}/fire`)).statusCode).toBe(404);
    }
  });

  it('M8 an admin of another company gets 404 for this company’s ids', async () => {
    const b = await createCompany(t.deps);
    const other = await loggedIn(t.app, b.admin.email);
    for (const url of [`/org/departments/${a.departmentId}`, `/org/teams/${a.teamId}`, `/org/employees/${a.employee.employmentId}`]) {
      expect((await other.get(url)).statusCode, url).toBe(404);
    }
    expect((await other.post(`/org/departments/${a.subDepartmentId}`, { name: 'Hacked', parent_id: a.departmentId })).statusCode).toBe(404);
    expect((await other.post(`/org/departments/${a.subDepartmentId}/delete`)).statusCode).toBe(404);
    expect((await other.post(`/org/teams/${a.teamId}`, { name: 'Hacked' })).statusCode).toBe(404);
    expect((await other.post(`/org/employees/${a.employee.employmentId}/fire`)).statusCode).toBe(404);
    expect((await other.post(`/org/employees/${a.employee.employmentId}`, { title: 'x', role: 'employee', language: 'da', team_id: b.teamId, department_id: '' })).statusCode).toBe(404);
    // Foreign ids inside a form are simply not valid choices.
    const foreignParent = await other.post('/org/departments', { name: 'Ny', parent_id: a.departmentId });
    expect(foreignParent.statusCode).toBe(422);
    const foreignTeam = await other.post('/org/employees', { name: 'Ny', email: `f-${Date.now()}@test.example`, title: '', role: 'employee', language: 'da', team_id: a.teamId, department_id: '' });
    expect(foreignTeam.statusCode).toBe(422);
    const delegations = await sys((trx) => trx.selectFrom('delegations').select('id').where('company_id', '=', a.companyId).execute());
    const revoke = await other.post(`/org/delegations/${delegations[0]?.id}/delete`);
    expect(revoke.statusCode).toBe(404);
    const stored = await sys((trx) => trx.selectFrom('departments').select('name').where('id', '=', a.subDepartmentId).executeTakeFirstOrThrow());
    expect(stored.name).not.toBe('Hacked');
  });
});

describe('bad input', () => {
  let a: CompanyFixture;
  let admin: Agent;
  beforeAll(async () => {
    a = await createCompany(t.deps);
    admin = await loggedIn(t.app, a.admin.email);
  });

  it('answers 4xx in Danish with the value kept, never 5xx', async () => {
    const empty = await admin.post('/org/departments', { name: '   ', parent_id: a.departmentId });
    expect(empty.statusCode).toBe(422);
    expect(empty.body).toContain('Skal udfyldes');
    expect(empty.body).toContain('class="error-summary"');

    const long = 'x'.repeat(10_000);
    const tooLong = await admin.post('/org/teams', { team_name: long, department_id: a.departmentId });
    expect(tooLong.statusCode).toBe(422);
    expect(tooLong.body).toContain('for lang (højst 200 tegn)');
    expect(tooLong.body).toContain(`value="${long}"`);

    const bogus = await admin.post('/org/departments', { name: 'Gyldigt navn', parent_id: 'not-a-uuid' });
    expect(bogus.statusCode).toBe(422);
    expect(bogus.body).toContain('Vælg en gyldig værdi');
    expect(bogus.body).toContain('value="Gyldigt navn"');

    const unknownParent = await admin.post('/org/departments', { name: 'Gyldigt navn', parent_id: '00000000-0000-4000-8000-000000000000' });
    expect(unknownParent.statusCode).toBe(422);

    const role = await admin.post('/org/employees', { name: 'Rolle Test', email: `r-${Date.now()}@test.example`, title: '', role: 'superuser', language: 'da', team_id: a.teamId, department_id: '' });
    expect(role.statusCode).toBe(422);
    expect(role.body).toContain('Vælg en gyldig værdi');
    expect(role.body).toContain('value="Rolle Test"');

    const mail = await admin.post('/org/employees', { name: 'Mail Test', email: 'ikke en mail', title: '', role: 'employee', language: 'da', team_id: a.teamId, department_id: '' });
    expect(mail.statusCode).toBe(422);
    expect(mail.body).toContain('gyldig e-mailadresse');

    const resp = await admin.post('/org/delegations', { employment_id: a.colleague.employmentId, responsibility: 'be_god', team_id: a.teamId });
    expect(resp.statusCode).toBe(422);
    const noTarget = await admin.post('/org/delegations', {});
    expect(noTarget.statusCode).toBe(422);
    expect(noTarget.body).toContain('Vælg et team eller en afdeling for ansvaret');

    expect((await admin.get('/org/departments/not-a-uuid')).statusCode).toBe(404);
    expect((await admin.get('/org/teams/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await admin.post('/org/employees/123/fire')).statusCode).toBe(404);
    expect((await admin.post('/org/delegations/xyz/delete')).statusCode).toBe(404);
  });

  it('escapes hostile names everywhere', async () => {
    const hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';
    const dept = await admin.post('/org/departments', { name: hostile, parent_id: a.departmentId });
    expect(dept.statusCode).toBe(303);
    const id = idFrom(dept.headers.location);
    const team = await admin.post('/org/teams', { team_name: hostile, department_id: id });
    expect(team.statusCode).toBe(303);
    const emp = await admin.post('/org/employees', { name: hostile, email: `h-${Date.now()}@test.example`, title: hostile, role: 'employee', language: 'da', team_id: idFrom(team.headers.location), department_id: '' });
    expect(emp.statusCode).toBe(201);
    for (const url of ['/org', `/org/departments/${id}`, team.headers.location as string, '/org/employees']) {
      const res = await admin.get(url);
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain('<script>alert');
      expect(res.body).not.toContain('<img src=x');
    }
    expect(emp.body).not.toContain('<script>alert');
  });
});

describe('M15 leaving: the purge date in the reader\'s language', () => {
  it('shows an English-speaking admin the day the personal data will be deleted', async () => {
    const a = await createCompany(t.deps);
    await sys((trx) => trx.updateTable('employments').set({ language: 'en' }).where('id', '=', a.admin.employmentId).execute());
    const admin = await loggedIn(t.app, a.admin.email);
    expect((await admin.post(`/org/employees/${a.member.employmentId}/fire`)).statusCode).toBe(303);
    const purge = formatDate('en', new Date(t.clock.now().getTime() + 14 * DAY));
    expect((await admin.get('/org/employees')).body).toContain(`Left – personal data deleted on ${purge}`);
    const page = await admin.get(`/org/employees/${a.member.employmentId}`);
    expect(page.body).toContain(`will be deleted on ${purge}`);
    expect(page.body).toContain("kept in the leader's archive for 5 years");
  });
});
