/**
 * Platform staff see the list of companies (name, id, status) and nothing inside them, plus
 * whether the company has given support access right now and until when (M13): the database
 * admits a support transaction into a company only while that consent is open.
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { withTenant } from '../../platform/db/context.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { Layout } from '../../platform/html/layout.tsx';
import { defineMessages, formatDate, formatDateTime, translator } from '../../platform/i18n/i18n.ts';
import { activeConsentsForStaff } from '../support/support.service.ts';

const messages = defineMessages({
  da: { access: 'Supportadgang', accessUntil: 'adgang til {until}', accessEdit: '(må ændre)', noAccess: 'ingen', enter: 'Gå ind som support', title: 'Virksomheder', intro: 'Som platformsmedarbejder ser du kun listen over virksomheder – ikke deres data.', name: 'Navn', id: 'Id', status: 'Status', created: 'Oprettet', active: 'Aktiv', terminating: 'Under opsigelse', none: 'Der er ingen virksomheder endnu.' },
  en: { access: 'Support access', accessUntil: 'access until {until}', accessEdit: '(may edit)', noAccess: 'none', enter: 'Enter as support', title: 'Companies', intro: 'As platform staff you see only the list of companies – not their data.', name: 'Name', id: 'Id', status: 'Status', created: 'Created', active: 'Active', terminating: 'Terminating', none: 'There are no companies yet.' },
  sv: { access: 'Supportåtkomst', accessUntil: 'åtkomst till {until}', accessEdit: '(får ändra)', noAccess: 'ingen', enter: 'Gå in som support', title: 'Företag', intro: 'Som plattformspersonal ser du bara listan över företag – inte deras data.', name: 'Namn', id: 'Id', status: 'Status', created: 'Skapat', active: 'Aktivt', terminating: 'Under uppsägning', none: 'Det finns inga företag ännu.' },
});

export function registerStaff(app: FastifyInstance, deps: AppDeps) {
  app.get('/staff/companies', { config: { staff: true } }, async (req, reply) => {
    const actor = req.actor;
    if (actor?.kind !== 'staff') return reply.redirect('/', 303);
    const now = deps.clock.now();
    const { companies, consents } = await withTenant(deps.database, { staffId: actor.staffId }, async (trx) => ({
      companies: await trx.selectFrom('companies').select(['id', 'name', 'status', 'created_at']).orderBy('name').execute(),
      consents: await activeConsentsForStaff(trx, now),
    }));
    const vc = viewContext(req);
    const t = translator(vc.lang, messages);
    return sendPage(
      reply,
      <Layout vc={vc} title={t('title')}>
        <h1>{t('title')}</h1>
        <p>{t('intro')}</p>
        {companies.length === 0 ? (
          <p>{t('none')}</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('name')}</th>
                  <th scope="col">{t('id')}</th>
                  <th scope="col">{t('status')}</th>
                  <th scope="col">{t('created')}</th>
                  <th scope="col">{t('access')}</th>
                </tr>
              </thead>
              <tbody>
                {companies.map((c) => (
                  <tr>
                    <td>{c.name}</td>
                    <td>
                      <code>{c.id}</code>
                    </td>
                    <td>{c.status === 'active' ? t('active') : t('terminating')}</td>
                    <td>{formatDate(vc.lang, new Date(c.created_at))}</td>
                    <td>
                      {consents.get(c.id) ? (
                        <>
                          <span class="badge warn">
                            {t('accessUntil', { until: formatDateTime(vc.lang, consents.get(c.id)?.expiresAt ?? now) })} {consents.get(c.id)?.allowEdit ? t('accessEdit') : ''}
                          </span>
                          <form method="post" action={`/staff/companies/${c.id}/enter`} class="inline">
                            <input type="hidden" name="_csrf" value={vc.csrfToken} />
                            <button type="submit" class="small">
                              {t('enter')}
                            </button>
                          </form>
                        </>
                      ) : (
                        t('noAccess')
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Layout>,
    );
  });
}
