/**
 * Test material for the employee import (issue 7): CSV text, a minimal XLSX workbook written by
 * hand (inline strings, one sheet) with the zip writer of ./files.ts, and an import whose clean
 * file is already in place, inserted as operator tooling would (for the authorization matrix).
 */
import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../src/platform/deps.ts';
import { unsafeSystemTransaction } from '../../src/platform/db/context.ts';
import type { CompanyFixture } from './factories.ts';
import { zip } from './files.ts';
import { ORIGIN, type Agent } from './agent.ts';

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function columnName(i: number): string {
  let n = i + 1;
  let name = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    name = String.fromCharCode(65 + r) + name;
    n = Math.floor((n - 1) / 26);
  }
  return name;
}

/** One sheet of text cells (inline strings) and numbers. */
export function xlsx(rows: (string | number)[][]): Buffer {
  const sheetRows = rows
    .map((row, r) => {
      const cells = row
        .map((v, c) => {
          const ref = `${columnName(c)}${r + 1}`;
          return typeof v === 'number' ? `<c r="${ref}"><v>${v}</v></c>` : `<c r="${ref}" t="inlineStr"><is><t>${xml(v)}</t></is></c>`;
        })
        .join('');
      return `<row r="${r + 1}">${cells}</row>`;
    })
    .join('');
  const ns = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
  const rel = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
  return zip([
    {
      name: '[Content_Types].xml',
      data: Buffer.from(
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
          '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
          '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
      ),
    },
    {
      name: '_rels/.rels',
      data: Buffer.from(
        `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
      ),
    },
    {
      name: 'xl/workbook.xml',
      data: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${ns}" xmlns:r="${rel}"><sheets><sheet name="Ark1" sheetId="1" r:id="rId1"/></sheets></workbook>`),
    },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data: Buffer.from(
        `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
      ),
    },
    { name: 'xl/worksheets/sheet1.xml', data: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${ns}"><sheetData>${sheetRows}</sheetData></worksheet>`) },
  ]);
}

export function csv(rows: string[][], delimiter = ';'): Buffer {
  return Buffer.from(rows.map((r) => r.map((c) => (/[";,\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(delimiter)).join('\r\n') + '\r\n', 'utf8');
}

/** A pending import of one clean row into the fixture's other team, uploaded by its admin. */
export async function createImportFixture(deps: AppDeps, f: CompanyFixture): Promise<string> {
  const fileId = randomUUID();
  const importId = randomUUID();
  const data = csv([
    ['navn', 'e-mail', 'titel', 'team', 'leder'],
    ['Matrix Person', `matrix-${randomUUID()}@example.test`, '', f.otherTeamId, 'nej'],
  ]);
  await unsafeSystemTransaction(deps.database, async (trx) => {
    await trx
      .insertInto('files')
      .values({ id: fileId, company_id: f.companyId, purpose: 'inbox', uploaded_by: f.admin.employmentId, name: 'people.csv', kind: 'csv', content_type: 'text/csv', size_bytes: data.length, state: 'available' })
      .execute();
    await trx.insertInto('file_chunks').values({ company_id: f.companyId, file_id: fileId, seq: 0, data }).execute();
    await trx.insertInto('employee_imports').values({ id: importId, company_id: f.companyId, file_id: fileId, uploaded_by: f.admin.employmentId }).execute();
  });
  return importId;
}

/** POST /org/import as the browser sends it: the _csrf field first, then one file named `file`. */
export async function uploadImport(agent: Agent, name: string, data: Buffer) {
  const boundary = `----samtale${randomUUID()}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="_csrf"\r\n\r\n${agent.csrf}\r\n`),
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${name}"\r\ncontent-type: application/octet-stream\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return agent.app.inject({
    method: 'POST',
    url: '/org/import',
    remoteAddress: agent.ip,
    headers: {
      host: 'samtale.test',
      accept: 'text/html',
      origin: ORIGIN,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      cookie: [...agent.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    },
    payload: body,
  });
}
