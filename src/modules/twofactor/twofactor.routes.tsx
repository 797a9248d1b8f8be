/**
 * Routes for one's own second factor: GET/POST /account/two-factor... Users and staff may enrol;
 * only users may remove (M2: staff must keep theirs), so /remove is a user-only route at the edge
 * and checked again in the service. Passkeys (/account/two-factor/passkeys...) are for users and
 * staff alike; the service keeps everyone who must have a factor from removing their last one.
 * The WebAuthn browser library is served from node_modules under /assets, like htmx.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
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
import { passkeyMessages } from './passkeys.i18n.ts';
import { relyingParty } from '../../platform/auth/webauthn.ts';
import { finishPasskeyRegistration, getPasskeyStatus, reauthOptions, removePasskey, startPasskeyRegistration } from './passkeys.service.ts';
import type { PasskeyError } from './passkeys.views.tsx';

// The one-file build the package ships (UMD; it sets window.SimpleWebAuthnBrowser). Its ESM build
// is split into some twenty modules, which /assets/:file could not serve as one file.
const WEBAUTHN_BROWSER_FILE = createRequire(import.meta.url).resolve('@simplewebauthn/browser').replace(/script[\\/]index\.js$/, 'dist/bundle/index.umd.min.js');

const PAGE = '/account/two-factor';

export function registerTwoFactor(app: FastifyInstance, deps: AppDeps) {
  const secure = Boolean(deps.config.tls) || deps.config.publicUrl?.startsWith('https:') === true;
  const names = cookieNames(secure);
  const sourceOf = (req: FastifyRequest) => {
    const device = req.cookies[names.device];
    return sourceFor(device && /^[A-Za-z0-9_-]{43}$/.test(device) ? device : undefined, req.ip);
  };

  const rpFor = (req: FastifyRequest) => relyingParty(deps.config.publicUrl, `${req.protocol}://${req.host}`);

  const render = async (req: FastifyRequest, reply: FastifyReply, opts: { error?: 'password' | 'code'; flash?: string; passkeyError?: PasskeyError } = {}, status = 200) => {
    const actor = req.actor as Actor;
    const s = await getTwoFactorStatus(deps, actor);
    const passkeys = await getPasskeyStatus(deps, actor);
    const view: AccountTwoFactorState =
      s.state === 'enrolling'
        ? { state: 'enrolling', qr: await enrolmentQr(s.secret, actor.email) }
        : s.state === 'on'
          ? { state: 'on', confirmedAt: s.confirmedAt, unusedCodes: s.unusedCodes, mayRemove: await mayRemoveNow(deps, actor) }
          : { state: 'off' };
    return sendPage(reply, <AccountTwoFactorPage vc={viewContext(req)} status={view} error={opts.error} flash={opts.flash} passkeys={passkeys} passkeyError={opts.passkeyError} />, status);
  };

  app.get(PAGE, { config: { anyActor: true } }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const tp = translator(req.lang, passkeyMessages);
    const flash =
      q.removed === '1'
        ? translator(req.lang, twoFactorMessages)('removed')
        : q.required === '1'
          ? translator(req.lang, twoFactorMessages)('requiredElsewhere')
        : q.passkey === 'added'
          ? tp('added')
          : q.passkey === 'removed'
            ? tp('removed')
            : undefined;
    return render(req, reply, flash ? { flash } : {});
  });

  // ---- Passkeys / security keys --------------------------------------------------------------

  const browserBundle = fs.readFileSync(WEBAUTHN_BROWSER_FILE);
  app.get('/assets/simplewebauthn-browser.js', { config: { public: true } }, async (_req, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/javascript; charset=utf-8').send(browserBundle),
  );

  // JSON for /assets/webauthn.js: registration options once the current password is right.
  app.post(`${PAGE}/passkeys/options`, { config: { anyActor: true } }, async (req, reply) => {
    const tp = translator(req.lang, passkeyMessages);
    const tf = translator(req.lang, twoFactorMessages);
    reply.header('cache-control', 'no-store');
    const parsed = z.object({ password: z.string().min(1).max(1024) }).safeParse(rawForm(req.body));
    if (!parsed.success) return reply.code(422).send({ message: tf('passwordWrong') });
    const result = await startPasskeyRegistration(deps, req.actor as Actor, { password: parsed.data.password, source: sourceOf(req), ip: req.ip, rp: rpFor(req) });
    if (result.kind === 'wrong') return reply.code(422).send({ message: tf('passwordWrong') });
    if (result.kind === 'too_many') return reply.code(422).send({ message: tp('tooMany') });
    return reply.send({ options: result.options });
  });

  app.post(`${PAGE}/passkeys`, { config: { anyActor: true } }, async (req, reply) => {
    const form = rawForm(req.body);
    const name = z.string().trim().min(1).max(100).safeParse(form.passkeyName);
    if (!name.success) return render(req, reply, { passkeyError: 'name' }, 422);
    const response = z.string().min(1).max(60_000).safeParse(form.response);
    if (!response.success) return render(req, reply, { passkeyError: 'registration' }, 422);
    const result = await finishPasskeyRegistration(deps, req.actor as Actor, { name: name.data, response: response.data, ip: req.ip, rp: rpFor(req) });
    if (result.kind === 'too_many') return render(req, reply, { passkeyError: 'too_many' }, 422);
    if (result.kind === 'invalid') return render(req, reply, { passkeyError: 'registration' }, 422);
    if (result.recoveryCodes) return sendPage(reply, <RecoveryCodesPage vc={viewContext(req)} codes={result.recoveryCodes} continueHref={`${PAGE}?passkey=added`} />);
    return reply.redirect(`${PAGE}?passkey=added`, 303);
  });

  // JSON: options for confirming a removal with one of one's own passkeys.
  app.post(`${PAGE}/passkeys/reauth-options`, { config: { anyActor: true } }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const options = await reauthOptions(deps, req.actor as Actor, rpFor(req));
    if (!options) return reply.code(422).send({ message: translator(req.lang, passkeyMessages)('none') });
    return reply.send({ options });
  });

  app.post(`${PAGE}/passkeys/remove`, { config: { anyActor: true } }, async (req, reply) => {
    const parsed = z
      .object({
        passkeyId: z.uuid(),
        removePassword: z.string().min(1).max(1024),
        removeCode: z.string().max(20).optional().default(''),
        passkeyResponse: z.string().max(60_000).optional().default(''),
      })
      .safeParse(rawForm(req.body));
    if (!parsed.success) return render(req, reply, { passkeyError: 'remove' }, 422);
    const d = parsed.data;
    const result = await removePasskey(deps, req.actor as Actor, {
      id: d.passkeyId,
      password: d.removePassword,
      code: d.removeCode,
      passkeyResponse: d.passkeyResponse,
      source: sourceOf(req),
      ip: req.ip,
      rp: rpFor(req),
    });
    if (result === 'wrong') return render(req, reply, { passkeyError: 'remove' }, 422);
    return reply.redirect(`${PAGE}?passkey=removed`, 303);
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
