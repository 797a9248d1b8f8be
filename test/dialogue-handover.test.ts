/**
 * Hand-over (M8): a dialogue's leader follows the responsible leader of its team. When the team's
 * owner changes, or the owner is fired, the dialogues move to the new responsible leader and the
 * one replaced gets 404. A delegate with dialog_access_edp on the team acts as leader on the
 * team's MUS and GRUS dialogues.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, createPerson, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import type { Responsibility } from '../src/platform/db/schema.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);
const leaderOf = async (id: string) => (await sys((trx) => trx.selectFrom('dialogues').select('leader_employment_id').where('id', '=', id).executeTakeFirstOrThrow())).leader_employment_id;

async function delegate(f: CompanyFixture, responsibility: Responsibility) {
  await sys((trx) => trx.insertInto('delegations').values({ id: randomUUID(), company_id: f.companyId, employment_id: f.delegate.employmentId, responsibility, team_id: f.teamId, department_id: null }).execute());
}

describe('M8 hand-over when the responsible leader changes', () => {
  it('a new team owner takes over the team’s dialogues; the old leader gets 404', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    const newLeader = await createPerson(t.deps, f, { label: 'nyleder' });
    const oldLeader = await loggedIn(t.app, f.leader.email);
    expect((await oldLeader.get(`/dialogues/${dialogueId}`)).statusCode).toBe(200);

    // The admin makes the new leader the team's owner, through the org pages.
    const admin = await loggedIn(t.app, f.admin.email);
    await admin.get(`/org/teams/${f.teamId}`);
    const teamName = (await sys((trx) => trx.selectFrom('teams').select('name').where('id', '=', f.teamId).executeTakeFirstOrThrow())).name;
    const changed = await admin.post(`/org/teams/${f.teamId}`, { name: teamName, department_id: f.departmentId, owner_employment_id: newLeader.employmentId });
    expect(changed.statusCode).toBe(303);
    expect(await leaderOf(dialogueId)).toBe(newLeader.employmentId);

    const incoming = await loggedIn(t.app, newLeader.email);
    const page = await incoming.get(`/dialogues/${dialogueId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Du deltager som leder.');
    expect((await incoming.get('/dialogues')).body).toContain(f.employee.name);
    // The new leader acts: schedules the meeting.
    expect((await incoming.post(`/dialogues/${dialogueId}/meeting`, { date: '2027-03-25', time: '10:00', place: 'Mødelokale 2' })).statusCode).toBe(303);
    // The old leader no longer has the dialogue at all.
    expect((await oldLeader.get(`/dialogues/${dialogueId}`)).statusCode).toBe(404);
    expect((await oldLeader.post(`/dialogues/${dialogueId}/start`)).statusCode).toBe(404);
    expect((await oldLeader.get('/dialogues')).body).not.toContain(`/dialogues/${dialogueId}"`);

    // Removing the owner again hands it back to the department's owner.
    expect((await admin.post(`/org/teams/${f.teamId}`, { name: teamName, department_id: f.departmentId, owner_employment_id: '' })).statusCode).toBe(303);
    expect(await leaderOf(dialogueId)).toBe(f.leader.employmentId);
    expect((await incoming.get(`/dialogues/${dialogueId}`)).statusCode).toBe(404);
  });

  it('when the leader is fired, the dialogues go to the nearest owner up the tree', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    const director = await createPerson(t.deps, f, { label: 'direktør', departmentId: f.rootDepartmentId });
    await sys((trx) => trx.updateTable('departments').set({ owner_employment_id: director.employmentId }).where('id', '=', f.rootDepartmentId).execute());
    // Still the nearer owner's.
    expect(await leaderOf(dialogueId)).toBe(f.leader.employmentId);
    const admin = await loggedIn(t.app, f.admin.email);
    await admin.get(`/org/employees/${f.leader.employmentId}`);
    expect((await admin.post(`/org/employees/${f.leader.employmentId}/fire`)).statusCode).toBe(303);
    expect(await leaderOf(dialogueId)).toBe(director.employmentId);
    expect((await (await loggedIn(t.app, director.email)).get(`/dialogues/${dialogueId}`)).statusCode).toBe(200);
  });

  it('a team without any responsible leader keeps the dialogue’s leader', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    await sys((trx) => trx.updateTable('departments').set({ owner_employment_id: null }).where('id', '=', f.departmentId).execute());
    expect(await leaderOf(dialogueId)).toBe(f.leader.employmentId);
  });
});

describe('M8 a delegate with dialog_access_edp acts as leader on the team’s MUS and GRUS', () => {
  it('reads and acts as leader with the delegation, and gets 404 without it (or with another kind)', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    const agent = await loggedIn(t.app, f.delegate.email);
    expect((await agent.get(`/dialogues/${dialogueId}`)).statusCode).toBe(404);
    await delegate(f, 'dialog_access_onboarding');
    expect((await agent.get(`/dialogues/${dialogueId}`)).statusCode).toBe(404);
    await delegate(f, 'dialog_access_edp');
    const page = await agent.get(`/dialogues/${dialogueId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Du deltager som leder.');
    expect((await agent.post(`/dialogues/${dialogueId}/start`)).statusCode).toBe(303);
    // Recorded as a delegate's read in "viewed by" (M14).
    const views = await sys((trx) => trx.selectFrom('document_views').select(['viewer_user_id', 'viewer_role']).where('object_id', '=', dialogueId).execute());
    expect(views).toEqual(expect.arrayContaining([{ viewer_user_id: f.delegate.userId, viewer_role: 'delegate' }]));

    // A GRUS on the same team: the delegate holds it as its leader too.
    const leader = await loggedIn(t.app, f.leader.email);
    const res = await leader.post('/rounds', { name: 'GRUS 2027', form: 'builtin:grus-da', target: `team:${f.teamId}`, preparation_deadline: '2027-03-20', meeting_from: '2027-03-21', meeting_to: '2027-04-30' });
    const roundId = /\/rounds\/([0-9a-f-]{36})/.exec(String(res.headers.location))?.[1] ?? '';
    const anchor = (await sys((trx) => trx.selectFrom('dialogues').select('group_id').where('round_id', '=', roundId).executeTakeFirstOrThrow())).group_id ?? '';
    const grus = await agent.get(`/dialogues/${anchor}`);
    expect(grus.statusCode).toBe(200);
    expect(grus.body).toContain('Du deltager som gruppens leder.');
    expect((await agent.post(`/dialogues/${anchor}/start`)).statusCode).toBe(303);
  });
});
