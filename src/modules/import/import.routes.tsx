/**
 * HTTP for the employee import (issue 7): GET /org/import (the form), POST /org/import (one CSV
 * or XLSX, multipart, streamed into the uploader), GET /org/import/:id (the preview), POST
 * /org/import/:id/apply (one transaction, then the file is deleted), POST /org/import/:id/delete
 * (the file deleted without importing).
 *
 * Design note: as in the inbox, multipart is parsed only inside this plugin's own scope, and the
 * form puts the hidden `_csrf` field first; a preValidation hook reads just that field, so the
 * app's Origin and CSRF checks run before any byte of the file is read. Busboy cuts the file at
 * the uploader's size limit. Authorization is the service's (404 for anyone outside the
 * organisation pages, and for imports out of reach).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { orgMessages, isOrgKey } from '../org/org.i18n.ts';
import { importMessages, type ImportKey } from './import.i18n.ts';
import { MAX_ROWS } from './import.parse.ts';
import * as service from './import.service.ts';
import type { ImportCtx, UploadOutcome } from './import.service.ts';
import { ImportFormPage, ImportPreviewPage } from './import.views.tsx';

type FilePart = { type: 'file'; fieldname: string; filename: string; file: NodeJS.ReadableStream & { truncated?: boolean } };
type FieldPart = { type: 'field'; fieldname: string; value: unknown };

const uploads = new WeakMap<FastifyRequest, AsyncIterator<FilePart | FieldPart>>();

function ctxOf(req: FastifyRequest, deps: AppDeps): ImportCtx {
  const actor = req.actor;
  if (actor?.kind !== 'user') throw new NotFoundError();
  return { deps, actor, ip: req.ip };
}

function idParam(req: FastifyRequest): string {
  const parsed = z.uuid().safeParse((req.params as { id?: unknown }).id);
  if (!parsed.success) throw new NotFoundError();
  return parsed.data;
}

const REFUSALS: Record<Extract<UploadOutcome, { status: 'refused' }>['reason'], ImportKey> = {
  notCsvXlsx: 'notCsvXlsx',
  type: 'refusedType',
  too_large: 'refusedTooLarge',
  quota: 'refusedQuota',
  empty: 'refusedEmpty',
  broken: 'refusedBroken',
  infected: 'infected',
};

export function registerImport(app: FastifyInstance, deps: AppDeps) {
  const maxFileBytes = deps.config.uploads.maxFileBytes;

  const form = (req: FastifyRequest, reply: FastifyReply, error?: string, status = 200, flash?: string) =>
    sendPage(reply, <ImportFormPage vc={viewContext(req)} maxFileBytes={maxFileBytes} error={error} flash={flash} />, status);

  app.get('/org/import', async (req, reply) => {
    await service.authorize(ctxOf(req, deps));
    const done = (req.query as Record<string, unknown>).done;
    // Only a number comes back from the apply redirect; nothing else of the query is shown.
    const t = translator(req.lang, importMessages);
    const flash = done === 'discarded' ? t('discarded') : typeof done === 'string' && /^\d{1,5}$/.test(done) ? t('applied', { count: Number(done) }) : undefined;
    return form(req, reply, undefined, 200, flash);
  });

  app.get('/org/import/:id', async (req, reply) => {
    const preview = await service.getPreview(ctxOf(req, deps), idParam(req));
    const status = preview.status === 'refused' ? 422 : 200;
    return sendPage(reply, <ImportPreviewPage vc={viewContext(req)} preview={preview} />, status);
  });

  app.post('/org/import/:id/delete', async (req, reply) => {
    await service.discardImport(ctxOf(req, deps), idParam(req));
    return reply.code(303).header('location', '/org/import?done=discarded').send();
  });

  app.post('/org/import/:id/apply', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    const id = idParam(req);
    try {
      const { created } = await service.applyImport(ctx, id);
      return reply.code(303).header('location', `/org/import?done=${created}`).send();
    } catch (error) {
      if (!(error instanceof service.ImportApplyError)) throw error;
      const t = translator(req.lang, importMessages);
      const key = error.code as ImportKey;
      const problem =
        key in importMessages.da ? t(key, { rows: MAX_ROWS, ...error.params }) : isOrgKey(error.code) ? translator(req.lang, orgMessages)(error.code) : t('rowRefused', { code: error.code });
      const message = error.line === null ? problem : t('applyFailed', { row: error.line, problem });
      const preview = await service.getPreview(ctx, id);
      return sendPage(reply, <ImportPreviewPage vc={viewContext(req)} preview={preview} error={message} />, 409);
    }
  });

  app.register(async (scope) => {
    await scope.register(fastifyMultipart, {
      throwFileSizeLimit: false,
      limits: { fileSize: maxFileBytes, files: 1, fields: 2, fieldSize: 1024, parts: 3, headerPairs: 50 },
    });
    scope.post(
      '/org/import',
      {
        preValidation: async (req) => {
          if (!req.isMultipart()) return;
          const parts = (req.parts() as AsyncIterableIterator<FilePart | FieldPart>)[Symbol.asyncIterator]();
          uploads.set(req, parts);
          const first = await parts.next().catch(() => undefined);
          if (!first || first.done) return;
          if (first.value.type === 'field' && first.value.fieldname === '_csrf' && typeof first.value.value === 'string') req.body = { _csrf: first.value.value };
          else if (first.value.type === 'file') first.value.file.resume();
        },
      },
      async (req, reply) => {
        const ctx = ctxOf(req, deps);
        // Outside the organisation pages this route does not exist, whatever was sent.
        await service.authorize(ctx);
        const t = translator(req.lang, importMessages);
        const size = `${Math.round(maxFileBytes / (1024 * 1024))} MB`;
        const parts = uploads.get(req);
        if (!parts) return form(req, reply, t('noFile'), 422);
        let outcome: UploadOutcome | undefined;
        try {
          for (let next = await parts.next(); !next.done; next = await parts.next()) {
            const part = next.value;
            if (part.type !== 'file') continue;
            if (outcome || part.fieldname !== 'file' || !part.filename) {
              for await (const _piece of part.file as AsyncIterable<unknown>) {
                // not ours, or a second file: read and forget
              }
              continue;
            }
            const file = part.file;
            outcome = await service.uploadImport(ctx, { filename: part.filename, content: file as AsyncIterable<Uint8Array>, truncated: () => file.truncated === true });
          }
        } catch (error) {
          const status = (error as { statusCode?: number }).statusCode;
          if (!outcome && status && status >= 400 && status < 500) return form(req, reply, t('badUpload'), status === 413 ? 413 : 400);
          if (!outcome) throw error;
        }
        if (!outcome) return form(req, reply, t('noFile'), 422);
        if (outcome.status === 'refused') return form(req, reply, t(REFUSALS[outcome.reason], { size }), outcome.reason === 'too_large' ? 413 : 422);
        return reply.code(303).header('location', `/org/import/${outcome.importId}`).send();
      },
    );
  });
}
