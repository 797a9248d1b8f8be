/**
 * The employee import (issue 7, P2, M8): HR uploads a CSV or XLSX of employees through the secure
 * uploader, sees every row's problems, and applies it in one transaction.
 *
 * Design note:
 * - Who: the organisation module decides (orgScopeIn: company admins, and delegates with
 *   manage_organisation_department for their subtree); a delegate sees only the imports they
 *   uploaded, and places people only in teams their scope reaches. Anyone else gets 404.
 * - The file goes through receiveFile (type by content, zip limits, clamd scan) as an inbox file,
 *   and an `employee_imports` row marks it as an import. Fail closed: a file still waiting for its
 *   scan is never read; the page says so.
 * - CPR rule: a file with a CPR-like column or value is refused whole; its content and row are
 *   deleted in the transaction that records the refusal (audited), the first time it is read.
 * - Apply: the content is read (outside any transaction: on PGlite one transaction holds the only
 *   connection), then ONE transaction re-checks the import, the teams and the e-mails, creates
 *   every employee with createEmployeeIn (the organisation module's own rule, invitation and
 *   audit), deletes the file and writes `import.applied`. Any failing row rolls everything back.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { NotFoundError, ValidationError } from '../../platform/errors.ts';
import { DEFAULT_LANG, isLang, type Lang } from '../../platform/i18n/i18n.ts';
import { receiveFile, tenantScope, type Incoming } from '../../platform/storage/files.ts';
import { contentStore } from '../../platform/storage/store.ts';
import { cleanFileName, extensionOf, kindForExtension } from '../../platform/storage/file-types.ts';
import { createEmployeeIn, employedEmailsIn, orgScopeIn, reachableTeamsIn, type OrgCtx } from '../org/org.service.ts';
import type { OrgScope } from '../org/org.policy.ts';
import type { EmployeeImportState } from '../../platform/db/schema.ts';
import { columnOf, containsCpr, MAX_ROWS, readSheets, type Column, type Sheet } from './import.parse.ts';
import type { ImportKey } from './import.i18n.ts';

export type ImportCtx = OrgCtx;

export type Problem = { key: ImportKey; params?: Record<string, string | number> };

export type PreviewRow = {
  line: number;
  name: string;
  email: string;
  title: string;
  team: string;
  teamId: string | null;
  leader: boolean | null;
  leaderText: string;
  language: Lang;
  problems: Problem[];
};

/** What the file as a whole says, before any row. */
export type FileProblem = { key: 'cprRefused' | 'unreadable' | 'tooManyRows' | 'noRows' | 'missingColumns'; params?: Record<string, string | number> };

export type Preview =
  | { status: 'waiting'; importId: string; fileName: string; scannerConfigured: boolean }
  | { status: 'refused'; importId: string | null; fileName: string; problem: FileProblem }
  | { status: 'ready'; importId: string; fileName: string; rows: PreviewRow[]; blocked: number }
  | { status: 'applied'; count: number };

export type UploadOutcome =
  | { status: 'stored'; importId: string }
  | { status: 'refused'; reason: 'notCsvXlsx' | 'type' | 'too_large' | 'quota' | 'empty' | 'broken' | 'infected' };

/** One transaction in the actor's company, with the organisation scope loaded first (404 for others). */
function inCompany<T>(ctx: ImportCtx, fn: (trx: Tx, scope: OrgScope) => Promise<T>): Promise<T> {
  return withTenant(ctx.deps.database, { companyId: ctx.actor.companyId, userId: ctx.actor.userId }, async (trx) => fn(trx, await orgScopeIn(trx, ctx.actor)));
}

const who = (ctx: ImportCtx) => whoFromActor(ctx.actor, ctx.ip);

/** 404 for anyone outside the organisation pages. */
export async function authorize(ctx: ImportCtx): Promise<void> {
  await inCompany(ctx, async () => undefined);
}

async function drain(content: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _piece of content) {
    // discard
  }
}

