/**
 * The secure inbox (issue 7) through the real app, a real database and a real clamd started by
 * scripts/clamd.sh with the project's test signatures. P2: files arrive only through the
 * uploader, checked by content and size; P5: every file is scanned before anyone can open it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { clamdAddress, createAvailableFile, docx, EICAR, odt, pdf, PNG, upload, zip } from './helpers/files.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { registeredJobs } from '../src/platform/jobs/jobs.ts';
import { fileCleanupJob, fileScanJob } from '../src/platform/storage/files.ts';
import { cleanFileName } from '../src/platform/storage/file-types.ts';
import { contentDisposition } from '../src/modules/files/files.routes.tsx';
import type { AppDeps } from '../src/platform/deps.ts';

const clamd = clamdAddress();
if (!clamd) console.warn('SKIPPED the clamd tests in test/files.test.ts: no clamd (run scripts/clamd.sh start, or npm test)');

async function filesOf(deps: AppDeps, companyId: string) {
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const files = await trx.selectFrom('files').selectAll().where('company_id', '=', companyId).orderBy('created_at').execute();
    const chunks = await trx.selectFrom('file_chunks').select(['file_id']).where('company_id', '=', companyId).execute();
    return { files, chunkFileIds: new Set(chunks.map((c) => c.file_id)) };
  });
}

async function auditTypes(deps: AppDeps, companyId: string) {
  const rows = await unsafeSystemTransaction(deps.database, (trx) => trx.selectFrom('audit_events').select(['event_type', 'object_id', 'data']).where('company_id', '=', companyId).execute());
  return rows;
}

describe('P2 file names and download headers', () => {
  it('P2 cleans path-like and hostile names and never keeps a path', () => {
    expect(cleanFileName('../../etc/passwd.pdf')).toBe('passwd.pdf');
    expect(cleanFileName('C:\\Users\\x\\løn 2027.xlsx')).toBe('løn 2027.xlsx');
    expect(cleanFileName('invoice\u202Efdp.exe')).toBe('invoicefdp.exe');
    expect(cleanFileName('..')).toBe('');
    expect(cleanFileName('  .hidden.txt ')).toBe('hidden.txt');
    expect(cleanFileName('a<b>:"c|d?*.pdf')).toBe('a_b___c_d__.pdf');
    expect(cleanFileName('CON.txt')).toBe('_CON.txt');
    expect(cleanFileName(`${'x'.repeat(500)}.pdf`)).toMatch(/^x{196}\.pdf$/);
    expect(Array.from(cleanFileName(`${'😀'.repeat(300)}.pdf`))).toHaveLength(200);
    expect(cleanFileName('half\ud83d.pdf')).toBe('half.pdf');
  });

  it('P2 Content-Disposition is an attachment with an RFC 5987 name and a safe ASCII fallback', () => {
    expect(contentDisposition('Løn "2027";.pdf')).toBe(`attachment; filename="L_n _2027__.pdf"; filename*=UTF-8''L%C3%B8n%20%222027%22%3B.pdf`);
  });
});

describe.skipIf(!clamd)('P2 P5 the secure inbox with a real clamd', () => {
  let t: TestApp;
  let f: CompanyFixture;
  beforeAll(async () => {
    t = await createTestApp({ CLAMD_HOST: clamd?.host ?? '', CLAMD_PORT: clamd?.port ?? '' });
    f = await createCompany(t.deps);
  });
  afterAll(async () => t?.close());

  it('P2 P5 a clean PDF from an employee is scanned, listed for the admin, downloadable and audited', async () => {
    const employee = await loggedIn(t.app, f.employee.email);
    const res = await upload(employee, [{ name: 'lægeerklæring.pdf', data: pdf('clean') }]);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('lægeerklæring.pdf: modtaget og virusscannet');
    // The sender sees their own file but has no download link, and cannot download.
    const own = await employee.get('/inbox');
    expect(own.body).toContain('lægeerklæring.pdf');
    expect(own.body).not.toContain('/download');
    const { files } = await filesOf(t.deps, f.companyId);
    const file = files.find((x) => x.name === 'lægeerklæring.pdf');
    expect(file?.state).toBe('available');
    expect((await employee.get(`/inbox/files/${file?.id}/download`)).statusCode).toBe(404);

    const admin = await loggedIn(t.app, f.admin.email);
    const page = await admin.get('/inbox');
    expect(page.body).toContain(`/inbox/files/${file?.id}/download`);
    expect(page.body).toContain('Ikke hentet endnu');
    const dl = await admin.get(`/inbox/files/${file?.id}/download`);
    expect(dl.statusCode).toBe(200);
    expect(dl.rawPayload.equals(pdf('clean'))).toBe(true);
    expect(dl.headers['content-type']).toBe('application/pdf');
    expect(dl.headers['content-disposition']).toBe(`attachment; filename="l_geerkl_ring.pdf"; filename*=UTF-8''l%C3%A6geerkl%C3%A6ring.pdf`);
    expect(dl.headers['x-content-type-options']).toBe('nosniff');
    expect(dl.headers['content-security-policy']).toBe("sandbox; default-src 'none'");
    expect(dl.headers['cache-control']).toBe('no-store');

    const events = await auditTypes(t.deps, f.companyId);
    const forFile = events.filter((e) => e.object_id === file?.id).map((e) => e.event_type);
    expect(forFile).toEqual(expect.arrayContaining(['files.uploaded', 'files.available', 'files.downloaded']));
    // The "viewed by" list (M14).
    const views = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('document_views').selectAll().where('object_type', '=', 'file').where('object_id', '=', file?.id ?? '').execute());
    expect(views.map((v) => [v.viewer_user_id, v.viewer_role])).toEqual([[f.admin.userId, 'admin']]);
    const after = await admin.get('/inbox');
    expect(after.body).toContain('Hentet af');
    expect(after.body).not.toContain('Ikke hentet endnu');
    expect(after.body).toMatch(new RegExp(`<td><span>${f.admin.name} \\(`));
  });

  it('P5 EICAR is refused with a clear message, plain, zipped and inside a DOCX; content destroyed; admins told', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const res = await upload(employee, [
      { name: 'plain.txt', data: EICAR },
      { name: 'packed.docx', data: docx(EICAR.toString('latin1')) },
      { name: 'ok.pdf', data: pdf('fine') },
    ]);
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('plain.txt: afvist. Virusscanningen fandt skadeligt indhold');
    expect(res.body).toContain('packed.docx: afvist. Virusscanningen fandt skadeligt indhold');
    // What was clean in the same request is kept.
    expect(res.body).toContain('ok.pdf: modtaget og virusscannet');
    const { files, chunkFileIds } = await filesOf(t.deps, g.companyId);
    const infected = files.filter((x) => x.state === 'infected');
    expect(infected.map((x) => x.name).sort()).toEqual(['packed.docx', 'plain.txt']);
    for (const x of infected) {
      expect(chunkFileIds.has(x.id)).toBe(false);
      expect(x.signature).toMatch(/EICAR/);
    }
    const events = await auditTypes(t.deps, g.companyId);
    expect(events.filter((e) => e.event_type === 'files.infected')).toHaveLength(2);
    const admin = await loggedIn(t.app, g.admin.email);
    const page = await admin.get('/inbox');
    expect(page.body).toContain('Afviste filer (virus)');
    expect(page.body).toContain('packed.docx');
    expect((await admin.get(`/inbox/files/${infected[0]?.id}/download`)).statusCode).toBe(409);
  });

  it('P5 EICAR inside a plain zip is found by clamd (archives are unpacked by the scanner)', async () => {
    const { ClamdScanner } = await import('../src/platform/scanner/clamd.ts');
    const scanner = new ClamdScanner({ host: clamd?.host ?? '', port: Number(clamd?.port) }, 10_000);
    const result = await scanner.scan((async function* () {
      yield zip([{ name: 'inner/eicar.com', data: EICAR }]);
    })());
    expect(result.kind).toBe('infected');
    const clean = await scanner.scan((async function* () {
      yield zip([{ name: 'notes.txt', data: Buffer.from('nothing to see') }]);
    })());
    expect(clean.kind).toBe('clean');
  });

  it('P2 type spoofing: the content must match the extension; other types are refused and nothing is stored', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const res = await upload(employee, [
      { name: 'report.pdf', data: Buffer.concat([Buffer.from('MZ'), Buffer.alloc(5000, 1)]), type: 'application/pdf' },
      { name: 'photo.jpg', data: PNG, type: 'image/jpeg' },
      { name: 'tool.exe', data: Buffer.from('MZ......') },
      { name: 'list.csv', data: Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x00, 0x01, 0x02]) },
      { name: 'sheet.xlsx', data: docx('not a workbook') },
      { name: 'nameless', data: pdf() },
    ]);
    expect(res.statusCode).toBe(422);
    for (const name of ['report.pdf', 'photo.jpg', 'tool.exe', 'list.csv', 'sheet.xlsx', 'nameless']) {
      expect(res.body).toContain(`${name}: afvist. Indholdet passer ikke til filtypen`);
    }
    const { files } = await filesOf(t.deps, g.companyId);
    expect(files).toEqual([]);
    // The real thing of each kind passes.
    const ok = await upload(employee, [
      { name: 'photo.png', data: PNG },
      { name: 'letter.docx', data: docx('Kære HR') },
      { name: 'text.odt', data: odt() },
      { name: 'list.csv', data: Buffer.from('navn;e-mail\r\nÅse;aase@example.com\r\n', 'latin1') },
    ]);
    expect(ok.statusCode).toBe(200);
    expect((await filesOf(t.deps, g.companyId)).files.map((x) => x.state)).toEqual(['available', 'available', 'available', 'available']);
  });

  it('P2 zip bombs are refused from the directory, before anything is unpacked', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const zeros = docxWith([{ name: 'word/media/zeros.bin', data: Buffer.alloc(20 * 1024 * 1024) }]);
    const many = docxWith(Array.from({ length: 2100 }, (_, i) => ({ name: `word/parts/p${i}.xml`, data: Buffer.from('<x/>') })));
    const res = await upload(employee, [
      { name: 'zeros.docx', data: zeros },
      { name: 'many.docx', data: many },
    ]);
    expect(zeros.length).toBeLessThan(100 * 1024);
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('zeros.docx: afvist. Dokumentet indeholder for mange eller for store indpakkede dele.');
    expect(res.body).toContain('many.docx: afvist. Dokumentet indeholder for mange eller for store indpakkede dele.');
    expect((await filesOf(t.deps, g.companyId)).files).toEqual([]);
  });

  it('P2 path-like names are cleaned and never used as paths', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const res = await upload(employee, [{ name: '../../../etc/<script>alert(1)</script>.pdf', data: pdf() }]);
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('<script>alert(1)');
    const { files } = await filesOf(t.deps, g.companyId);
    expect(files.map((x) => x.name)).toEqual(['script_.pdf']);
  });

  it('P2 refusals are explained in the user\'s language (Swedish, English)', async () => {
    const g = await createCompany(t.deps);
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('employments').set({ language: 'sv' }).where('id', '=', g.employee.employmentId).execute());
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('employments').set({ language: 'en' }).where('id', '=', g.colleague.employmentId).execute());
    const sv = await loggedIn(t.app, g.employee.email);
    const svRes = await upload(sv, [{ name: 'fel.pdf', data: PNG }]);
    expect(svRes.statusCode).toBe(422);
    expect(svRes.body).toContain('fel.pdf: avvisad. Innehållet stämmer inte med filtypen');
    const en = await loggedIn(t.app, g.colleague.email);
    const enRes = await upload(en, [{ name: 'virus.txt', data: EICAR }], { headers: { 'x-upload-fragment': '1' } });
    expect(enRes.statusCode).toBe(422);
    // upload.js asks for the results alone.
    expect(enRes.body.startsWith('<section')).toBe(true);
    expect(enRes.body).toContain('virus.txt: refused. The virus scan found harmful content');
  });

  it('M8 a file id from another company is not found, for its admin too', async () => {
    const g = await createCompany(t.deps);
    const foreign = await createAvailableFile(t.deps, g);
    const admin = await loggedIn(t.app, f.admin.email);
    const res = await admin.get(`/inbox/files/${foreign}/download`);
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('%PDF');
    expect((await admin.get('/inbox/files/not-a-uuid/download')).statusCode).toBe(404);
  });

  it('P5 the scan and clean-up jobs are registered with the job runner', () => {
    expect(registeredJobs().map((j) => j.name)).toEqual(expect.arrayContaining(['files.scan', 'files.cleanup']));
  });

  it('P5 /readyz reports the scanner', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.json().checks.scanner.status).toBe('ok');
  });
});

function docxWith(extra: { name: string; data: Buffer }[]): Buffer {
  return zip([
    { name: '[Content_Types].xml', data: Buffer.from('<Types/>') },
    { name: 'word/document.xml', data: Buffer.from('<w:document/>') },
    ...extra,
  ]);
}

describe.skipIf(!clamd)('P2 limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ CLAMD_HOST: clamd?.host ?? '', CLAMD_PORT: clamd?.port ?? '', UPLOAD_MAX_FILE_MB: '1', UPLOAD_MAX_FILES_PER_REQUEST: '2' });
  });
  afterAll(async () => t?.close());

  it('P2 an oversized file gets 413 with a message and nothing is stored; a small one in the same request is kept', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const big = Buffer.concat([pdf(), Buffer.alloc(1024 * 1024 + 10, 0x20)]);
    const res = await upload(employee, [
      { name: 'small.pdf', data: pdf() },
      { name: 'big.pdf', data: big },
    ]);
    expect(res.statusCode).toBe(413);
    expect(res.body).toContain('big.pdf: afvist. Filen er større end 1 MB. Intet er gemt.');
    const { files, chunkFileIds } = await filesOf(t.deps, g.companyId);
    expect(files.map((x) => x.name)).toEqual(['small.pdf']);
    expect(chunkFileIds.size).toBe(1);
  });

  it('P2 more files than allowed at once: the first ones are kept and the rest refused with 413', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const res = await upload(employee, [1, 2, 3].map((i) => ({ name: `f${i}.pdf`, data: pdf() })));
    expect(res.statusCode).toBe(413);
    expect(res.body).toContain('Du kan sende højst 2 filer ad gangen.');
    expect((await filesOf(t.deps, g.companyId)).files.map((x) => x.name)).toEqual(['f1.pdf', 'f2.pdf']);
  });

  it('P2 the upload page shows the limits, and a post without files gets a message (422)', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const page = await employee.get('/inbox');
    expect(page.body).toContain('Højst 1 MB pr. fil og 2 filer ad gangen.');
    const res = await employee.post('/inbox', {});
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('Vælg mindst én fil.');
  });

  it('P2 an upload without the CSRF token is refused before any file is read', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const res = await upload(employee, [{ name: 'a.pdf', data: pdf() }], { csrf: null });
    expect(res.statusCode).toBe(403);
    expect((await filesOf(t.deps, g.companyId)).files).toEqual([]);
  });
});

describe('P5 fail closed: scanner down or missing', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Port 1 on loopback: nothing listens, the connection is refused.
    t = await createTestApp({ CLAMD_HOST: '127.0.0.1', CLAMD_PORT: '1' });
  });
  afterAll(async () => t?.close());

  it.skipIf(!clamd)('P5 with clamd down a file waits and cannot be downloaded; the job scans it once clamd is back', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const res = await upload(employee, [{ name: 'waiting.pdf', data: pdf('later') }]);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('waiting.pdf: modtaget. Filen venter på virusscanning');
    const [file] = (await filesOf(t.deps, g.companyId)).files;
    expect(file?.state).toBe('waiting');
    expect(file?.scan_error).toBe('unreachable');
    const admin = await loggedIn(t.app, g.admin.email);
    expect((await admin.get('/inbox')).body).toContain('Venter på virusscanning');
    const refused = await admin.get(`/inbox/files/${file?.id}/download`);
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toContain('ikke virusscannet endnu');
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).json().checks.scanner.status).toBe('unreachable');

    // Still down: the job leaves it waiting (and backs off).
    // The job's own run (the scheduler row is shared by every test file on PostgreSQL).
    t.clock.advance(2 * 60_000);
    await fileScanJob.run(t.deps);
    expect((await filesOf(t.deps, g.companyId)).files[0]?.state).toBe('waiting');

    // clamd is back (the same database, a node configured with the running clamd).
    t.clock.advance(10 * 60_000);
    const up: AppDeps = { ...t.deps, config: { ...t.deps.config, scanner: { kind: 'clamd', host: clamd?.host ?? '', port: Number(clamd?.port), timeoutMs: 10_000 } } };
    const outcome = await fileScanJob.run(up);
    expect(outcome).toEqual(expect.objectContaining({ scanned: expect.any(Number) }));
    expect((await filesOf(t.deps, g.companyId)).files[0]?.state).toBe('available');
    const dl = await admin.get(`/inbox/files/${file?.id}/download`);
    expect(dl.statusCode).toBe(200);
    expect(dl.rawPayload.equals(pdf('later'))).toBe(true);
  });

  it('P5 without a configured scanner uploads wait, the page says why and how to enable ClamAV', async () => {
    const none = await createTestApp();
    try {
      const g = await createCompany(none.deps);
      const employee = await loggedIn(none.app, g.employee.email);
      const res = await upload(employee, [{ name: 'x.pdf', data: pdf() }]);
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('Virusscanning er ikke sat op');
      const [file] = (await filesOf(none.deps, g.companyId)).files;
      expect(file?.state).toBe('waiting');
      expect(file?.scan_error).toBe('not_configured');
      const admin = await loggedIn(none.app, g.admin.email);
      const page = await admin.get('/inbox');
      expect(page.body).toContain('CLAMD_SOCKET');
      expect((await admin.get(`/inbox/files/${file?.id}/download`)).statusCode).toBe(409);
      // The job does nothing without a scanner: never "clean" by default.
      none.clock.advance(5 * 60_000);
      expect(await fileScanJob.run(none.deps)).toEqual({ scanned: 0, waiting: 0 });
      expect((await filesOf(none.deps, g.companyId)).files[0]?.state).toBe('waiting');
      expect((await none.app.inject({ method: 'GET', url: '/readyz' })).json().checks.scanner.status).toBe('not_configured');
    } finally {
      await none.close();
    }
  });

  it('P2 a crash in the middle of an upload leaves no visible half file, and the clean-up job removes it', async () => {
    const g = await createCompany(t.deps);
    const fileId = crypto.randomUUID();
    await unsafeSystemTransaction(t.deps.database, async (trx) => {
      await trx
        .insertInto('files')
        .values({ id: fileId, company_id: g.companyId, purpose: 'inbox', uploaded_by: g.employee.employmentId, name: 'half.pdf', kind: 'pdf', content_type: 'application/pdf', state: 'uploading', created_at: t.clock.now() })
        .execute();
      await trx.insertInto('file_chunks').values({ company_id: g.companyId, file_id: fileId, seq: 0, data: pdf() }).execute();
    });
    const admin = await loggedIn(t.app, g.admin.email);
    expect((await admin.get('/inbox')).body).not.toContain('half.pdf');
    expect((await admin.get(`/inbox/files/${fileId}/download`)).statusCode).toBe(404);
    const employee = await loggedIn(t.app, g.employee.email);
    expect((await employee.get('/inbox')).body).not.toContain('half.pdf');
    t.clock.advance(61 * 60_000);
    await fileCleanupJob.run(t.deps);
    const { files, chunkFileIds } = await filesOf(t.deps, g.companyId);
    expect(files).toEqual([]);
    expect(chunkFileIds.size).toBe(0);
  });

  it('P2 a request that breaks off in the middle of a file leaves nothing behind', async () => {
    const g = await createCompany(t.deps);
    const employee = await loggedIn(t.app, g.employee.email);
    const { Readable } = await import('node:stream');
    const boundary = '----broken';
    const head = Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="_csrf"\r\n\r\n${employee.csrf}\r\n--${boundary}\r\ncontent-disposition: form-data; name="files"; filename="cut.pdf"\r\ncontent-type: application/pdf\r\n\r\n%PDF-1.4\n`,
    );
    let sent = false;
    const payload = new Readable({
      read() {
        if (sent) return; // the rest never comes
        sent = true;
        this.push(head);
        this.push(Buffer.alloc(700 * 1024, 0x20));
      },
    });
    const request = employee.app
      .inject({
        method: 'POST',
        url: '/inbox',
        remoteAddress: employee.ip,
        headers: { host: 'samtale.test', accept: 'text/html', origin: 'http://samtale.test', 'content-type': `multipart/form-data; boundary=${boundary}`, cookie: [...employee.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
        payload,
      })
      .catch(() => undefined);
    // Mid-upload: the row exists (invisible, `uploading`) and its first chunk is stored.
    await vi.waitFor(async () => {
      const { files, chunkFileIds } = await filesOf(t.deps, g.companyId);
      expect(files.map((x) => x.state)).toEqual(['uploading']);
      expect(chunkFileIds.size).toBe(1);
    }, { timeout: 10_000, interval: 20 });
    const admin = await loggedIn(t.app, g.admin.email);
    expect((await admin.get('/inbox')).body).not.toContain('cut.pdf');
    // The client goes away.
    payload.destroy(new Error('client went away'));
    await request;
    await vi.waitFor(async () => {
      const { files, chunkFileIds } = await filesOf(t.deps, g.companyId);
      expect(files).toEqual([]);
      expect(chunkFileIds.size).toBe(0);
    }, { timeout: 10_000, interval: 20 });
  });
});
