/**
 * Attachments on dialogues and agreements (issue 7) through the real app, a real database and,
 * for the scans, a real clamd. P2: files arrive only through the uploader; P5: scanned before
 * anyone can open them; M8: only the dialogue's participants reach them (admins without access
 * and other companies get 404); M14: every download is a "viewed by" row and an audit event.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, type CompanyFixture, type DialogueFixture } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { clamdAddress, createAvailableDialogueFile, EICAR, pdf, upload } from './helpers/files.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import type { AppDeps } from '../src/platform/deps.ts';

const clamd = clamdAddress();
if (!clamd) console.warn('SKIPPED the clamd tests in test/attachments.test.ts: no clamd (run scripts/clamd.sh start, or npm test)');

async function dialogueFiles(deps: AppDeps, dialogueId: string) {
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const files = await trx.selectFrom('files').selectAll().where('dialogue_id', '=', dialogueId).orderBy('created_at').orderBy('name').execute();
    const chunks = await trx.selectFrom('file_chunks').select('file_id').where('file_id', 'in', files.length > 0 ? files.map((f) => f.id) : ['00000000-0000-4000-8000-000000000000']).execute();
    return { files, chunkFileIds: new Set(chunks.map((c) => c.file_id)) };
  });
}

async function auditOf(deps: AppDeps, objectId: string) {
  return unsafeSystemTransaction(deps.database, (trx) => trx.selectFrom('audit_events').select(['event_type', 'actor_user_id', 'data']).where('object_id', '=', objectId).execute());
}

async function closeDialogue(deps: AppDeps, dialogueId: string) {
  await unsafeSystemTransaction(deps.database, (trx) => trx.updateTable('dialogues').set({ state: 'closed' }).where('id', '=', dialogueId).execute());
}

describe.skipIf(!clamd)('P2 P5 M14 dialogue attachments with a real clamd', () => {
  let t: TestApp;
  let f: CompanyFixture;
  let d: DialogueFixture;
  beforeAll(async () => {
    t = await createTestApp({ CLAMD_HOST: clamd?.host ?? '', CLAMD_PORT: clamd?.port ?? '' });
    f = await createCompany(t.deps);
    d = await createDialogue(t.deps, f);
  });
  afterAll(async () => t?.close());

  it('P2 P5 M14 a clean PDF from the employee is available after the scan, downloaded by the leader, and the download is a viewed-by row and an audit event', async () => {
    const employee = await loggedIn(t.app, f.employee.email);
    await employee.get(`/dialogues/${d.dialogueId}`);
    const res = await upload(employee, [{ name: 'kursusbevis.pdf', data: pdf('clean') }], { url: `/dialogues/${d.dialogueId}/attachments` });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('kursusbevis.pdf: modtaget og virusscannet');
    const file = (await dialogueFiles(t.deps, d.dialogueId)).files.find((x) => x.name === 'kursusbevis.pdf');
    expect(file?.state).toBe('available');
    expect(file?.purpose).toBe('dialogue');
    expect(file?.agreement_id).toBeNull();

    const leader = await loggedIn(t.app, f.leader.email);
    const page = await leader.get(`/dialogues/${d.dialogueId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('id="attachments-h"');
    expect(page.body).toContain(`/attachments/${file?.id}/download`);
    expect(page.body).toContain(f.employee.name);
    expect(page.body).toContain('1 af højst 20 filer er vedhæftet.');

    const dl = await leader.get(`/attachments/${file?.id}/download`);
    expect(dl.statusCode).toBe(200);
    expect(dl.rawPayload.equals(pdf('clean'))).toBe(true);
    expect(dl.headers['content-disposition']).toMatch(/^attachment; /);
    expect(dl.headers['x-content-type-options']).toBe('nosniff');
    expect(dl.headers['content-security-policy']).toBe("sandbox; default-src 'none'");
    expect(dl.headers['content-type']).toBe('application/pdf');

    const views = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('document_views').select(['viewer_user_id', 'viewer_role']).where('object_type', '=', 'file').where('object_id', '=', file?.id ?? '').execute(),
    );
    expect(views).toEqual([{ viewer_user_id: f.leader.userId, viewer_role: 'leader' }]);
    const events = await auditOf(t.deps, file?.id ?? '');
    expect(events.map((e) => e.event_type).sort()).toEqual(['files.available', 'files.downloaded', 'files.uploaded']);
    const downloaded = events.find((e) => e.event_type === 'files.downloaded');
    expect(downloaded?.actor_user_id).toBe(f.leader.userId);
    expect(downloaded?.data).toMatchObject({ dialogueId: d.dialogueId });

    // The "downloaded by" column of the attachment names the leader.
    const list = await employee.get(`/dialogues/${d.dialogueId}/attachments`);
    expect(list.body).toContain(`${f.leader.name} (`);
  });

  it('P5 EICAR is refused, its content deleted, and it is listed as refused, never downloadable', async () => {
    const employee = await loggedIn(t.app, f.employee.email);
    await employee.get(`/dialogues/${d.dialogueId}`);
    const res = await upload(employee, [{ name: 'virus.txt', data: EICAR }], { url: `/dialogues/${d.dialogueId}/attachments` });
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('virus.txt: afvist');
    const { files, chunkFileIds } = await dialogueFiles(t.deps, d.dialogueId);
    const file = files.find((x) => x.name === 'virus.txt');
    expect(file?.state).toBe('infected');
    expect(chunkFileIds.has(file?.id ?? '')).toBe(false);
    const page = await employee.get(`/dialogues/${d.dialogueId}/attachments`);
    expect(page.body).toContain('Afvist (virus fundet)');
    expect(page.body).not.toContain(`/attachments/${file?.id}/download`);
    expect((await employee.get(`/attachments/${file?.id}/download`)).statusCode).toBe(409);
  });

  it('P2 P5 a file attached to an agreement is scanned and shown with that agreement', async () => {
    const leader = await loggedIn(t.app, f.leader.email);
    await leader.get(`/dialogues/${d.dialogueId}`);
    const res = await upload(leader, [{ name: 'kursusplan.pdf', data: pdf('plan') }], { url: `/agreements/${d.agreementId}/attachments` });
    expect(res.statusCode).toBe(200);
    const file = (await dialogueFiles(t.deps, d.dialogueId)).files.find((x) => x.name === 'kursusplan.pdf');
    expect(file?.agreement_id).toBe(d.agreementId);
    expect(file?.state).toBe('available');
    const page = await leader.get(`/dialogues/${d.dialogueId}`);
    const article = page.body.slice(page.body.indexOf(`id="agreement-${d.agreementId}"`), page.body.indexOf('</article>', page.body.indexOf(`id="agreement-${d.agreementId}"`)));
    expect(article).toContain(`/attachments/${file?.id}/download`);
    expect(article).toContain(`action="/agreements/${d.agreementId}/attachments"`);
    const employee = await loggedIn(t.app, f.employee.email);
    expect((await employee.get(`/attachments/${file?.id}/download`)).statusCode).toBe(200);
  });
});

describe('P2 M8 dialogue attachments: limits, closed dialogues and who reaches them', () => {
  let t: TestApp;
  let f: CompanyFixture;
  let other: CompanyFixture;
  beforeAll(async () => {
    // No scanner: uploads wait (fail closed), which is all these tests need.
    t = await createTestApp({ UPLOAD_MAX_FILES_PER_DIALOGUE: '2' });
    f = await createCompany(t.deps);
    other = await createCompany(t.deps);
  });
  afterAll(async () => t?.close());

  it('P2 the per-dialogue limit refuses files beyond it and is shown on the page; waiting files are not downloadable (P5)', async () => {
    const d = await createDialogue(t.deps, f);
    const employee = await loggedIn(t.app, f.employee.email);
    const before = await employee.get(`/dialogues/${d.dialogueId}`);
    expect(before.body).toContain('0 af højst 2 filer er vedhæftet.');
    const res = await upload(employee, [{ name: 'a.pdf', data: pdf('a') }, { name: 'b.pdf', data: pdf('b') }, { name: 'c.pdf', data: pdf('c') }], { url: `/dialogues/${d.dialogueId}/attachments` });
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('c.pdf: afvist. Samtalen har allerede 2 vedhæftede filer');
    const { files } = await dialogueFiles(t.deps, d.dialogueId);
    expect(files.map((x) => x.name).sort()).toEqual(['a.pdf', 'b.pdf']);
    expect(files.every((x) => x.state === 'waiting')).toBe(true);
    const page = await employee.get(`/dialogues/${d.dialogueId}`);
    expect(page.body).toContain('2 af højst 2 filer er vedhæftet.');
    expect(page.body).not.toContain(`action="/dialogues/${d.dialogueId}/attachments"`);
    expect((await employee.get(`/attachments/${files[0]?.id}/download`)).statusCode).toBe(409);
  });

  it('P2 a closed dialogue refuses new attachments with 409, but its files can still be read and downloaded', async () => {
    const d = await createDialogue(t.deps, f);
    const fileId = await createAvailableDialogueFile(t.deps, f, d.dialogueId);
    await closeDialogue(t.deps, d.dialogueId);
    const leader = await loggedIn(t.app, f.leader.email);
    const page = await leader.get(`/dialogues/${d.dialogueId}`);
    expect(page.body).toContain('Samtalen er afsluttet: der kan ikke vedhæftes flere filer');
    expect(page.body).not.toContain(`action="/dialogues/${d.dialogueId}/attachments"`);
    const res = await upload(leader, [{ name: 'sent.pdf', data: pdf() }], { url: `/dialogues/${d.dialogueId}/attachments` });
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('Samtalen er afsluttet, så der kan ikke vedhæftes flere filer.');
    expect((await upload(leader, [{ name: 'sent.pdf', data: pdf() }], { url: `/agreements/${d.agreementId}/attachments` })).statusCode).toBe(409);
    expect((await dialogueFiles(t.deps, d.dialogueId)).files.map((x) => x.name)).toEqual(['attachment.pdf']);
    expect((await leader.get(`/attachments/${fileId}/download`)).statusCode).toBe(200);
  });

  it('M8 a company admin without access to the dialogue gets 404 for its attachments, its upload and its files', async () => {
    const d = await createDialogue(t.deps, f);
    const fileId = await createAvailableDialogueFile(t.deps, f, d.dialogueId, d.agreementId);
    const admin = await loggedIn(t.app, f.admin.email);
    expect((await admin.get(`/dialogues/${d.dialogueId}/attachments`)).statusCode).toBe(404);
    const dl = await admin.get(`/attachments/${fileId}/download`);
    expect(dl.statusCode).toBe(404);
    expect(dl.body).not.toContain('attachment.pdf');
    expect((await upload(admin, [{ name: 'x.pdf', data: pdf() }], { url: `/dialogues/${d.dialogueId}/attachments` })).statusCode).toBe(404);
    expect((await upload(admin, [{ name: 'x.pdf', data: pdf() }], { url: `/agreements/${d.agreementId}/attachments` })).statusCode).toBe(404);
    // Nor does the admin's inbox list a dialogue's files.
    expect((await admin.get('/inbox')).body).not.toContain('attachment.pdf');
    const views = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('document_views').select('id').where('object_id', '=', fileId).execute());
    expect(views).toEqual([]);
    expect((await dialogueFiles(t.deps, d.dialogueId)).files).toHaveLength(1);
  });

  it('M8 M14 a delegate with the dialogue access (dialog_access_edp on the team) attaches and downloads as the leader side', async () => {
    const d = await createDialogue(t.deps, f);
    const fileId = await createAvailableDialogueFile(t.deps, f, d.dialogueId);
    const member = await loggedIn(t.app, f.member.email);
    expect((await member.get(`/attachments/${fileId}/download`)).statusCode).toBe(404);
    await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.insertInto('delegations').values({ id: randomUUID(), company_id: f.companyId, employment_id: f.member.employmentId, responsibility: 'dialog_access_edp', team_id: f.teamId, department_id: null }).execute(),
    );
    expect((await member.get(`/attachments/${fileId}/download`)).statusCode).toBe(200);
    const views = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('document_views').select(['viewer_user_id', 'viewer_role']).where('object_id', '=', fileId).execute());
    expect(views).toEqual([{ viewer_user_id: f.member.userId, viewer_role: 'delegate' }]);
    await member.get(`/dialogues/${d.dialogueId}`);
    expect((await upload(member, [{ name: 'notat.pdf', data: pdf() }], { url: `/dialogues/${d.dialogueId}/attachments` })).statusCode).toBe(200);
  });

  it('M8 another company gets 404 for the dialogue attachments and the file', async () => {
    const d = await createDialogue(t.deps, f);
    const fileId = await createAvailableDialogueFile(t.deps, f, d.dialogueId);
    for (const email of [other.admin.email, other.employee.email, other.leader.email]) {
      const agent = await loggedIn(t.app, email);
      expect((await agent.get(`/dialogues/${d.dialogueId}/attachments`)).statusCode).toBe(404);
      expect((await agent.get(`/attachments/${fileId}/download`)).statusCode).toBe(404);
      expect((await upload(agent, [{ name: 'x.pdf', data: pdf() }], { url: `/dialogues/${d.dialogueId}/attachments` })).statusCode).toBe(404);
    }
  });

  it('M8 an attachment can only point at an agreement of its own dialogue (composite foreign key)', async () => {
    const d1 = await createDialogue(t.deps, f);
    const d2 = await createDialogue(t.deps, f);
    await expect(createAvailableDialogueFile(t.deps, f, d1.dialogueId, d2.agreementId)).rejects.toThrow();
    const o = await createDialogue(t.deps, other);
    await expect(createAvailableDialogueFile(t.deps, f, o.dialogueId)).rejects.toThrow();
  });

  it('P2 a participant upload without files, or not multipart, is 422, never 5xx', async () => {
    const d = await createDialogue(t.deps, f);
    const employee = await loggedIn(t.app, f.employee.email);
    await employee.get(`/dialogues/${d.dialogueId}`);
    expect((await employee.post(`/dialogues/${d.dialogueId}/attachments`, {})).statusCode).toBe(422);
    expect((await upload(employee, [], { url: `/dialogues/${d.dialogueId}/attachments` })).statusCode).toBe(422);
    expect((await employee.get('/attachments/not-a-uuid/download')).statusCode).toBe(404);
  });
});
