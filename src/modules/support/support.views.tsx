/** The company admin's support-access page (M13). Texts in support.i18n.ts; values escaped. */
import { CsrfField, ErrorSummary, Flash, Layout, roleLabel, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDateTime, translator } from '../../platform/i18n/i18n.ts';
import { ReauthFactorFields, reauthFormAttributes } from '../twofactor/passkeys.views.tsx';
import { supportMessages } from './support.i18n.ts';
import { DEFAULT_HOURS, type ConsentPage, type SupportActivity, type SupportDialogue, type SupportDialogueRow, type SupportOverview } from './support.service.ts';
import { ViewedBy } from '../../platform/html/viewed-by.tsx';

export type ConsentFormValues = { reason: string; hours: string; allowEdit: boolean };

export function SupportConsentPage(props: { vc: ViewContext; page: ConsentPage; values?: ConsentFormValues; errors?: Record<string, string>; flash?: string | undefined }) {
  const { vc, page } = props;
  const t = translator(vc.lang, supportMessages);
  const errors = props.errors ?? {};
  const values = props.values ?? { reason: '', hours: String(DEFAULT_HOURS), allowEdit: false };
  const current = page.current;
  const factorFields = (
    <ReauthFactorFields vc={vc} factor={page.factor} codeLabel={t('codeLabel')} codeHint={t('codeHint')} error={errors.code} />
  );
  return (
    <Layout vc={vc} title={t('title')}>
      <h1>{t('title')}</h1>
      <Flash message={props.flash} />
      <ErrorSummary lang={vc.lang} errors={errors} />
      <p>{t('intro')}</p>
      <section class="card" aria-labelledby="status-h">
        <h2 id="status-h" class={current ? 'badge warn' : undefined}>
          {current ? t('statusActive', { until: formatDateTime(vc.lang, current.expiresAt), mode: current.allowEdit ? t('mayEdit') : t('readOnly') }) : t('statusNone')}
        </h2>
        {current ? <p>{t('givenBy', { name: current.grantedByName ?? '', reason: current.reason })}</p> : null}
        <p>
          <a href="/org/settings/support/activity">{t('activityLink')}</a>
        </p>
      </section>
      {page.factor === 'none' ? (
        <p class="notice">
          {t('needFactor')} <a href="/account/two-factor">{t('setUpFactor')}</a>
        </p>
      ) : current ? (
        <section class="card" aria-labelledby="withdraw-h">
          <h2 id="withdraw-h">{t('withdrawTitle')}</h2>
          <form method="post" action="/org/settings/support/withdraw" class="stack" novalidate {...reauthFormAttributes(page.factor)}>
            <CsrfField vc={vc} />
            {factorFields}
            <button type="submit" class="danger">
              {t('withdraw')}
            </button>
          </form>
        </section>
      ) : (
        <section class="card" aria-labelledby="give-h">
          <h2 id="give-h">{t('giveTitle')}</h2>
          <form method="post" action="/org/settings/support/consent" class="stack" novalidate {...reauthFormAttributes(page.factor)}>
            <CsrfField vc={vc} />
            <div class={errors.allow ? 'field has-error' : 'field'}>
              {errors.allow ? (
                <p class="field-error" id="allow-error">
                  {errors.allow}
                </p>
              ) : null}
              <label>
                <input type="checkbox" id="allow" name="allow" value="1" required aria-describedby={errors.allow ? 'allow-error' : undefined} /> {t('allow')}
              </label>
            </div>
            <TextField name="reason" label={t('reason')} hint={t('reasonHint')} value={values.reason} required maxLength={500} error={errors.reason} />
            <TextField name="hours" label={t('hours')} hint={t('hoursHint')} type="number" inputMode="numeric" value={values.hours} required maxLength={3} error={errors.hours} />
            <div class="field">
              <label>
                <input type="checkbox" name="allowEdit" value="1" checked={values.allowEdit} /> {t('allowEdit')}
              </label>
            </div>
            {factorFields}
            <button type="submit">{t('give')}</button>
          </form>
        </section>
      )}
      {page.history.length > 0 ? (
        <section aria-labelledby="history-h">
          <h2 id="history-h">{t('history')}</h2>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('colGiven')}</th>
                  <th scope="col">{t('colUntil')}</th>
                  <th scope="col">{t('colMode')}</th>
                  <th scope="col">{t('colReason')}</th>
                  <th scope="col">{t('colWithdrawn')}</th>
                </tr>
              </thead>
              <tbody>
                {page.history.map((c) => (
                  <tr>
                    <td>
                      {formatDateTime(vc.lang, c.grantedAt)} {c.grantedByName ? `(${c.grantedByName})` : ''}
                    </td>
                    <td>{formatDateTime(vc.lang, c.expiresAt)}</td>
                    <td>{c.allowEdit ? t('mayEdit') : t('readOnly')}</td>
                    <td>{c.reason}</td>
                    <td>{c.withdrawnAt ? formatDateTime(vc.lang, c.withdrawnAt) : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </Layout>
  );
}

export function SupportActivityPage(props: { vc: ViewContext; rows: SupportActivity }) {
  const { vc } = props;
  const t = translator(vc.lang, supportMessages);
  const what = (r: SupportActivity[number]) =>
    r.eventType === 'support.entered' ? t('evEntered') : r.eventType === 'support.left' ? t('evLeft') : r.eventType === 'support.viewed' ? t('evViewed', { page: r.page ?? '' }) : r.eventType;
  return (
    <Layout vc={vc} title={t('activityTitle')}>
      <p>
        <a href="/org/settings/support">{t('title')}</a>
      </p>
      <h1>{t('activityTitle')}</h1>
      <p>{t('activityIntro')}</p>
      {props.rows.length === 0 ? (
        <p>{t('activityNone')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colWhen')}</th>
                <th scope="col">{t('colWhat')}</th>
              </tr>
            </thead>
            <tbody>
              {props.rows.map((r) => (
                <tr>
                  <td>{formatDateTime(vc.lang, r.at)}</td>
                  <td>{what(r)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}

export function SupportOverviewPage(props: { vc: ViewContext; companyName: string; overview: SupportOverview }) {
  const { vc, overview } = props;
  const t = translator(vc.lang, supportMessages);
  const teamName = new Map(overview.teams.map((team) => [team.id, team.name]));
  return (
    <Layout vc={vc} title={t('overviewTitle')}>
      <h1>{t('overviewTitle')}</h1>
      <p>{t('overviewIntro', { company: props.companyName })}</p>
      <p>
        <a href="/support/dialogues">{t('dialoguesTitle')}</a>
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t('colName')}</th>
              <th scope="col">{t('colTitle')}</th>
              <th scope="col">{t('colRole')}</th>
              <th scope="col">{t('colTeam')}</th>
            </tr>
          </thead>
          <tbody>
            {overview.people.map((p) => (
              <tr>
                <td>
                  {p.name} {p.fired ? <span class="badge">{t('left')}</span> : null}
                </td>
                <td>{p.title ?? ''}</td>
                <td>{roleLabel(vc.lang, p.role)}</td>
                <td>{p.teamId ? (teamName.get(p.teamId) ?? '') : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>
  );
}

export function SupportDialoguesPage(props: { vc: ViewContext; rows: SupportDialogueRow[] }) {
  const { vc } = props;
  const t = translator(vc.lang, supportMessages);
  return (
    <Layout vc={vc} title={t('dialoguesTitle')}>
      <p>
        <a href="/support">{t('overviewTitle')}</a>
      </p>
      <h1>{t('dialoguesTitle')}</h1>
      {props.rows.length === 0 ? (
        <p>{t('noDialogues')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colEmployee')}</th>
                <th scope="col">{t('colLeader')}</th>
                <th scope="col">{t('colRound')}</th>
                <th scope="col">{t('colState')}</th>
              </tr>
            </thead>
            <tbody>
              {props.rows.map((r) => (
                <tr>
                  <td>
                    <a href={`/support/dialogues/${r.id}`}>{r.employeeName}</a>
                  </td>
                  <td>{r.leaderName}</td>
                  <td>{r.roundName ?? r.formName}</td>
                  <td>{r.state}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}

function answerText(value: string): string {
  // Choice answers are stored as JSON arrays; everything else as typed.
  if (value.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed.map(String).join(', ');
    } catch {
      return value;
    }
  }
  return value;
}

/** One dialogue, read-only, for support with consent: every answer by side, notes, agreements. */
export function SupportDialoguePage(props: { vc: ViewContext; data: SupportDialogue }) {
  const { vc, data } = props;
  const t = translator(vc.lang, supportMessages);
  const d = data.dialogue;
  const bySide = (qid: string, side: string) => data.answers.find((a) => a.question_id === qid && a.side === side)?.value;
  return (
    <Layout vc={vc} title={`${d.round_name ?? d.form_name} – ${d.employee_name}`}>
      <p>
        <a href="/support/dialogues">{t('dialoguesTitle')}</a>
      </p>
      <h1>
        {d.round_name ?? d.form_name} – {d.employee_name}
      </h1>
      <ViewedBy vc={vc} viewers={data.viewers} />
      <p class="notice">{t('readOnlyNote')}</p>
      <dl class="facts">
        <dt>{t('colEmployee')}</dt>
        <dd>{d.employee_name}</dd>
        <dt>{t('colLeader')}</dt>
        <dd>{d.leader_name}</dd>
        <dt>{t('colState')}</dt>
        <dd>{d.state}</dd>
      </dl>
      {data.form.definition.sections.map((s) => (
        <section class="card">
          <h2>{s.title}</h2>
          {s.questions
            .filter((q) => q.type !== 'agreements')
            .map((q) => (
              <div class="answer-block">
                <h3>{q.text}</h3>
                <dl>
                  {(['employee', 'leader', 'shared'] as const).map((side) => {
                    const v = bySide(q.id, side);
                    return v === undefined ? null : (
                      <>
                        <dt>{t(side === 'employee' ? 'sideEmployee' : side === 'leader' ? 'sideLeader' : 'sideShared')}</dt>
                        <dd class="prewrap">{answerText(v)}</dd>
                      </>
                    );
                  })}
                </dl>
              </div>
            ))}
        </section>
      ))}
      {data.notes ? (
        <section class="card">
          <h2>{t('notes')}</h2>
          <p class="prewrap">{data.notes}</p>
        </section>
      ) : null}
      <section class="card">
        <h2>{t('agreements')}</h2>
        {data.agreements.length === 0 ? (
          <p>{t('noAgreements')}</p>
        ) : (
          <ul>
            {data.agreements.map((a) => (
              <li>
                <strong>{a.title_text}</strong> ({a.status}){a.description_text ? ` – ${a.description_text}` : ''}
              </li>
            ))}
          </ul>
        )}
      </section>
      {data.disagreement ? (
        <section class="card">
          <h2>{t('disagreement')}</h2>
          <p class="prewrap">{data.disagreement}</p>
        </section>
      ) : null}
    </Layout>
  );
}
