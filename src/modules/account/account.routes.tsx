/**
 * "Your sessions": every session of the person (users across their companies, or staff), with
 * log out per session and everywhere else. The RLS policy on sessions admits only one's own rows.
 * "Change password" (GET/POST /account/password): see password.service.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { dbContextFor } from '../../platform/auth/actor.ts';
import { withTenant } from '../../platform/db/context.ts';
import { whoFromActor, audit } from '../../platform/audit/audit.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { cookieNames, viewContext } from '../../platform/http/server.ts';
import { rawForm } from '../../platform/http/forms.ts';
import { sourceFor } from '../../platform/auth/throttle.ts';
import { relyingParty } from '../../platform/auth/webauthn.ts';
import { changePassword, getPasswordForm } from './password.service.ts';
import { ChangePasswordPage, passwordErrorMessages } from './password.views.tsx';
import { sendPage } from '../../platform/html/render.ts';
import { CsrfField, Flash, Layout } from '../../platform/html/layout.tsx';
import { formatDateTime, translator } from '../../platform/i18n/i18n.ts';
import { accountMessages } from './account.i18n.ts';

function ownSessions(actor: Actor) {
  return (trx: Parameters<Parameters<typeof withTenant>[2]>[0]) => {
    const q = trx.selectFrom('sessions').select(['id', 'created_at', 'last_seen_at', 'ip', 'user_agent']);
    return actor.kind === 'user' ? q.where('user_id', '=', actor.userId) : q.where('staff_id', '=', actor.staffId);
  };
}

// The sessions policy admits all of the person's own sessions (in every company) and nothing of
// anyone else's that the queries below would touch: each one filters on the person's own id.
const ctxFor = dbContextFor;

export function registerAccount(app: FastifyInstance, deps: AppDeps) {
  const routeConfig = { config: { anyActor: true } };
  const secure = Boolean(deps.config.tls) || deps.config.publicUrl?.startsWith('https:') === true;
  const names = cookieNames(secure);
  // The M7 throttle's source: the device cookie the login set, else the IP address.
  const sourceOf = (req: FastifyRequest) => {
    const device = req.cookies[names.device];
    return sourceFor(device && /^[A-Za-z0-9_-]{43}$/.test(device) ? device : undefined, req.ip);
  };

  app.get('/account/password', routeConfig, async (req, reply) => {
    const actor = req.actor as Actor;
    const form = await getPasswordForm(deps, actor);
    const vc = viewContext(req);
    const flash = (req.query as Record<string, unknown>).changed === '1' ? translator(vc.lang, accountMessages)('passwordChanged') : undefined;
    return sendPage(reply, <ChangePasswordPage vc={vc} minLength={form.minLength} factor={form.factor} flash={flash} />);
  });

  app.post('/account/password', routeConfig, async (req, reply) => {
    const actor = req.actor as Actor;
    const form = rawForm(req.body);
    // Exactly as typed: never trimmed, never cut (too long is the policy's to report; the body
    // limit bounds the work).
    const field = (name: string) => form[name] ?? '';
    const result = await changePassword(deps, actor, {
      current: field('current'),
      code: field('code'),
      passkeyResponse: field('passkeyResponse').slice(0, 60_000),
      rp: relyingParty(deps.config.publicUrl, `${req.protocol}://${req.host}`),
      next: field('next'),
      repeat: field('repeat'),
      source: sourceOf(req),
      ip: req.ip,
      userAgent: req.headers['user-agent'],
    });
    if (!result.ok) {
      const form = await getPasswordForm(deps, actor);
      const vc = viewContext(req);
      return sendPage(reply, <ChangePasswordPage vc={vc} minLength={form.minLength} factor={form.factor} errors={passwordErrorMessages(vc, result.errors, form.factor)} />, 422);
    }
    reply.setCookie(names.session, result.token, { path: '/', httpOnly: true, sameSite: 'lax', secure });
    return reply.redirect('/account/password?changed=1', 303);
  });

  app.get('/account/sessions', routeConfig, async (req, reply) => {
    const actor = req.actor as Actor;
    const sessions = await withTenant(deps.database, ctxFor(actor), (trx) => ownSessions(actor)(trx).orderBy('last_seen_at', 'desc').execute());
    const vc = viewContext(req);
    const t = translator(vc.lang, accountMessages);
    const q = req.query as Record<string, unknown>;
    const flash = q.ended === 'others' ? t('endedOthers') : q.ended === 'one' ? t('endedOne') : undefined;
    return sendPage(
      reply,
      <Layout vc={vc} title={t('sessionsTitle')}>
        <h1>{t('sessionsTitle')}</h1>
        <Flash message={flash} />
        <p>{t('sessionsIntro')}</p>
        <ul class="actions plain-inline">
          <li>
            <a href="/account/password">{t('changePassword')}</a>
          </li>
          <li>
            <a href="/account/two-factor">{t('twoFactorLink')}</a>
          </li>
        </ul>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('device')}</th>
                <th scope="col">{t('address')}</th>
                <th scope="col">{t('started')}</th>
                <th scope="col">{t('lastSeen')}</th>
                <th scope="col">
                  <span class="visually-hidden">{t('logoutSession')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr>
                  <td>{s.user_agent ? s.user_agent.slice(0, 120) : t('unknownDevice')}</td>
                  <td>{s.ip ?? '–'}</td>
                  <td>{formatDateTime(vc.lang, new Date(s.created_at))}</td>
                  <td>{formatDateTime(vc.lang, new Date(s.last_seen_at))}</td>
                  <td>
                    {s.id === actor.sessionId ? (
                      <span class="badge">{t('thisSession')}</span>
                    ) : (
                      <form method="post" action={`/account/sessions/${s.id}/delete`} class="inline">
                        <CsrfField vc={vc} />
                        <button type="submit" class="secondary small">
                          {t('logoutSession')}
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {sessions.length > 1 ? (
          <form method="post" action="/account/sessions/delete-others" class="stack">
            <CsrfField vc={vc} />
            <button type="submit" class="danger">
              {t('logoutEverywhere')}
            </button>
          </form>
        ) : null}
      </Layout>,
    );
  });

  app.post('/account/sessions/:id/delete', routeConfig, async (req, reply) => {
    const actor = req.actor as Actor;
    const parsed = z.object({ id: z.uuid() }).safeParse(req.params);
    if (!parsed.success) throw new NotFoundError();
    await withTenant(deps.database, ctxFor(actor), async (trx) => {
      const own = await ownSessions(actor)(trx).where('id', '=', parsed.data.id).executeTakeFirst();
      if (!own) throw new NotFoundError();
      await trx.deleteFrom('sessions').where('id', '=', own.id).execute();
      await audit(trx, whoFromActor(actor, req.ip), { type: 'auth.session_ended', objectType: 'session', objectId: own.id });
    });
    return reply.redirect('/account/sessions?ended=one', 303);
  });

  app.post('/account/sessions/delete-others', routeConfig, async (req, reply) => {
    const actor = req.actor as Actor;
    await withTenant(deps.database, ctxFor(actor), async (trx) => {
      const q = trx.deleteFrom('sessions').where('id', '<>', actor.sessionId);
      await (actor.kind === 'user' ? q.where('user_id', '=', actor.userId) : q.where('staff_id', '=', actor.staffId)).execute();
      await audit(trx, whoFromActor(actor, req.ip), { type: 'auth.sessions_ended_elsewhere' });
    });
    return reply.redirect('/account/sessions?ended=others', 303);
  });
}
