/**
 * Issue 10 contract test: a realistic sync from an HR system through the integration API (a
 * three-level organisation, 100 employees, moves, a firing, a deleted team), then the company
 * admin's organisation pages must show exactly that, and what the API manages is read-only there
 * (part 5). Real JWTs, real app, real database; the clock is the fake one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, PASSWORD } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { apiClientFor, TEST_API_KEY } from './helpers/api-client.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import type { ApiResource } from '../src/platform/db/schema.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ API_TOKEN_KEY: TEST_API_KEY });
});
afterAll(async () => t?.close());

const idOf = (companyId: string, resource: ApiResource, externalId: string) =>
  unsafeSystemTransaction(t.deps.database, async (trx) =>
    (await trx.selectFrom('api_external_ids').select('internal_id').where('company_id', '=', companyId).where('resource', '=', resource).where('external_id', '=', externalId).executeTakeFirstOrThrow()).internal_id,
  );

describe('integration API contract: a full sync shows up in the organisation pages', () => {
  it('builds three levels, adds 100 employees, moves some, fires one, reports one sick, deletes a team; the UI shows the result and refuses to edit synced fields', { timeout: 120_000 }, async () => {
    const c = await createCompany(t.deps);
    const { api, admin } = await apiClientFor(t, c.companyId, c.admin.email);
    const tag = c.companyId.slice(0, 8);
    const ok = (res: { statusCode: number; body: string }, status = 201) => expect(res.statusCode, res.body).toBe(status);

    // Level 1 and 2 departments, level 3 teams: 2 regions x 2 areas x 2 teams.
    for (const r of ['R1', 'R2']) {
      ok(await api.post('/v3/core/departments', { department: { id: r, name: `Region ${r} ${tag}` } }));
      for (const a of ['A1', 'A2']) {
        ok(await api.post(`/v3/core/departments/${r}/departments`, { department: { id: `${r}${a}`, name: `Område ${r}${a} ${tag}` } }));
        for (const tm of ['T1', 'T2']) ok(await api.post(`/v3/core/departments/${r}${a}/teams`, { team: { id: `${r}${a}${tm}`, name: `Hold ${r}${a}${tm} ${tag}` } }));
      }
    }
    const teams = ['R1A1T1', 'R1A1T2', 'R1A2T1', 'R1A2T2', 'R2A1T1', 'R2A1T2', 'R2A2T1', 'R2A2T2'];

    // A leader owning region R1.
    ok(await api.post('/v3/core/users', { user: { id: 'boss', name: `Chef ${tag}`, email: `boss-${tag}@contract.example` } }));
    ok(await api.post('/v3/core/users/boss/employees', { employee: { id: 'E-boss', role: 'leader', department_id: 'R1', title: 'Regionschef' } }));
    ok(await api.patch('/v3/core/departments/R1', { department: { owner_id: 'E-boss' } }), 200);

    for (let i = 1; i <= 100; i++) {
      ok(await api.post('/v3/core/users', { user: { id: `u${i}`, name: `Medarbejder ${i} ${tag}`, email: `m${i}-${tag}@contract.example` } }));
      ok(await api.post(`/v3/core/users/u${i}/employees`, { employee: { id: `e${i}`, title: 'Sygeplejerske', team_id: teams[i % teams.length] } }));
    }
    const all = await api.get('/v3/core/employees?per_page=1000');
    expect(all.headers.total).toBe('101');

    // Empty team R2A2T2 by moving its people to R2A2T1, then delete it.
    const inT2 = (await api.get('/v3/core/teams/R2A2T2/employees?per_page=100')).json() as { id: string }[];
    expect(inT2.length).toBeGreaterThan(0);
    for (const e of inT2) ok(await api.post('/v3/core/teams/R2A2T1/employees', { employee: { id: e.id } }), 200);
    ok(await api.del('/v3/core/teams/R2A2T2'), 204);
    // Move a whole area to the other region.
    ok(await api.patch('/v3/core/departments/R1/departments/R2A1', { department: {} }), 200);
    // Fire one.
    const fired = await api.del('/v3/core/users/u7/employees/e7');
    ok(fired, 200);
    // Report one sick (team R1A1T2, under the boss's region).
    const sick = await api.post('/v3/siab/dialogs', { dialog: { employee_id: 'e1', from: t.clock.now().toISOString().slice(0, 10) } });
    ok(sick, 201);
    expect(sick.json().task).toBe(true);

    // The responsible leader follows the owner: R2A1 now sits under R1, owned by the boss.
    expect((await api.get('/v3/core/teams/R2A1T1')).json().responsible_employee).toMatchObject({ id: 'E-boss' });

    // The UI: the overview shows the tree without the deleted team.
    const overview = await admin.get('/org');
    expect(overview.statusCode).toBe(200);
    for (const name of [`Region R1 ${tag}`, `Område R2A1 ${tag}`, `Hold R2A2T1 ${tag}`]) expect(overview.body).toContain(name);
    expect(overview.body).not.toContain(`Hold R2A2T2 ${tag}`);

    // The employees list has all 100 and the leader, the fired one marked.
    const people = await admin.get('/org/employees');
    for (const i of [1, 50, 100]) expect(people.body).toContain(`Medarbejder ${i} ${tag}`);
    const firedPage = await admin.get(`/org/employees/${await idOf(c.companyId, 'employee', 'e7')}`);
    expect(firedPage.body).toContain(`Medarbejder 7 ${tag}`);
    expect(firedPage.body).toMatch(/class="badge warn"/);

    // A moved employee shows in the new team's page; the team page says the HR system manages it.
    const teamPage = await admin.get(`/org/teams/${await idOf(c.companyId, 'team', 'R2A2T1')}`);
    expect(teamPage.statusCode).toBe(200);
    expect(teamPage.body).toContain(`Medarbejder ${inT2[0]!.id.slice(1)} ${tag}`);
    expect(teamPage.body).toContain('integrations-API');

    const deptPage = await admin.get(`/org/departments/${await idOf(c.companyId, 'department', 'R1')}`);
    expect(deptPage.body).toContain('Styres af jeres HR-system');
    expect(deptPage.body).toMatch(/<form method="post" action="\/org\/departments\/[^"]+" class="stack" hidden/);
    expect(deptPage.body).not.toContain('/delete"');
    const empPage = await admin.get(`/org/employees/${await idOf(c.companyId, 'employee', 'e2')}`);
    expect(empPage.body).toContain('Styres af jeres HR-system');
    expect(empPage.body).not.toContain('/fire"');
    // A department made in the UI (the fixture's) stays editable and says nothing about the API.
    expect((await admin.get(`/org/departments/${c.departmentId}`)).body).not.toContain('Styres af jeres HR-system');

    // Synced fields are read-only in the UI: the service refuses, nothing changes.
    const teamId = await idOf(c.companyId, 'team', 'R1A1T1');
    await admin.get(`/org/teams/${teamId}`);
    const rename = await admin.post(`/org/teams/${teamId}`, { name: 'Omdøbt i UI', department_id: await idOf(c.companyId, 'department', 'R1A1'), owner_employment_id: '' });
    expect(rename.statusCode).toBe(409);
    expect((await api.get('/v3/core/teams/R1A1T1')).json().name).toBe(`Hold R1A1T1 ${tag}`);
    const empId = await idOf(c.companyId, 'employee', 'e1');
    await admin.get(`/org/employees/${empId}`);
    expect((await admin.post(`/org/employees/${empId}/fire`)).statusCode).toBe(409);
    expect((await api.get('/v3/core/users/u1/employees/e1')).json().fired_at).toBeNull();

    // The boss (made by the API; given a password here, as an invitation would) has the sickness
    // dialogue to hold in their own list.
    const bossId = await unsafeSystemTransaction(t.deps.database, async (trx) => (await trx.selectFrom('users').select('id').where('email', '=', `boss-${tag}@contract.example`).executeTakeFirstOrThrow()).id);
    const hash = await t.deps.hasher.hash(PASSWORD);
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('users').set({ password_hash: hash }).where('id', '=', bossId).execute());
    const boss = await loggedIn(t.app, `boss-${tag}@contract.example`);
    expect((await boss.get('/dialogues')).body).toContain(`Medarbejder 1 ${tag}`);

    // Every change is in the audit trail with the token's name.
    const byApi = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('data').where('company_id', '=', c.companyId).where((eb) => eb.or([eb('event_type', 'like', 'org.%'), eb('event_type', 'like', 'api.user.%')])).execute(),
    );
    // 14 departments and teams, 101 users and employees, the owner, the moves, the firing, the delete.
    expect(byApi.length).toBeGreaterThan(230);
    expect(byApi.every((e) => e.data.apiTokenName === 'HR-system')).toBe(true);
  });
});
