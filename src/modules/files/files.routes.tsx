/**
 * HTTP for the secure inbox (issue 7, P2): GET /inbox, POST /inbox (multipart, streamed),
 * GET /inbox/files/:id/download.
 *
 * Design note: the multipart parser is registered only in this plugin's scope. The app's CSRF
 * check (server.ts preHandler) reads `_csrf` from the body or the x-csrf-token header; a streamed
 * multipart body is not parsed before the handler, so a route-level preValidation hook reads the
 * first part, which the form puts first: the hidden `_csrf` field. Nothing of a file is read
 * before the Origin and CSRF checks have passed. The file parts are then streamed one by one into
 * storage by the service; busboy cuts each file at the per-file limit.
 *
 * Downloads are always `Content-Disposition: attachment` with an RFC 5987 name, nosniff, and a
 * CSP of `sandbox; default-src 'none'`, so nothing uploaded can ever run in our origin.
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
import { filesMessages, type FilesKey } from './files.i18n.ts';
import * as service from './files.service.ts';
import type { FilesCtx } from './files.service.ts';
import { InboxPageView, UploadResults, type Limits } from './files.views.tsx';

export type Part =
  | { type: 'field'; fieldname: string; value: unknown }
  | { type: 'file'; fieldname: string; filename: string; file: NodeJS.ReadableStream & { truncated?: boolean } };

const pendingParts = new WeakMap<FastifyRequest, AsyncIterator<Part>>();

function ctxOf(req: FastifyRequest, deps: AppDeps): FilesCtx {
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

/** RFC 6266 / RFC 5987: an ASCII fallback and the exact name in UTF-8. */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%;]/g, '_') || 'file';
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export async function drainStream(stream: NodeJS.ReadableStream): Promise<void> {
  for await (const _piece of stream as AsyncIterable<unknown>) {
    // discard
  }
}

/**
 * The route-level preValidation hook of a streamed multipart upload (see the design note above):
 * reads only the leading `_csrf` field, keeps the rest of the parts for the handler.
 */
export async function readLeadingCsrf(req: FastifyRequest): Promise<void> {
  if (!req.isMultipart()) return;
  const parts = (req.parts() as AsyncIterableIterator<Part>)[Symbol.asyncIterator]();
  pendingParts.set(req, parts);
  const first = await parts.next().catch(() => undefined);
  // Only a leading _csrf field is read here; a file first means no token (403).
  if (first && !first.done && first.value.type === 'field' && first.value.fieldname === '_csrf' && typeof first.value.value === 'string') {
    req.body = { _csrf: first.value.value };
  } else if (first && !first.done && first.value.type === 'file') {
    first.value.file.resume();
  }
}

/** The parts left after readLeadingCsrf, or undefined for a body that was not multipart. */
export function remainingParts(req: FastifyRequest): AsyncIterator<Part> | undefined {
  return pendingParts.get(req);
}

/** The multipart parser's options for an upload route's scope. */
export type FileUpload = { filename: string; content: AsyncIterable<Uint8Array>; truncated: () => boolean };
export type UploadRun = { outcomes: ReceiveOutcome[]; problem?: { key: 'tooManyFiles' | 'badUpload'; status: 400 | 413 } };

/**
 * Reads the request's file parts one after the other and hands each to `receive` (one pipeline
 * for the inbox and for attachments). Empty file inputs and unknown fields are read and skipped.
 * Files saved before a problem (too many files, a broken body) stay saved and are reported.
 */
export async function receiveFileParts(parts: AsyncIterator<Part>, receive: (upload: FileUpload) => Promise<ReceiveOutcome>): Promise<UploadRun> {
  const outcomes: ReceiveOutcome[] = [];
  try {
    for (;;) {
      const next = await parts.next();
      if (next.done) break;
      const part = next.value;
      if (part.type !== 'file') continue;
      if (part.fieldname !== 'files' || !part.filename) {
        await drainStream(part.file);
        continue;
      }
      const file = part.file;
      outcomes.push(await receive({ filename: part.filename, content: file as AsyncIterable<Uint8Array>, truncated: () => file.truncated === true }));
    }
  } catch (error) {
    if ((error as { code?: string }).code === 'FST_FILES_LIMIT') return { outcomes, problem: { key: 'tooManyFiles', status: 413 } };
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500 && !(error instanceof NotFoundError)) return { outcomes, problem: { key: 'badUpload', status: status === 413 ? 413 : 400 } };
    throw error;
  }
  return { outcomes };
}

