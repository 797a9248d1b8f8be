/**
 * GET /org/settings/termination (status, start, cancel) and its two POSTs, for company admins;
 * 404 for everyone else (termination.service.ts). Refusals re-render the page with the typed
 * values and a message per field (422); a second start or a late cancel is a 409 page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { cookieNames, viewContext } from '../../platform/http/server.ts';
import { rawForm } from '../../platform/http/forms.ts';
import { sendPage } from '../../platform/html/render.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { sourceFor } from '../../platform/auth/throttle.ts';
import { relyingParty } from '../../platform/auth/webauthn.ts';
import { installKeys, releaseKeys } from '../../platform/crypto/keyring.ts';
import { terminationMessages } from './termination.i18n.ts';
import { cancelTermination, getTerminationPage, PAGE_PATH, startTermination, type StartErrors } from './termination.service.ts';
import { TerminationSettingsPage, type StartFormValues } from './termination.views.tsx';

const startForm = z.object({
  confirm: z.literal('1').optional().catch(undefined),
  reason: z.string().max(2000).default('').catch(''),
  code: z.string().max(100).default('').catch(''),
  passkeyResponse: z.string().max(60_000).default('').catch(''),
});

/**
 * Registers the termination pages. Also makes this app's key store and master key the active
 * keyring (src/platform/crypto) for as long as the app runs.
 */
export function registerTermination(app: FastifyInstance, deps: AppDeps) {
  const ring = installKeys(deps.config);
  app.addHook('onClose', async () => releaseKeys(ring));

  const secure = Boolean(deps.config.tls) || deps.config.publicUrl?.startsWith('https:') === true;
  const names = cookieNames(secure);
  const messages = (req: FastifyRequest, errors: StartErrors): Record<string, string> => {
    const t = translator(req.lang, terminationMessages);
    const out: Record<string, string> = {};
    if (errors.confirm) out.confirm = t('confirmRequired');
    if (errors.reason) out.reason = t('reasonTooLong');
    if (errors.code) out.code = errors.code === 'required' ? t('codeRequired') : errors.code === 'needFactor' ? t('needFactor') : t('codeWrong');
    return out;
  };
  const show = async (req: FastifyRequest, reply: FastifyReply, status: number, extra: { errors?: Record<string, string>; values?: StartFormValues; flash?: string }) => {
    const page = await getTerminationPage(deps, req.actor);
    return sendPage(reply, <TerminationSettingsPage vc={viewContext(req)} page={page} {...extra} />, status);
  };

  app.get(PAGE_PATH, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const t = translator(req.lang, terminationMessages);
    const flash = q.done === 'started' ? t('started') : q.done === 'cancelled' ? t('cancelled') : q.done === 'none' ? t('nothingToCancel') : undefined;
    return show(req, reply, 200, flash ? { flash } : {});
  });

  app.post(`${PAGE_PATH}/start`, async (req, reply) => {
    await getTerminationPage(deps, req.actor); // 404 before anything else for non-admins
    const form = startForm.parse(rawForm(req.body));
    const device = req.cookies[names.device];
    const values: StartFormValues = { reason: form.reason.slice(0, 600) };
    const result = await startTermination(deps, req.actor, {
      confirm: form.confirm === '1',
      reason: form.reason,
      code: form.code,
      passkeyResponse: form.passkeyResponse,
      rp: relyingParty(deps.config.publicUrl, `${req.protocol}://${req.host}`),
      source: sourceFor(device && /^[A-Za-z0-9_-]{43}$/.test(device) ? device : undefined, req.ip),
      ip: req.ip,
    });
    if (result.ok) return reply.redirect(`${PAGE_PATH}?done=started`, 303);
    const t = translator(req.lang, terminationMessages);
    if ('already' in result) return show(req, reply, 409, { flash: t('already') });
    return show(req, reply, 422, { errors: messages(req, result.errors), values });
  });

  app.post(`${PAGE_PATH}/cancel`, async (req, reply) => {
    await getTerminationPage(deps, req.actor);
    const r = await cancelTermination(deps, req.actor, req.ip);
    if (r === 'too_late') return show(req, reply, 409, { flash: translator(req.lang, terminationMessages)('tooLate') });
    return reply.redirect(`${PAGE_PATH}?done=${r === 'cancelled' ? 'cancelled' : 'none'}`, 303);
  });
}
