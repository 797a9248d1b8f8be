/**
 * Test material for the uploader (issue 7): small real files built in memory (PDF, PNG, zip,
 * DOCX), the EICAR test string (assembled from two halves so no file in the repository is the
 * test file itself), a multipart request through the Agent's cookies, and the clamd address.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import type { AppDeps } from '../../src/platform/deps.ts';
import { unsafeSystemTransaction } from '../../src/platform/db/context.ts';
import type { CompanyFixture } from './factories.ts';
import { ORIGIN, type Agent } from './agent.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');

export function pdf(text = 'Hello'): Buffer {
  return Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% ${text}\ntrailer << /Root 1 0 R >>\n%%EOF\n`, 'latin1');
}

export const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

/** A minimal zip writer (deflate), enough for test containers. */
export function zip(entries: { name: string; data: Buffer; store?: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.store ? e.data : zlib.deflateRawSync(e.data);
    const crc = zlib.crc32(e.data);
    const method = e.store ? 0 : 8;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export function docx(bodyText: string): Buffer {
  return zip([
    { name: '[Content_Types].xml', data: Buffer.from('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>') },
    { name: 'word/document.xml', data: Buffer.from(`<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>${bodyText}</w:t></w:r></w:p></w:body></w:document>`) },
  ]);
}

export function odt(): Buffer {
  return zip([
    { name: 'mimetype', data: Buffer.from('application/vnd.oasis.opendocument.text'), store: true },
    { name: 'content.xml', data: Buffer.from('<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>') },
  ]);
}

export type UploadFile = { name: string; data: Buffer; type?: string };

/** A multipart body as a browser sends it: the _csrf field first, then the files. */
export function multipartBody(csrf: string | null, files: UploadFile[], boundary = `----samtale${randomUUID()}`): { body: Buffer; contentType: string } {
  const parts: Buffer[] = [];
  if (csrf !== null) parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="_csrf"\r\n\r\n${csrf}\r\n`));
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="files"; filename="${f.name.replace(/"/g, '%22')}"\r\ncontent-type: ${f.type ?? 'application/octet-stream'}\r\n\r\n`), f.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

export async function upload(agent: Agent, files: UploadFile[], opts: { csrf?: string | null; headers?: Record<string, string>; url?: string } = {}) {
  const { body, contentType } = multipartBody(opts.csrf === undefined ? agent.csrf : opts.csrf, files);
  return agent.app.inject({
    method: 'POST',
    url: opts.url ?? '/inbox',
    remoteAddress: agent.ip,
    headers: {
      host: 'samtale.test',
      accept: 'text/html',
      origin: ORIGIN,
      'content-type': contentType,
      cookie: [...agent.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      ...opts.headers,
    },
    payload: body,
  });
}

/** An available file in the company's inbox, inserted as operator tooling would. */
export async function createAvailableFile(deps: AppDeps, f: CompanyFixture, data = pdf()): Promise<string> {
  const id = randomUUID();
  await unsafeSystemTransaction(deps.database, async (trx) => {
    await trx
      .insertInto('files')
      .values({ id, company_id: f.companyId, purpose: 'inbox', uploaded_by: f.employee.employmentId, name: 'fixture.pdf', kind: 'pdf', content_type: 'application/pdf', size_bytes: data.length, state: 'available' })
      .execute();
    await trx.insertInto('file_chunks').values({ company_id: f.companyId, file_id: id, seq: 0, data }).execute();
  });
  return id;
}

/** An available attachment on a dialogue (and optionally one of its agreements), uploaded by the employee. */
export async function createAvailableDialogueFile(deps: AppDeps, f: CompanyFixture, dialogueId: string, agreementId: string | null = null, data = pdf()): Promise<string> {
  const id = randomUUID();
  await unsafeSystemTransaction(deps.database, async (trx) => {
    await trx
      .insertInto('files')
      .values({ id, company_id: f.companyId, purpose: 'dialogue', dialogue_id: dialogueId, agreement_id: agreementId, uploaded_by: f.employee.employmentId, name: 'attachment.pdf', kind: 'pdf', content_type: 'application/pdf', size_bytes: data.length, state: 'available' })
      .execute();
    await trx.insertInto('file_chunks').values({ company_id: f.companyId, file_id: id, seq: 0, data }).execute();
  });
  return id;
}

/**
 * clamd for the scanner tests: TEST_CLAMD_ADDRESS (set by scripts/test.mjs), else a clamd that
 * scripts/clamd.sh already runs. Undefined when there is none (the tests then skip, except in CI).
 */
export function clamdAddress(): { host: string; port: string } | undefined {
  let address = process.env.TEST_CLAMD_ADDRESS;
  if (!address) {
    try {
      address = execFileSync(path.join(ROOT, 'scripts/clamd.sh'), ['url'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      address = undefined;
    }
  }
  const m = address ? /^tcp:\/\/([^:]+):(\d+)$/.exec(address) : null;
  if (!m?.[1] || !m[2]) {
    if (/^(1|true|yes)$/i.test(process.env.CI ?? '')) throw new Error('CI=true needs clamd: scripts/test.mjs starts it with scripts/clamd.sh');
    return undefined;
  }
  return { host: m[1], port: m[2] };
}
