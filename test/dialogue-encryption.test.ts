/**
 * Dialogue free text is encrypted with the company's data key (issue 6, M16): answers to text
 * questions, meeting notes, the disagreement comment, agreements (title, description, progress)
 * and the reason of a request for an individual MUS are stored sealed, bound to their company,
 * table and row; the app shows them in clear to those who may read them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, createStaff, giveTotpFactor, PASSWORD, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn, type Agent } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { DecryptError, isSealedText, openText } from '../src/platform/crypto/envelope.ts';
import * as repo from '../src/modules/dialogues/dialogues.repository.ts';
import { totpCode } from '../src/platform/auth/totp.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const DAY = 86_400_000;
const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

const rawAnswer = (dialogueId: string, questionId: string, side: 'employee' | 'leader' | 'shared') =>
  sys((trx) => trx.selectFrom('dialogue_answers').selectAll().where('dialogue_id', '=', dialogueId).where('question_id', '=', questionId).where('side', '=', side).executeTakeFirstOrThrow());
const rawDialogue = (id: string) => sys((trx) => trx.selectFrom('dialogues').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
const rawAgreements = (dialogueId: string) => sys((trx) => trx.selectFrom('agreements').selectAll().where('dialogue_id', '=', dialogueId).orderBy('created_at').orderBy('id').execute());

function expectSealed(stored: string | null | undefined, plain: string) {
  expect(stored).toBeTypeOf('string');
  expect(stored!.startsWith('sx1:'), String(stored)).toBe(true);
  expect(isSealedText(stored!)).toBe(true);
  expect(stored).not.toContain(plain);
}

describe('M16 dialogue free text is sealed with the company key', () => {
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

  it('stores text answers sealed and scale answers in clear; the app shows the text; a conflict shows both texts', async () => {
    const saved = await employee.post(`/dialogues/${dialogueId}/answers`, { q_proud: 'Hemmelig stolthed om kurset', v_proud: '0', q_wellbeing: '4', v_wellbeing: '0' });
    expect(saved.statusCode).toBe(303);
    const proud = await rawAnswer(dialogueId, 'proud', 'employee');
    expectSealed(proud.value, 'Hemmelig stolthed');
    // Scale answers stay readable to the statistics' SQL.
    expect((await rawAnswer(dialogueId, 'wellbeing', 'employee')).value).toBe('4');
    expect((await employee.get(`/dialogues/${dialogueId}`)).body).toContain('Hemmelig stolthed om kurset');

    // The same text saved again from a stale tab is no conflict (compared opened, not sealed).
    expect((await employee.post(`/dialogues/${dialogueId}/answers`, { q_proud: 'Hemmelig stolthed om kurset', v_proud: '0' })).statusCode).toBe(303);
    expect((await rawAnswer(dialogueId, 'proud', 'employee')).version).toBe(1);
    // A different text from a stale tab: 409 with both texts in clear, nothing overwritten.
    const stale = await employee.post(`/dialogues/${dialogueId}/answers`, { q_proud: 'Tekst fra den anden fane', v_proud: '0' });
    expect(stale.statusCode).toBe(409);
    expect(stale.body).toContain('Hemmelig stolthed om kurset');
    expect(stale.body).toContain('Tekst fra den anden fane');
    expect((await rawAnswer(dialogueId, 'proud', 'employee')).value).toBe(proud.value);
    expect((await employee.post(`/dialogues/${dialogueId}/answers`, { q_proud: 'Tekst fra den anden fane', v_proud: '1' })).statusCode).toBe(303);
    const replaced = await rawAnswer(dialogueId, 'proud', 'employee');
    expectSealed(replaced.value, 'anden fane');
    expect(replaced.version).toBe(2);
    expect(await openText(f.companyId, 'dialogue_answers', `${dialogueId}/proud/employee`, replaced.value)).toBe('Tekst fra den anden fane');
  });

  it('seals meeting notes, agreements, progress notes and the disagreement comment; the app shows them', async () => {
    expect((await leader.post(`/dialogues/${dialogueId}/meeting`, { date: '2027-03-25', time: '10:00', place: 'Lokale 7' })).statusCode).toBe(303);
    expect((await leader.post(`/dialogues/${dialogueId}/start`)).statusCode).toBe(303);
    expect((await employee.post(`/dialogues/${dialogueId}/notes`, { notes: 'Noter om arbejdsglæde', version: '0' })).statusCode).toBe(303);
    const staleNotes = await leader.post(`/dialogues/${dialogueId}/notes`, { notes: 'Lederens andet udkast', version: '0' });
    expect(staleNotes.statusCode).toBe(409);
    expect(staleNotes.body).toContain('Noter om arbejdsglæde');
    expect(staleNotes.body).toContain('Lederens andet udkast');
    expectSealed((await rawDialogue(dialogueId)).notes_text, 'arbejdsglæde');

    expect((await employee.post(`/dialogues/${dialogueId}/answers`, { q_meeting_summary: 'Fælles hemmelig opsummering', v_meeting_summary: '0' })).statusCode).toBe(303);
    expectSealed((await rawAnswer(dialogueId, 'meeting_summary', 'shared')).value, 'opsummering');

    const made = await leader.post(`/dialogues/${dialogueId}/agreements`, { title: 'Lær krypteret facilitering', description: 'Inden efteråret', owner: 'employee', deadline: '2027-06-30', follow_up: '2027-09-01', status: 'open' });
    expect(made.statusCode).toBe(303);
    const agreement = (await rawAgreements(dialogueId)).find((a) => a.title_text.startsWith('sx1:'));
    expect(agreement).toBeDefined();
    expectSealed(agreement!.title_text, 'facilitering');
    expectSealed(agreement!.description_text, 'efteråret');

    expect((await leader.post(`/dialogues/${dialogueId}/finish`)).statusCode).toBe(303);
    expect((await employee.post(`/dialogues/${dialogueId}/sign`, { password: PASSWORD, disagreement: 'Uenig om den hemmelige arbejdsmængde' })).statusCode).toBe(303);
    expectSealed((await rawDialogue(dialogueId)).disagreement_text, 'arbejdsmængde');
    expect((await leader.post(`/dialogues/${dialogueId}/sign`, { password: PASSWORD })).statusCode).toBe(303);
    expect((await rawDialogue(dialogueId)).state).toBe('closed');

    expect((await employee.post(`/agreements/${agreement!.id}`, { status: 'in_progress', progress: 'Første hemmelige modul er taget' })).statusCode).toBe(303);
    const progressed = (await rawAgreements(dialogueId)).find((a) => a.id === agreement!.id)!;
    expectSealed(progressed.progress_text, 'modul');
    expect(progressed.title_text).toBe(agreement!.title_text);

    const page = await employee.get(`/dialogues/${dialogueId}`);
    expect(page.statusCode).toBe(200);
    for (const text of ['Tekst fra den anden fane', 'Noter om arbejdsglæde', 'Fælles hemmelig opsummering', 'Lær krypteret facilitering', 'Inden efteråret', 'Første hemmelige modul er taget', 'Uenig om den hemmelige arbejdsmængde']) {
      expect(page.body, text).toContain(text);
    }
    expect((await leader.get(`/dialogues/${dialogueId}`)).body).toContain('Lær krypteret facilitering');
    // The employee's agreement overview reads them opened too.
    expect((await employee.get('/dialogues')).body).toContain('Lær krypteret facilitering');
  });

  it('reads text written before encryption unchanged (no prefix: plaintext)', async () => {
    // createDialogue wrote an agreement in clear; add old-style notes to another dialogue too.
    const rows = await rawAgreements(dialogueId);
    const old = rows.find((a) => a.title_text === 'Kursus i projektledelse');
    expect(old).toBeDefined();
    const other = await createDialogue(t.deps, f);
    await sys(async (trx) => {
      await trx.updateTable('dialogues').set({ notes_text: 'Gamle noter i klartekst' }).where('id', '=', other.dialogueId).execute();
      await trx
        .insertInto('dialogue_answers')
        .values({ company_id: f.companyId, dialogue_id: other.dialogueId, question_id: 'proud', side: 'employee', value: 'Gammelt svar i klartekst', version: 1, updated_by: f.employee.employmentId, updated_at: t.clock.now() })
        .execute();
    });
    expect((await employee.get(`/dialogues/${dialogueId}`)).body).toContain('Kursus i projektledelse');
    const otherPage = await employee.get(`/dialogues/${other.dialogueId}`);
    expect(otherPage.statusCode).toBe(200);
    expect(otherPage.body).toContain('Gammelt svar i klartekst');
    expect(await sys((trx) => repo.readNotes(trx, other.dialogueId))).toMatchObject({ text: 'Gamle noter i klartekst' });
    // Writing it again seals it.
    expect((await employee.post(`/dialogues/${other.dialogueId}/answers`, { q_proud: 'Nyt svar', v_proud: '1' })).statusCode).toBe(303);
    expectSealed((await rawAnswer(other.dialogueId, 'proud', 'employee')).value, 'Nyt svar');
  });

  it('a sealed value copied into another row does not open: an error, never the other row’s text', async () => {
    const victim = (await rawAgreements(dialogueId)).find((a) => a.title_text.startsWith('sx1:'))!;
    // Another dialogue of the same company: copy the sealed title and an answer into it.
    const target = await createDialogue(t.deps, f);
    await sys(async (trx) => {
      await trx.updateTable('agreements').set({ title_text: victim.title_text }).where('id', '=', target.agreementId).execute();
    });
    await expect(sys((trx) => repo.readAgreement(trx, target.agreementId))).rejects.toBeInstanceOf(DecryptError);
    // Another table: the same ciphertext as the description of its own row does not open either.
    await sys((trx) => trx.updateTable('agreements').set({ title_text: 'Ren titel', description_text: victim.title_text }).where('id', '=', victim.id).execute());
    await expect(sys((trx) => repo.readAgreement(trx, victim.id))).rejects.toBeInstanceOf(DecryptError);
    // Another company: an answer sealed for this company, copied into another company's row.
    const g = await createCompany(t.deps);
    const foreign = await createDialogue(t.deps, g);
    const sealedAnswer = (await rawAnswer(dialogueId, 'proud', 'employee')).value;
    await sys((trx) =>
      trx
        .insertInto('dialogue_answers')
        .values({ company_id: g.companyId, dialogue_id: foreign.dialogueId, question_id: 'proud', side: 'employee', value: sealedAnswer, version: 1, updated_by: g.employee.employmentId, updated_at: t.clock.now() })
        .execute(),
    );
    await expect(sys((trx) => repo.readAnswers(trx, foreign.dialogueId))).rejects.toBeInstanceOf(DecryptError);
    // Through the app: the page fails with an error and never shows the copied text.
    const page = await employee.get(`/dialogues/${target.dialogueId}`);
    expect(page.statusCode).toBeGreaterThanOrEqual(400);
    expect(page.body).not.toContain('Lær krypteret facilitering');
    const foreignEmployee = await loggedIn(t.app, g.employee.email);
    const foreignPage = await foreignEmployee.get(`/dialogues/${foreign.dialogueId}`);
    expect(foreignPage.statusCode).toBeGreaterThanOrEqual(400);
    expect(foreignPage.body).not.toContain('Tekst fra den anden fane');
    // Put the victim back for the next test.
    await sys((trx) => trx.updateTable('agreements').set({ title_text: victim.title_text, description_text: victim.description_text }).where('id', '=', victim.id).execute());
    await sys((trx) => trx.deleteFrom('agreements').where('id', '=', target.agreementId).execute());
  });

  it('carries an open agreement into next year’s round: opened, sealed again for its new row', async () => {
    const before = (await rawAgreements(dialogueId)).find((a) => a.title_text.startsWith('sx1:'))!;
    t.clock.advance(300 * DAY);
    const leader2 = await loggedIn(t.app, f.leader.email);
    const employee2 = await loggedIn(t.app, f.employee.email);
    const round = await leader2.post('/rounds', { name: 'MUS 2028', form: 'builtin:mus-da', target: `team:${f.teamId}`, preparation_deadline: '2028-01-20', meeting_from: '2028-01-21', meeting_to: '2028-02-28' });
    expect(round.statusCode, round.body.slice(0, 2000)).toBe(303);
    const next = await sys((trx) =>
      trx.selectFrom('dialogues').selectAll().where('company_id', '=', f.companyId).where('employee_employment_id', '=', f.employee.employmentId).orderBy('created_at', 'desc').executeTakeFirstOrThrow(),
    );
    expect(next.id).not.toBe(dialogueId);
    const carried = (await rawAgreements(next.id)).find((a) => a.carried_from === before.id);
    expect(carried).toBeDefined();
    expectSealed(carried!.title_text, 'facilitering');
    // Not a copy of the old ciphertext: sealed for the new row id.
    expect(carried!.title_text).not.toBe(before.title_text);
    expect(await openText(f.companyId, 'agreements.title', carried!.id, carried!.title_text)).toBe('Lær krypteret facilitering');
    const page = await employee2.get(`/dialogues/${next.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Lær krypteret facilitering');
    expect(page.body).toContain('Første hemmelige modul er taget');
  });
});

describe('M16 the reason of a request for an individual MUS is sealed', () => {
  it('stores it sealed with the request id and reads it back opened', async () => {
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    const id = randomUUID();
    await sys((trx) =>
      repo.insertMusRequest(trx, { id, company_id: f.companyId, grus_dialogue_id: dialogueId, employee_employment_id: f.employee.employmentId, reason_text: 'Hemmelig grund til samtale', created_at: t.clock.now() }),
    );
    const raw = await sys((trx) => trx.selectFrom('mus_requests').select('reason_text').where('id', '=', id).executeTakeFirstOrThrow());
    expectSealed(raw.reason_text, 'Hemmelig grund');
    expect(await sys((trx) => repo.findOpenMusRequest(trx, dialogueId))).toMatchObject({ id, reason_text: 'Hemmelig grund til samtale' });
    expect((await sys((trx) => repo.listMusRequests(trx, [dialogueId])))[0]?.reason_text).toBe('Hemmelig grund til samtale');
  });
});

describe('M16 support with consent reads the sealed text (the key store is outside the database)', () => {
  it('shows support the opened answer, notes, agreement and comment', async () => {
    const staff = await createStaff(t.deps);
    const f = await createCompany(t.deps);
    const { dialogueId } = await createDialogue(t.deps, f);
    const employee = await loggedIn(t.app, f.employee.email);
    expect((await employee.post(`/dialogues/${dialogueId}/answers`, { q_proud: 'Stolthed support må læse', v_proud: '0' })).statusCode).toBe(303);
    const agreementId = randomUUID();
    await sys(async (trx) => {
      await repo.insertAgreement(trx, { id: agreementId, company_id: f.companyId, dialogue_id: dialogueId, employee_employment_id: f.employee.employmentId, carried_from: null, title_text: 'Forseglet aftaletitel', description_text: 'Forseglet beskrivelse', owner: 'employee', deadline: null, follow_up: null, status: 'open', progress_text: '', at: t.clock.now() });
      await repo.writeNotes(trx, dialogueId, 'Forseglede mødenoter', 0);
      await repo.writeDisagreement(trx, dialogueId, 'Forseglet uenighed');
    });
    expectSealed((await rawDialogue(dialogueId)).notes_text, 'mødenoter');
    expectSealed((await rawDialogue(dialogueId)).disagreement_text, 'uenighed');
    const admin = await loggedIn(t.app, f.admin.email);
    const secret = await giveTotpFactor(t.deps, f.admin.userId);
    await admin.get('/org/settings/support');
    await admin.post('/org/settings/support/consent', { allow: '1', reason: 'Checking sealed text', hours: '24', code: totpCode(secret, t.clock.now()) });
    const s = await loggedIn(t.app, staff.email);
    await s.post(`/staff/companies/${f.companyId}/enter`);
    const read = await s.get(`/support/dialogues/${dialogueId}`);
    expect(read.statusCode).toBe(200);
    for (const text of ['Stolthed support må læse', 'Forseglet aftaletitel', 'Forseglet beskrivelse', 'Forseglede mødenoter', 'Forseglet uenighed']) expect(read.body, text).toContain(text);
    expect(read.body).not.toContain('sx1:');
  });
});