export async function uploadImport(ctx: ImportCtx, incoming: Incoming): Promise<UploadOutcome> {
  await authorize(ctx);
  const kind = kindForExtension(extensionOf(cleanFileName(incoming.filename)));
  if (kind !== 'csv' && kind !== 'xlsx') {
    await drain(incoming.content);
    return { status: 'refused', reason: 'notCsvXlsx' };
  }
  const uploader = { ...who(ctx), companyId: ctx.actor.companyId, userId: ctx.actor.userId, employmentId: ctx.actor.employmentId };
  const outcome = await receiveFile(ctx.deps, uploader, 'inbox', incoming);
  if (outcome.status === 'refused') {
    const r = outcome.reason;
    return { status: 'refused', reason: r === 'type' || r === 'too_large' || r === 'quota' || r === 'empty' ? r : 'broken' };
  }
  if (outcome.state === 'infected') return { status: 'refused', reason: 'infected' };
  const importId = randomUUID();
  await inCompany(ctx, async (trx) => {
    await trx.insertInto('employee_imports').values({ id: importId, company_id: ctx.actor.companyId, file_id: outcome.fileId, uploaded_by: ctx.actor.employmentId }).execute();
    await audit(trx, who(ctx), { type: 'import.uploaded', objectType: 'employee_import', objectId: importId, data: { fileId: outcome.fileId } }, ctx.deps.clock.now());
  });
  return { status: 'stored', importId };
}

type Loaded = {
  id: string;
  state: EmployeeImportState;
  createdCount: number;
  file: { id: string; name: string; kind: string; state: string } | null;
};

/** The import if the actor may see it: admins every one, delegates their own. Else 404. */
async function loadImport(trx: Tx, ctx: ImportCtx, scope: OrgScope, id: string, lock = false): Promise<Loaded> {
  let q = trx.selectFrom('employee_imports').select(['id', 'state', 'created_count', 'file_id', 'uploaded_by']).where('id', '=', id);
  if (lock) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row || (scope.kind !== 'admin' && row.uploaded_by !== ctx.actor.employmentId)) throw new NotFoundError();
  const file = row.file_id ? await trx.selectFrom('files').select(['id', 'name', 'kind', 'state']).where('id', '=', row.file_id).executeTakeFirst() : undefined;
  return { id: row.id, state: row.state, createdCount: row.created_count, file: file ?? null };
}

async function readContent(ctx: ImportCtx, fileId: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of contentStore.read(tenantScope(ctx.deps, ctx.actor.companyId, ctx.actor.userId), fileId)) parts.push(Buffer.from(piece));
  return Buffer.concat(parts);
}

/** The uploader or an admin deletes a pending import's file (content destroyed, audited). */
export async function discardImport(ctx: ImportCtx, id: string): Promise<void> {
  await inCompany(ctx, async (trx, scope) => {
    const imp = await loadImport(trx, ctx, scope, id, true);
    if (imp.state !== 'pending') throw new NotFoundError();
    await trx.updateTable('employee_imports').set({ state: 'discarded', file_id: null, finished_at: ctx.deps.clock.now() }).where('id', '=', imp.id).execute();
    if (imp.file) {
      await contentStore.destroy(trx, imp.file.id);
      await trx.deleteFrom('files').where('id', '=', imp.file.id).execute();
    }
    await audit(trx, who(ctx), { type: 'import.discarded', objectType: 'employee_import', objectId: imp.id, data: { fileId: imp.file?.id ?? null, fileDeleted: true } }, ctx.deps.clock.now());
  });
}

/** Deletes the file's content and row with the refusal's audit event (a CPR number was found). */
async function refuseForCpr(ctx: ImportCtx, id: string): Promise<void> {
  await inCompany(ctx, async (trx, scope) => {
    const imp = await loadImport(trx, ctx, scope, id, true);
    if (imp.state !== 'pending') return;
    await trx.updateTable('employee_imports').set({ state: 'refused', file_id: null, finished_at: ctx.deps.clock.now() }).where('id', '=', imp.id).execute();
    if (imp.file) {
      await contentStore.destroy(trx, imp.file.id);
      await trx.deleteFrom('files').where('id', '=', imp.file.id).execute();
    }
    await audit(trx, who(ctx), { type: 'import.refused', objectType: 'employee_import', objectId: imp.id, data: { reason: 'cpr', fileId: imp.file?.id ?? null, fileDeleted: true } }, ctx.deps.clock.now());
  });
}

