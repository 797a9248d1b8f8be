/**
 * The form builder (issue 4), for company admins and `configuration` delegates; 404 for everyone
 * else (forms.service.ts decides):
 *   GET  /forms              the company's forms and the built-in templates
 *   GET  /forms/edit[?id=]   a new form, or the newest version of a company form as a draft
 *   POST /forms/edit         an editing step (op=add-question:0, ...) or op=save
 *   POST /forms/copy         copy a built-in template into a new company form
 * The form id travels in the query and the body rather than the path: the editor is one page
 * whose state is the posted draft (forms.builder.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { rawForm } from '../../platform/http/forms.ts';
import { translator, isLang } from '../../platform/i18n/i18n.ts';
import { findBuiltin } from './builtin.ts';
import { applyOp, emptyDraft, parseDraft, parseOp } from './forms.builder.ts';
import { formsMessages } from './forms.i18n.ts';
import { copyBuiltin, getEditor, getUse, listFormsPage, mayBuildForms, saveDraft, type FormsCtx } from './forms.service.ts';
import { FormEditorPage, FormsListPage } from './forms.views.tsx';

function ctxOf(req: FastifyRequest, deps: AppDeps): FormsCtx {
  const actor = req.actor;
  if (actor?.kind !== 'user') throw new NotFoundError();
  return { deps, actor, ip: req.ip };
}

const uuid = z.uuid();

export function registerForms(app: FastifyInstance, deps: AppDeps) {
  app.get('/forms', async (req, reply) => {
    const data = await listFormsPage(ctxOf(req, deps));
    return sendPage(reply, <FormsListPage vc={viewContext(req)} data={data} />);
  });

  app.get('/forms/edit', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    const q = req.query as Record<string, unknown>;
    const t = translator(req.lang, formsMessages);
    if (q.id === undefined || q.id === '') {
      if (!(await mayBuildForms(ctx))) throw new NotFoundError();
      return sendPage(reply, <FormEditorPage vc={viewContext(req)} draft={emptyDraft(isLang(req.lang) ? req.lang : 'da')} />);
    }
    const id = uuid.safeParse(q.id);
    if (!id.success) throw new NotFoundError();
    const editor = await getEditor(ctx, id.data);
    const version = Number(q.version);
    const flash = q.done === 'saved' && Number.isSafeInteger(version) ? t('saved', { version }) : q.done === 'unchanged' ? t('unchanged') : q.done === 'copied' ? t('copied') : undefined;
    return sendPage(reply, <FormEditorPage vc={viewContext(req)} draft={editor.draft} use={{ ...editor.use, latest: editor.latest }} flash={flash} />);
  });

  app.post('/forms/edit', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    // Authorization before anything about the input is answered.
    if (!(await mayBuildForms(ctx))) throw new NotFoundError();
    const form = rawForm(req.body);
    const draft = parseDraft(form);
    const op = parseOp(form.op) ?? { kind: 'refresh' as const };
    const use = draft.formId ? await getUse(ctx, draft.formId) : undefined;
    const useProp = use ? { ...use.use, latest: use.latest } : undefined;
    const t = translator(req.lang, formsMessages);
    if (op.kind !== 'save') {
      const refused = applyOp(draft, op);
      const errors = refused ? { sections: refused } : undefined;
      return sendPage(reply, <FormEditorPage vc={viewContext(req)} draft={draft} errors={errors} use={useProp} />, refused ? 422 : 200);
    }
    const outcome = await saveDraft(ctx, draft);
    if (outcome.ok) {
      const done = outcome.newVersion ? `saved&version=${outcome.version}` : 'unchanged';
      return reply.redirect(`/forms/edit?id=${outcome.formId}&done=${done}`, 303);
    }
    if (outcome.reason === 'conflict') {
      // Keep everything typed; the next save is based on the newest version.
      draft.baseVersion = String(outcome.latest);
      return sendPage(reply, <FormEditorPage vc={viewContext(req)} draft={draft} use={useProp} message={t('conflict')} />, 409);
    }
    return sendPage(reply, <FormEditorPage vc={viewContext(req)} draft={draft} errors={outcome.errors} use={useProp} />, 422);
  });

  app.post('/forms/copy', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    if (!(await mayBuildForms(ctx))) throw new NotFoundError();
    const key = rawForm(req.body).key ?? '';
    const builtin = findBuiltin(key);
    const t = translator(req.lang, formsMessages);
    if (!builtin) {
      const data = await listFormsPage(ctx);
      return sendPage(reply, <FormsListPage vc={viewContext(req)} data={data} flash={t('errUnknownTemplate')} />, 422);
    }
    const id = await copyBuiltin(ctx, builtin.key, t('copyName', { name: builtin.name }));
    return reply.redirect(`/forms/edit?id=${id}&done=copied`, 303);
  });
}
