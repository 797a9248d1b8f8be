/**
 * "Your sessions": every session of the person (users across their companies, or staff), with
 * log out per session and everywhere else. The RLS policy on sessions admits only one's own rows.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor } from '../../platform/auth/actor.ts';
import { dbContextFor } from '../../platform/auth/actor.ts';
import { withTenant } from '../../platform/db/context.ts';
import { whoFromActor, audit } from '../../platform/audit/audit.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { viewContext } from '../../platform/http/server.ts';
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