const LEADER_YES = new Set(['ja', 'j', 'yes', 'y', 'true', '1', 'x', 'leder', 'leader', 'ledare', 'chef']);
const LEADER_NO = new Set(['', 'nej', 'n', 'no', 'false', '0', '-']);
const emailSchema = z.email();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The rows of the first sheet with their problems, or a problem with the file as a whole. */
export function checkRows(sheet: Sheet, teams: { id: string; name: string }[], employed: Set<string>): { rows: PreviewRow[] } | { problem: FileProblem } {
  const headerIndex = sheet.findIndex((row) => row.some((c) => c !== ''));
  if (headerIndex < 0) return { problem: { key: 'noRows' } };
  const columns = new Map<Column, number>();
  (sheet[headerIndex] ?? []).forEach((h, i) => {
    const c = columnOf(h);
    if (c && !columns.has(c)) columns.set(c, i);
  });
  const missing = (['name', 'email', 'team'] as const).filter((c) => !columns.has(c));
  if (missing.length > 0) return { problem: { key: 'missingColumns', params: { columns: missing.join(', ') } } };
  const body = sheet
    .map((row, i) => ({ row, line: i + 1 }))
    .slice(headerIndex + 1)
    .filter(({ row }) => row.some((c) => c.trim() !== ''));
  if (body.length === 0) return { problem: { key: 'noRows' } };
  if (body.length > MAX_ROWS) return { problem: { key: 'tooManyRows', params: { rows: MAX_ROWS } } };

  const cell = (row: string[], c: Column) => {
    const i = columns.get(c);
    return i === undefined ? '' : (row[i] ?? '').trim();
  };
  const byName = new Map<string, string[]>();
  for (const t of teams) byName.set(t.name.trim().toLowerCase(), [...(byName.get(t.name.trim().toLowerCase()) ?? []), t.id]);
  const teamIds = new Set(teams.map((t) => t.id));
  const seen = new Map<string, number>();

  const rows = body.map(({ row, line }): PreviewRow => {
    const problems: Problem[] = [];
    const name = cell(row, 'name');
    if (!name) problems.push({ key: 'pMissingName' });
    else if (name.length > 200) problems.push({ key: 'pNameTooLong' });
    const email = cell(row, 'email').toLowerCase();
    if (email.length > 254 || !emailSchema.safeParse(email).success) problems.push({ key: 'pBadEmail' });
    else if (employed.has(email)) problems.push({ key: 'pAlreadyEmployed' });
    else {
      const first = seen.get(email);
      if (first !== undefined) problems.push({ key: 'pDuplicate', params: { row: first } });
      else seen.set(email, line);
    }
    const title = cell(row, 'title');
    if (title.length > 200) problems.push({ key: 'pTitleTooLong' });
    const team = cell(row, 'team');
    let teamId: string | null = null;
    if (!team) problems.push({ key: 'pMissingTeam' });
    else if (UUID.test(team) && teamIds.has(team.toLowerCase())) teamId = team.toLowerCase();
    else {
      const matches = byName.get(team.toLowerCase()) ?? [];
      if (matches.length === 1) teamId = matches[0] ?? null;
      else problems.push({ key: matches.length > 1 ? 'pAmbiguousTeam' : 'pUnknownTeam' });
    }
    const leaderText = cell(row, 'leader');
    const flag = leaderText.toLowerCase();
    const leader = LEADER_YES.has(flag) ? true : LEADER_NO.has(flag) ? false : null;
    if (leader === null) problems.push({ key: 'pLeaderInvalid' });
    const langText = cell(row, 'language').toLowerCase();
    let language: Lang = DEFAULT_LANG;
    if (langText) {
      if (isLang(langText)) language = langText;
      else problems.push({ key: 'pLanguageInvalid' });
    }
    return { line, name, email, title, team, teamId, leader, leaderText, language, problems };
  });
  return { rows };
}

/** Reads and checks the file: the CPR rule first, then the rows against the company's facts. */
async function inspect(ctx: ImportCtx, imp: Loaded & { file: NonNullable<Loaded['file']> }): Promise<{ rows: PreviewRow[] } | { problem: FileProblem }> {
  const content = await readContent(ctx, imp.file.id);
  const read = await readSheets(imp.file.kind === 'xlsx' ? 'xlsx' : 'csv', content);
  if (!read.ok) return { problem: { key: 'unreadable' } };
  if (containsCpr(read.sheets)) {
    await refuseForCpr(ctx, imp.id);
    return { problem: { key: 'cprRefused' } };
  }
  const facts = await inCompany(ctx, async (trx, scope) => ({ teams: await reachableTeamsIn(trx, scope), employed: await employedEmailsIn(trx) }));
  return checkRows(read.sheets[0] ?? [], facts.teams, facts.employed);
}

