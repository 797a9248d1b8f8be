/**
 * Server-rendered pages of the dialogue journey. Every text comes from dialogues.i18n.ts; the
 * form's own texts come from the form version (one language per form). Values are escaped by the
 * renderer. No inline script or style: autosave is htmx attributes (debounced with `delay:`),
 * and /assets/dialogue.js only adds the "saving" status and lets a 409 conflict fragment swap in.
 */
import { ViewedBy } from '../../platform/html/viewed-by.tsx';
import type { ComponentChildren } from 'preact';
import { CsrfField, ErrorSummary, Flash, Layout, SelectField, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDate, formatDateTime, formatNumber, translator, type Lang } from '../../platform/i18n/i18n.ts';
import type { AgreementStatus, DialogueState } from '../../platform/db/schema.ts';
import { multipleValues, type Question } from '../forms/form-definition.ts';
import { dialogueMessages, type DialogueKey } from './dialogues.i18n.ts';
import type { DialoguePage, RoundFormData, getMyDialogues, getRoundPage, getRoundStatistics, listRoundsPage } from './dialogues.service.ts';
import type { Cell } from './dialogues.statistics.ts';
import type { AttachmentsData } from './dialogues.attachments.ts';
import { AgreementAttachments, AttachmentsSection } from './dialogues.attachments.views.tsx';
import type { Limits } from '../files/files.views.tsx';

const tr = (lang: Lang) => translator(lang, dialogueMessages);
const STATES: DialogueState[] = ['invited', 'preparing', 'meeting', 'signing', 'closed'];
export const AGREEMENT_STATUSES: AgreementStatus[] = ['open', 'in_progress', 'done', 'dropped'];

/** When the retention runner purges an archived dialogue: five years after the employee left. */
function archiveDate(firedAt: Date): string {
  const d = new Date(firedAt.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + 5);
  return d.toISOString().slice(0, 10);
}

const stateLabel = (lang: Lang, s: DialogueState) => tr(lang)(`state_${s}` as DialogueKey);
const dateText = (lang: Lang, d: string | null) => (d ? formatDate(lang, new Date(`${d}T12:00:00Z`)) : '–');

function StateBadge(props: { lang: Lang; state: DialogueState }) {
  return <span class={`badge state-${props.state}`}>{stateLabel(props.lang, props.state)}</span>;
}

/** A small <script src> for the dialogue pages only (CSP: our own origin, no inline code). */
function DialogueScript() {
  return <script src="/assets/dialogue.js" defer></script>;
}

// ---------------------------------------------------------------- overview

type Overview = Awaited<ReturnType<typeof getMyDialogues>>;

export type SicknessOption = { id: string; name: string; team_name: string };

