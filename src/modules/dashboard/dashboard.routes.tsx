import type { FastifyInstance } from 'fastify';
import { terminationMessages } from '../termination/termination.i18n.ts';
import type { AppDeps } from '../../platform/deps.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { Layout, roleLabel, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDate, formatNumber, translator } from '../../platform/i18n/i18n.ts';
import { common } from '../../platform/html/common.i18n.ts';
import { dashboardMessages } from './dashboard.i18n.ts';
import { companySettingsMessages } from '../companysettings/companysettings.i18n.ts';
import { getDashboard, type Dashboard } from './dashboard.service.ts';
import { responsibilityLabel } from '../org/responsibilities.ts';
import { getMyDialogues } from '../dialogues/dialogues.service.ts';
import { dialogueMessages, type DialogueKey } from '../dialogues/dialogues.i18n.ts';

type DialogueSummary = Awaited<ReturnType<typeof getMyDialogues>>;

export function registerDashboard(app: FastifyInstance, deps: AppDeps) {
  app.get('/dashboard', async (req, reply) => {
    const actor = req.actor;
    if (actor?.kind !== 'user') return reply.redirect('/', 303);
    const data = await getDashboard(deps, actor);
    const dialogues = await getMyDialogues({ deps, actor, ip: req.ip });
    return sendPage(reply, <DashboardPage vc={viewContext(req)} data={data} dialogues={dialogues} />);
  });
}

/** What to do next in one's dialogues, and for leaders the state of their teams' dialogues. */
function DialoguesCard(props: { vc: ViewContext; d: DialogueSummary }) {
  const { vc, d } = props;
  const t = translator(vc.lang, dialogueMessages);
  const open = d.mine.filter((x) => x.next !== 'done');
  const overdue = d.led.filter((x) => x.employeeOverdue || x.leaderOverdue).length;
  const waiting = d.led.filter((x) => x.next === 'prepare' || x.next === 'sign' || x.next === 'meeting').length;
  return (
    <section class="card" aria-labelledby="dialogues-h">
      <h2 id="dialogues-h">{t('overviewTitle')}</h2>
      {open.length === 0 ? (
        <p>{t('noMyDialogues')}</p>
      ) : (
        <ul class="plain">
          {open.slice(0, 5).map((x) => (
            <li>
              <a href={`/dialogues/${x.id}`}>{x.round_name ?? x.form_name}</a>: {t(`next_${x.next}` as DialogueKey)}
              {x.overdue ? <span class="badge warn"> {t('overdue')}</span> : null}
            </li>
          ))}
        </ul>
      )}
      {d.musTasks.length > 0 ? (
        <>
          <h3>{t('musTasksHeading')}</h3>
          <ul class="plain">
            {d.musTasks.map((x) => (
              <li>
                <a href={`/dialogues/${x.grus_dialogue_id}#requests-h`}>{t('musTaskLine', { name: x.employee_name, date: formatDate(vc.lang, x.created_at) })}</a>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {d.led.length > 0 ? (
        <p>
          {t('ledDialogues')}: {formatNumber(vc.lang, waiting)} / {formatNumber(vc.lang, d.led.length)}
          {overdue > 0 ? (
            <>
              {' · '}
              <span class="badge warn">
                {t('overduePreparations')}: {formatNumber(vc.lang, overdue)}
              </span>
            </>
          ) : null}
        </p>
      ) : null}
      <p>
        <a href="/dialogues">{t('myDialogues')}</a>
        {d.canSeeRounds ? (
          <>
            {' · '}
            <a href="/rounds">{t('rounds')}</a>
          </>
        ) : null}
        {d.archived > 0 ? (
          <>
            {' · '}
            <a href="/archive">{t('archiveLink')}</a>
          </>
        ) : null}
      </p>
    </section>
  );
}

function DashboardPage(props: { vc: ViewContext; data: Dashboard; dialogues: DialogueSummary }) {
  const { vc, data } = props;
  const lang = vc.lang;
  const t = translator(lang, dashboardMessages);
  const c = translator(lang, common);
  const actor = vc.actor?.kind === 'user' ? vc.actor : undefined;
  return (
    <Layout vc={vc} title={t('title')}>
      <h1>{t('welcome', { name: actor?.name ?? '' })}</h1>
      <div class="grid">
        <DialoguesCard vc={vc} d={props.dialogues} />
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
            <p>
              <a href="/org/settings/termination">{translator(lang, terminationMessages)('title')}</a>
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
