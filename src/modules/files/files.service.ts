/**
 * The secure inbox's rules (issue 7, P2, M8): authorize first, then act, audit in the same
 * transaction. The file machinery (streaming, type checks, scanning) is in
 * src/platform/storage/files.ts; this module decides who may send, list and download.
 */
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { withTenant } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { recordView } from '../../platform/audit/views.ts';
import { ConflictError, NotFoundError } from '../../platform/errors.ts';
import { companyUsage, receiveFile, tenantScope, type Incoming, type ReceiveOutcome } from '../../platform/storage/files.ts';
import { contentStore, contentStream } from '../../platform/storage/store.ts';
import type { FileKind, FileState } from '../../platform/db/schema.ts';
import { mayReadInbox, maySendToInbox } from './files.policy.ts';

export type FilesCtx = { deps: AppDeps; actor: UserActor; ip: string; userAgent?: string | undefined };

export type FileRow = {
  id: string;
  name: string;
  kind: FileKind;
  sizeBytes: number;
  state: FileState;
  scanError: string | null;
  signature: string | null;
  createdAt: Date;
  uploaderName: string | null;
  /** For admins: who downloaded it ("viewed by", M14), most recent first. */
  downloadedBy: { name: string; count: number; lastAt: Date }[];
};

export type InboxPage = {
  canRead: boolean;
  /** For admins: the inbox; for everyone else: their own files. */
  files: FileRow[];
  /** For admins: files refused as infected in the last 30 days (the in-app notice). */
  refused: FileRow[];
  usedBytes: number;
};

const DAY = 24 * 60 * 60_000;

export async function getInboxPage(ctx: FilesCtx): Promise<InboxPage> {
  const { actor, deps } = ctx;
  const canRead = mayReadInbox(actor);
  const usedBytes = await companyUsage(deps, actor.companyId);
  return withTenant(deps.database, { companyId: actor.companyId, userId: actor.userId }, async (trx) => {
    const base = trx
      .selectFrom('files as f')
      .leftJoin('employments as e', (j) => j.onRef('e.id', '=', 'f.uploaded_by').onRef('e.company_id', '=', 'f.company_id'))
      .leftJoin('users as u', 'u.id', 'e.user_id')
      .select(['f.id', 'f.name', 'f.kind', 'f.size_bytes', 'f.state', 'f.scan_error', 'f.signature', 'f.created_at', 'u.name as uploader_name'])
      .where('f.purpose', '=', 'inbox')
      .where('f.state', '<>', 'uploading')
      .orderBy('f.created_at', 'desc')
      .limit(200);
    const toRow = (r: { id: string; name: string; kind: FileKind; size_bytes: number; state: FileState; scan_error: string | null; signature: string | null; created_at: Date; uploader_name: string | null }): FileRow => ({
      id: r.id,
      name: r.name,
      kind: r.kind,
      sizeBytes: Number(r.size_bytes),
      state: r.state,
      scanError: r.scan_error,
      signature: r.signature,
      createdAt: r.created_at,
      uploaderName: r.uploader_name,
      downloadedBy: [],
    });
    if (!canRead) {
      const own = await base.where('f.uploaded_by', '=', actor.employmentId).execute();
      return { canRead, files: own.map(toRow), refused: [], usedBytes };
    }
    const files = (await base.where('f.state', 'in', ['waiting', 'available']).execute()).map(toRow);
    if (files.length > 0) {
      // One query for the whole list: who downloaded which file (document_views, M14).
      const views = await trx
        .selectFrom('document_views as v')
        .leftJoin('users as u', 'u.id', 'v.viewer_user_id')
        .select((eb) => ['v.object_id', 'u.name', eb.fn.countAll<number>().as('views'), eb.fn.max('v.viewed_at').as('last')])
        .where('v.object_type', '=', 'file')
        .where('v.object_id', 'in', files.map((x) => x.id))
        .groupBy(['v.object_id', 'v.viewer_user_id', 'v.viewer_staff_id', 'u.name'])
        .orderBy('last', 'desc')
        .execute();
      const byFile = new Map(files.map((x) => [x.id, x]));
      for (const v of views) byFile.get(v.object_id)?.downloadedBy.push({ name: v.name ?? '', count: Number(v.views), lastAt: new Date(v.last as unknown as string) });
    }
    const since = new Date(deps.clock.now().getTime() - 30 * DAY);
    const refused = await base.where('f.state', '=', 'infected').where('f.created_at', '>=', since).execute();
    return { canRead, files, refused: refused.map(toRow), usedBytes };
  });
}

/** One file from the upload form; every outcome (stored or refused) is reported. */
export async function sendToInbox(ctx: FilesCtx, incoming: Incoming): Promise<ReceiveOutcome> {
  if (!maySendToInbox(ctx.actor)) throw new NotFoundError();
  const who = { ...whoFromActor(ctx.actor, ctx.ip), companyId: ctx.actor.companyId, userId: ctx.actor.userId, employmentId: ctx.actor.employmentId, userAgent: ctx.userAgent };
  return receiveFile(ctx.deps, who, 'inbox', incoming);
}

export type Download = { name: string; contentType: string; sizeBytes: number; stream: NodeJS.ReadableStream };

/**
 * Authorizes a download, writes the "viewed by" row and the audit event in one transaction, and
 * returns the content as a stream. Anything not in reach is 404; a file not yet known to be clean
 * is 409 (fail closed).
 */
export async function openDownload(ctx: FilesCtx, fileId: string): Promise<Download> {
  const { actor, deps } = ctx;
  if (!mayReadInbox(actor)) throw new NotFoundError();
  const file = await withTenant(deps.database, { companyId: actor.companyId, userId: actor.userId }, async (trx) => {
    const f = await trx.selectFrom('files').select(['id', 'name', 'kind', 'content_type', 'size_bytes', 'state']).where('id', '=', fileId).where('purpose', '=', 'inbox').executeTakeFirst();
    if (!f || f.state === 'uploading') throw new NotFoundError();
    if (f.state !== 'available') throw new ConflictError(f.state === 'waiting' ? 'errNotScanned' : 'errInfected');
    const now = deps.clock.now();
    // The "viewed by" list (M14): written in the same transaction as the read.
    await recordView(trx, { companyId: actor.companyId, objectType: 'file', objectId: f.id, viewer: { userId: actor.userId }, role: 'admin', at: now });
    await audit(trx, { ...whoFromActor(actor, ctx.ip), userAgent: ctx.userAgent }, { type: 'files.downloaded', objectType: 'file', objectId: f.id, data: { kind: f.kind } }, now);
    return f;
  });
  const stream = contentStream(contentStore, tenantScope(deps, actor.companyId, actor.userId), file.id);
  return { name: file.name, contentType: file.content_type, sizeBytes: Number(file.size_bytes), stream };
}
