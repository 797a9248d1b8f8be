import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomToken } from '../../platform/auth/tokens.ts';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { cookieNames, viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { rawForm } from '../../platform/http/forms.ts';
import { isLang, translator } from '../../platform/i18n/i18n.ts';
import { LoginPage } from './auth.views.tsx';
import { login, logout, setLanguage, switchCompany } from './auth.service.ts';
import { authMessages } from './auth.i18n.ts';
import { completeSecondFactor, findPendingStep, passkeyLoginOptions, type SecondFactorMethod } from './second-factor.service.ts';
import { relyingParty } from '../../platform/auth/webauthn.ts';
import { enrolmentQr, RecoveryCodesPage, SecondFactorPage } from '../twofactor/twofactor.views.tsx';
import { PENDING_LOGIN_MS } from '../twofactor/twofactor.repository.ts';

/** Only same-site paths: an open redirect would let a phishing link borrow our login page. */
export function safeNext(value: unknown, fallback: string): string {
  if (typeof value !== 'string') return fallback;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\') || value.length > 500) return fallback;
  return value;
}

export function registerAuth(app: FastifyInstance, deps: AppDeps) {
  const secure = Boolean(deps.config.tls) || deps.config.publicUrl?.startsWith('https:') === true;
  const names = cookieNames(secure);
  const setSessionCookie = (reply: FastifyReply, token: string) =>
    reply.setCookie(names.session, token, { path: '/', httpOnly: true, sameSite: 'lax', secure });
  // The pending second-factor login has its own cookie: the edge never mistakes it for a session.
  const pendingCookie = secure ? '__Host-samtale_pending' : 'samtale_pending';
  const setPendingCookie = (reply: FastifyReply, token: string) =>
    reply.setCookie(pendingCookie, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: PENDING_LOGIN_MS / 1000 });
  const clearPendingCookie = (reply: FastifyReply) => reply.clearCookie(pendingCookie, { path: '/' });
  // M7: a long-lived random device id, so failed logins elsewhere never block this browser.
  const deviceId = (req: FastifyRequest, reply: FastifyReply): string | undefined => {
    const current = req.cookies[names.device];
    if (current && /^[A-Za-z0-9_-]{43}$/.test(current)) return current;
    reply.setCookie(names.device, randomToken(), { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: 400 * 86400 });
    return undefined;
  };

  app.get('/', { config: { public: true } }, async (req, reply) => {
    if (!req.actor) return reply.redirect('/login', 303);
    return reply.redirect(req.actor.kind === 'staff' ? '/staff/companies' : '/dashboard', 303);
  });

  app.get('/login', { config: { public: true } }, async (req, reply) => {
    if (req.actor) return reply.redirect('/', 303);
    deviceId(req, reply);
    const q = req.query as Record<string, unknown>;
    const t = translator(req.lang, authMessages);
    const notices = { loggedOut: 'loggedOut', expired: 'secondFactorExpired', reset: 'passwordReset', welcome: 'welcome', unlocked: 'unlocked', emailChanged: 'emailChanged' } as const;
    const key = (Object.keys(notices) as (keyof typeof notices)[]).find((k) => q[k] === '1');
    const notice = key ? t(notices[key]) : undefined;
    reply.header('cache-control', 'no-store');
    return sendPage(reply, <LoginPage vc={viewContext(req)} next={safeNext(q.next, '')} notice={notice} />);
  });

  app.post('/login', { config: { public: true } }, async (req, reply) => {
    const form = rawForm(req.body);
    const parsed = z
      .object({ email: z.string().max(254), password: z.string().min(1).max(1024), next: z.string().optional() })
      .safeParse(form);
    reply.header('cache-control', 'no-store');
    if (!parsed.success) {
      return sendPage(reply, <LoginPage vc={viewContext(req)} email={form.email?.slice(0, 254)} failed />, 422);
    }
    const result = await login(deps, {
      email: parsed.data.email,
      password: parsed.data.password,
      ip: req.ip,
      userAgent: req.headers['user-agent'],
      deviceId: deviceId(req, reply),
      next: safeNext(parsed.data.next, ''),
    });
    if (!result.ok) {
      if (result.network) {
        const t = translator(req.lang, authMessages);
        return sendPage(reply, <LoginPage vc={viewContext(req)} email={parsed.data.email} failed failedMessage={t('tooManyFromNetwork')} next={safeNext(parsed.data.next, '')} />, 429);
      }
      return sendPage(reply, <LoginPage vc={viewContext(req)} email={parsed.data.email} failed next={safeNext(parsed.data.next, '')} />, 401);
    }
    if (result.ok === 'second_factor') {
      setPendingCookie(reply, result.pendingToken);
      return reply.redirect('/login/second-factor', 303);
    }
    setSessionCookie(reply, result.token);
    return reply.redirect(safeNext(parsed.data.next, result.kind === 'staff' ? '/staff/companies' : '/dashboard'), 303);
  });

  // The second step of a login (M2): public at the edge, but useful only with a live pending login.
  app.get('/login/second-factor', { config: { public: true } }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    if (req.actor) return reply.redirect('/', 303);
    const step = await findPendingStep(deps, req.cookies[pendingCookie], req.ip);
    if (!step) {
      clearPendingCookie(reply);
      return reply.redirect('/login?expired=1', 303);
    }
    const qr = step.purpose === 'enrol' ? await enrolmentQr(step.secret, step.email) : undefined;
    const methods = step.purpose === 'verify' ? { passkeys: step.passkeys, totp: step.totp } : {};
    return sendPage(reply, <SecondFactorPage vc={viewContext(req)} qr={qr} {...methods} />);
  });

  // JSON for /assets/webauthn.js: passkey options bound to this pending login (challenge in PostgreSQL).
  app.post('/login/second-factor/passkey-options', { config: { public: true } }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const rp = relyingParty(deps.config.publicUrl, `${req.protocol}://${req.host}`);
    const options = await passkeyLoginOptions(deps, { token: req.cookies[pendingCookie], ip: req.ip, rp });
    if (!options) return reply.code(401).send({ message: translator(req.lang, authMessages)('secondFactorExpired'), redirect: '/login?expired=1' });
    return reply.send({ options });
  });

  app.post('/login/second-factor', { config: { public: true } }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const form = rawForm(req.body);
    const parsed = z
      .object({ code: z.string().max(40).optional(), recoveryCode: z.string().max(40).optional(), passkeyResponse: z.string().max(60_000).optional() })
      .safeParse(form);
    const d = parsed.success ? parsed.data : {};
    const method: SecondFactorMethod = d.passkeyResponse && !d.code ? 'passkey' : d.recoveryCode && !d.code ? 'recovery_code' : 'totp';
    const code = (method === 'passkey' ? d.passkeyResponse : method === 'recovery_code' ? d.recoveryCode : d.code) ?? '';
    const token = req.cookies[pendingCookie];
    const rp = relyingParty(deps.config.publicUrl, `${req.protocol}://${req.host}`);
    const result = await completeSecondFactor(deps, { token, code, method, ip: req.ip, userAgent: req.headers['user-agent'], rp });
    if (result.kind === 'none') {
      clearPendingCookie(reply);
      return reply.redirect('/login?expired=1', 303);
    }
    if (result.kind === 'blocked') {
      clearPendingCookie(reply);
      return sendPage(reply, <LoginPage vc={viewContext(req)} failed />, 401);
    }
    if (result.kind === 'wrong') {
      const step = await findPendingStep(deps, token, req.ip);
      const qr = step?.purpose === 'enrol' ? await enrolmentQr(step.secret, step.email) : undefined;
      const methods = step?.purpose === 'verify' ? { passkeys: step.passkeys, totp: step.totp } : {};
      return sendPage(reply, <SecondFactorPage vc={viewContext(req)} qr={qr} {...methods} failed passkeyFailed={method === 'passkey'} />, 401);
    }
    clearPendingCookie(reply);
    setSessionCookie(reply, result.token);
    const target = safeNext(result.next, result.actorKind === 'staff' ? '/staff/companies' : '/dashboard');
    if (result.recoveryCodes) {
      return sendPage(reply, <RecoveryCodesPage vc={viewContext(req)} codes={result.recoveryCodes} continueHref={target} />);
    }
    return reply.redirect(target, 303);
  });

  app.post('/logout', { config: { public: true } }, async (req, reply) => {
    if (req.actor) await logout(deps, req.actor, req.ip);
    reply.clearCookie(names.session, { path: '/' });
    return reply.redirect('/login?loggedOut=1', 303);
  });

  app.post('/settings/language', { config: { public: true } }, async (req, reply) => {
    const form = rawForm(req.body);
    const language = form.language;
    if (!isLang(language)) return reply.redirect(safeNext(form.returnTo, '/'), 303);
    if (req.actor) await setLanguage(deps, req.actor, language, req.ip);
    reply.setCookie(names.lang, language, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: 365 * 86400 });
    return reply.redirect(safeNext(form.returnTo, '/'), 303);
  });

  app.post('/switch-company', async (req, reply) => {
    const actor = req.actor;
    if (actor?.kind !== 'user') return reply.redirect('/', 303);
    const parsed = z.object({ companyId: z.uuid() }).safeParse(rawForm(req.body));
    if (!parsed.success) return reply.redirect('/dashboard', 303);
    const token = await switchCompany(deps, actor, parsed.data.companyId, req.ip, req.headers['user-agent']);
    // The other company requires a second factor: set one up first (the session stays as it was).
    if (!token) return reply.redirect('/account/two-factor?required=1', 303);
    setSessionCookie(reply, token);
    return reply.redirect('/dashboard', 303);
  });
}
