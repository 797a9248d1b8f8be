/**
 * Forgotten password, links from e-mails (reset, invitation, unlock, e-mail change) and the
 * change-e-mail page. See recovery.service.ts for the design. Every link route is rate-limited
 * per IP address; a used, expired or unknown link gets 410 with a way to ask for a new one; the tokens in these paths are never logged (server.ts redacts them).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { cookieNames, viewContext } from '../../platform/http/server.ts';
import { rawForm } from '../../platform/http/forms.ts';
import { sendPage } from '../../platform/html/render.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { enforceRate, RATE_RULES } from '../../platform/auth/rate-limit.ts';
import { sourceFor } from '../../platform/auth/throttle.ts';
import { relyingParty } from '../../platform/auth/webauthn.ts';
import { passwordErrorMessages } from '../account/password.views.tsx';
import { recoveryMessages } from './recovery.i18n.ts';
import {
  completeEmailChange,
  completeSetPassword,
  completeUnlock,
  emailChangeFactor,
  emailChangePage,
  invitationPage,
  requestEmailChange,
  requestPasswordReset,
  resetPage,
  unlockPage,
  type EmailChangeErrors,
} from './recovery.service.ts';
import { ChangeEmailPage, ConfirmLinkPage, ForgotPasswordPage, LinkInvalidPage, SetPasswordPage } from './recovery.views.tsx';

const tokenOf = (req: FastifyRequest) => String((req.params as { token?: string }).token ?? '');

export function registerRecovery(app: FastifyInstance, deps: AppDeps) {
  const secure = Boolean(deps.config.tls) || deps.config.publicUrl?.startsWith('https:') === true;
  const names = cookieNames(secure);
  const sourceOf = (req: FastifyRequest) => {
    const device = req.cookies[names.device];
    return sourceFor(device && /^[A-Za-z0-9_-]{43}$/.test(device) ? device : undefined, req.ip);
  };
  const pub = { config: { public: true } };
  // Each link page (GET and POST) counts towards the per-IP limit: guessing tokens is hopeless
  // (256 bits), but the limit keeps floods off the database.
  const linkRate = (req: FastifyRequest) => enforceRate(deps, RATE_RULES.linkPerIp, req.ip);
  // The site-wide Referrer-Policy (same-origin) already keeps link tokens from other sites; a
  // stricter one would make browsers send "Origin: null", which the CSRF check refuses.
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

  // ------------------------------------------------------------ forgotten password
  app.get('/password/forgot', pub, async (req, reply) => {
    noStore(reply);
    return sendPage(reply, <ForgotPasswordPage vc={viewContext(req)} />);
  });

  app.post('/password/forgot', pub, async (req, reply) => {
    noStore(reply);
    const vc = viewContext(req);
    const t = translator(vc.lang, recoveryMessages);
    const email = (rawForm(req.body).email ?? '').trim().slice(0, 254);
    if (email === '') return sendPage(reply, <ForgotPasswordPage vc={vc} error={t('emailRequired')} />, 422);
    await requestPasswordReset(deps, { email, ip: req.ip });
    return sendPage(reply, <ForgotPasswordPage vc={vc} sent />);
  });

  app.get('/password/reset/:token', pub, async (req, reply) => {
    noStore(reply);
    await linkRate(req);
    const vc = viewContext(req);
    const t = translator(vc.lang, recoveryMessages);
    const page = await resetPage(deps, tokenOf(req), req.ip);
    if (!page) return sendPage(reply, <LinkInvalidPage vc={vc} message={t('linkInvalid')} retryHref="/password/forgot" />, 410);
    return sendPage(
      reply,
      <SetPasswordPage vc={vc} action={`/password/reset/${tokenOf(req)}`} title={t('resetTitle')} intro={t('resetIntro', { name: page.firstName })} button={t('savePassword')} minLength={page.minLength} />,
    );
  });

  app.post('/password/reset/:token', pub, async (req, reply) => {
    noStore(reply);
    await linkRate(req);
    const vc = viewContext(req);
    const t = translator(vc.lang, recoveryMessages);
    const form = rawForm(req.body);
    const result = await completeSetPassword(deps, 'password_reset', { token: tokenOf(req), next: form.next ?? '', repeat: form.repeat ?? '', ip: req.ip });
    if (result.kind === 'invalid') return sendPage(reply, <LinkInvalidPage vc={vc} message={t('linkInvalid')} retryHref="/password/forgot" />, 410);
    if (result.kind === 'errors') {
      const page = await resetPage(deps, tokenOf(req), req.ip);
      return sendPage(
        reply,
        <SetPasswordPage
          vc={vc}
          action={`/password/reset/${tokenOf(req)}`}
          title={t('resetTitle')}
          intro={t('resetIntro', { name: page?.firstName ?? '' })}
          button={t('savePassword')}
          minLength={result.minLength}
          errors={passwordErrorMessages(vc, result.errors)}
        />,
        422,
      );
    }
    return reply.redirect('/login?reset=1', 303);
  });

  // ------------------------------------------------------------ invitations
  const invitationForm = async (req: FastifyRequest, reply: FastifyReply, errors?: Record<string, string>) => {
    const vc = viewContext(req);
    const t = translator(vc.lang, recoveryMessages);
    const page = await invitationPage(deps, tokenOf(req));
    if (!page) return sendPage(reply, <LinkInvalidPage vc={vc} message={t('invitationInvalid')} />, 410);
    return sendPage(
      reply,
      <SetPasswordPage
        vc={vc}
        action={`/invitation/${tokenOf(req)}`}
        title={t('invitationTitle')}
        intro={t('invitationIntro', { name: page.firstName, company: page.companyName, email: page.email })}
        button={t('startUsing')}
        minLength={page.minLength}
        email={page.email}
        {...(errors ? { errors } : {})}
      />,
      errors ? 422 : 200,
    );
  };

  app.get('/invitation/:token', pub, async (req, reply) => {
    noStore(reply);
    await linkRate(req);
    return invitationForm(req, reply);
  });

  app.post('/invitation/:token', pub, async (req, reply) => {
    noStore(reply);
    await linkRate(req);
    const vc = viewContext(req);
    const t = translator(vc.lang, recoveryMessages);
    const form = rawForm(req.body);
    const result = await completeSetPassword(deps, 'invitation', { token: tokenOf(req), next: form.next ?? '', repeat: form.repeat ?? '', ip: req.ip });
    if (result.kind === 'invalid') return sendPage(reply, <LinkInvalidPage vc={vc} message={t('invitationInvalid')} />, 410);
    if (result.kind === 'errors') return invitationForm(req, reply, passwordErrorMessages(vc, result.errors));
    // The first login follows, with a second factor enrolled there if the company requires one.
    return reply.redirect('/login?welcome=1', 303);
  });

  // ------------------------------------------------------------ unlock
  app.get('/unlock/:token', pub, async (req, reply) => {
    noStore(reply);
    await linkRate(req);
    const vc = viewContext(req);
    const t = translator(vc.lang, recoveryMessages);
    const page = await unlockPage(deps, tokenOf(req));
    if (!page) return sendPage(reply, <LinkInvalidPage vc={vc} message={t('linkInvalid')} retryHref="/password/forgot" />, 410);
    return sendPage(
      reply,
      <ConfirmLinkPage vc={vc} action={`/unlock/${tokenOf(req)}`} title={t('unlockTitle')} intro={t('unlockIntro', { name: page.firstName })} button={t('unlockButton')} />,
    );
  });

  app.post('/unlock/:token', pub, async (req, reply) => {
    noStore(reply);
    await linkRate(req);
    const vc = viewContext(req);
    const t = translator(vc.lang, recoveryMessages);
    const ok = await completeUnlock(deps, { token: tokenOf(req), source: sourceOf(req), ip: req.ip });
    if (!ok) return sendPage(reply, <LinkInvalidPage vc={vc} message={t('linkInvalid')} retryHref="/password/forgot" />, 410);
    return reply.redirect('/login?unlocked=1', 303);
  });

  // ------------------------------------------------------------ e-mail change
  const emailErrors = (req: FastifyRequest, errors: EmailChangeErrors): Record<string, string> => {
    const t = translator(viewContext(req).lang, recoveryMessages);
    const out: Record<string, string> = {};
    if (errors.email) out.email = errors.email === 'required' ? t('emailRequired') : errors.email === 'same' ? t('emailSame') : t('emailInvalid');
    if (errors.current) out.current = errors.current === 'required' ? t('currentRequired') : t('currentWrong');
    if (errors.code) out.code = errors.code === 'required' ? t('codeRequired') : t('codeWrong');
    return out;
  };

  app.get('/account/email', { config: { anyActor: true } }, async (req, reply) => {
    const actor = req.actor as Actor;
    const vc = viewContext(req);
    const q = req.query as Record<string, unknown>;
    const t = translator(vc.lang, recoveryMessages);
    const flash = q.sent === '1' ? t('emailSent') : q.changed === '1' ? t('emailChanged') : undefined;
    return sendPage(reply, <ChangeEmailPage vc={vc} currentEmail={actor.email} factor={await emailChangeFactor(deps, actor)} flash={flash} />);
  });

  app.post('/account/email', { config: { anyActor: true } }, async (req, reply) => {
    const actor = req.actor as Actor;
    const form = rawForm(req.body);
    const result = await requestEmailChange(deps, actor, {
      email: (form.email ?? '').slice(0, 300),
      current: form.current ?? '',
      code: form.code ?? '',
      passkeyResponse: (form.passkeyResponse ?? '').slice(0, 60_000),
      rp: relyingParty(deps.config.publicUrl, `${req.protocol}://${req.host}`),
      source: sourceOf(req),
      ip: req.ip,
    });
    if (result.ok) return reply.redirect('/account/email?sent=1', 303);
    return sendPage(
      reply,
      <ChangeEmailPage vc={viewContext(req)} currentEmail={actor.email} factor={await emailChangeFactor(deps, actor)} value={(form.email ?? '').slice(0, 254)} errors={emailErrors(req, result.errors)} />,
      422,
    );
  });

  app.get('/email-change/:token', pub, async (req, reply) => {
    noStore(reply);
    await linkRate(req);
    const vc = viewContext(req);
    const t = translator(vc.lang, recoveryMessages);
    const page = await emailChangePage(deps, tokenOf(req));
    if (!page) return sendPage(reply, <LinkInvalidPage vc={vc} message={t('linkInvalid')} />, 410);
    return sendPage(
      reply,
      <ConfirmLinkPage vc={vc} action={`/email-change/${tokenOf(req)}`} title={t('emailConfirmTitle')} intro={t('emailConfirmIntro', { name: page.firstName, email: page.newEmail })} button={t('confirmButton')} />,
    );
  });

  app.post('/email-change/:token', pub, async (req, reply) => {
    noStore(reply);
    await linkRate(req);
    const vc = viewContext(req);
    const t = translator(vc.lang, recoveryMessages);
    const result = await completeEmailChange(deps, { token: tokenOf(req), ip: req.ip });
    if (result.kind === 'invalid') return sendPage(reply, <LinkInvalidPage vc={vc} message={t('linkInvalid')} />, 410);
    if (result.kind === 'taken') {
      const page = await emailChangePage(deps, tokenOf(req));
      return sendPage(
        reply,
        <ConfirmLinkPage
          vc={vc}
          action={`/email-change/${tokenOf(req)}`}
          title={t('emailConfirmTitle')}
          intro={t('emailConfirmIntro', { name: page?.firstName ?? '', email: page?.newEmail ?? '' })}
          button={t('confirmButton')}
          error={t('emailTaken')}
        />,
        409,
      );
    }
    return reply.redirect(req.actor ? '/account/email?changed=1' : '/login?emailChanged=1', 303);
  });
}
