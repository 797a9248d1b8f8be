/**
 * M15: the leader's archive. Dialogues of employees who left stay readable, read-only, to the
 * current responsible leader of the former team (or a delegate with dialog_access_edp on it) and
 * to nobody else, until the retention runner purges them five years after the firing. The archive
 * relies only on employments (name, team, fired_at) and the dialogue tables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, createPerson, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { formatDate } from '../src/platform/i18n/i18n.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

/** A closed, signed MUS with an answer and an agreement, whose employee has then been fired by the admin. */
async function archivedDialogue(f: CompanyFixture) {
  const { dialogueId, agreementId } = await createDialogue(t.deps, f);
  const now = t.clock.now();
  await sys(async (trx) => {
    await trx.updateTable('dialogues').set({ state: 'closed', notes_text: 'Arkivets mødenoter', notes_version: 1 }).where('id', '=', dialogueId).execute();
    await trx.insertInto('dialogue_answers').values({ company_id: f.companyId, dialogue_id: dialogueId, question_id: 'wellbeing', side: 'employee', value: '4', version: 1, updated_by: f.employee.employmentId, updated_at: now }).execute();
    await trx
      .insertInto('dialogue_signatures')
      .values([
        { company_id: f.companyId, dialogue_id: dialogueId, side: 'employee', employment_id: f.employee.employmentId, signed_at: now },
        { company_id: f.companyId, dialogue_id: dialogueId, side: 'leader', employment_id: f.leader.employmentId, signed_at: now },
      ])
      .execute();
  });
  const admin = await loggedIn(t.app, f.admin.email);
  await admin.get(`/org/employees/${f.employee.employmentId}`);
  expect((await admin.post(`/org/employees/${f.employee.employmentId}/fire`)).statusCode).toBe(303);
  return { dialogueId, agreementId, admin };
}

