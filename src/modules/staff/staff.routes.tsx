/**
 * Platform staff see the list of companies (name, id, status) and nothing inside them. Access to
 * a company's data comes only with the customer's consent (M13, a later issue).
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { withTenant } from '../../platform/db/context.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { Layout } from '../../platform/html/layout.tsx';
import { defineMessages, formatDate, translator } from '../../platform/i18n/i18n.ts';

const messages = defineMessages({
  da: { title: 'Virksomheder', intro: 'Som platformsmedarbejder ser du kun listen over virksomheder – ikke deres data.', name: 'Navn', id: 'Id', status: 'Status', created: 'Oprettet', active: 'Aktiv', terminating: 'Under opsigelse', none: 'Der er ingen virksomheder endnu.' },
  en: { title: 'Companies', intro: 'As platform staff you see only the list of companies – not their data.', name: 'Name', id: 'Id', status: 'Status', created: 'Created', active: 'Active', terminating: 'Terminating', none: 'There are no companies yet.' },
  sv: { title: 'Företag', intro: 'Som plattformspersonal ser du bara listan över företag – inte deras data.', name: 'Namn', id: 'Id', status: 'Status', created: 'Skapat', active: 'Aktivt', terminating: 'Under uppsägning', none: 'Det finns inga företag ännu.' },
});

export function registerStaff(app: FastifyInstance, deps: AppDeps) {
  app.get('/staff/companies', { config: { staff: true } }, async (req, reply) => {
    const actor = req.actor;
    if (actor?.kind !== 'staff') return reply.redirect('/', 303);
    const companies = await withTenant(deps.database, { staffId: actor.staffId }, (trx) =>
      trx.selectFrom('companies').select(['id', 'name', 'status', 'created_at']).orderBy('name').execute(),
    );
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