export async function getPreview(ctx: ImportCtx, id: string): Promise<Preview> {
  const imp = await inCompany(ctx, (trx, scope) => loadImport(trx, ctx, scope, id));
  if (imp.state === 'applied') return { status: 'applied', count: imp.createdCount };
  if (imp.state === 'discarded') throw new NotFoundError();
  if (imp.state === 'refused' || !imp.file) return { status: 'refused', importId: null, fileName: '', problem: { key: 'cprRefused' } };
  const file = imp.file;
  if (file.state !== 'available') {
    // Fail closed (P5): nothing of a file is read before clamd has called it clean.
    if (file.state === 'infected') throw new NotFoundError();
    return { status: 'waiting', importId: imp.id, fileName: file.name, scannerConfigured: ctx.deps.config.scanner.kind !== 'none' };
  }
  const checked = await inspect(ctx, { ...imp, file });
  if ('problem' in checked) return { status: 'refused', importId: checked.problem.key === 'cprRefused' ? null : imp.id, fileName: file.name, problem: checked.problem };
  return { status: 'ready', importId: imp.id, fileName: file.name, rows: checked.rows, blocked: checked.rows.filter((r) => r.problems.length > 0).length };
}

/** Apply refused: the preview's problems, or a row the organisation rules refused at apply time. */
export class ImportApplyError extends ValidationError {
  constructor(
    readonly line: number | null,
    code: string,
    /** Values for the message (e.g. which columns are missing). */
    readonly params: Record<string, string | number> = {},
  ) {
    super(code);
  }
}

export async function applyImport(ctx: ImportCtx, id: string): Promise<{ created: number }> {
  const preview = await getPreview(ctx, id);
  if (preview.status !== 'ready') {
    if (preview.status === 'applied') throw new NotFoundError();
    throw new ImportApplyError(null, preview.status === 'waiting' ? 'waiting' : preview.problem.key, preview.status === 'waiting' ? {} : (preview.problem.params ?? {}));
  }
  if (preview.blocked > 0) throw new ImportApplyError(null, 'applyBlocked');
  try {
    return await inCompany(ctx, async (trx, scope) => {
      const imp = await loadImport(trx, ctx, scope, id, true);
      if (imp.state !== 'pending' || imp.file?.state !== 'available' || imp.file.name !== preview.fileName) throw new ImportApplyError(null, 'applyBlocked');
      // The facts may have changed since the preview: check again inside this transaction.
      const teams = new Set((await reachableTeamsIn(trx, scope)).map((t) => t.id));
      const employed = await employedEmailsIn(trx);
      let invited = 0;
      for (const row of preview.rows) {
        if (!row.teamId || !teams.has(row.teamId) || employed.has(row.email)) throw new ImportApplyError(row.line, employed.has(row.email) ? 'pAlreadyEmployed' : 'pUnknownTeam');
        try {
          const created = await createEmployeeIn(trx, ctx, scope, {
            name: row.name,
            email: row.email,
            title: row.title,
            role: row.leader ? 'leader' : 'employee',
            language: row.language,
            teamId: row.teamId,
            departmentId: null,
          });
          if (created.invited) invited += 1;
        } catch (error) {
          if (error instanceof ValidationError) throw new ImportApplyError(row.line, error.code);
          throw error;
        }
      }
      const fileId = imp.file.id;
      const now = ctx.deps.clock.now();
      await trx.updateTable('employee_imports').set({ state: 'applied', file_id: null, created_count: preview.rows.length, finished_at: now }).where('id', '=', imp.id).execute();
      await contentStore.destroy(trx, fileId);
      await trx.deleteFrom('files').where('id', '=', fileId).execute();
      await audit(trx, who(ctx), { type: 'import.applied', objectType: 'employee_import', objectId: imp.id, data: { fileId, created: preview.rows.length, invited, fileDeleted: true } }, now);
      return { created: preview.rows.length };
    });
  } catch (error) {
    // A constraint the checks above did not foresee (a race): nothing was created, and it is a 4xx.
    const code = (error as { code?: unknown }).code;
    if (code === '23505' || code === '23503' || code === '23514') throw new ImportApplyError(null, 'applyBlocked');
    throw error;
  }
}
