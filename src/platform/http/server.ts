/**
 * The HTTP edge. Design note (M6, M9, M17): every route needs a session unless its options say
 * `config: { public: true }`; staff routes say `config: { staff: true }` and need a staff session.
 * Every state-changing request must carry the CSRF token (form field `_csrf` or header
 * `x-csrf-token`) and an Origin (or Referer) of our own. Every response gets the security headers
 * below; authenticated pages are never cached (M17).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import { h } from 'preact';
import { ZodError } from 'zod';
import type { AppDeps } from '../deps.ts';
import type { Actor } from '../auth/actor.ts';
import { loadSession } from '../auth/sessions.ts';
import { randomToken, safeEqual } from '../auth/tokens.ts';
import { enforceRate, RATE_RULES } from '../auth/rate-limit.ts';
import { moduleOfPath, modulesOff } from '../modules/switches.ts';
import { ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError, ConflictError } from '../errors.ts';
import { isLang, langFromAcceptLanguage, translator, type Lang } from '../i18n/i18n.ts';
import { common } from '../html/common.i18n.ts';
import { databaseUnavailable } from './database-unavailable.i18n.ts';
import { isDatabaseUnavailable } from '../db/multi-host.ts';
import { Layout, type ViewContext } from '../html/layout.tsx';
import { staffNetwork } from './staff-network.ts';
import { sendPage } from '../html/render.ts';
import { observeRequest } from '../metrics/metrics.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | undefined;
    lang: Lang;
    csrfToken: string;
  }
  interface FastifyInstance {
    /** Every route with its options, for the authorization matrix test. */
    samtaleRoutes: { method: string; url: string; public: boolean; staff: boolean; anyActor: boolean }[];
  }
  interface FastifyContextConfig {
    public?: boolean;
    staff?: boolean;
    /** Open to users and platform staff alike (e.g. one's own sessions). */
    anyActor?: boolean;
    /**
     * The integration API (/v3): authenticated by a signed token, not a cookie, so the browser
     * CSRF/Origin check does not apply (a server-to-server call has no Origin and no cookie to
     * ride on). Only src/modules/api sets it.
     */
    api?: boolean;
  }
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PUBLIC_DIR = path.join(ROOT, 'public');
const HTMX_FILE = path.join(ROOT, 'node_modules/htmx.org/dist/htmx.min.js');

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function cookieNames(secure: boolean) {
  // __Host- cookies must be Secure, path=/ and host-only: they cannot be planted by a subdomain.
  return secure
    ? { session: '__Host-samtale_session', csrf: '__Host-samtale_csrf', lang: '__Host-samtale_lang', device: '__Host-samtale_device' }
    : { session: 'samtale_session', csrf: 'samtale_csrf', lang: 'samtale_lang', device: 'samtale_device' };
}

export function viewContext(req: FastifyRequest): ViewContext {
  return { lang: req.lang, actor: req.actor, csrfToken: req.csrfToken, path: req.url.split('?')[0] ?? '/' };
}

