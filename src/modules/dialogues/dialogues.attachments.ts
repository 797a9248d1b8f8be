/**
 * Attachments on a dialogue and on its agreements (issue 7, P2, P5, M8, M14). The dialogue's own
 * rules decide who may attach, list and download: exactly the participants who may read the
 * dialogue (dialogues.policy.ts `sideOf`); anyone else, company admins included, gets 404. The
 * file machinery (streaming, type by content, zip checks, clamd, fail closed) is the secure
 * inbox's, src/platform/storage/files.ts.
 *
 * Design note: a closed dialogue takes no new attachments (409), but its files stay readable.
 * The closed check and the per-dialogue limit are checked twice: before the upload is read (a
 * clear 409 or refusal without reading the body) and again in the transaction that creates the
 * file row, with the dialogue row locked, so concurrent uploads cannot pass the limit together.
 */
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { listViewers, recordView, type Viewer, type ViewerRole } from '../../platform/audit/views.ts';
import { ConflictError, NotFoundError } from '../../platform/errors.ts';
import type { FileKind, FileState } from '../../platform/db/schema.ts';
import { receiveFile, tenantScope, type Incoming, type ReceiveOutcome } from '../../platform/storage/files.ts';
import { contentStore, contentStream } from '../../platform/storage/store.ts';
import * as repo from './dialogues.repository.ts';
import { sideOf, type Side } from './dialogues.policy.ts';

export type AttachmentsCtx = { deps: AppDeps; actor: UserActor; ip: string; userAgent?: string | undefined };

export type AttachmentRow = {
  id: string;
  agreementId: string | null;
  name: string;
  kind: FileKind;
  sizeBytes: number;
  state: FileState;
  signature: string | null;
  createdAt: Date;
  uploaderName: string | null;
  /** Who downloaded it ("viewed by", M14). */
  downloadedBy: Viewer[];
};

export type AttachmentsData = {
  dialogueId: string;
  /** Closed dialogues take no new attachments. */
  mayAttach: boolean;
  files: AttachmentRow[];
  /** Attachments counted against the limit (all but infected ones). */
  count: number;
  limit: number;
  agreements: { id: string; title: string }[];
};

/** Conflict codes, texts in dialogues.attachments.i18n.ts. */
export class AttachmentConflictError extends ConflictError {
  constructor(code: 'errAttachLocked' | 'errNotScanned' | 'errInfected') {
    super(code);
  }
}

function run<T>(ctx: AttachmentsCtx, fn: (trx: Tx) => Promise<T>): Promise<T> {
  return withTenant(ctx.deps.database, { companyId: ctx.actor.companyId, userId: ctx.actor.userId }, fn);
}

/** The dialogue and the actor's side; not found for anyone without one (M8). */
async function loadDialogue(trx: Tx, actor: UserActor, id: string, lock = false): Promise<{ d: repo.DialogueRow; side: Side }> {
  const d = await repo.findDialogue(trx, id, lock);
  if (!d) throw new NotFoundError();
  const side = sideOf({ employmentId: actor.employmentId, dialogueAccess: await repo.listDialogueAccess(trx, actor.employmentId) }, d);
  if (side === null) throw new NotFoundError();
  return { d, side };
}

function viewerRole(actor: UserActor, d: repo.DialogueRow, side: Side): ViewerRole {
  return side === 'employee' ? 'employee' : d.leader_employment_id === actor.employmentId ? 'leader' : 'delegate';
}

