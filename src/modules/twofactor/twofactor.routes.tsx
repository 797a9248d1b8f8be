/**
 * Routes for one's own second factor: GET/POST /account/two-factor... Users and staff may enrol;
 * only users may remove (M2: staff must keep theirs), so /remove is a user-only route at the edge
 * and checked again in the service.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { sourceFor } from '../../platform/auth/throttle.ts';
import { cookieNames, viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { rawForm } from '../../platform/http/forms.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { confirmTwoFactor, getTwoFactorStatus, mayRemoveNow, removeTwoFactor, startTwoFactor } from './twofactor.service.ts';
import { AccountTwoFactorPage, enrolmentQr, RecoveryCodesPage, type AccountTwoFactorState } from './twofactor.views.tsx';
import { twoFactorMessages } from './twofactor.i18n.ts';

const PAGE = '/account/two-factor';

export function registerTwoFactor(app: FastifyInstance, deps: AppDeps) {
  const secure = Boolean(deps.config.tls) || deps.config.publicUrl?.startsWith('https:') === true;
  const names = cookieNames(secure);
  const sourceOf = (req: FastifyRequest) => {
    const device = req.cookies[names.device];
    return sourceFor(device && /^[A-Za-z0-9_-]{43}$/.test(device) ? device : undefined, req.ip);
  };

  const render = async (req: FastifyRequest, reply: FastifyReply, opts: { error?: 'password' | 'code'; flash?: string } = {}, status = 200) => {
    const actor = req.actor as Actor;
    const s = await getTwoFactorStatus(deps, actor);
    const view: AccountTwoFactorState =
      s.state === 'enrolling'
        ? { state: 'enrolling', qr: await enrolmentQr(s.secret, actor.email) }
        : s.state === 'on'
          ? { state: 'on', confirmedAt: s.confirmedAt, unusedCodes: s.unusedCodes, mayRemove: await mayRemoveNow(deps, actor) }
          : { state: 'off' };
    return sendPage(reply, <AccountTwoFactorPage vc={viewContext(req)} status={view} error={opts.error} flash={opts.flash} />, status);
  };

  app.get(PAGE, { config: { anyActor: true } }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const flash = q.removed === '1' ? translator(req.lang, twoFactorMessages)('removed') : undefined;
    return render(req, reply, flash ? { flash } : {});
  });

  app.post(`${PAGE}/start`, { config: { anyActor: true } }, async (req, reply) => {
    const parsed = z.object({ password: z.string().min(1).max(1024) }).safeParse(rawForm(req.body));
    if (!parsed.success) return render(req, reply, { error: 'password' }, 422);
    const result = await startTwoFactor(deps, req.actor as Actor, { password: parsed.data.password, source: sourceOf(req), ip: req.ip });
    if (result === 'wrong') return render(req, reply, { error: 'password' }, 422);
    return reply.redirect(PAGE, 303);
  });

  app.post(`${PAGE}/confirm`, { config: { anyActor: true } }, async (req, reply) => {
    const parsed = z.object({ code: z.string().max(20) }).safeParse(rawForm(req.body));
    const codes = parsed.success ? await confirmTwoFactor(deps, req.actor as Actor, { code: parsed.data.code, ip: req.ip }) : undefined;
    if (!codes) return render(req, reply, { error: 'code' }, 422);
    return sendPage(reply, <RecoveryCodesPage vc={viewContext(req)} codes={codes} continueHref={PAGE} />);
  });

  // User-only at the edge (no anyActor): staff get 404 here.
  app.post(`${PAGE}/remove`, async (req, reply) => {
    const parsed = z.object({ password: z.string().min(1).max(1024), code: z.string().max(20) }).safeParse(rawForm(req.body));
    if (!parsed.success) return render(req, reply, { error: 'password' }, 422);
    const result = await removeTwoFactor(deps, req.actor as Actor, { ...parsed.data, source: sourceOf(req), ip: req.ip });
    if (result === 'wrong') return render(req, reply, { error: 'password' }, 422);
    return reply.redirect(`${PAGE}?removed=1`, 303);
  });
}
