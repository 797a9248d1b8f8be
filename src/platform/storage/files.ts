/**
 * A file's life (issue 7, P2, P5): received in pieces, recognised by its content, stored, scanned,
 * then available or destroyed. No HR rules here: who may send or download is the caller's
 * decision (src/modules/files/files.policy.ts); this is the machinery every feature with files
 * uses.
 *
 * Design note:
 * - `uploading`: the row exists while the chunks arrive, each chunk in its own short transaction.
 *   Nobody lists or downloads such a row; if the upload fails it is deleted at once, and if the
 *   process dies, `files.cleanup` deletes it after ABANDONED_AFTER_MS. No half file is ever visible.
 * - `waiting`: complete, checked by type and size, not yet known to be clean. Never downloadable
 *   (fail closed). Scanned right after the upload; when clamd is unreachable, times out, answers
 *   with an error or a size limit, or is not configured, the file stays waiting and the
 *   `files.scan` job tries again with backoff.
 * - `available`: clamd said `stream: OK`.
 * - `infected`: clamd found something. The content is deleted in the same transaction that
 *   records the verdict and writes the `files.infected` audit event; the metadata row stays so the
 *   uploader and the company admins can be told.
 */
import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../deps.ts';
import type { FileKind, FileState } from '../db/schema.ts';
import { unsafeSystemTransaction, withTenant, type Tx } from '../db/context.ts';
import { audit, type AuditWho } from '../audit/audit.ts';
import { scannerFromConfig, type ScanErrorReason, type Scanner } from '../scanner/clamd.ts';
import type { JobDefinition } from '../jobs/jobs.ts';
import { contentStore, type StoreScope } from './store.ts';
import { cleanFileName, extensionOf, FILE_KINDS, headMatches, inspectZip, isText, isZipKind, kindForExtension } from './file-types.ts';

export type RefusalReason = 'type' | 'too_large' | 'quota' | 'empty' | 'zip_bomb' | 'zip_invalid' | 'no_name' | 'dialogue_limit' | 'locked';

/**
 * Where a file goes: the company's inbox, or a dialogue (and optionally one of its agreements).
 * `admit` runs in the transaction that creates the row, before it is inserted: the caller locks
 * what it needs and re-checks its rules there (a closed dialogue, the per-dialogue limit), so two
 * uploads at once cannot both slip past a limit.
 */
export type FileTarget =
  | 'inbox'
  | { purpose: 'dialogue'; dialogueId: string; agreementId: string | null; admit: (trx: Tx) => Promise<RefusalReason | undefined> };

export type ReceiveOutcome =
  | { status: 'stored'; fileId: string; name: string; state: FileState; scanError: ScanErrorReason | null; signature: string | null }
  | { status: 'refused'; name: string; reason: RefusalReason };

/** The uploader, for the row and the audit trail. */
export type Uploader = AuditWho & { companyId: string; userId: string; employmentId: string };

export type Incoming = {
  filename: string;
  content: AsyncIterable<Uint8Array>;
  /** True when the multipart parser cut the file at the per-file limit. */
  truncated(): boolean;
};

const HEAD_BYTES = 4096;
const SCAN_LEASE_MS = 10 * 60_000;
export const ABANDONED_AFTER_MS = 60 * 60_000;

export function tenantScope(deps: AppDeps, companyId: string, userId?: string): StoreScope {
  return { companyId, run: (fn) => withTenant(deps.database, { companyId, userId }, fn) };
}

function unsafeSystemScope(deps: AppDeps, companyId: string): StoreScope {
  return { companyId, run: (fn) => unsafeSystemTransaction(deps.database, fn) };
}

/** Bytes the company keeps in files (waiting or available, and uploads in progress). */
export async function companyUsage(deps: AppDeps, companyId: string): Promise<number> {
  const row = await withTenant(deps.database, { companyId }, (trx) =>
    trx.selectFrom('files').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('size_bytes'), eb.lit(0)).as('used')).where('state', '<>', 'infected').executeTakeFirstOrThrow(),
  );
  return Number(row.used);
}

async function drain(content: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _piece of content) {
    // Read and forget, so the parser can move on to the next part.
  }
}

/**
 * Streams one incoming file into storage, checks it, and scans it. Refusals store nothing; what
 * was accepted before a refusal stays. Throws only when the request itself broke (the row is
 * deleted first).
 */