export function multipartOptions(limits: Limits) {
  return {
    throwFileSizeLimit: false,
    limits: {
      fileSize: limits.maxFileBytes,
      files: limits.maxFilesPerRequest,
      fields: 5,
      fieldSize: 1024,
      parts: limits.maxFilesPerRequest + 5,
      headerPairs: 50,
    },
  };
}

/** An uploaded file sent back: always an attachment, never run or sniffed in our origin. */
export function sendDownload(reply: FastifyReply, download: { name: string; contentType: string; sizeBytes: number; stream: NodeJS.ReadableStream }) {
  return reply
    .code(200)
    .header('content-type', download.contentType)
    .header('content-disposition', contentDisposition(download.name))
    .header('content-length', String(download.sizeBytes))
    .header('content-security-policy', "sandbox; default-src 'none'")
    .header('x-content-type-options', 'nosniff')
    .header('cross-origin-resource-policy', 'same-origin')
    .header('cache-control', 'no-store')
    .send(download.stream);
}

export function registerFiles(app: FastifyInstance, deps: AppDeps) {
  const limits: Limits = deps.config.uploads;
  const scannerConfigured = deps.config.scanner.kind !== 'none';

  const renderPage = async (req: FastifyRequest, reply: FastifyReply, outcomes: ReceiveOutcome[] = [], error?: string, status = 200) => {
    const data = await service.getInboxPage(ctxOf(req, deps));
    return sendPage(reply, <InboxPageView vc={viewContext(req)} data={data} limits={limits} scannerConfigured={scannerConfigured} outcomes={outcomes} error={error} />, status);
  };

  app.get('/inbox', async (req, reply) => renderPage(req, reply));

  app.get('/inbox/files/:id/download', async (req, reply) => {
    const id = idParam(req);
    let download: service.Download;
    try {
      download = await service.openDownload(ctxOf(req, deps), id);
    } catch (error) {
      if (error instanceof ConflictError) {
        const t = translator(req.lang, filesMessages);
        return renderPage(req, reply, [], t(error.code === 'errNotScanned' ? 'errNotScanned' : 'errInfected'), 409);
      }
      throw error;
    }
    return sendDownload(reply, download);
  });

  // The upload, in a scope of its own: only this route parses multipart bodies.
  app.register(async (scope) => {
    await scope.register(fastifyMultipart, multipartOptions(limits));

    scope.post(
      '/inbox',
      { preValidation: readLeadingCsrf },
      async (req, reply) => {
        const ctx = ctxOf(req, deps);
        const t = translator(req.lang, filesMessages);
        const fragment = req.headers['x-upload-fragment'] === '1';
        const respond = (outcomes: ReceiveOutcome[], errorKey?: FilesKey, forced?: number) => {
          const error = errorKey ? t(errorKey, { maxFiles: limits.maxFilesPerRequest }) : undefined;
          const status =
            forced ?? (outcomes.some((o) => o.status === 'refused' && o.reason === 'too_large') ? 413 : error || outcomes.some((o) => o.status === 'refused' || o.state === 'infected') ? 422 : 200);
          if (fragment) return sendFragment(reply, <UploadResults lang={req.lang} limits={limits} outcomes={outcomes} error={error} />, status);
          return renderPage(req, reply, outcomes, error, status);
        };

        const parts = pendingParts.get(req);
        if (!parts) return respond([], 'noFiles', 422);
        const run = await receiveFileParts(parts, (upload) => service.sendToInbox(ctx, upload));
        if (run.problem) return respond(run.outcomes, run.problem.key, run.problem.status);
        const outcomes = run.outcomes;
        if (outcomes.length === 0) return respond([], 'noFiles', 422);
        return respond(outcomes);
      },
    );
  });
}