export async function buildHttp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const secure = Boolean(config.tls) || config.publicUrl?.startsWith('https:') === true;
  const names = cookieNames(secure);
  const staffAllowed = staffNetwork(config.staffAllowedCidrs);
  const https = config.tls
    ? { key: fs.readFileSync(config.tls.keyFile), cert: fs.readFileSync(config.tls.certFile) }
    : undefined;

  const app = Fastify({
    ...(https ? { https } : {}),
    trustProxy: config.trustProxy,
    bodyLimit: config.bodyLimit,
    logger: {
      level: config.logLevel,
      redact: {
        paths: ['req.headers.cookie', 'req.headers.authorization', 'req.headers["x-csrf-token"]', 'req.headers.jwt', 'password', '*.password'],
        censor: '[redacted]',
      },
      serializers: {
        // Paths only: query strings may one day carry tokens, and logs never hold secrets (M6).
        // Links sent by e-mail carry a secret in the path: logs show only its shape.
        req: (req: FastifyRequest) => ({ method: req.method, url: (req.url.split('?')[0] ?? '').replace(/[A-Za-z0-9_-]{43}/g, '[token]'), ip: req.ip }),
        // PostgreSQL puts offending values (an e-mail, a name) in `detail`: never log them.
        err: (err: Error & { code?: string }) => ({ type: err.name, message: err.message, code: err.code, stack: err.stack ?? '' }),
      },
    },
    genReqId: () => randomToken().slice(0, 12),
  }) as unknown as FastifyInstance;

  const routes: FastifyInstance['samtaleRoutes'] = [];
  app.decorate('samtaleRoutes', routes);
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const cfg = (r.config ?? {}) as { public?: boolean; staff?: boolean; anyActor?: boolean };
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({ method, url: r.url, public: cfg.public === true, staff: cfg.staff === true, anyActor: cfg.anyActor === true });
    }
  });

  app.decorateRequest('actor', undefined);
  app.decorateRequest('lang', 'da');
  app.decorateRequest('csrfToken', '');

  await app.register(fastifyCookie);
  await app.register(fastifyFormbody);

  const htmx = fs.readFileSync(HTMX_FILE);
  const assets = new Map<string, { body: Buffer; type: string }>([['htmx.min.js', { body: htmx, type: 'text/javascript; charset=utf-8' }]]);
  for (const file of fs.readdirSync(PUBLIC_DIR)) {
    const type = file.endsWith('.css') ? 'text/css; charset=utf-8' : file.endsWith('.js') ? 'text/javascript; charset=utf-8' : file.endsWith('.svg') ? 'image/svg+xml' : 'application/octet-stream';
    assets.set(file, { body: fs.readFileSync(path.join(PUBLIC_DIR, file)), type });
  }
  app.get('/assets/:file', { config: { public: true } }, async (req, reply) => {
    const asset = assets.get((req.params as { file: string }).file);
    if (!asset) throw new NotFoundError();
    return reply.header('cache-control', 'public, max-age=3600').type(asset.type).send(asset.body);
  });

  // P4: request rate and latency per route pattern (never the raw URL) for /metrics.
  app.addHook('onResponse', async (req, reply) => {
    observeRequest(req.routeOptions.url, req.method, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=()');
    reply.header('cross-origin-opener-policy', 'same-origin');
    if (secure) reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');

    const token = req.cookies[names.session];
    let loaded = token ? await loadSession(deps.database, token, deps.clock.now(), config.session) : undefined;
    // M10: a staff session used from outside the staff networks counts as no session.
    if (loaded?.actor.kind === 'staff' && !staffAllowed(req.ip)) loaded = undefined;
    req.actor = loaded?.actor;
    const cookieLang = req.cookies[names.lang];
    req.lang = loaded?.actor.lang ?? (isLang(cookieLang) ? cookieLang : langFromAcceptLanguage(req.headers['accept-language']));
    if (loaded) {
      req.csrfToken = loaded.csrfToken;
    } else {
      if (token) reply.clearCookie(names.session, { path: '/' });
      let pre = req.cookies[names.csrf];
      if (!pre || !/^[A-Za-z0-9_-]{43}$/.test(pre)) {
        pre = randomToken();
        reply.setCookie(names.csrf, pre, { path: '/', httpOnly: true, sameSite: 'lax', secure });
      }
      req.csrfToken = pre;
    }

    // P7: a module switched off by an operator answers 503 before anything else happens.
    const module = moduleOfPath(req.url.split('?')[0] ?? '/');
    if (module && (await modulesOff(deps)).has(module)) throw new ModuleOffError();

    const routeConfig = req.routeOptions.config;
    const isPublic = routeConfig?.public === true || req.routeOptions.url === undefined;
    if (!isPublic) {
      // M17: nothing personal is kept by browsers or proxies.
      reply.header('cache-control', 'no-store');
      if (!req.actor) throw new UnauthenticatedError();
      const wanted = routeConfig?.anyActor === true ? req.actor.kind : routeConfig?.staff === true ? 'staff' : 'user';
      if (req.actor.kind !== wanted) throw new NotFoundError();
    }
  });

  app.addHook('preHandler', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    if (req.routeOptions.config?.api === true && req.routeOptions.url?.startsWith('/v3/')) return;
    if (!sameOrigin(req, config.publicUrl)) throw new CsrfError();
    const body = req.body as Record<string, unknown> | undefined;
    const sent = (typeof body?._csrf === 'string' ? body._csrf : undefined) ?? headerValue(req.headers['x-csrf-token']);
    if (!sent || !safeEqual(sent, req.csrfToken)) throw new CsrfError();
    // Rate limits (M7, issue 3): changes to one's own account, per account; passkey options for
    // the login's second step, per address. The login and its second step count in their services.
    if (req.actor && req.url.startsWith('/account/')) {
      await enforceRate(deps, RATE_RULES.accountChangesPerAccount, req.actor.kind === 'user' ? req.actor.userId : req.actor.staffId);
    } else if (req.routeOptions.url === '/login/second-factor/passkey-options') {
      await enforceRate(deps, RATE_RULES.secondFactorPerIp, req.ip);
    }
  });

  app.setNotFoundHandler(async (req, reply) => errorPage(req, reply, 404));

  app.setErrorHandler(async (error: unknown, req, reply) => {
    if (error instanceof ModuleOffError) return errorPage(req, reply, 503);
    if (error instanceof UnauthenticatedError) {
      if (wantsHtml(req) && req.method === 'GET') {
        return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
      }
      if (req.headers['hx-request']) return reply.header('hx-redirect', '/login').code(401).send();
      return errorPage(req, reply, 401);
    }
    if (error instanceof NotFoundError) return errorPage(req, reply, 404);
    if (error instanceof CsrfError) return errorPage(req, reply, 403, 'csrf');
    if (error instanceof ForbiddenError) return errorPage(req, reply, 403);
    if (error instanceof ValidationError || error instanceof ZodError) return errorPage(req, reply, 400);
    if (error instanceof ConflictError) return errorPage(req, reply, 409);
    const status = (error as { statusCode?: number }).statusCode;
    const code = (error as { code?: string }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) return errorPage(req, reply, 413);
    if (status === 429) {
      const retry = (error as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retry) reply.header('retry-after', String(retry));
      return errorPage(req, reply, 429);
    }
    if (status && status >= 400 && status < 500) return errorPage(req, reply, status === 404 ? 404 : 400);
    // M11: the database is away or failing over. Not retried (a write may or may not have
    // committed); the user is asked to try again.
    if (isDatabaseUnavailable(error)) {
      req.log.warn({ err: error }, 'database unavailable');
      // The session (and its language) may not have been read: the browser's choice then.
      if (!req.actor) {
        const chosen = req.cookies[names.lang];
        req.lang = isLang(chosen) ? chosen : langFromAcceptLanguage(req.headers['accept-language']);
      }
      reply.header('retry-after', '5');
      return errorPage(req, reply, 503, 'database');
    }
    req.log.error({ err: error }, 'unhandled error');
    return errorPage(req, reply, 500);
  });

  return app;
}