export function OverviewPage(props: { vc: ViewContext; data: Overview; sicknessOptions: SicknessOption[]; flash?: string | undefined; sick?: FormState | undefined }) {
  const { vc, data, sick, sicknessOptions } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const overdue = data.led.filter((d) => d.employeeOverdue || d.leaderOverdue);
  // A GRUS shows once (its first row seen) under the group's name, not once per member.
  const seenGroups = new Set<string>();
  const ledRows = data.led.filter((d) => {
    if (!d.group_id) return true;
    if (seenGroups.has(d.group_id)) return false;
    seenGroups.add(d.group_id);
    return true;
  });
  const ledName = (d: (typeof data.led)[number]) => (d.group_id ? t('groupTitle', { round: d.round_name ?? d.form_name, team: d.team_name ?? '–' }) : d.employee_name);
  return (
    <Layout vc={vc} title={t('overviewTitle')}>
      <h1>{t('overviewTitle')}</h1>
      <Flash message={props.flash} />
      <ErrorSummary lang={lang} errors={sick?.errors ?? {}} />
      {data.canSeeRounds || data.archived > 0 ? (
        <p class="actions">
          {data.canStartRounds ? (
            <a class="button" href="/rounds/new">
              {t('startRound')}
            </a>
          ) : null}
          {data.canSeeRounds ? <a href="/rounds">{t('rounds')}</a> : null}
          {data.archived > 0 ? <a href="/archive">{t('archiveLink')}</a> : null}
        </p>
      ) : null}
      {data.musTasks.length > 0 ? (
        <section class="card" aria-labelledby="mus-tasks-h">
          <h2 id="mus-tasks-h">{t('musTasksHeading')}</h2>
          <ul class="plain">
            {data.musTasks.map((x) => (
              <li>
                {t('musTaskLine', { name: x.employee_name, date: formatDate(lang, x.created_at) })} <a href={`/dialogues/${x.grus_dialogue_id}#requests-h`}>{t('musTaskOpen')}</a>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section class="card" aria-labelledby="mine-h">
        <h2 id="mine-h">{t('myDialogues')}</h2>
        {data.mine.length === 0 ? (
          <p>{t('noMyDialogues')}</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('colRound')}</th>
                  <th scope="col">{t('colLeader')}</th>
                  <th scope="col">{t('colState')}</th>
                  <th scope="col">{t('colNext')}</th>
                  <th scope="col">{t('colDeadline')}</th>
                </tr>
              </thead>
              <tbody>
                {data.mine.map((d) => (
                  <tr>
                    <th scope="row">
                      <a href={`/dialogues/${d.id}`}>{d.round_name ?? d.form_name}</a>
                    </th>
                    <td>{d.leader_name}</td>
                    <td>
                      <StateBadge lang={lang} state={d.state} />
                    </td>
                    <td>
                      {t(`next_${d.next}` as DialogueKey)} {d.overdue ? <span class="badge warn">{t('overdue')}</span> : null}
                    </td>
                    <td>{dateText(lang, d.preparation_deadline)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section class="card" aria-labelledby="agreements-h">
        <h2 id="agreements-h">{t('myAgreements')}</h2>
        <p>
          <a href="/statistics/me">{t('myScores')}</a>
        </p>
        {data.agreements.length === 0 ? (
          <p>{t('noAgreements')}</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('colTitle')}</th>
                  <th scope="col">{t('colOwner')}</th>
                  <th scope="col">{t('agreementDeadline')}</th>
                  <th scope="col">{t('colStatus')}</th>
                  <th scope="col">{t('colRound')}</th>
                </tr>
              </thead>
              <tbody>
                {data.agreements.map((a) => (
                  <tr>
                    <th scope="row">
                      <a href={`/dialogues/${a.dialogue_id}#agreement-${a.id}`}>{a.title_text}</a>
                    </th>
                    <td>{t(`owner_${a.owner}`)}</td>
                    <td>{dateText(lang, a.deadline)}</td>
                    <td>{t(`status_${a.status}`)}</td>
                    <td>{a.round_name ?? a.form_name}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {data.led.length > 0 || vc.actor?.kind === 'user' && vc.actor.role !== 'employee' ? (
        <section class="card" aria-labelledby="led-h">
          <h2 id="led-h">{t('ledDialogues')}</h2>
          {data.led.length === 0 ? (
            <p>{t('noLedDialogues')}</p>
          ) : (
            <>
              <h3>{t('byState')}</h3>
              <ul class="plain state-counts">
                {STATES.map((s) => (
                  <li>
                    <StateBadge lang={lang} state={s} /> {data.led.filter((d) => d.state === s).length}
                  </li>
                ))}
              </ul>
              <h3>{t('overduePreparations')}</h3>
              {overdue.length === 0 ? (
                <p>{t('noOverdue')}</p>
              ) : (
                <ul class="plain">
                  {overdue.map((d) => (
                    <li>
                      <a href={`/dialogues/${d.id}`}>{d.employee_name}</a> – {d.round_name ?? d.form_name} ({dateText(lang, d.preparation_deadline)}):{' '}
                      {[d.employeeOverdue ? t('employeeOverdue') : null, d.leaderOverdue ? t('leaderOverdue') : null].filter(Boolean).join(', ')}
                    </li>
                  ))}
                </ul>
              )}
              <h3>{t('agreementsDue')}</h3>
              {data.due.length === 0 ? (
                <p>{t('noAgreementsDue')}</p>
              ) : (
                <ul class="plain">
                  {data.due.map((a) => (
                    <li>
                      <a href={`/dialogues/${a.dialogue_id}#agreement-${a.id}`}>
                        {t('dueLine', { title: a.title_text, name: a.employee_name, deadline: dateText(lang, a.deadline), followUp: dateText(lang, a.follow_up) })}
                      </a>{' '}
                      {(a.deadline !== null && a.deadline < data.today) || (a.follow_up !== null && a.follow_up < data.today) ? <span class="badge warn">{t('overdue')}</span> : null}
                    </li>
                  ))}
                </ul>
              )}
              <h3>{t('upcomingMeetings')}</h3>
              {data.upcoming.length === 0 ? (
                <p>{t('noUpcoming')}</p>
              ) : (
                <ul class="plain">
                  {data.upcoming.filter((d) => !d.group_id || ledRows.includes(d)).map((d) => (
                    <li>
                      {d.meeting_at ? formatDateTime(lang, d.meeting_at) : ''}: <a href={`/dialogues/${d.id}`}>{ledName(d)}</a>
                      {d.meeting_place ? ` – ${d.meeting_place}` : ''}
                    </li>
                  ))}
                </ul>
              )}
              <h3>{t('ledDialogues')}</h3>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t('colEmployee')}</th>
                      <th scope="col">{t('colRound')}</th>
                      <th scope="col">{t('colState')}</th>
                      <th scope="col">{t('colNext')}</th>
                      <th scope="col">{t('colMeeting')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {ledRows.map((d) => (
                      <tr>
                        <th scope="row">
                          <a href={`/dialogues/${d.id}`} aria-label={t('openNamed', { name: ledName(d) })}>
                            {ledName(d)}
                          </a>
                        </th>
                        <td>{d.round_name ?? d.form_name}</td>
                        <td>
                          <StateBadge lang={lang} state={d.state} />
                        </td>
                        <td>{t(`next_${d.next}` as DialogueKey)}</td>
                        <td>{d.meeting_at ? formatDateTime(lang, d.meeting_at) : t('notScheduled')}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </section>
      ) : null}
      {sicknessOptions.length > 0 ? (
        <section class="card" aria-labelledby="sick-h">
          <h2 id="sick-h">{t('sickHeading')}</h2>
          <p class="hint">{t('sickIntro')}</p>
          <form method="post" action="/sickness-reports" class="stack">
            <CsrfField vc={vc} />
            <SelectField
              name="employment_id"
              label={t('sickEmployee')}
              value={sick?.values?.employment_id ?? ''}
              error={sick?.errors?.employment_id}
              options={sicknessOptions.map((m) => ({ value: m.id, label: `${m.name} (${m.team_name})` }))}
              emptyLabel={t('chooseEmpty')}
            />
            <TextField name="from" type="date" label={t('sickFrom')} value={sick?.values?.from ?? data.today} error={sick?.errors?.from} required />
            <TextField name="to" type="date" label={t('sickTo')} value={sick?.values?.to ?? ''} error={sick?.errors?.to} />
            <button type="submit" class="secondary">
              {t('sickButton')}
            </button>
          </form>
        </section>
      ) : null}
    </Layout>
  );
}

// ---------------------------------------------------------------- rounds

export function RoundsPage(props: { vc: ViewContext; data: Awaited<ReturnType<typeof listRoundsPage>> }) {
  const { vc } = props;
  const lang = vc.lang;
  const t = tr(lang);
  return (
    <Layout vc={vc} title={t('roundsTitle')}>
      <p>
        <a href="/dialogues">{t('backToDialogues')}</a>
      </p>
      <h1>{t('roundsTitle')}</h1>
      {props.data.canStart ? (
        <p>
          <a class="button" href="/rounds/new">
            {t('startRound')}
          </a>
        </p>
      ) : null}
      {props.data.rounds.length === 0 ? (
        <p>{t('noRounds')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colRound')}</th>
                <th scope="col">{t('colTarget')}</th>
                <th scope="col">{t('colDeadline')}</th>
                <th scope="col">{t('colDialogues')}</th>
                <th scope="col">{t('colClosed')}</th>
              </tr>
            </thead>
            <tbody>
              {props.data.rounds.map((r) => (
                <tr>
                  <th scope="row">
                    <a href={props.data.statisticsOnly ? `/rounds/${r.id}/statistics` : `/rounds/${r.id}`}>{r.name}</a>
                  </th>
                  <td>{r.team_name ?? r.department_name ?? '–'}</td>
                  <td>{dateText(lang, r.preparation_deadline)}</td>
                  <td>{Number(r.total ?? 0)}</td>
                  <td>{Number(r.closed ?? 0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}

export type FormState = { values?: Record<string, string>; errors?: Record<string, string> };

function DateField(props: { name: string; label: string; state: FormState | undefined; fallback?: string }) {
  return <TextField name={props.name} label={props.label} type="date" value={props.state?.values?.[props.name] ?? props.fallback ?? ''} error={props.state?.errors?.[props.name]} required />;
}

export function NewRoundPage(props: { vc: ViewContext; data: RoundFormData; state?: FormState }) {
  const { vc, data, state } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const targets = [...data.teams.map((x) => ({ value: `team:${x.id}`, label: t('teamOption', { name: x.name }) })), ...data.departments.map((x) => ({ value: `department:${x.id}`, label: t('departmentOption', { name: x.name }) }))];
  const formOptions = data.forms.map((f) => ({ value: f.value, label: `${f.name} (${f.language.toUpperCase()})` }));
  const preferred = data.forms.find((f) => f.kind === 'mus' && f.language === lang)?.value ?? '';
  return (
    <Layout vc={vc} title={t('newRoundTitle')}>
      <p>
        <a href="/rounds">{t('backToRounds')}</a>
      </p>
      <h1>{t('newRoundTitle')}</h1>
      <ErrorSummary lang={lang} errors={state?.errors ?? {}} />
      <p>{t('newRoundIntro')}</p>
      <form method="post" action="/rounds" class="stack card">
        <CsrfField vc={vc} />
        <TextField name="name" label={t('roundName')} hint={t('roundNameHint')} value={state?.values?.name ?? ''} error={state?.errors?.name} required maxLength={200} />
        <SelectField name="form" label={t('formLabel')} value={state?.values?.form ?? preferred} error={state?.errors?.form} options={formOptions} />
        <SelectField name="target" label={t('targetLabel')} value={state?.values?.target ?? ''} error={state?.errors?.target} options={targets} emptyLabel={t('chooseEmpty')} />
        <DateField name="preparation_deadline" label={t('preparationDeadline')} state={state} />
        <DateField name="meeting_from" label={t('meetingFrom')} state={state} />
        <DateField name="meeting_to" label={t('meetingTo')} state={state} />
        <button type="submit">{t('createRound')}</button>
      </form>
    </Layout>
  );
}

export function RoundPage(props: { vc: ViewContext; data: Awaited<ReturnType<typeof getRoundPage>>; flash?: string | undefined }) {
  const { vc, data } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const r = data.round;
  return (
    <Layout vc={vc} title={t('roundTitle', { name: r.name })}>
      <p>
        <a href="/rounds">{t('backToRounds')}</a>
      </p>
      <h1>{t('roundTitle', { name: r.name })}</h1>
      <Flash message={props.flash} />
      <dl class="facts">
        <dt>{t('colTarget')}</dt>
        <dd>{r.team_name ?? r.department_name ?? '–'}</dd>
        <dt>{t('formLabel')}</dt>
        <dd>{t('roundFacts', { form: r.form_name, version: r.form_version })}</dd>
        <dt>{t('preparationDeadline')}</dt>
        <dd>{dateText(lang, r.preparation_deadline)}</dd>
        <dt>{t('meetingPeriod')}</dt>
        <dd>
          {dateText(lang, r.meeting_from)} – {dateText(lang, r.meeting_to)}
        </dd>
      </dl>
      <p class="notice">{t('roundContentNote')}</p>
      <p>
        <a href={`/rounds/${r.id}/statistics`}>{t('statisticsLink')}</a>
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t('colEmployee')}</th>
              <th scope="col">{t('colLeader')}</th>
              <th scope="col">{t('colState')}</th>
            </tr>
          </thead>
          <tbody>
            {data.dialogues.map((d) => (
              <tr>
                <th scope="row">{d.mine ? <a href={`/dialogues/${d.id}`}>{d.employee_name}</a> : d.employee_name}</th>
                <td>{d.leader_name}</td>
                <td>
                  <StateBadge lang={lang} state={d.state} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>
  );
}

// ---------------------------------------------------------------- statistics

function CellText(props: { lang: Lang; cell: Cell | undefined }) {
  const t = tr(props.lang);
  if (!props.cell || !props.cell.shown) return <span class="hint">{t('tooFew')}</span>;
  return <>{t('averageValue', { average: formatNumber(props.lang, props.cell.average), n: formatNumber(props.lang, props.cell.n) })}</>;
}

export function StatisticsPage(props: { vc: ViewContext; data: Awaited<ReturnType<typeof getRoundStatistics>> }) {
  const { vc, data } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const title = t('statisticsTitle', { name: data.round.name });
  return (
    <Layout vc={vc} title={title}>
      <p>
        <a href={`/rounds/${data.round.id}`}>{t('backToRound')}</a>
      </p>
      <h1>{title}</h1>
      <section class="card" aria-labelledby="completion-h">
        <h2 id="completion-h">{t('completionHeading')}</h2>
        <p>{t('completionText', { closed: formatNumber(lang, data.closed), total: formatNumber(lang, data.total) })}</p>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colTeam')}</th>
                <th scope="col">{t('colDialogues')}</th>
                <th scope="col">{t('colClosed')}</th>
              </tr>
            </thead>
            <tbody>
              {data.teams.map((team) => (
                <tr>
                  <th scope="row">{team.name}</th>
                  <td>{formatNumber(lang, team.total)}</td>
                  <td>{formatNumber(lang, team.closed)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section class="card" aria-labelledby="averages-h">
        <h2 id="averages-h">{t('averagesHeading')}</h2>
        <p class="notice">{t('thresholdNote', { threshold: data.threshold })}</p>
        {data.questions.length === 0 ? (
          <p>{t('noScaleQuestions')}</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('colQuestion')}</th>
                  <th scope="col">{t('colAll')}</th>
                  {data.teams.map((team) => (
                    <th scope="col">{team.name}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.questions.map((q) => {
                  const s = data.stats.find((x) => x.questionId === q.id);
                  return (
                    <tr>
                      <th scope="row">{q.text}</th>
                      <td>
                        <CellText lang={lang} cell={s?.overall} />
                      </td>
                      {data.teams.map((team) => (
                        <td>
                          <CellText lang={lang} cell={s?.teams[team.id]} />
                        </td>
                      ))}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Layout>
  );
}

// ---------------------------------------------------------------- one dialogue

export type Conflict = { mine: string; theirs: string };
export type DialogueViewState = {
  flash?: string | undefined;
  errors?: Record<string, string>;
  /** Per question id (or "notes"): the refused text and the stored one. */
  conflicts?: Record<string, Conflict>;
  /** Values the user sent, to keep in the fields after a refusal. */
  values?: Record<string, string | string[]>;
  sign?: FormState;
  meeting?: FormState;
  agreement?: FormState;
};

/** An answer as the reader sees it (scale label, option labels, yes/no), never raw ids. */
export function displayAnswer(lang: Lang, q: Question, value: string | undefined): string {
  const t = tr(lang);
  if (value === undefined || value === '' || value === '[]') return t('noAnswer');
  switch (q.type) {
    case 'scale': {
      const n = Number(value);
      return t('scaleValue', { n, label: q.scaleLabels?.[n - 1] ?? '' });
    }
    case 'yes_no':
      return value === 'yes' ? t('yes') : t('no');
    case 'single':
      return q.options?.find((o) => o.id === value)?.label ?? value;
    case 'multiple':
      return multipleValues(value)
        .map((v) => q.options?.find((o) => o.id === v)?.label ?? v)
        .join(', ');
    default:
      return value;
  }
}

function AnswerText(props: { children: ComponentChildren }) {
  return <p class="answer-text">{props.children}</p>;
}

/** The input(s) for one question; names are q_<id> (value) and v_<id> (version). */
function QuestionInput(props: { lang: Lang; q: Question; value: string | string[] | undefined; version: number; describedBy: string | undefined; error: string | undefined }) {
  const { lang, q } = props;
  const t = tr(lang);
  const name = `q_${q.id}`;
  const single = Array.isArray(props.value) ? (props.value[0] ?? '') : (props.value ?? '');
  const versionInput = <input type="hidden" id={`v_${q.id}`} name={`v_${q.id}`} value={String(props.version)} />;
  const invalid = props.error ? 'true' : undefined;
  if (q.type === 'text') {
    return (
      <>
        <label for={name} class="question-text">
          {q.text}
        </label>
        {q.help ? (
          <p class="hint" id={`${name}-hint`}>
            {q.help}
          </p>
        ) : null}
        {props.error ? (
          <p class="field-error" id={`${name}-error`}>
            {props.error}
          </p>
        ) : null}
        <textarea id={name} name={name} rows={4} maxLength={20000} aria-describedby={props.describedBy} aria-invalid={invalid} data-autosave="true">
          {single}
        </textarea>
        {versionInput}
      </>
    );
  }
  const choices: { value: string; label: string }[] =
    q.type === 'scale'
      ? (q.scaleLabels ?? []).map((l, i) => ({ value: String(i + 1), label: t('scaleValue', { n: i + 1, label: l }) }))
      : q.type === 'yes_no'
        ? [
            { value: 'yes', label: t('yes') },
            { value: 'no', label: t('no') },
          ]
        : (q.options ?? []).map((o) => ({ value: o.id, label: o.label }));
  const chosen = q.type === 'multiple' ? (Array.isArray(props.value) ? props.value : multipleValues(props.value)) : [single];
  const type = q.type === 'multiple' ? 'checkbox' : 'radio';
  return (
    <fieldset id={name} aria-describedby={props.describedBy} aria-invalid={invalid}>
      <legend class="question-text">{q.text}</legend>
      {q.help ? (
        <p class="hint" id={`${name}-hint`}>
          {q.help}
        </p>
      ) : null}
      {props.error ? (
        <p class="field-error" id={`${name}-error`}>
          {props.error}
        </p>
      ) : null}
      {/* An empty value keeps "none chosen" in the post, so clearing every box saves too. */}
      {type === 'checkbox' ? <input type="hidden" name={name} value="" /> : null}
      <div class={q.type === 'scale' ? 'choices scale' : 'choices'}>
        {choices.map((c, i) => (
          <label class="choice" for={`${name}-${i}`}>
            <input type={type} id={`${name}-${i}`} name={name} value={c.value} checked={chosen.includes(c.value)} data-autosave="true" /> {c.label}
          </label>
        ))}
      </div>
      {versionInput}
    </fieldset>
  );
}

/** What autosave puts under a question after a save: a status line, and the new version out of band. */
export function AnswerStatus(props: { lang: Lang; questionId: string; version: number; conflict?: Conflict | undefined; savedAt?: Date }) {
  const t = tr(props.lang);
  return (
    <>
      {props.conflict ? (
        <ConflictPanel lang={props.lang} conflict={props.conflict} />
      ) : (
        <span>
          {t('savedAt')}
          {props.savedAt ? ` ${formatDateTime(props.lang, props.savedAt)}` : ''}
        </span>
      )}
      <input type="hidden" id={`v_${props.questionId}`} name={`v_${props.questionId}`} value={String(props.version)} hx-swap-oob="true" />
    </>
  );
}

function ConflictPanel(props: { lang: Lang; conflict: Conflict }) {
  const t = tr(props.lang);
  return (
    <div class="conflict" role="alert">
      <p>
        <strong>{t('conflictTitle')}</strong>
      </p>
      <p>{t('conflictBody')}</p>
      <div class="conflict-texts">
        <div>
          <h4>{t('conflictSaved')}</h4>
          <p class="answer-text saved-text">{props.conflict.theirs}</p>
        </div>
        <div>
          <h4>{t('conflictMine')}</h4>
          <p class="answer-text my-text">{props.conflict.mine}</p>
        </div>
      </div>
    </div>
  );
}

/** A question of type "agreements": answered by the agreements section, linked from here. */
function AgreementsQuestion(props: { lang: Lang; q: Question }) {
  const { q } = props;
  const t = tr(props.lang);
  return (
    <div class="question">
      <p class="question-text">{q.text}</p>
      {q.help ? <p class="hint">{q.help}</p> : null}
      <p>
        <a href="#agreements-h">{t('seeAgreements')}</a>
      </p>
    </div>
  );
}

/** An autosaving question (htmx posts to `postId`); `children` come after the save status. */
function EditableQuestion(props: { lang: Lang; q: Question; state: DialogueViewState; postId: string; stored: DialoguePage['answers'][number] | undefined; children?: ComponentChildren }) {
  const { lang, q, state, stored } = props;
  const conflict = state.conflicts?.[q.id];
  const sent = state.values?.[`q_${q.id}`];
  const error = state.errors?.[`q_${q.id}`];
  const statusId = `status-${q.id}`;
  const describedBy = [q.help ? `q_${q.id}-hint` : '', error ? `q_${q.id}-error` : '', statusId].filter(Boolean).join(' ');
  return (
    <div
      class="question editable"
      id={`question-${q.id}`}
      hx-post={`/dialogues/${props.postId}/answers`}
      hx-trigger="input delay:800ms, change"
      hx-params={`q_${q.id},v_${q.id}`}
      hx-target={`#${statusId}`}
      hx-swap="innerHTML"
      hx-sync="this:queue last"
    >
      <QuestionInput lang={lang} q={q} value={sent ?? (conflict ? conflict.mine : stored?.value)} version={stored?.version ?? 0} describedBy={describedBy} error={error} />
      <div class="save-status" id={statusId} aria-live="polite">
        {conflict ? <ConflictPanel lang={lang} conflict={conflict} /> : null}
      </div>
      {props.children}
    </div>
  );
}

function QuestionBlock(props: { vc: ViewContext; data: DialoguePage; q: Question; state: DialogueViewState }) {
  const { vc, data, q, state } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const side = data.side;
  const other = side === 'employee' ? 'leader' : 'employee';
  const answerOf = (s: string) => data.answers.find((a) => a.question_id === q.id && a.side === s);
  if (q.type === 'agreements') return <AgreementsQuestion lang={lang} q={q} />;
  const editable = q.answeredBy === 'meeting' ? data.can.editMeeting : (q.answeredBy === side || q.answeredBy === 'both') && data.can.editPreparation;
  if (editable) {
    return (
      <EditableQuestion lang={lang} q={q} state={state} postId={data.dialogue.id} stored={answerOf(q.answeredBy === 'meeting' ? 'shared' : side)}>
        {q.answeredBy === 'both' && data.showOther ? (
          <p class="other-answer">
            <strong>{side === 'employee' ? t('leadersAnswer') : t('employeesAnswer')}:</strong> {displayAnswer(lang, q, answerOf(other)?.value)}
          </p>
        ) : null}
      </EditableQuestion>
    );
  }
  // Read-only: what this reader may see of the question.
  const lines: { label: string; value: string | undefined }[] = [];
  if (q.answeredBy === 'meeting') {
    if (data.dialogue.state === 'invited' || data.dialogue.state === 'preparing') {
      return (
        <div class="question">
          <p class="question-text">{q.text}</p>
          <p class="hint">{t('answeredInMeeting')}</p>
        </div>
      );
    }
    lines.push({ label: t('sharedAnswer'), value: answerOf('shared')?.value });
  } else {
    const sides = q.answeredBy === 'both' ? (['employee', 'leader'] as const) : ([q.answeredBy] as const);
    for (const s of sides) {
      if (s === side) lines.push({ label: t('yourAnswer'), value: answerOf(s)?.value });
      else lines.push({ label: s === 'employee' ? t('employeesAnswer') : t('leadersAnswer'), value: data.showOther ? answerOf(s)?.value : undefined });
    }
  }
  const hiddenOther = q.answeredBy !== 'meeting' && !data.showOther && q.answeredBy !== side && q.answeredBy !== 'both';
  return (
    <div class="question">
      <p class="question-text">{q.text}</p>
      {hiddenOther ? (
        <p class="hint">
          {t('answeredByOther')} {t('hiddenUntilReady')}
        </p>
      ) : (
        <dl class="answers">
          {lines.map((l) => (
            <>
              <dt>{l.label}</dt>
              <dd>
                <AnswerText>{l.value === undefined && !data.showOther && l.label !== t('yourAnswer') && l.label !== t('sharedAnswer') ? t('hiddenUntilReady') : displayAnswer(lang, q, l.value)}</AnswerText>
              </dd>
            </>
          ))}
        </dl>
      )}
    </div>
  );
}

export function DialoguePageView(props: { vc: ViewContext; data: DialoguePage; state?: DialogueViewState; attachments?: { data: AttachmentsData; limits: Limits } }) {
  const { vc, data } = props;
  const state = props.state ?? {};
  if (data.group) return <GroupDialogueView vc={vc} data={data} group={data.group} state={state} />;
  const lang = vc.lang;
  const t = tr(lang);
  const d = data.dialogue;
  const id = d.id;
  const other = data.side === 'employee' ? 'leader' : 'employee';
  const mySubmitted = data.side === 'employee' ? d.employee_submitted_at : d.leader_submitted_at;
  const otherSubmitted = other === 'employee' ? d.employee_submitted_at : d.leader_submitted_at;
  const title = t('dialogueTitle', { round: d.round_name ?? d.form_name, name: d.employee_name });
  const errors = allErrors(state);
  const carried = data.agreements.filter((a) => a.carried_from !== null);
  const fresh = data.agreements.filter((a) => a.carried_from === null);

  const questions = <QuestionSections data={data} block={(q) => <QuestionBlock vc={vc} data={data} q={q} state={state} />} />;

  return (
    <Layout vc={vc} title={title}>
      <DialogueHeader vc={vc} data={data} state={state} title={title} role={data.side === 'employee' ? t('youAreEmployee') : t('youAreLeader')}>
        {/* Downloaded over TLS, never e-mailed (M18); the export is itself a "viewed by" row (M14). */}
        <a class="button secondary small" href={`/dialogues/${data.dialogue.id}/export.pdf`} download>
          {t('downloadPdf')}
        </a>
      </DialogueHeader>
      <dl class="facts">
        <dt>{t('employeeLabel')}</dt>
        <dd>{d.employee_name}</dd>
        <dt>{t('leaderLabel')}</dt>
        <dd>{d.leader_name}</dd>
        <dt>{t('formLabel')}</dt>
        <dd>{t('roundFacts', { form: data.form.name, version: data.form.version })}</dd>
        {d.round_id ? (
          <>
            <dt>{t('preparationDeadline')}</dt>
            <dd>{dateText(lang, d.preparation_deadline)}</dd>
            <dt>{t('meetingPeriod')}</dt>
            <dd>
              {dateText(lang, d.meeting_from)} – {dateText(lang, d.meeting_to)}
            </dd>
          </>
        ) : null}
        <dt>{t('meetingTime')}</dt>
        <dd>{d.meeting_at ? formatDateTime(lang, d.meeting_at) : t('notScheduled')}</dd>
        <dt>{t('meetingPlace')}</dt>
        <dd>{d.meeting_place ?? '–'}</dd>
      </dl>
      {data.archived && d.employee_fired_at ? (
        <p class="notice">{t('archivedNote', { date: formatDate(lang, new Date(`${archiveDate(d.employee_fired_at)}T12:00:00Z`)) })}</p>
      ) : d.state === 'closed' ? <p class="notice">{t('lockedNote')}</p> : data.showOther ? <p class="notice">{t('othersVisible')}</p> : <p class="notice">{t('privacyNote')}</p>}
      {d.state === 'invited' || d.state === 'preparing' ? (
        <p>
          {mySubmitted ? t('submitted') : null} {otherSubmitted ? t('otherSubmitted') : t('otherNotSubmitted')}
        </p>
      ) : null}

      <PreparationAndMeeting vc={vc} data={data} postId={id} state={state} notesError={errors.notes}>
        {questions}
      </PreparationAndMeeting>

      <section class="card" aria-labelledby="agreements-h">
        <h2 id="agreements-h">{t('agreementsHeading')}</h2>
        {data.agreements.length === 0 ? <p>{t('noAgreements')}</p> : null}
        {[...carried, ...fresh].map((a) => (
          <article class="agreement" id={`agreement-${a.id}`} aria-labelledby={`agreement-${a.id}-h`}>
            <h3 id={`agreement-${a.id}-h`}>
              {a.title_text} {a.carried_from ? <span class="badge">{t('carriedBadge')}</span> : null}
            </h3>
            {a.description_text ? <AnswerText>{a.description_text}</AnswerText> : null}
            <AgreementFacts lang={lang} a={a} owner={t(`owner_${a.owner}`)} />
            {data.can.followUp ? <AgreementFollowUpForm vc={vc} a={a} /> : null}
            {props.attachments && !data.archived ? <AgreementAttachments vc={vc} data={props.attachments.data} agreementId={a.id} title={a.title_text} limits={props.attachments.limits} /> : null}
          </article>
        ))}
        {data.can.editMeeting ? (
          <AddAgreementForm
            vc={vc}
            postId={id}
            state={state}
            defaultOwner="employee"
            owners={[
              { value: 'employee', label: t('owner_employee') },
              { value: 'leader', label: t('owner_leader') },
            ]}
          />
        ) : null}
      </section>

      {props.attachments && !data.archived ? <AttachmentsSection vc={vc} data={props.attachments.data} limits={props.attachments.limits} /> : null}

      {data.can.finishMeeting ? (
        <ActionSection vc={vc} name="finish" heading={t('finishHeading')} hint={t('finishHint')} action={`/dialogues/${id}/finish`} button={t('finishButton')} />
      ) : null}

      {d.state === 'signing' || d.state === 'closed' ? (
        <section class="card" aria-labelledby="signatures-h">
          <h2 id="signatures-h">{t('signaturesHeading')}</h2>
          {data.signatures.length === 0 ? (
            <p>{t('notSignedYet')}</p>
          ) : (
            <ul class="plain">
              {data.signatures.map((s) => (
                <li>{t('signedBy', { name: s.name, date: formatDateTime(lang, s.signed_at) })}</li>
              ))}
            </ul>
          )}
          {data.disagreement ? (
            <>
              <h3>{t('disagreementHeading')}</h3>
              <AnswerText>{data.disagreement}</AnswerText>
            </>
          ) : null}
          {data.can.sign ? <SignForm vc={vc} data={data} postId={id} state={state} /> : null}
        </section>
      ) : null}

      {d.state !== 'closed' && !data.archived && vc.actor?.kind === 'user' && d.leader_employment_id === vc.actor.employmentId ? (
        <ActionSection vc={vc} name="nudge" heading={t('nudgeHeading')} hint={t('nudgeHint')} action={`/dialogues/${id}/nudge`} button={t('nudgeButton')} secondary />
      ) : null}

      {data.can.reopen ? (
        <ActionSection vc={vc} name="reopen" heading={t('reopenHeading')} hint={t('reopenHint')} action={`/dialogues/${id}/reopen`} button={t('reopenButton')} secondary confirm={t('reopenHint')} />
      ) : null}

      <HistorySection lang={lang} transitions={data.transitions} />
    </Layout>
  );
}

// ---------------------------------------------------------------- signing (shared by both dialogue views)

/** The sign-off form: the password, or for people with an authenticator app a current code instead. */
function SignForm(props: { vc: ViewContext; data: DialoguePage; postId: string; state: DialogueViewState }) {
  const { vc, data, state } = props;
  const t = tr(vc.lang);
  return (
    <form method="post" action={`/dialogues/${props.postId}/sign`} class="stack no-print" aria-labelledby="sign-h">
      <h3 id="sign-h">{t('signHeading')}</h3>
      <p class="hint">{data.hasTotp ? t('signHintCode') : t('signHint')}</p>
      <CsrfField vc={vc} />
      {data.can.disagree ? (
        <div class="field">
          <label for="disagreement">{t('disagreementLabel')}</label>
          <p class="hint" id="disagreement-hint">
            {t('disagreementHint')}
          </p>
          <textarea id="disagreement" name="disagreement" rows={3} maxLength={5000} aria-describedby="disagreement-hint">
            {state.sign?.values?.disagreement ?? ''}
          </textarea>
        </div>
      ) : null}
      <TextField name="password" type="password" label={t('passwordLabel')} error={state.sign?.errors?.password} required={!data.hasTotp} autocomplete="current-password" />
      {data.hasTotp ? <TextField name="code" label={t('codeLabel')} error={state.sign?.errors?.code} inputMode="numeric" autocomplete="one-time-code" maxLength={12} pattern="[0-9 ]*" /> : null}
      <button type="submit">{t('signButton')}</button>
    </form>
  );
}

// ---------------------------------------------------------------- sections shared by both dialogue views

type AgreementItem = DialoguePage['agreements'][number];

/** The form's sections; `block` renders one question (one-to-one or group). */
function QuestionSections(props: { data: DialoguePage; block: (q: Question) => ComponentChildren }) {
  return (
    <>
      {props.data.form.definition.sections.map((s) => (
        <section class="card form-section" aria-labelledby={`section-${s.id}`}>
          <h2 id={`section-${s.id}`}>{s.title}</h2>
          {s.intro ? <p class="hint">{s.intro}</p> : null}
          {s.questions.map((q) => props.block(q))}
        </section>
      ))}
    </>
  );
}

/** Every field error of the page's forms, by field name. */
function allErrors(state: DialogueViewState): Record<string, string> {
  return { ...(state.errors ?? {}), ...(state.sign?.errors ?? {}), ...(state.meeting?.errors ?? {}), ...(state.agreement?.errors ?? {}) };
}

/** One summary entry per refused (conflicting) save, pointing at its field. */
function conflictErrors(lang: Lang, state: DialogueViewState): Record<string, string> {
  const t = tr(lang);
  return Object.fromEntries(Object.keys(state.conflicts ?? {}).map((qid) => [qid === 'notes' ? 'notes' : `q_${qid}`, t('conflictTitle')] as const));
}

/** The top of a dialogue page: actions (`children` after print), title, viewers, messages and the reader's role. */
function DialogueHeader(props: { vc: ViewContext; data: DialoguePage; state: DialogueViewState; title: string; role: string; children?: ComponentChildren }) {
  const { vc, data, state } = props;
  const lang = vc.lang;
  const t = tr(lang);
  return (
    <>
      <DialogueScript />
      <p class="no-print actions">
        <a href="/dialogues">{t('backToDialogues')}</a>
        {/* Shown by dialogue.js: without JavaScript the browser's own print works the same. */}
        <button type="button" class="secondary small" data-print="true" hidden>
          {t('print')}
        </button>
        {props.children}
      </p>
      <h1>{props.title}</h1>
      <ViewedBy vc={vc} viewers={data.viewers} />
      <Flash message={state.flash} />
      <ErrorSummary lang={lang} errors={{ ...conflictErrors(lang, state), ...allErrors(state) }} />
      <p>
        <StateBadge lang={lang} state={data.dialogue.state} /> {props.role}
      </p>
    </>
  );
}

/** Answers, submit, scheduling, starting the meeting and the meeting notes, in that order. */
function PreparationAndMeeting(props: { vc: ViewContext; data: DialoguePage; postId: string; state: DialogueViewState; notesError: string | undefined; children: ComponentChildren }) {
  const { vc, data, postId, state } = props;
  const t = tr(vc.lang);
  return (
    <>
      <AnswersForm vc={vc} postId={postId} editable={data.can.editPreparation || data.can.editMeeting}>
        {props.children}
      </AnswersForm>

      {data.can.submit ? (
        <ActionSection vc={vc} name="submit" heading={t('submitHeading')} hint={t('submitHint')} action={`/dialogues/${postId}/submit`} button={t('submitButton')} />
      ) : null}

      {data.can.schedule ? <ScheduleSection vc={vc} postId={postId} place={data.dialogue.meeting_place} state={state} /> : null}

      {data.can.startMeeting ? (
        <ActionSection vc={vc} name="start" heading={t('startHeading')} hint={t('startHint')} action={`/dialogues/${postId}/start`} button={t('startButton')} />
      ) : null}

      <NotesSection vc={vc} data={data} postId={postId} state={state} error={props.notesError} />
    </>
  );
}

/** The questions, inside the autosaving answers form when anything is editable. */
function AnswersForm(props: { vc: ViewContext; postId: string; editable: boolean; children: ComponentChildren }) {
  const { vc } = props;
  const t = tr(vc.lang);
  return props.editable ? (
    <form method="post" action={`/dialogues/${props.postId}/answers`} class="stack answers-form" data-saving={t('saving')}>
      <CsrfField vc={vc} />
      <p class="hint">{t('autosaveHint')}</p>
      {props.children}
      <button type="submit">{t('saveAnswers')}</button>
    </form>
  ) : (
    <>{props.children}</>
  );
}

/** A card with a hint and a single-button form (submit, start, finish, nudge, reopen). */
function ActionSection(props: { vc: ViewContext; name: string; heading: string; hint: string; action: string; button: string; secondary?: boolean; confirm?: string }) {
  const { vc, name } = props;
  return (
    <section class="card no-print" aria-labelledby={`${name}-h`}>
      <h2 id={`${name}-h`}>{props.heading}</h2>
      <p class="hint">{props.hint}</p>
      <form method="post" action={props.action} data-confirm={props.confirm}>
        <CsrfField vc={vc} />
        <button type="submit" class={props.secondary ? 'secondary' : undefined}>
          {props.button}
        </button>
      </form>
    </section>
  );
}

function ScheduleSection(props: { vc: ViewContext; postId: string; place: string | null; state: DialogueViewState }) {
  const { vc, state } = props;
  const t = tr(vc.lang);
  return (
    <section class="card no-print" aria-labelledby="schedule-h">
      <h2 id="schedule-h">{t('scheduleHeading')}</h2>
      <form method="post" action={`/dialogues/${props.postId}/meeting`} class="stack">
        <CsrfField vc={vc} />
        <TextField name="date" type="date" label={t('dateLabel')} value={state.meeting?.values?.date ?? ''} error={state.meeting?.errors?.date} required />
        <TextField name="time" type="time" label={t('timeLabel')} value={state.meeting?.values?.time ?? ''} error={state.meeting?.errors?.time} required />
        <TextField name="place" label={t('meetingPlace')} value={state.meeting?.values?.place ?? props.place ?? ''} error={state.meeting?.errors?.place} maxLength={500} />
        <button type="submit" class="secondary">
          {t('scheduleButton')}
        </button>
      </form>
    </section>
  );
}

/** The shared meeting notes (from the meeting on), with the conflict panel after a stale save. */
function NotesSection(props: { vc: ViewContext; data: DialoguePage; postId: string; state: DialogueViewState; error: string | undefined }) {
  const { vc, data, state } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const d = data.dialogue;
  const notesConflict = state.conflicts?.notes;
  if (d.state === 'invited' || d.state === 'preparing') return null;
  return (
    <section class="card" aria-labelledby="notes-h">
      <h2 id="notes-h">{t('notesHeading')}</h2>
      {data.can.editMeeting ? (
        <form method="post" action={`/dialogues/${props.postId}/notes`} class="stack">
          <CsrfField vc={vc} />
          <div class={props.error ? 'field has-error' : 'field'}>
            <label for="notes">{t('notesLabel')}</label>
            <textarea id="notes" name="notes" rows={8} maxLength={20000} aria-describedby="notes-status">
              {typeof state.values?.notes === 'string' ? state.values.notes : notesConflict ? notesConflict.mine : data.notes.text}
            </textarea>
            <input type="hidden" name="version" value={String(data.notes.version)} />
          </div>
          <div id="notes-status" aria-live="polite">
            {notesConflict ? <ConflictPanel lang={lang} conflict={notesConflict} /> : null}
          </div>
          <button type="submit" class="secondary">
            {t('saveNotes')}
          </button>
        </form>
      ) : data.notes.text ? (
        <AnswerText>{data.notes.text}</AnswerText>
      ) : (
        <p>{t('noNotes')}</p>
      )}
    </section>
  );
}

/** An agreement's facts; `owner` is the owner's label (a side or, in GRUS, a name). */
function AgreementFacts(props: { lang: Lang; a: AgreementItem; owner: string }) {
  const { lang, a } = props;
  const t = tr(lang);
  return (
    <dl class="facts">
      <dt>{t('agreementOwner')}</dt>
      <dd>{props.owner}</dd>
      <dt>{t('agreementDeadline')}</dt>
      <dd>{dateText(lang, a.deadline)}</dd>
      <dt>{t('agreementFollowUp')}</dt>
      <dd>{dateText(lang, a.follow_up)}</dd>
      <dt>{t('agreementStatus')}</dt>
      <dd>{t(`status_${a.status}`)}</dd>
      {a.progress_text ? (
        <>
          <dt>{t('agreementProgress')}</dt>
          <dd>
            <AnswerText>{a.progress_text}</AnswerText>
          </dd>
        </>
      ) : null}
    </dl>
  );
}

function AgreementFollowUpForm(props: { vc: ViewContext; a: AgreementItem }) {
  const { vc, a } = props;
  const t = tr(vc.lang);
  return (
    <form method="post" action={`/agreements/${a.id}`} class="stack no-print">
      <CsrfField vc={vc} />
      <SelectField name="status" label={t('agreementStatus')} value={a.status} options={AGREEMENT_STATUSES.map((s) => ({ value: s, label: t(`status_${s}`) }))} />
      <div class="field">
        <label for={`progress-${a.id}`}>{t('agreementProgress')}</label>
        <textarea id={`progress-${a.id}`} name="progress" rows={3} maxLength={10000}>
          {a.progress_text}
        </textarea>
      </div>
      <button type="submit" class="secondary small" aria-label={t('updateAgreementNamed', { title: a.title_text })}>
        {t('updateAgreement')}
      </button>
    </form>
  );
}

/** The "add an agreement" form; the owners differ (two sides, or the leader and each member). */
function AddAgreementForm(props: { vc: ViewContext; postId: string; state: DialogueViewState; defaultOwner: string; owners: { value: string; label: string }[] }) {
  const { vc, state } = props;
  const t = tr(vc.lang);
  return (
    <form method="post" action={`/dialogues/${props.postId}/agreements`} class="stack no-print" aria-labelledby="add-agreement-h">
      <h3 id="add-agreement-h">{t('addAgreement')}</h3>
      <CsrfField vc={vc} />
      <TextField name="title" label={t('agreementTitle')} value={state.agreement?.values?.title ?? ''} error={state.agreement?.errors?.title} required maxLength={500} />
      <div class="field">
        <label for="description">{t('agreementDescription')}</label>
        <textarea id="description" name="description" rows={3} maxLength={5000}>
          {state.agreement?.values?.description ?? ''}
        </textarea>
      </div>
      <SelectField name="owner" label={t('agreementOwner')} value={state.agreement?.values?.owner ?? props.defaultOwner} error={state.agreement?.errors?.owner} options={props.owners} />
      <TextField name="deadline" type="date" label={t('agreementDeadline')} value={state.agreement?.values?.deadline ?? ''} error={state.agreement?.errors?.deadline} />
      <TextField name="follow_up" type="date" label={t('agreementFollowUp')} value={state.agreement?.values?.follow_up ?? ''} error={state.agreement?.errors?.follow_up} />
      <SelectField name="status" label={t('agreementStatus')} value={state.agreement?.values?.status ?? 'open'} options={AGREEMENT_STATUSES.map((s) => ({ value: s, label: t(`status_${s}`) }))} />
      <button type="submit">{t('saveAgreement')}</button>
    </form>
  );
}

function HistorySection(props: { lang: Lang; transitions: DialoguePage['transitions'] }) {
  const { lang } = props;
  const t = tr(lang);
  return (
    <section class="card" aria-labelledby="history-h">
      <h2 id="history-h">{t('historyHeading')}</h2>
      <ol class="history">
        {props.transitions.map((x) => (
          <li>{t('historyEntry', { date: formatDateTime(lang, x.created_at), to: stateLabel(lang, x.to_state), name: x.actor_name })}</li>
        ))}
      </ol>
    </section>
  );
}

// ---------------------------------------------------------------- GRUS (group dialogue)

type GroupData = NonNullable<DialoguePage['group']>;

function GroupQuestionBlock(props: { vc: ViewContext; data: DialoguePage; group: GroupData; q: Question; state: DialogueViewState }) {
  const { vc, data, group, q, state } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const side = data.side;
  const mine = (s: string) => data.answers.find((a) => a.question_id === q.id && a.side === s);
  if (q.type === 'agreements') return <AgreementsQuestion lang={lang} q={q} />;
  const editable = q.answeredBy === 'meeting' ? data.can.editMeeting : (q.answeredBy === side || q.answeredBy === 'both') && data.can.editPreparation;
  // Everyone's answers once the meeting has started (never before: GRUS preparation is private).
  const others: { label: string; value: string | undefined }[] = [];
  if (q.answeredBy !== 'meeting' && data.showOther) {
    if (q.answeredBy === 'employee' || q.answeredBy === 'both') {
      for (const m of group.members) {
        if (side === 'employee' && m.id === data.dialogue.id) continue;
        others.push({ label: t('answerOf', { name: m.name }), value: group.memberAnswers[m.id]?.find((a) => a.question_id === q.id)?.value });
      }
    }
    if (side === 'employee' && (q.answeredBy === 'leader' || q.answeredBy === 'both')) others.push({ label: t('leadersAnswer'), value: mine('leader')?.value });
  }
  const othersList =
    others.length > 0 ? (
      <dl class="answers">
        {others.map((l) => (
          <>
            <dt>{l.label}</dt>
            <dd>
              <AnswerText>{displayAnswer(lang, q, l.value)}</AnswerText>
            </dd>
          </>
        ))}
      </dl>
    ) : null;
  if (editable) {
    return (
      <EditableQuestion lang={lang} q={q} state={state} postId={group.postId} stored={mine(q.answeredBy === 'meeting' ? 'shared' : side)}>
        {othersList}
      </EditableQuestion>
    );
  }
  if (q.answeredBy === 'meeting') {
    const before = data.dialogue.state === 'invited' || data.dialogue.state === 'preparing';
    return (
      <div class="question">
        <p class="question-text">{q.text}</p>
        {before ? (
          <p class="hint">{t('answeredInMeeting')}</p>
        ) : (
          <dl class="answers">
            <dt>{t('sharedAnswer')}</dt>
            <dd>
              <AnswerText>{displayAnswer(lang, q, mine('shared')?.value)}</AnswerText>
            </dd>
          </dl>
        )}
      </div>
    );
  }
  const answersMine = q.answeredBy === side || q.answeredBy === 'both';
  return (
    <div class="question">
      <p class="question-text">{q.text}</p>
      {answersMine ? (
        <dl class="answers">
          <dt>{t('yourAnswer')}</dt>
          <dd>
            <AnswerText>{displayAnswer(lang, q, mine(side)?.value)}</AnswerText>
          </dd>
        </dl>
      ) : null}
      {othersList ?? (data.showOther ? null : <p class="hint">{t('hiddenUntilReady')}</p>)}
    </div>
  );
}

export function GroupDialogueView(props: { vc: ViewContext; data: DialoguePage; group: GroupData; state: DialogueViewState }) {
  const { vc, data, group, state } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const d = data.dialogue;
  const postId = group.postId;
  const title = t('groupTitle', { round: d.round_name ?? d.form_name, team: d.team_name ?? '–' });
  const errors = allErrors(state);
  const myRowId = data.side === 'employee' ? d.id : null;
  const signingOrClosed = d.state === 'signing' || d.state === 'closed';
  const questions = <QuestionSections data={data} block={(q) => <GroupQuestionBlock vc={vc} data={data} group={group} q={q} state={state} />} />;
  return (
    <Layout vc={vc} title={title}>
      <DialogueHeader vc={vc} data={data} state={state} title={title} role={data.side === 'employee' ? t('youAreMember') : t('youAreGroupLeader')} />
      <dl class="facts">
        <dt>{t('leaderLabel')}</dt>
        <dd>{d.leader_name}</dd>
        <dt>{t('formLabel')}</dt>
        <dd>{t('roundFacts', { form: data.form.name, version: data.form.version })}</dd>
        <dt>{t('preparationDeadline')}</dt>
        <dd>{dateText(lang, d.preparation_deadline)}</dd>
        <dt>{t('meetingTime')}</dt>
        <dd>{d.meeting_at ? formatDateTime(lang, d.meeting_at) : t('notScheduled')}</dd>
        <dt>{t('meetingPlace')}</dt>
        <dd>{d.meeting_place ?? '–'}</dd>
      </dl>
      {data.archived ? <p class="notice">{t('errArchived')}</p> : d.state === 'closed' ? <p class="notice">{t('lockedNote')}</p> : data.showOther ? <p class="notice">{t('groupVisibleNote')}</p> : <p class="notice">{t('groupPrivacyNote')}</p>}

      <section class="card" aria-labelledby="members-h">
        <h2 id="members-h">{t('groupMembersHeading')}</h2>
        <ul class="plain members">
          {group.members.map((m) => (
            <li>
              <strong>{m.name}</strong>
              {' – '}
              {m.left
                ? t('memberLeft')
                : signingOrClosed
                  ? m.signedAt
                    ? t('memberSigned', { date: formatDateTime(lang, m.signedAt) })
                    : t('memberNotSigned')
                  : m.submitted
                    ? t('memberPrepared')
                    : t('memberNotPrepared')}
            </li>
          ))}
          {signingOrClosed ? (
            <li>{group.leaderSignedAt ? t('leaderSignedLine', { name: d.leader_name, date: formatDateTime(lang, group.leaderSignedAt) }) : t('leaderNotSignedLine', { name: d.leader_name })}</li>
          ) : null}
        </ul>
      </section>

      <PreparationAndMeeting vc={vc} data={data} postId={postId} state={state} notesError={errors.notes}>
        {questions}
      </PreparationAndMeeting>

      <section class="card" aria-labelledby="agreements-h">
        <h2 id="agreements-h">{t('agreementsHeading')}</h2>
        {group.agreements.length === 0 ? <p>{t('noAgreements')}</p> : null}
        {group.agreements.map((a) => (
          <article class="agreement" id={`agreement-${a.id}`} aria-labelledby={`agreement-${a.id}-h`}>
            <h3 id={`agreement-${a.id}-h`}>{a.title_text}</h3>
            {a.description_text ? <AnswerText>{a.description_text}</AnswerText> : null}
            <AgreementFacts lang={lang} a={a} owner={a.owner_name} />
            {/* A member follows up the agreements on their own row; the leader all of them. */}
            {data.can.followUp && (data.side === 'leader' || a.dialogue_id === myRowId) ? <AgreementFollowUpForm vc={vc} a={a} /> : null}
          </article>
        ))}
        {data.can.editMeeting ? (
          <AddAgreementForm
            vc={vc}
            postId={postId}
            state={state}
            defaultOwner="leader"
            owners={[{ value: 'leader', label: t('ownerLeaderNamed', { name: d.leader_name }) }, ...group.members.filter((m) => !m.left).map((m) => ({ value: `member:${m.employmentId}`, label: m.name }))]}
          />
        ) : null}
      </section>

      {data.can.finishMeeting ? (
        <ActionSection vc={vc} name="finish" heading={t('finishHeading')} hint={t('finishHint')} action={`/dialogues/${postId}/finish`} button={t('finishButton')} />
      ) : null}

      {signingOrClosed ? (
        <section class="card" aria-labelledby="signatures-h">
          <h2 id="signatures-h">{t('signaturesHeading')}</h2>
          <p class="hint">{t('groupSignHint')}</p>
          {group.disagreements.map((x) => (
            <>
              <h3>
                {t('disagreementHeading')}: {x.name}
              </h3>
              <AnswerText>{x.text}</AnswerText>
            </>
          ))}
          {data.can.sign ? <SignForm vc={vc} data={data} postId={postId} state={state} /> : null}
        </section>
      ) : null}

      {data.side === 'employee' && !data.archived ? (
        <section class="card no-print" aria-labelledby="request-h">
          <h2 id="request-h">{t('requestMusHeading')}</h2>
          {group.myRequest ? (
            <p>{t('requestPending', { date: formatDate(lang, group.myRequest.created_at) })}</p>
          ) : data.can.requestMus ? (
            <>
              {group.members.find((m) => m.id === d.id)?.request?.mus_dialogue_id ? <p>{t('requestFulfilled')}</p> : null}
              <p class="hint">{t('requestMusHint')}</p>
              <form method="post" action={`/dialogues/${d.id}/request-mus`} class="stack">
                <CsrfField vc={vc} />
                <div class={errors.reason ? 'field has-error' : 'field'}>
                  <label for="reason">{t('requestReasonLabel')}</label>
                  {errors.reason ? (
                    <p class="field-error" id="reason-error">
                      {errors.reason}
                    </p>
                  ) : null}
                  <textarea id="reason" name="reason" rows={2} maxLength={2000} aria-describedby={errors.reason ? 'reason-error' : undefined}>
                    {typeof state.values?.reason === 'string' ? state.values.reason : ''}
                  </textarea>
                </div>
                <button type="submit" class="secondary">
                  {t('requestMusButton')}
                </button>
              </form>
            </>
          ) : null}
        </section>
      ) : null}

      {data.side === 'leader' && group.members.some((m) => m.request) ? (
        <section class="card" aria-labelledby="requests-h">
          <h2 id="requests-h">{t('requestsHeading')}</h2>
          <ul class="plain">
            {group.members.map((m) =>
              m.request ? (
                <li>
                  {m.request.fulfilled_at ? (
                    <>
                      {t('requestDoneLine', { name: m.name })} {m.request.mus_dialogue_id ? <a href={`/dialogues/${m.request.mus_dialogue_id}`}>{t('openMus')}</a> : null}
                    </>
                  ) : (
                    <>
                      {t('requestLine', { name: m.name, date: formatDate(lang, m.request.created_at) })}
                      {m.request.reason_text ? <AnswerText>{t('requestReason', { reason: m.request.reason_text })}</AnswerText> : null}
                      {data.can.createMus ? (
                        <form method="post" action={`/dialogues/${m.id}/create-mus`} class="inline no-print">
                          <CsrfField vc={vc} />
                          <button type="submit">{t('createMusButton', { name: m.name })}</button>
                        </form>
                      ) : null}
                    </>
                  )}
                </li>
              ) : null,
            )}
          </ul>
        </section>
      ) : null}

      {data.can.reopen ? (
        <ActionSection vc={vc} name="reopen" heading={t('reopenHeading')} hint={t('reopenHint')} action={`/dialogues/${postId}/reopen`} button={t('reopenButton')} secondary confirm={t('reopenHint')} />
      ) : null}

      <HistorySection lang={lang} transitions={data.transitions} />
    </Layout>
  );
}

// ---------------------------------------------------------------- the leader's archive (M15)

export type ArchiveRow = { id: string; employee_name: string; form_kind: string; form_name: string; round_name: string | null; state: DialogueState; year: number; purge_on: string; left_on: string };

export function ArchivePage(props: { vc: ViewContext; rows: ArchiveRow[] }) {
  const { vc, rows } = props;
  const lang = vc.lang;
  const t = tr(lang);
  return (
    <Layout vc={vc} title={t('archiveTitle')}>
      <p class="no-print actions">
        <a href="/dialogues">{t('backToDialogues')}</a>
      </p>
      <h1>{t('archiveTitle')}</h1>
      <p class="hint">{t('archiveIntro')}</p>
      {rows.length === 0 ? (
        <p>{t('archiveEmpty')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colEmployee')}</th>
                <th scope="col">{t('colType')}</th>
                <th scope="col">{t('colRound')}</th>
                <th scope="col">{t('colYear')}</th>
                <th scope="col">{t('colState')}</th>
                <th scope="col">{t('colLeft')}</th>
                <th scope="col">{t('colPurge')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <th scope="row">
                    <a href={`/dialogues/${r.id}`} aria-label={t('openNamed', { name: r.employee_name })}>
                      {r.employee_name}
                    </a>
                  </th>
                  <td>{t(`kind_${r.form_kind}` as DialogueKey)}</td>
                  <td>{r.round_name ?? r.form_name}</td>
                  <td>{String(r.year)}</td>
                  <td>
                    <StateBadge lang={lang} state={r.state} />
                  </td>
                  <td>{dateText(lang, r.left_on)}</td>
                  <td>{dateText(lang, r.purge_on)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}