export async function receiveFile(deps: AppDeps, uploader: Uploader, target: FileTarget, incoming: Incoming, scanner: Scanner = scannerFromConfig(deps.config)): Promise<ReceiveOutcome> {
  const limits = deps.config.uploads;
  const purpose = target === 'inbox' ? 'inbox' : target.purpose;
  const name = cleanFileName(incoming.filename);
  const refuse = async (reason: RefusalReason): Promise<ReceiveOutcome> => {
    await drain(incoming.content);
    return { status: 'refused', name, reason };
  };
  if (!name) return refuse('no_name');
  const kind = kindForExtension(extensionOf(name));
  if (!kind) return refuse('type');
  const used = await companyUsage(deps, uploader.companyId);
  if (used >= limits.maxCompanyBytes) return refuse('quota');

  const fileId = randomUUID();
  const scope = tenantScope(deps, uploader.companyId, uploader.userId);
  const admitted = await scope.run(async (trx) => {
    const refusal = target === 'inbox' ? undefined : await target.admit(trx);
    if (refusal) return refusal;
    await trx
      .insertInto('files')
      .values({
        id: fileId,
        company_id: uploader.companyId,
        purpose,
        dialogue_id: target === 'inbox' ? null : target.dialogueId,
        agreement_id: target === 'inbox' ? null : target.agreementId,
        uploaded_by: uploader.employmentId,
        name,
        kind,
        content_type: FILE_KINDS[kind].contentType,
        state: 'uploading',
        created_at: deps.clock.now(),
      })
      .execute();
    return undefined;
  });
  if (admitted) return refuse(admitted);
  const discard = () => scope.run((trx) => trx.deleteFrom('files').where('id', '=', fileId).where('state', '=', 'uploading').execute());

  let refusal: RefusalReason | undefined;
  let head = Buffer.alloc(0);
  let headChecked = false;
  let total = 0;
  const writer = contentStore.writer(scope, fileId);
  try {
    for await (const piece of incoming.content) {
      if (refusal) continue; // keep reading so the next part can be parsed
      total += piece.length;
      if (used + total > limits.maxCompanyBytes) {
        refusal = 'quota';
        continue;
      }
      if (!headChecked) {
        head = Buffer.concat([head, piece]).subarray(0, HEAD_BYTES);
        if (head.length >= HEAD_BYTES) {
          headChecked = true;
          if (!headMatches(kind, head)) refusal = 'type';
        }
      }
      if (!refusal && (kind === 'csv' || kind === 'txt') && !isText(piece)) refusal = 'type';
      if (!refusal) await writer.write(piece);
    }
    if (incoming.truncated()) refusal = 'too_large';
    if (!refusal && total === 0) refusal = 'empty';
    if (!refusal && !headChecked && !headMatches(kind, head)) refusal = 'type';
    if (refusal) {
      await discard();
      return { status: 'refused', name, reason: refusal };
    }
    const stored = await writer.finish();
    if (isZipKind(kind)) {
      const verdict = await inspectZip(kind, stored.size, (start, end) => contentStore.readRange(scope, fileId, start, end), {
        maxEntries: limits.zipMaxEntries,
        maxUncompressedBytes: limits.zipMaxUncompressedBytes,
      });
      if (!verdict.ok) {
        await discard();
        return { status: 'refused', name, reason: verdict.reason };
      }
    }
    const now = deps.clock.now();
    await scope.run(async (trx) => {
      await trx
        .updateTable('files')
        .set({ state: 'waiting', size_bytes: stored.size, sha256: stored.sha256, next_scan_at: new Date(now.getTime() + SCAN_LEASE_MS) })
        .where('id', '=', fileId)
        .where('state', '=', 'uploading')
        .execute();
      await audit(trx, uploader, { type: 'files.uploaded', objectType: 'file', objectId: fileId, data: { purpose, kind, sizeBytes: stored.size, ...(target === 'inbox' ? {} : { dialogueId: target.dialogueId, agreementId: target.agreementId }) } }, now);
    });
  } catch (err) {
    // The request broke off (client gone, parser error): no half file stays behind.
    await discard().catch(() => undefined);
    throw err;
  }
  const result = await scanAndRecord(deps, scope, fileId, scanner, uploader);
  return { status: 'stored', fileId, name, ...result };
}

export type ScanRecord = { state: FileState; scanError: ScanErrorReason | null; signature: string | null };

function backoffMs(attempts: number): number {
  return Math.min(6 * 60 * 60_000, 60_000 * 2 ** Math.max(0, attempts - 1));
}

/**
 * Scans a waiting file's content and records the verdict, with its audit event, in one
 * transaction. `who` is the uploader for the first scan and the company alone for the job.
 */