describe('M15 the leader’s archive of people who left', () => {
  it('lists the dialogue for the responsible leader with name, type, year and purge date, and shows it read-only', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId, agreementId } = await archivedDialogue(f);
    const firedAt = (await sys((trx) => trx.selectFrom('employments').select('fired_at').where('id', '=', f.employee.employmentId).executeTakeFirstOrThrow())).fired_at as Date;
    const purge = new Date(firedAt.getTime());
    purge.setUTCFullYear(purge.getUTCFullYear() + 5);

    const leader = await loggedIn(t.app, f.leader.email);
    const archive = await leader.get('/archive');
    expect(archive.statusCode).toBe(200);
    expect(archive.body).toContain(f.employee.name);
    expect(archive.body).toContain('<td>MUS</td>');
    expect(archive.body).toContain('<td>2027</td>');
    expect(archive.body).toContain(formatDate('da', new Date(`${purge.toISOString().slice(0, 10)}T12:00:00Z`)));
    expect(archive.headers['cache-control']).toContain('no-store');
    // The overview links the archive, and the person is no longer among the led dialogues.
    const overview = await leader.get('/dialogues');
    expect(overview.body).toContain('href="/archive"');
    expect(overview.body).not.toContain(`href="/dialogues/${dialogueId}"`);

    const page = await leader.get(`/dialogues/${dialogueId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Medarbejderen er fratrådt. Samtalen ligger i lederens arkiv');
    expect(page.body).toContain('Arkivets mødenoter');
    expect(page.body).toContain('Kursus i projektledelse');
    expect(page.body).toContain('4 –');
    expect(page.body).toContain('skrev under');
    // Read-only: no forms to change anything, no uploads.
    for (const action of ['/answers', '/notes', '/reopen', '/nudge', '/attachments', `/agreements/${agreementId}"`]) expect(page.body, action).not.toContain(`action="/dialogues/${dialogueId}${action}`);
    expect(page.body).not.toContain(`action="/agreements/${agreementId}"`);
    expect(page.body).not.toContain('type="file"');
    // Every write is refused with a clear message, nothing changes.
    const reopen = await leader.post(`/dialogues/${dialogueId}/reopen`);
    expect(reopen.statusCode).toBe(409);
    expect(reopen.body).toContain('Medarbejderen er fratrådt. Samtalen ligger i arkivet og kan kun læses.');
    expect((await leader.post(`/agreements/${agreementId}`, { status: 'done', progress: 'x' })).statusCode).toBe(409);
    expect((await leader.post(`/dialogues/${dialogueId}/notes`, { notes: 'ny', version: '1' })).statusCode).toBe(409);
    const row = await sys((trx) => trx.selectFrom('dialogues').select(['state', 'notes_text']).where('id', '=', dialogueId).executeTakeFirstOrThrow());
    expect(row).toEqual({ state: 'closed', notes_text: 'Arkivets mødenoter' });
    // M14: the read is in "viewed by" as every dialogue read is.
    const views = await sys((trx) => trx.selectFrom('document_views').select(['viewer_user_id', 'viewer_role']).where('object_id', '=', dialogueId).execute());
    expect(views).toEqual(expect.arrayContaining([{ viewer_user_id: f.leader.userId, viewer_role: 'leader' }]));
  });

  it('nobody else reads it: not the admin, not a colleague, not the old leader once replaced; the new leader and an edp delegate do', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId, admin } = await archivedDialogue(f);
    expect((await admin.get(`/dialogues/${dialogueId}`)).statusCode).toBe(404);
    expect((await admin.get('/archive')).body).not.toContain(f.employee.name);
    const colleague = await loggedIn(t.app, f.colleague.email);
    expect((await colleague.get(`/dialogues/${dialogueId}`)).statusCode).toBe(404);
    const delegateAgent = await loggedIn(t.app, f.delegate.email);
    expect((await delegateAgent.get(`/dialogues/${dialogueId}`)).statusCode).toBe(404);

    // A new team owner: the archive moves with the responsibility.
    const newLeader = await createPerson(t.deps, f, { label: 'nyleder' });
    const teamName = (await sys((trx) => trx.selectFrom('teams').select('name').where('id', '=', f.teamId).executeTakeFirstOrThrow())).name;
    await admin.get(`/org/teams/${f.teamId}`);
    expect((await admin.post(`/org/teams/${f.teamId}`, { name: teamName, department_id: f.departmentId, owner_employment_id: newLeader.employmentId })).statusCode).toBe(303);
    const oldLeader = await loggedIn(t.app, f.leader.email);
    expect((await oldLeader.get(`/dialogues/${dialogueId}`)).statusCode).toBe(404);
    expect((await oldLeader.get('/archive')).body).not.toContain(f.employee.name);
    const incoming = await loggedIn(t.app, newLeader.email);
    expect((await incoming.get('/archive')).body).toContain(f.employee.name);
    expect((await incoming.get(`/dialogues/${dialogueId}`)).statusCode).toBe(200);

    // A delegate with the dialogue access for the former team reads it too.
    await sys((trx) => trx.insertInto('delegations').values({ id: randomUUID(), company_id: f.companyId, employment_id: f.delegate.employmentId, responsibility: 'dialog_access_edp', team_id: f.teamId, department_id: null }).execute());
    expect((await delegateAgent.get('/archive')).body).toContain(f.employee.name);
    expect((await delegateAgent.get(`/dialogues/${dialogueId}`)).statusCode).toBe(200);
  });

  it('still works once the login identity is purged (only the employment row remains)', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await archivedDialogue(f);
    // What the retention runner does 14 days after the firing (issue #6): keep the name on the
    // employment, drop the login identity.
    await sys(async (trx) => {
      await trx.updateTable('employments').set({ display_name: f.employee.name }).where('id', '=', f.employee.employmentId).execute();
      await sql`update employments set purged_at = now(), user_id = null where id = ${f.employee.employmentId}`.execute(trx);
      await trx.deleteFrom('users').where('id', '=', f.employee.userId).execute();
    });
    const leader = await loggedIn(t.app, f.leader.email);
    expect((await leader.get('/archive')).body).toContain(f.employee.name);
    const page = await leader.get(`/dialogues/${dialogueId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(f.employee.name);
    expect(page.body).toContain('Kursus i projektledelse');
  });
});
