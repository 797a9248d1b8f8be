/**
 * GET /org/settings/support (status, give, withdraw, history) and the two POSTs, for company
 * admins; 404 for everyone else (support.service.ts). Refusals re-render the page with the typed
 * values and a message per field (422).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { cookieNames, viewContext } from '../../platform/http/server.ts';
import { rawForm } from '../../platform/http/forms.ts';
import { sendPage } from '../../platform/html/render.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { sourceFor } from '../../platform/auth/throttle.ts';
import { relyingParty } from '../../platform/auth/webauthn.ts';
import { supportMessages } from './support.i18n.ts';
import { enterCompany, getConsentPage, giveConsent, leaveCompany, supportActivity, supportDialogue, supportDialogues, supportOverview, withdrawConsent, type ConsentErrors } from './support.service.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { z } from 'zod';
import { SupportActivityPage, SupportConsentPage, SupportDialoguePage, SupportDialoguesPage, SupportOverviewPage, type ConsentFormValues } from './support.views.tsx';

const PAGE = '/org/settings/support';

export function registerSupport(app: FastifyInstance, deps: AppDeps) {
  const secure = Boolean(deps.config.tls) || deps.config.publicUrl?.startsWith('https:') === true;
  const names = cookieNames(secure);
  const common = (req: FastifyRequest) => {
    const form = rawForm(req.body);
    const device = req.cookies[names.device];
    return {
      form,
      code: form.code ?? '',
      passkeyResponse: (form.passkeyResponse ?? '').slice(0, 60_000),
      rp: relyingParty(deps.config.publicUrl, `${req.protocol}://${req.host}`),
      source: sourceFor(device && /^[A-Za-z0-9_-]{43}$/.test(device) ? device : undefined, req.ip),
      ip: req.ip,
    };
  };
  const messages = (req: FastifyRequest, errors: ConsentErrors): Record<string, string> => {
    const t = translator(req.lang, supportMessages);
    const out: Record<string, string> = {};
    if (errors.allow) out.allow = t('allowRequired');
    if (errors.reason) out.reason = errors.reason === 'required' ? t('reasonRequired') : t('reasonTooLong');
    if (errors.hours) out.hours = t('hoursRange');
    if (errors.code) out.code = errors.code === 'required' ? t('codeRequired') : errors.code === 'needFactor' ? t('needFactor') : t('codeWrong');
    return out;
  };
  const refuse = async (req: FastifyRequest, reply: FastifyReply, errors: ConsentErrors, values?: ConsentFormValues) => {
    const page = await getConsentPage(deps, req.actor);
    return sendPage(reply, <SupportConsentPage vc={viewContext(req)} page={page} errors={messages(req, errors)} {...(values ? { values } : {})} />, 422);
  };

  app.get(PAGE, async (req, reply) => {
    const page = await getConsentPage(deps, req.actor);
    const q = req.query as Record<string, unknown>;
    const t = translator(req.lang, supportMessages);
    const flash = q.done === 'given' ? t('given') : q.done === 'withdrawn' ? t('withdrawn') : undefined;
    return sendPage(reply, <SupportConsentPage vc={viewContext(req)} page={page} flash={flash} />);
  });

  app.post(`${PAGE}/consent`, async (req, reply) => {
    await getConsentPage(deps, req.actor); // 404 before anything else for non-admins
    const c = common(req);
    const hoursText = (c.form.hours ?? '').trim();
    const hours = /^\d{1,3}$/.test(hoursText) ? Number(hoursText) : NaN;
    const values: ConsentFormValues = { reason: (c.form.reason ?? '').slice(0, 600), hours: hoursText.slice(0, 10), allowEdit: c.form.allowEdit === '1' };
    if (c.form.allow !== '1') return refuse(req, reply, { allow: 'required' }, values);
    const result = await giveConsent(deps, req.actor, { ...c, reason: c.form.reason ?? '', hours, allowEdit: values.allowEdit });
    if (!result.ok) return refuse(req, reply, result.errors, values);
    return reply.redirect(`${PAGE}?done=given`, 303);
  });

  app.get(`${PAGE}/activity`, async (req, reply) => {
    const rows = await supportActivity(deps, req.actor);
    return sendPage(reply, <SupportActivityPage vc={viewContext(req)} rows={rows} />);
  });

  // ---- platform support inside a company (staff only; the database admits them only by consent)
  const uuid = z.uuid();
  app.post('/staff/companies/:id/enter', { config: { staff: true } }, async (req, reply) => {
    const id = uuid.safeParse((req.params as { id?: string }).id);
    if (!id.success || req.actor?.kind !== 'staff') throw new NotFoundError();
    await enterCompany(deps, req.actor, id.data, req.ip);
    return reply.redirect('/support', 303);
  });

  app.post('/staff/support/leave', { config: { staff: true } }, async (req, reply) => {
    if (req.actor?.kind === 'staff') await leaveCompany(deps, req.actor, req.ip);
    return reply.redirect('/staff/companies', 303);
  });

  app.get('/support', { config: { staff: true } }, async (req, reply) => {
    const actor = req.actor;
    if (actor?.kind !== 'staff' || !actor.support) return reply.redirect('/staff/companies', 303);
    const overview = await supportOverview(deps, actor, req.ip);
    return sendPage(reply, <SupportOverviewPage vc={viewContext(req)} companyName={actor.support.companyName} overview={overview} />);
  });

  app.get('/support/dialogues', { config: { staff: true } }, async (req, reply) => {
    const actor = req.actor;
    if (actor?.kind !== 'staff' || !actor.support) return reply.redirect('/staff/companies', 303);
    const rows = await supportDialogues(deps, actor, req.ip);
    return sendPage(reply, <SupportDialoguesPage vc={viewContext(req)} rows={rows} />);
  });

  app.get('/support/dialogues/:id', { config: { staff: true } }, async (req, reply) => {
    const actor = req.actor;
    if (actor?.kind !== 'staff' || !actor.support) return reply.redirect('/staff/companies', 303);
    const id = uuid.safeParse((req.params as { id?: string }).id);
    if (!id.success) throw new NotFoundError();
    const data = await supportDialogue(deps, actor, id.data, req.ip);
    return sendPage(reply, <SupportDialoguePage vc={viewContext(req)} data={data} />);
  });

  app.post(`${PAGE}/withdraw`, async (req, reply) => {
    await getConsentPage(deps, req.actor);
    const result = await withdrawConsent(deps, req.actor, common(req));
    if (!result.ok) return refuse(req, reply, result.errors);
    return reply.redirect(`${PAGE}?done=withdrawn`, 303);
  });
}
