/**
 * HTTP for attachments on dialogues and agreements (issue 7, P2, P5, M8, M14):
 * GET /dialogues/:id/attachments, POST /dialogues/:id/attachments, POST
 * /agreements/:id/attachments (multipart, streamed), GET /attachments/:id/download.
 *
 * The upload reuses the secure inbox's multipart handling (src/modules/files/files.routes.tsx:
 * only a leading `_csrf` field is read before the CSRF check; the files are then streamed one by
 * one). Access is checked before any file part is read: a dialogue out of reach is 404, a closed
 * one 409. Downloads are attachments with nosniff and a sandbox CSP, like the inbox's.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendFragment, sendPage } from '../../platform/html/render.ts';
import { ConflictError, NotFoundError } from '../../platform/errors.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import type { ReceiveOutcome } from '../../platform/storage/files.ts';
import { drainStream, multipartOptions, readLeadingCsrf, receiveFileParts, remainingParts, sendDownload } from '../files/files.routes.tsx';
import { filesMessages, type FilesKey } from '../files/files.i18n.ts';
import { UploadResults, type Limits } from '../files/files.views.tsx';
import { attachmentMessages } from './dialogues.attachments.i18n.ts';
import * as service from './dialogues.attachments.ts';
import type { AttachmentsCtx } from './dialogues.attachments.ts';
import { AttachmentsPage } from './dialogues.attachments.views.tsx';

function ctxOf(req: FastifyRequest, deps: AppDeps): AttachmentsCtx {
  const actor = req.actor;
  if (actor?.kind !== 'user') throw new NotFoundError();
  const ua = req.headers['user-agent'];
  return { deps, actor, ip: req.ip, userAgent: typeof ua === 'string' ? ua : undefined };
}

function idParam(req: FastifyRequest): string {
  const parsed = z.uuid().safeParse((req.params as { id?: unknown }).id);
  if (!parsed.success) throw new NotFoundError();
  return parsed.data;
}

/** Reads and forgets whatever is left of a multipart body. */
async function drainParts(req: FastifyRequest): Promise<void> {
  const parts = remainingParts(req);
  if (!parts) return;
  try {
    for (;;) {
      const next = await parts.next();
      if (next.done) return;
      if (next.value.type === 'file') await drainStream(next.value.file);
    }
  } catch {
    // A broken body: nothing more to read.
  }
}

export function registerDialogueAttachments(app: FastifyInstance, deps: AppDeps) {
  const limits: Limits = deps.config.uploads;

  const renderPage = async (req: FastifyRequest, reply: FastifyReply, dialogueId: string, outcomes: ReceiveOutcome[] = [], error?: string, status = 200) => {
    const data = await service.listAttachments(ctxOf(req, deps), dialogueId);
    return sendPage(reply, <AttachmentsPage vc={viewContext(req)} data={data} limits={limits} outcomes={outcomes} error={error} />, status);
  };

  app.get('/dialogues/:id/attachments', async (req, reply) => renderPage(req, reply, idParam(req)));

  app.get('/attachments/:id/download', async (req, reply) => {
    const id = idParam(req);
    try {
      return sendDownload(reply, await service.openAttachment(ctxOf(req, deps), id));
    } catch (error) {
      if (error instanceof ConflictError) {
        // The file is in reach (otherwise 404): show its dialogue's attachments with the reason.
        const dialogueId = await service.dialogueOfFile(ctxOf(req, deps), id);
        const t = translator(req.lang, attachmentMessages);
        return renderPage(req, reply, dialogueId, [], t(error.code === 'errNotScanned' ? 'errNotScanned' : 'errInfected'), 409);
      }
      throw error;
    }
  });

  app.register(async (scope) => {
    await scope.register(fastifyMultipart, multipartOptions(limits));

    const handleUpload = async (req: FastifyRequest, reply: FastifyReply, dialogueId: string, agreementId: string | null) => {
      const ctx = ctxOf(req, deps);
      const t = translator(req.lang, filesMessages);
      const fragment = req.headers['x-upload-fragment'] === '1';
      const shown = { ...limits, maxFilesPerDialogue: deps.config.uploads.maxFilesPerDialogue };
      const respond = (outcomes: ReceiveOutcome[], error?: string, forced?: number) => {
        const status =
          forced ?? (outcomes.some((o) => o.status === 'refused' && o.reason === 'too_large') ? 413 : error || outcomes.some((o) => o.status === 'refused' || o.state === 'infected') ? 422 : 200);
        if (fragment) return sendFragment(reply, <UploadResults lang={req.lang} limits={shown} outcomes={outcomes} error={error} />, status);
        return renderPage(req, reply, dialogueId, outcomes, error, status);
      };
      const errorText = (key: FilesKey) => t(key, { maxFiles: limits.maxFilesPerRequest });

      // Before any file is read: in reach (else 404) and still open (else 409).
      try {
        await service.checkMayAttach(ctx, dialogueId);
      } catch (error) {
        await drainParts(req);
        if (error instanceof ConflictError) return respond([], translator(req.lang, attachmentMessages)('errAttachLocked'), 409);
        throw error;
      }

      const parts = remainingParts(req);
      if (!parts) return respond([], errorText('noFiles'), 422);
      const run = await receiveFileParts(parts, (upload) => service.attach(ctx, dialogueId, agreementId, upload));
      if (run.problem) return respond(run.outcomes, errorText(run.problem.key), run.problem.status);
      const outcomes = run.outcomes;
      if (outcomes.length === 0) return respond([], errorText('noFiles'), 422);
      // A dialogue closed while the upload ran refuses like a closed one.
      if (outcomes.every((o) => o.status === 'refused' && o.reason === 'locked')) return respond(outcomes, undefined, 409);
      return respond(outcomes);
    };

    scope.post('/dialogues/:id/attachments', { preValidation: readLeadingCsrf }, async (req, reply) => handleUpload(req, reply, idParam(req), null));

    scope.post('/agreements/:id/attachments', { preValidation: readLeadingCsrf }, async (req, reply) => {
      const agreementId = idParam(req);
      let dialogueId: string;
      try {
        dialogueId = await service.dialogueOfAgreement(ctxOf(req, deps), agreementId);
      } catch (error) {
        await drainParts(req);
        throw error;
      }
      return handleUpload(req, reply, dialogueId, agreementId);
    });
  });
}
