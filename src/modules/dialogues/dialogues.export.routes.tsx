/**
 * GET /dialogues/:id/export.pdf: the dialogue as a PDF for whoever may read it (404 for anyone
 * else), downloaded as an attachment with no-store (M17, M18), recorded in "viewed by" (M14) and
 * audited (M20) by dialogues.export.ts. The 'exports' module switch turns it off (switches.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { documentLines, exportDialogue, exportMessages, renderPdf, type ExportCtx } from './dialogues.export.ts';

function ctxOf(req: FastifyRequest, deps: AppDeps): ExportCtx {
  const actor = req.actor;
  if (actor?.kind !== 'user') throw new NotFoundError();
  return { deps, actor, ip: req.ip };
}

export function registerDialogueExport(app: FastifyInstance, deps: AppDeps) {
  app.get('/dialogues/:id/export.pdf', async (req, reply) => {
    const id = z.uuid().safeParse((req.params as { id?: unknown }).id);
    if (!id.success) throw new NotFoundError();
    const data = await exportDialogue(ctxOf(req, deps), id.data);
    const title = translator(req.lang, exportMessages)('documentTitle', { name: data.dialogue.employee_name });
    const pdf = await renderPdf(documentLines(data, req.lang), { title, lang: req.lang });
    const day = deps.clock.now().toISOString().slice(0, 10);
    return reply
      .header('content-type', 'application/pdf')
      .header('content-disposition', `attachment; filename="samtale-dialogue-${day}.pdf"`)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .send(pdf);
  });
}
