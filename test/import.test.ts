/**
 * The employee import (issue 7) through the real app, a real database and a real clamd. P2: the
 * list arrives only through the uploader; P5: nothing of it is read before clamd called it clean
 * (fail closed); M8: only the organisation's managers reach an import, and only their company's.
 * The CPR rule: a file with anything shaped like a CPR number or personnummer is refused whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { clamdAddress, EICAR } from './helpers/files.ts';
import { csv, uploadImport, xlsx } from './helpers/import.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { containsCpr, looksLikeCpr } from '../src/modules/import/import.parse.ts';
import type { AppDeps } from '../src/platform/deps.ts';

const clamd = clamdAddress();
if (!clamd) console.warn('SKIPPED the clamd tests in test/import.test.ts: no clamd (run scripts/clamd.sh start, or npm test)');

const HEADER = ['Navn', 'E-mail', 'Titel', 'Team', 'Leder'];
const email = (tag: string) => `${tag}-${Math.random().toString(36).slice(2, 10)}@example.test`;

async function stateOf(deps: AppDeps, companyId: string, given: string[]) {
  const emails = given.length > 0 ? given : ['nobody@example.test'];
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const employed = await trx
      .selectFrom('employments as e')
      .innerJoin('users as u', 'u.id', 'e.user_id')
      .select(['u.email', 'e.role', 'e.team_id', 'e.title'])
      .where('e.company_id', '=', companyId)
      .where('u.email', 'in', emails)
      .execute();
    const mails = await trx.selectFrom('mail_outbox').select(['recipient', 'template']).where('recipient', 'in', emails).execute();
    const files = await trx.selectFrom('files').select(['id', 'state']).where('company_id', '=', companyId).execute();
    const chunks = await trx.selectFrom('file_chunks').select('file_id').where('company_id', '=', companyId).execute();
    const imports = await trx.selectFrom('employee_imports').selectAll().where('company_id', '=', companyId).execute();
    const events = await trx.selectFrom('audit_events').select(['event_type', 'object_id', 'data']).where('company_id', '=', companyId).execute();
    return { employed, mails, files, chunks, imports, events };
  });
}

async function teamName(deps: AppDeps, teamId: string): Promise<string> {
  const row = await unsafeSystemTransaction(deps.database, (trx) => trx.selectFrom('teams').select('name').where('id', '=', teamId).executeTakeFirstOrThrow());
  return row.name;
}

const importIdOf = (location: unknown) => /^\/org\/import\/([0-9a-f-]{36})$/.exec(String(location))?.[1] ?? 'none';

describe('the CPR rule (pure)', () => {
  it('recognises Danish CPR numbers and Swedish personnummer, and leaves other numbers alone', () => {
    for (const v of ['010190-1234', '0101901234', 'cpr 311289-4321', '290200-1234', '19900101-1234', '900101-1234', '199001011234', '900161-1234']) expect(looksLikeCpr(v), v).toBe(true);
    for (const v of ['12345678', '+45 12 34 56 78', '321390-1234', '011390-1234', '2024-01-01', '123', '12345678901234', 'Team 4']) expect(looksLikeCpr(v), v).toBe(false);
    expect(containsCpr([[['Navn', 'CPR-nr.'], ['A', '']]])).toBe(true);
    expect(containsCpr([[['Namn', 'Personnummer'], ['A', '']]])).toBe(true);
    expect(containsCpr([[['Navn', 'E-mail'], ['A', 'a@example.test']]])).toBe(false);
  });
});

describe.skipIf(!clamd)('P2 P5 M8 employee import through the uploader', () => {
  let t: TestApp;
  let f: CompanyFixture;
  beforeAll(async () => {
    t = await createTestApp({ CLAMD_HOST: clamd?.host ?? '', CLAMD_PORT: clamd?.port ?? '' });
    f = await createCompany(t.deps);
  });
  afterAll(async () => t?.close());

  it('P2 P5 a CSV is scanned, previewed, applied in one go with invitations, and the file is deleted', async () => {
    const admin = await loggedIn(t.app, f.admin.email);
    const employees = await admin.get('/org/employees');
    expect(employees.body).toContain('href="/org/import"');
    expect((await admin.get('/org/import')).statusCode).toBe(200);
    const a = email('anna');
    const b = email('bo');
    const name = await teamName(t.deps, f.teamId);
    const res = await uploadImport(admin, 'medarbejdere.csv', csv([HEADER, ['Anna Ås', a, 'Udvikler', name.toUpperCase(), 'nej'], ['Bo Bæk', b, '', f.otherTeamId, 'ja']]));
    expect(res.statusCode).toBe(303);
    const id = importIdOf(res.headers.location);
    const preview = await admin.get(`/org/import/${id}`);
    expect(preview.statusCode).toBe(200);
    expect(preview.body).toContain('Anna Ås');
    expect(preview.body).toContain('2 rækker er klar til import.');
    expect(preview.body).toContain(`action="/org/import/${id}/apply"`);
    // Nothing is created by looking.
    expect((await stateOf(t.deps, f.companyId, [a, b])).employed).toHaveLength(0);

    const applied = await admin.post(`/org/import/${id}/apply`, {});
    expect(applied.statusCode).toBe(303);
    expect(applied.headers.location).toBe('/org/import?done=2');
    expect((await admin.get('/org/import?done=2')).body).toContain('2 medarbejdere er oprettet og inviteret. Filen er slettet.');

    const s = await stateOf(t.deps, f.companyId, [a, b]);
    expect(s.employed.map((e) => [e.email, e.role, e.team_id, e.title]).sort()).toEqual(
      [
        [a, 'employee', f.teamId, 'Udvikler'],
        [b, 'leader', f.otherTeamId, ''],
      ].sort(),
    );
    expect(s.mails.map((m) => m.recipient).sort()).toEqual([a, b].sort());
    expect(new Set(s.mails.map((m) => m.template)).size).toBe(1);
    const imp = s.imports.find((x) => x.id === id);
    expect(imp?.state).toBe('applied');
    expect(imp?.file_id).toBeNull();
    const applyEvent = s.events.find((e) => e.event_type === 'import.applied' && e.object_id === id);
    const fileId = (applyEvent?.data as { fileId?: string } | undefined)?.fileId ?? '';
    expect(fileId).toMatch(/^[0-9a-f-]{36}$/);
    // The file's content and row are gone; the audit trail says what happened.
    expect(s.files.some((x) => x.id === fileId)).toBe(false);
    expect(s.chunks.some((x) => x.file_id === fileId)).toBe(false);
    expect(s.events.filter((e) => e.event_type === 'org.employee.created')).toHaveLength(2);
    expect(s.events.some((e) => e.event_type === 'files.available' && e.object_id === fileId)).toBe(true);
    // Applied once only.
    expect((await admin.post(`/org/import/${id}/apply`, {})).statusCode).toBe(404);
  });

  it('P2 an XLSX is read the same way', async () => {
    const g = await createCompany(t.deps);
    const admin = await loggedIn(t.app, g.admin.email);
    const c = email('cecilie');
    const res = await uploadImport(admin, 'people.xlsx', xlsx([['Name', 'Email', 'Title', 'Team', 'Leader'], ['Cecilie', c, 'HR', g.otherTeamId, 'no']]));
    expect(res.statusCode).toBe(303);
    const id = importIdOf(res.headers.location);
    expect((await admin.get(`/org/import/${id}`)).body).toContain('1 rækker er klar til import.');
    expect((await admin.post(`/org/import/${id}/apply`, {})).statusCode).toBe(303);
    const s = await stateOf(t.deps, g.companyId, [c]);
    expect(s.employed.map((e) => e.role)).toEqual(['employee']);
    expect(s.mails.map((m) => m.recipient)).toEqual([c]);
    expect(s.chunks).toHaveLength(0);
  });

  it('P2 every row problem is listed, in the user\'s language, and blocks the whole import: nothing is created', async () => {
    const g = await createCompany(t.deps);
    const admin = await loggedIn(t.app, g.admin.email);
    const ok = email('ok');
    const dup = email('dup');
    const rows = [
      HEADER,
      ['Ok Person', ok, '', g.teamId, ''],
      ['', email('noname'), '', g.teamId, 'nej'],
      ['Bad Mail', 'not-an-email', '', g.teamId, 'nej'],
      ['Lost', email('lost'), '', 'No such team', 'nej'],
      ['Here Already', g.employee.email, '', g.teamId, 'nej'],
      ['Dup One', dup, '', g.teamId, 'nej'],
      ['Dup Two', dup.toUpperCase(), '', g.teamId, 'nej'],
      ['Maybe', email('maybe'), '', g.teamId, 'måske'],
    ];
    const id = importIdOf((await uploadImport(admin, 'fejl.csv', csv(rows))).headers.location);
    const preview = await admin.get(`/org/import/${id}`);
    expect(preview.statusCode).toBe(200);
    for (const text of ['Navn mangler.', 'E-mailadressen er ugyldig.', 'Teamet findes ikke', 'Personen er allerede ansat i virksomheden.', 'Samme e-mail står på række 7.', 'Lederfeltet skal være ja eller nej.', '6 rækker har problemer.'])
      expect(preview.body).toContain(text);
    expect(preview.body).not.toContain('/apply"');
    await admin.post('/settings/language', { language: 'en' });
    const english = await admin.get(`/org/import/${id}`);
    expect(english.body).toContain('This person is already employed in the company.');
    expect(english.body).toContain('The same e-mail is on row 7.');

    const applied = await admin.post(`/org/import/${id}/apply`, {});
    expect(applied.statusCode).toBe(409);
    expect(applied.body).toContain('Nothing has been created.');
    const s = await stateOf(t.deps, g.companyId, [ok, dup]);
    expect(s.employed).toHaveLength(0);
    expect(s.mails).toHaveLength(0);
    expect(s.imports.find((x) => x.id === id)?.state).toBe('pending');
  });

  it('P2 a row refused at apply time rolls back every row before it', async () => {
    const g = await createCompany(t.deps);
    const admin = await loggedIn(t.app, g.admin.email);
    const first = email('first');
    const taken = email('taken');
    const id = importIdOf((await uploadImport(admin, 'race.csv', csv([HEADER, ['First', first, '', g.teamId, 'nej'], ['Taken', taken, '', g.teamId, 'nej']]))).headers.location);
    expect((await admin.get(`/org/import/${id}`)).body).toContain('2 rækker er klar til import.');
    // Between preview and apply, someone else creates the second person.
    const made = await admin.post('/org/employees', { name: 'Taken', email: taken, title: '', role: 'employee', language: 'da', team_id: g.teamId, department_id: '' });
    expect(made.statusCode).toBe(201);
    const applied = await admin.post(`/org/import/${id}/apply`, {});
    expect(applied.statusCode).toBe(409);
    const s = await stateOf(t.deps, g.companyId, [first]);
    expect(s.employed).toHaveLength(0);
    expect(s.mails).toHaveLength(0);
  });

  it('P2 a CPR column or a CPR-shaped value refuses the whole file, which is deleted at once', async () => {
    const g = await createCompany(t.deps);
    const admin = await loggedIn(t.app, g.admin.email);
    const cases = [
      { name: 'cpr-column.csv', data: csv([[...HEADER, 'CPR-nummer'], ['A', email('a'), '', g.teamId, 'nej', '']]) },
      { name: 'cpr-value.csv', data: csv([HEADER, ['A', email('a'), '010190-1234', g.teamId, 'nej']]) },
      { name: 'personnummer.xlsx', data: xlsx([HEADER, ['A', email('a'), '', g.teamId, 'nej', '19900101-1234']]) },
    ];
    for (const c of cases) {
      const res = await uploadImport(admin, c.name, c.data);
      expect(res.statusCode, c.name).toBe(303);
      const id = importIdOf(res.headers.location);
      const preview = await admin.get(`/org/import/${id}`);
      expect(preview.statusCode, c.name).toBe(422);
      expect(preview.body, c.name).toContain('ligner et CPR-nummer eller personnummer');
      expect(preview.body, c.name).not.toContain('010190-1234');
      expect((await admin.post(`/org/import/${id}/apply`, {})).statusCode, c.name).toBe(409);
    }
    const s = await stateOf(t.deps, g.companyId, []);
    expect(s.files).toHaveLength(0);
    expect(s.chunks).toHaveLength(0);
    expect(s.imports.map((x) => x.state)).toEqual(['refused', 'refused', 'refused']);
    expect(s.events.filter((e) => e.event_type === 'import.refused')).toHaveLength(3);
  });

  it('P2 a pending import can be deleted without importing: content destroyed, audited', async () => {
    const g = await createCompany(t.deps);
    const admin = await loggedIn(t.app, g.admin.email);
    const x = email('discard');
    const id = importIdOf((await uploadImport(admin, 'drop.csv', csv([HEADER, ['Drop', x, '', g.teamId, 'nej']]))).headers.location);
    expect((await admin.get(`/org/import/${id}`)).body).toContain(`action="/org/import/${id}/delete"`);
    const res = await admin.post(`/org/import/${id}/delete`, {});
    expect(res.statusCode).toBe(303);
    expect((await admin.get(String(res.headers.location))).body).toContain('Filen er slettet. Intet er importeret.');
    expect((await admin.get(`/org/import/${id}`)).statusCode).toBe(404);
    expect((await admin.post(`/org/import/${id}/apply`, {})).statusCode).toBe(404);
    const s = await stateOf(t.deps, g.companyId, [x]);
    expect(s.employed).toHaveLength(0);
    expect(s.files).toHaveLength(0);
    expect(s.chunks).toHaveLength(0);
    expect(s.events.some((e) => e.event_type === 'import.discarded' && e.object_id === id)).toBe(true);
  });

  it('P2 hostile strings from the file are shown as text', async () => {
    const g = await createCompany(t.deps);
    const admin = await loggedIn(t.app, g.admin.email);
    const id = importIdOf((await uploadImport(admin, 'x.csv', csv([HEADER, ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>@x', '<b>t</b>', '<svg onload=alert(1)>', 'x']]))).headers.location);
    const preview = await admin.get(`/org/import/${id}`);
    expect(preview.statusCode).toBe(200);
    expect(preview.body).not.toContain('<script>alert');
    expect(preview.body).not.toContain('<img src=x');
    expect(preview.body).not.toContain('<svg onload');
    expect(preview.body).toContain('<td>&lt;script>alert(1)&lt;/script></td>');
    expect(preview.body).toContain('<td>&lt;svg onload=alert(1)></td>');
  });

  it("M8 another company's import is not found; people outside the organisation pages get 404", async () => {
    const admin = await loggedIn(t.app, f.admin.email);
    const id = importIdOf((await uploadImport(admin, 'm8.csv', csv([HEADER, ['M8', email('m8'), '', f.teamId, 'nej']]))).headers.location);
    const g = await createCompany(t.deps);
    const otherAdmin = await loggedIn(t.app, g.admin.email);
    expect((await otherAdmin.get(`/org/import/${id}`)).statusCode).toBe(404);
    expect((await otherAdmin.post(`/org/import/${id}/apply`, {})).statusCode).toBe(404);
    const employee = await loggedIn(t.app, f.employee.email);
    expect((await employee.get('/org/import')).statusCode).toBe(404);
    expect((await employee.get(`/org/import/${id}`)).statusCode).toBe(404);
    expect((await uploadImport(employee, 'e.csv', csv([HEADER]))).statusCode).toBe(404);
    // A delegate imports into their own subtree, but does not see the admin's import.
    const delegate = await loggedIn(t.app, f.delegate.email);
    expect((await delegate.get('/org/import')).statusCode).toBe(200);
    expect((await delegate.get(`/org/import/${id}`)).statusCode).toBe(404);
    const own = importIdOf((await uploadImport(delegate, 'd.csv', csv([HEADER, ['D', email('d'), '', f.teamId, 'nej']]))).headers.location);
    // The team outside the delegate's subtree is unknown to them.
    expect((await delegate.get(`/org/import/${own}`)).body).toContain('Teamet findes ikke');
  });

  it('P5 an EICAR file is refused with a clear message and nothing is imported', async () => {
    const g = await createCompany(t.deps);
    const admin = await loggedIn(t.app, g.admin.email);
    const res = await uploadImport(admin, 'virus.csv', EICAR);
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('virusscanningen fandt skadeligt indhold');
    const s = await stateOf(t.deps, g.companyId, []);
    expect(s.imports).toHaveLength(0);
    expect(s.chunks).toHaveLength(0);
    expect(s.events.some((e) => e.event_type === 'files.infected')).toBe(true);
  });

  it('P2 other file types and oversized files are refused', async () => {
    const admin = await loggedIn(t.app, f.admin.email);
    const pdfRes = await uploadImport(admin, 'list.pdf', Buffer.from('%PDF-1.4\n%%EOF\n'));
    expect(pdfRes.statusCode).toBe(422);
    expect(pdfRes.body).toContain('Kun CSV- og XLSX-filer kan importeres.');
    const spoof = await uploadImport(admin, 'list.xlsx', Buffer.from('navn;e-mail\n'));
    expect(spoof.statusCode).toBe(422);
  });
});

describe('P5 fail closed: without a scanner the import waits and cannot be applied', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  it('P5 the preview says the file waits for its scan and why; apply creates nothing', async () => {
    const g = await createCompany(t.deps);
    const admin = await loggedIn(t.app, g.admin.email);
    const w = email('wait');
    const res = await uploadImport(admin, 'wait.csv', csv([HEADER, ['Wait', w, '', g.teamId, 'nej']]));
    expect(res.statusCode).toBe(303);
    const id = importIdOf(res.headers.location);
    const preview = await admin.get(`/org/import/${id}`);
    expect(preview.statusCode).toBe(200);
    expect(preview.body).toContain('Filen venter på virusscanning');
    expect(preview.body).toContain('ClamAV');
    expect(preview.body).not.toContain('Wait');
    expect((await admin.post(`/org/import/${id}/apply`, {})).statusCode).toBe(409);
    expect((await stateOf(t.deps, g.companyId, [w])).employed).toHaveLength(0);
  });
});