export async function scanAndRecord(deps: AppDeps, scope: StoreScope, fileId: string, scanner: Scanner, who: AuditWho): Promise<ScanRecord> {
  const result = await scanner.scan(contentStore.read(scope, fileId));
  const now = deps.clock.now();
  return scope.run(async (trx: Tx) => {
    const row = await trx.selectFrom('files').select(['state', 'scan_attempts', 'kind']).where('id', '=', fileId).forUpdate().executeTakeFirst();
    if (!row) return { state: 'waiting' as const, scanError: 'scanner_error' as const, signature: null };
    if (row.state !== 'waiting') return { state: row.state, scanError: null, signature: null };
    const attempts = row.scan_attempts + 1;
    if (result.kind === 'clean') {
      await trx.updateTable('files').set({ state: 'available', scan_attempts: attempts, scan_error: null, scanned_at: now, next_scan_at: null }).where('id', '=', fileId).execute();
      await audit(trx, who, { type: 'files.available', objectType: 'file', objectId: fileId, data: { kind: row.kind } }, now);
      return { state: 'available' as const, scanError: null, signature: null };
    }
    if (result.kind === 'infected') {
      await contentStore.destroy(trx, fileId);
      await trx
        .updateTable('files')
        .set({ state: 'infected', scan_attempts: attempts, scan_error: null, scanned_at: now, next_scan_at: null, signature: result.signature.slice(0, 200) })
        .where('id', '=', fileId)
        .execute();
      await audit(trx, who, { type: 'files.infected', objectType: 'file', objectId: fileId, data: { kind: row.kind, signature: result.signature.slice(0, 200) } }, now);
      return { state: 'infected' as const, scanError: null, signature: result.signature };
    }
    // Fail closed: the file stays waiting. Without a scanner it is due again at once, so the job
    // scans it as soon as clamd is configured; otherwise it backs off.
    const next = result.reason === 'not_configured' ? now : new Date(now.getTime() + backoffMs(attempts));
    await trx.updateTable('files').set({ scan_attempts: attempts, scan_error: result.reason, next_scan_at: next }).where('id', '=', fileId).execute();
    return { state: 'waiting' as const, scanError: result.reason, signature: null };
  });
}

/**
 * The `files.scan` job: scans waiting files of every company whose retry is due. Claims a batch
 * with FOR UPDATE SKIP LOCKED and a lease (two nodes never scan the same file at once), scans
 * outside any transaction, records each verdict. Stops at the first unreachable scanner.
 */
export async function unsafeScanWaitingFiles(deps: AppDeps, scanner: Scanner = scannerFromConfig(deps.config), limit = 20): Promise<{ scanned: number; waiting: number }> {
  if (!scanner.configured) return { scanned: 0, waiting: 0 };
  const now = deps.clock.now();
  const due = await unsafeSystemTransaction(deps.database, async (trx) => {
    const rows = await trx
      .selectFrom('files')
      .select(['id', 'company_id'])
      .where('state', '=', 'waiting')
      .where((eb) => eb.or([eb('next_scan_at', 'is', null), eb('next_scan_at', '<=', now)]))
      .orderBy('created_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (rows.length > 0) {
      await trx
        .updateTable('files')
        .set({ next_scan_at: new Date(now.getTime() + SCAN_LEASE_MS) })
        .where('id', 'in', rows.map((r) => r.id))
        .execute();
    }
    return rows;
  });
  let scanned = 0;
  let waiting = 0;
  for (const row of due) {
    const record = await scanAndRecord(deps, unsafeSystemScope(deps, row.company_id), row.id, scanner, { companyId: row.company_id });
    if (record.state === 'waiting') {
      waiting += 1;
      if (record.scanError === 'unreachable' || record.scanError === 'timeout') {
        // The rest of the batch would wait for the same dead scanner: give them their lease back.
        const rest = due.slice(due.indexOf(row) + 1).map((r) => r.id);
        if (rest.length > 0) await unsafeSystemTransaction(deps.database, (trx) => trx.updateTable('files').set({ next_scan_at: now }).where('id', 'in', rest).where('state', '=', 'waiting').execute());
        break;
      }
    } else scanned += 1;
  }
  return { scanned, waiting };
}

/** The `files.cleanup` job: uploads that never finished (the process died) are removed. */
export async function unsafeDeleteAbandonedUploads(deps: AppDeps): Promise<number> {
  const cutoff = new Date(deps.clock.now().getTime() - ABANDONED_AFTER_MS);
  const result = await unsafeSystemTransaction(deps.database, (trx) => trx.deleteFrom('files').where('state', '=', 'uploading').where('created_at', '<', cutoff).executeTakeFirst());
  return Number(result.numDeletedRows);
}

export const fileScanJob: JobDefinition = {
  name: 'files.scan',
  intervalSeconds: 60,
  leaseSeconds: 15 * 60,
  run: (deps) => unsafeScanWaitingFiles(deps),
};

export const fileCleanupJob: JobDefinition = {
  name: 'files.cleanup',
  intervalSeconds: 15 * 60,
  run: (deps) => unsafeDeleteAbandonedUploads(deps),
};

/** Kinds by name, for views. */
export type { FileKind };