async function countAttachments(trx: Tx, dialogueId: string): Promise<number> {
  const row = await trx
    .selectFrom('files')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('dialogue_id', '=', dialogueId)
    .where('purpose', '=', 'dialogue')
    .where('state', '<>', 'infected')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listAttachments(ctx: AttachmentsCtx, dialogueId: string): Promise<AttachmentsData> {
  return run(ctx, async (trx) => {
    const { d } = await loadDialogue(trx, ctx.actor, dialogueId);
    const rows = await trx
      .selectFrom('files as f')
      .leftJoin('employments as e', (j) => j.onRef('e.id', '=', 'f.uploaded_by').onRef('e.company_id', '=', 'f.company_id'))
      .leftJoin('users as u', 'u.id', 'e.user_id')
      .select(['f.id', 'f.agreement_id', 'f.name', 'f.kind', 'f.size_bytes', 'f.state', 'f.signature', 'f.created_at', 'u.name as uploader_name'])
      .where('f.purpose', '=', 'dialogue')
      .where('f.dialogue_id', '=', d.id)
      .where('f.state', '<>', 'uploading')
      .orderBy('f.created_at')
      .orderBy('f.id')
      .limit(500)
      .execute();
    const files: AttachmentRow[] = [];
    for (const r of rows) {
      files.push({
        id: r.id,
        agreementId: r.agreement_id,
        name: r.name,
        kind: r.kind,
        sizeBytes: Number(r.size_bytes),
        state: r.state,
        signature: r.signature,
        createdAt: r.created_at,
        uploaderName: r.uploader_name,
        downloadedBy: r.state === 'available' ? await listViewers(trx, 'file', r.id) : [],
      });
    }
    const agreements = (await repo.readAgreements(trx, d.id)).map((a) => ({ id: a.id, title: a.title_text }));
    return {
      dialogueId: d.id,
      // Closed, or in the leader's archive (the employee left, M15): no new files.
      mayAttach: d.state !== 'closed' && (d.employee_fired_at === null || d.group_id !== null),
      files,
      count: files.filter((f) => f.state !== 'infected').length,
      limit: ctx.deps.config.uploads.maxFilesPerDialogue,
      agreements,
    };
  });
}

/** The dialogue an agreement belongs to, for a participant (else not found). */
export async function dialogueOfAgreement(ctx: AttachmentsCtx, agreementId: string): Promise<string> {
  return run(ctx, async (trx) => {
    const a = await repo.readAgreement(trx, agreementId);
    if (!a) throw new NotFoundError();
    return (await loadDialogue(trx, ctx.actor, a.dialogue_id)).d.id;
  });
}

/** Before any of the upload is read: the dialogue is in reach (404) and still open (409). */
export async function checkMayAttach(ctx: AttachmentsCtx, dialogueId: string): Promise<void> {
  await run(ctx, async (trx) => {
    const { d } = await loadDialogue(trx, ctx.actor, dialogueId);
    if (d.state === 'closed' || (d.employee_fired_at !== null && d.group_id === null)) throw new AttachmentConflictError('errAttachLocked');
  });
}

/** One file from the form, attached to the dialogue (and to one of its agreements). */
export async function attach(ctx: AttachmentsCtx, dialogueId: string, agreementId: string | null, incoming: Incoming): Promise<ReceiveOutcome> {
  const { actor, deps } = ctx;
  const who = { ...whoFromActor(actor, ctx.ip), companyId: actor.companyId, userId: actor.userId, employmentId: actor.employmentId, userAgent: ctx.userAgent };
  return receiveFile(deps, who, {
    purpose: 'dialogue',
    dialogueId,
    agreementId,
    admit: async (trx) => {
      // Again, with the dialogue row locked: access, state, the agreement, the limit.
      const { d } = await loadDialogue(trx, actor, dialogueId, true);
      if (agreementId !== null) {
        const a = await repo.readAgreement(trx, agreementId);
        if (!a || a.dialogue_id !== d.id) throw new NotFoundError();
      }
      if (d.state === 'closed' || (d.employee_fired_at !== null && d.group_id === null)) return 'locked';
      if ((await countAttachments(trx, d.id)) >= deps.config.uploads.maxFilesPerDialogue) return 'dialogue_limit';
      return undefined;
    },
  }, incoming);
}

export type AttachmentDownload = { dialogueId: string; name: string; contentType: string; sizeBytes: number; stream: NodeJS.ReadableStream };

/**
 * A participant downloads an attachment: the "viewed by" row (M14) and the audit event are
 * written in the same transaction as the read. Out of reach is 404; not known to be clean is 409.
 */
export async function openAttachment(ctx: AttachmentsCtx, fileId: string): Promise<AttachmentDownload> {
  const { actor, deps } = ctx;
  const file = await run(ctx, async (trx) => {
    const f = await trx
      .selectFrom('files')
      .select(['id', 'dialogue_id', 'agreement_id', 'name', 'kind', 'content_type', 'size_bytes', 'state'])
      .where('id', '=', fileId)
      .where('purpose', '=', 'dialogue')
      .executeTakeFirst();
    if (!f?.dialogue_id || f.state === 'uploading') throw new NotFoundError();
    const { d, side } = await loadDialogue(trx, actor, f.dialogue_id);
    if (f.state !== 'available') throw new AttachmentConflictError(f.state === 'waiting' ? 'errNotScanned' : 'errInfected');
    const now = deps.clock.now();
    await recordView(trx, { companyId: actor.companyId, objectType: 'file', objectId: f.id, viewer: { userId: actor.userId }, role: viewerRole(actor, d, side), at: now });
    await audit(
      trx,
      { ...whoFromActor(actor, ctx.ip), userAgent: ctx.userAgent },
      { type: 'files.downloaded', objectType: 'file', objectId: f.id, data: { kind: f.kind, dialogueId: d.id, agreementId: f.agreement_id } },
      now,
    );
    return { ...f, dialogueId: d.id };
  });
  const stream = contentStream(contentStore, tenantScope(deps, actor.companyId, actor.userId), file.id);
  return { dialogueId: file.dialogueId, name: file.name, contentType: file.content_type, sizeBytes: Number(file.size_bytes), stream };
}

/** The dialogue a file is attached to, for a participant (else not found). */
export async function dialogueOfFile(ctx: AttachmentsCtx, fileId: string): Promise<string> {
  return run(ctx, async (trx) => {
    const f = await trx.selectFrom('files').select('dialogue_id').where('id', '=', fileId).where('purpose', '=', 'dialogue').executeTakeFirst();
    if (!f?.dialogue_id) throw new NotFoundError();
    return (await loadDialogue(trx, ctx.actor, f.dialogue_id)).d.id;
  });
}