class CsrfError extends Error {}
/** A module switched off by an operator (P7): 503 everywhere, a page or the API's JSON. */
class ModuleOffError extends Error {
  readonly statusCode = 503;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function sameOrigin(req: FastifyRequest, publicUrl: string | undefined): boolean {
  const expected = publicUrl ? new URL(publicUrl).origin : `${req.protocol}://${req.host}`;
  const origin = headerValue(req.headers.origin);
  if (origin && origin !== 'null') return origin === expected;
  const referer = headerValue(req.headers.referer);
  if (!referer) return false;
  try {
    return new URL(referer).origin === expected;
  } catch {
    return false;
  }
}

function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html') || accept === '' || accept.includes('*/*');
}

type Status = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500 | 503;

function errorPage(req: FastifyRequest, reply: FastifyReply, status: Status, kind?: 'csrf' | 'database') {
  if (!req.lang) req.lang = langFromAcceptLanguage(req.headers['accept-language']);
  const t = translator(req.lang, common);
  const tdb = translator(req.lang, databaseUnavailable);
  const [title, body] =
    kind === 'csrf'
      ? [t('csrfTitle'), t('csrfBody')]
      : kind === 'database'
        ? [tdb('title'), tdb('body')]
      : status === 404 || status === 401
        ? [t('notFoundTitle'), t('notFoundBody')]
        : status === 403
          ? [t('forbiddenTitle'), t('forbiddenBody')]
          : status === 413
            ? [t('tooLargeTitle'), t('tooLargeBody')]
            : status === 429
              ? [t('tooManyTitle'), t('tooManyBody')]
              : status === 503
                ? [t('unavailableTitle'), t('unavailableBody')]
              : status === 500
                ? [t('serverErrorTitle'), t('serverErrorBody', { ref: String(req.id) })]
                : [t('badRequestTitle'), t('badRequestBody')];
  reply.header('cache-control', 'no-store');
  if (!wantsHtml(req) || req.url.startsWith('/v3/')) {
    // The integration API's error format always has an `errors` list (docs/api.md).
    return reply.code(status).type('application/json; charset=utf-8').send({ message: body, ...(req.url.startsWith('/v3/') ? { errors: [] } : {}) });
  }
  const vc = viewContext(req);
  return sendPage(
    reply,
    h(Layout, { vc, title, children: [h('h1', null, title), h('p', null, body), h('p', null, h('a', { href: '/' }, t('goHome')))] }),
    status,
  );
}
