import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { Layout, roleLabel, type ViewContext } from '../../platform/html/layout.tsx';
import { formatNumber, translator } from '../../platform/i18n/i18n.ts';
import { common } from '../../platform/html/common.i18n.ts';
import { dashboardMessages } from './dashboard.i18n.ts';
import { companySettingsMessages } from '../companysettings/companysettings.i18n.ts';
import { getDashboard, type Dashboard } from './dashboard.service.ts';
import { responsibilityLabel } from '../org/responsibilities.ts';

export function registerDashboard(app: FastifyInstance, deps: AppDeps) {
  app.get('/dashboard', async (req, reply) => {
    const actor = req.actor;
    if (actor?.kind !== 'user') return reply.redirect('/', 303);
    const data = await getDashboard(deps, actor);
    return sendPage(reply, <DashboardPage vc={viewContext(req)} data={data} />);
  });
}

function DashboardPage(props: { vc: ViewContext; data: Dashboard }) {
  const { vc, data } = props;
  const lang = vc.lang;
  const t = translator(lang, dashboardMessages);
  const c = translator(lang, common);
  const actor = vc.actor?.kind === 'user' ? vc.actor : undefined;
  return (
    <Layout vc={vc} title={t('title')}>
      <h1>{t('welcome', { name: actor?.name ?? '' })}</h1>
      <div class="grid">
        <section class="card" aria-labelledby="me-h">
          <h2 id="me-h">{t('yourEmployment')}</h2>
          <dl class="facts">
            <dt>{t('roleLabel')}</dt>
            <dd>{roleLabel(lang, data.me.role)}</dd>
            <dt>{t('titleLabel')}</dt>
            <dd>{data.me.title || '–'}</dd>
            <dt>{t('teamLabel')}</dt>
            <dd>{data.me.teamName ?? t('noTeam')}</dd>
            <dt>{t('leaderLabel')}</dt>
            <dd>{data.leaderName ?? t('noLeader')}</dd>
          </dl>
        </section>
        {data.me.role !== 'employee' ? (
          <section class="card" aria-labelledby="teams-h">
            <h2 id="teams-h">{t('yourTeams')}</h2>
            {data.myTeams.length === 0 ? (
              <p>{t('noTeams')}</p>
            ) : (
              <ul class="plain">
                {data.myTeams.map((team) => (
                  <li>
                    <strong>{team.name}</strong> · {t('members', { count: formatNumber(lang, Number(team.members ?? 0)) })}
                  </li>
                ))}
              </ul>
            )}
          </section>
        ) : null}
        {data.counts ? (
          <section class="card" aria-labelledby="company-h">
            <h2 id="company-h">{t('companyOverview')}</h2>
            <dl class="facts">
              <dt>{t('departments')}</dt>
              <dd>{formatNumber(lang, Number(data.counts.departments))}</dd>
              <dt>{t('teams')}</dt>
              <dd>{formatNumber(lang, Number(data.counts.teams))}</dd>
              <dt>{t('employees')}</dt>
              <dd>{formatNumber(lang, Number(data.counts.employees))}</dd>
              <dt>{t('firedPending')}</dt>
              <dd>{formatNumber(lang, Number(data.counts.fired))}</dd>
            </dl>
            <p>
              <a href="/org">{t('manageOrg')}</a>
            </p>
            <p>
              <a href="/org/settings/security">{translator(lang, companySettingsMessages)('title')}</a>
            </p>
          </section>
        ) : null}
        <section class="card" aria-labelledby="deleg-h">
          <h2 id="deleg-h">{t('yourDelegations')}</h2>
          {data.delegations.length === 0 ? (
            <p>{t('noDelegations')}</p>
          ) : (
            <ul class="plain">
              {data.delegations.map((d) => (
                <li>
                  {responsibilityLabel(lang, d.responsibility)} –{' '}
                  {d.teamName ? (
                    t('onTeam', { name: d.teamName })
                  ) : d.responsibility === 'manage_organisation_department' && d.department_id ? (
                    <a href={`/org/departments/${d.department_id}`}>{t('onDepartment', { name: d.departmentName ?? '' })}</a>
                  ) : (
                    t('onDepartment', { name: d.departmentName ?? '' })
                  )}
                </li>
              ))}
            </ul>
          )}
        </section>
        {data.otherCompanies.length > 0 ? (
          <section class="card" aria-labelledby="companies-h">
            <h2 id="companies-h">{t('otherCompanies')}</h2>
            <ul class="plain">
              {data.otherCompanies.map((co) => (
                <li>
                  <form method="post" action="/switch-company" class="inline">
                    <input type="hidden" name="_csrf" value={vc.csrfToken} />
                    <input type="hidden" name="companyId" value={co.id} />
                    <button type="submit" class="secondary">
                      {t('switchTo', { name: co.name })}
                    </button>
                  </form>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
      </div>
      <p class="visually-hidden">{c('appName')}</p>
    </Layout>
  );
}
