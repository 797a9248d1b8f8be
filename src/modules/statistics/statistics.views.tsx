/**
 * Statistics pages and the server-rendered score chart. The chart is plain SVG (no script, no
 * inline style: the CSP allows neither) with a <title> and <desc>, and every chart has the same
 * numbers in a data table next to it for screen readers and print.
 */
import { Layout, type ViewContext } from '../../platform/html/layout.tsx';
import { formatNumber, translator, type Lang } from '../../platform/i18n/i18n.ts';
import type { Cell } from './statistics.compute.ts';
import { statisticsMessages } from './statistics.i18n.ts';
import type { CompletionRow, getDepartmentStats, getEmployeeScores, getOverview, getTeamStats } from './statistics.service.ts';

const tr = (lang: Lang) => translator(lang, statisticsMessages);

function Percent(props: { lang: Lang; value: number | null }) {
  return <>{props.value === null ? '–' : `${formatNumber(props.lang, props.value)} %`}</>;
}

function CompletionTable(props: { lang: Lang; rows: (CompletionRow & { visible?: boolean })[]; unit: 'department' | 'team'; link: (id: string) => string | undefined }) {
  const t = tr(props.lang);
  const label = props.unit === 'department' ? t('colDepartment') : t('colTeam');
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label}>
      <table>
        <thead>
          <tr>
            <th scope="col">{label}</th>
            <th scope="col">{t('colEmployees')}</th>
            <th scope="col">{t('colClosed')}</th>
            <th scope="col">{t('colUpToDate')}</th>
            <th scope="col">{t('colComplete')}</th>
            <th scope="col">{t('colShare')}</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => {
            const href = props.link(r.id);
            return (
              <tr>
                <th scope="row" class={`depth-${Math.min(r.depth, 6)}`}>
                  {href ? <a href={href}>{r.name}</a> : r.name}
                </th>
                <td>{formatNumber(props.lang, r.employees)}</td>
                <td>{formatNumber(props.lang, r.closedMus)}</td>
                <td>{formatNumber(props.lang, r.agreementsUpToDate)}</td>
                <td>{formatNumber(props.lang, r.complete)}</td>
                <td>
                  <Percent lang={props.lang} value={r.share} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function OverviewPage(props: { vc: ViewContext; data: Awaited<ReturnType<typeof getOverview>> }) {
  const { vc, data } = props;
  const t = tr(vc.lang);
  return (
    <Layout vc={vc} title={t('title')}>
      <h1>{t('title')}</h1>
      <p>{t('intro', { year: data.year, n: data.threshold })}</p>
      <p>
        <a href="/statistics/me">{t('myScores')}</a>
      </p>
      <section class="card" aria-labelledby="completion-h">
        <h2 id="completion-h">{t('completionHeading', { year: data.year })}</h2>
        <p class="hint">{t('completionDefinition', { year: data.year })}</p>
        {data.departments.length === 0 ? <p>{t('noUnits')}</p> : <CompletionTable lang={vc.lang} rows={data.departments} unit="department" link={(id) => `/statistics/departments/${id}`} />}
        <p>
          <a class="button secondary" href="/statistics/completion.csv" download>
            {t('csv')}
          </a>
        </p>
      </section>
      {data.teams.length > 0 ? (
        <section class="card" aria-labelledby="teams-h">
          <h2 id="teams-h">{t('completionTeamsHeading', { year: data.year })}</h2>
          <CompletionTable lang={vc.lang} rows={data.teams} unit="team" link={(id) => `/statistics/teams/${id}`} />
        </section>
      ) : null}
    </Layout>
  );
}

function CellText(props: { lang: Lang; cell: Cell }) {
  const t = tr(props.lang);
  if (!props.cell.shown) return <span class="hint">{t('tooFew')}</span>;
  return <>{t('averageValue', { average: formatNumber(props.lang, props.cell.average), n: formatNumber(props.lang, props.cell.n) })}</>;
}

function YearForm(props: { lang: Lang; action: string; year: number; years: number[] }) {
  const t = tr(props.lang);
  const years = [...new Set([props.year, ...props.years])].sort((a, b) => b - a);
  return (
    <form method="get" action={props.action} class="inline">
      <label for="year">{t('yearLabel')}</label>{' '}
      <select id="year" name="year">
        {years.map((y) => (
          <option value={String(y)} selected={y === props.year}>
            {y}
          </option>
        ))}
      </select>{' '}
      <button type="submit" class="secondary small">
        {t('show')}
      </button>
    </form>
  );
}

function AveragesSection(props: { lang: Lang; year: number; threshold: number; rows: Awaited<ReturnType<typeof getTeamStats>>['averages']; action: string; years: number[] }) {
  const t = tr(props.lang);
  return (
    <section class="card" aria-labelledby="averages-h">
      <h2 id="averages-h">{t('averagesHeading', { year: props.year })}</h2>
      <YearForm lang={props.lang} action={props.action} year={props.year} years={props.years} />
      <p class="notice">{t('thresholdNote', { n: props.threshold })}</p>
      {props.rows.length === 0 ? (
        <p>{t('noAnswers', { year: props.year })}</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={t('averagesHeading', { year: props.year })}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colQuestion')}</th>
                <th scope="col">{t('colForm')}</th>
                <th scope="col">{t('colAverage')}</th>
              </tr>
            </thead>
            <tbody>
              {props.rows.map((r) => (
                <tr>
                  <th scope="row">{r.question.text}</th>
                  <td>{r.question.formName}</td>
                  <td>
                    <CellText lang={props.lang} cell={r.cell} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function DepartmentPage(props: { vc: ViewContext; data: Awaited<ReturnType<typeof getDepartmentStats>> }) {
  const { vc, data } = props;
  const t = tr(vc.lang);
  const title = t('departmentTitle', { name: data.department.name });
  return (
    <Layout vc={vc} title={title}>
      <p>
        <a href="/statistics">{t('backToOverview')}</a>
      </p>
      <h1>{title}</h1>
      <AveragesSection lang={vc.lang} year={data.year} threshold={data.threshold} rows={data.averages} action={`/statistics/departments/${data.department.id}`} years={data.years} />
      <section class="card" aria-labelledby="teams-h">
        <h2 id="teams-h">{t('completionTeamsHeading', { year: data.completionYear })}</h2>
        <p class="hint">{t('completionDefinition', { year: data.completionYear })}</p>
        <CompletionTable lang={vc.lang} rows={data.teams.map((r) => ({ ...r, depth: 0 }))} unit="team" link={(id) => (data.teams.find((x) => x.id === id)?.visible ? `/statistics/teams/${id}` : undefined)} />
      </section>
    </Layout>
  );
}

export function TeamPage(props: { vc: ViewContext; data: Awaited<ReturnType<typeof getTeamStats>> }) {
  const { vc, data } = props;
  const t = tr(vc.lang);
  const title = t('teamTitle', { name: data.team.name });
  return (
    <Layout vc={vc} title={title}>
      <p>
        <a href="/statistics">{t('backToOverview')}</a>
      </p>
      <h1>{title}</h1>
      <AveragesSection lang={vc.lang} year={data.year} threshold={data.threshold} rows={data.averages} action={`/statistics/teams/${data.team.id}`} years={data.years} />
      {data.members.length > 0 ? (
        <section class="card" aria-labelledby="members-h">
          <h2 id="members-h">{t('membersHeading')}</h2>
          <ul class="plain">
            {data.members.map((m) => (
              <li>
                <a href={`/statistics/employees/${m.id}`}>{m.name}</a>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </Layout>
  );
}

type ScoreSeries = Awaited<ReturnType<typeof getEmployeeScores>>['series'][number];

/** One question's answers over the years: a line over five gridlines, one point a year. */
export function ScoreChart(props: { lang: Lang; series: ScoreSeries; index: number }) {
  const t = tr(props.lang);
  const { series } = props;
  const W = 360;
  const H = 180;
  const left = 36;
  const right = 16;
  const top = 14;
  const bottom = 30;
  const n = series.points.length;
  const x = (i: number) => (n === 1 ? left + (W - left - right) / 2 : left + (i * (W - left - right)) / (n - 1));
  const y = (v: number) => top + ((5 - v) * (H - top - bottom)) / 4;
  const titleId = `chart-${props.index}-title`;
  const descId = `chart-${props.index}-desc`;
  const points = series.points.map((p) => t('point', { year: p.year, value: p.value })).join(', ');
  return (
    <svg class="score-chart" viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-labelledby={`${titleId} ${descId}`} xmlns="http://www.w3.org/2000/svg">
      <title id={titleId}>{series.question.text}</title>
      <desc id={descId}>{t('chartDesc', { points })}</desc>
      {[1, 2, 3, 4, 5].map((v) => (
        <g>
          <line x1={left} x2={W - right} y1={y(v)} y2={y(v)} stroke="#c9ced6" stroke-width="1" />
          <text x={left - 8} y={y(v) + 4} text-anchor="end" font-size="11" fill="#333">
            {v}
          </text>
        </g>
      ))}
      {n > 1 ? <polyline fill="none" stroke="#1f5f8b" stroke-width="2.5" points={series.points.map((p, i) => `${x(i)},${y(p.value)}`).join(' ')} /> : null}
      {series.points.map((p, i) => (
        <g>
          <circle cx={x(i)} cy={y(p.value)} r="4.5" fill="#1f5f8b" />
          <text x={x(i)} y={H - 10} text-anchor="middle" font-size="11" fill="#333">
            {p.year}
          </text>
        </g>
      ))}
    </svg>
  );
}

export function ScoresPage(props: { vc: ViewContext; data: Awaited<ReturnType<typeof getEmployeeScores>> }) {
  const { vc, data } = props;
  const t = tr(vc.lang);
  const title = data.own ? t('scoresOwnTitle') : t('scoresTitle', { name: data.employee.name });
  const years = [...new Set(data.series.flatMap((s) => s.points.map((p) => p.year)))].sort((a, b) => a - b);
  return (
    <Layout vc={vc} title={title}>
      <h1>{title}</h1>
      <p>{t('scoresIntro')}</p>
      {data.series.length === 0 ? (
        <p>{t('noScores')}</p>
      ) : (
        <>
          <div class="chart-grid">
            {data.series.map((s, i) => (
              <figure class="card chart">
                <figcaption>
                  {s.question.text} <span class="hint">({s.question.formName})</span>
                </figcaption>
                <ScoreChart lang={vc.lang} series={s} index={i} />
              </figure>
            ))}
          </div>
          <div class="table-wrap" tabIndex={0} role="region" aria-label={t('tableCaption')}>
            <table>
              <caption>{t('tableCaption')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('colQuestion')}</th>
                  {years.map((y) => (
                    <th scope="col">{y}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.series.map((s) => (
                  <tr>
                    <th scope="row">{s.question.text}</th>
                    {years.map((y) => (
                      <td>{s.points.find((p) => p.year === y)?.value ?? '–'}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Layout>
  );
}
