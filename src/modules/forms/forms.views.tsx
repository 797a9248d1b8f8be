/**
 * The forms list and the form builder. Works without JavaScript: every editing step is a submit
 * button of the one editor form (see forms.builder.ts). Texts from forms.i18n.ts; values escaped
 * by the renderer.
 */
import { CsrfField, ErrorSummary, FieldFrame, Flash, Layout, SelectField, fieldAria, type ViewContext } from '../../platform/html/layout.tsx';
import { translator, type Lang } from '../../platform/i18n/i18n.ts';
import { ANSWERED_BY, QUESTION_TYPES } from './form-definition.ts';
import { BUILDER_KINDS, FORM_LANGUAGES, MAX_QUESTIONS, questionCount, questionField, sectionField, type Draft, type DraftErrors } from './forms.builder.ts';
import { formsMessages, type FormsKey } from './forms.i18n.ts';
import type { listFormsPage } from './forms.service.ts';

const tr = (lang: Lang) => translator(lang, formsMessages);

const KIND_KEYS: Record<string, FormsKey> = { mus: 'kindMus', onboarding: 'kindOnboarding', grus: 'kindGrus', sickness: 'kindSickness' };
const LANG_KEYS: Record<string, FormsKey> = { da: 'langDa', en: 'langEn', sv: 'langSv' };
const TYPE_KEYS: Record<string, FormsKey> = { text: 'typeText', scale: 'typeScale', yes_no: 'typeYesNo', single: 'typeSingle', multiple: 'typeMultiple', agreements: 'typeAgreements' };
const BY_KEYS: Record<string, FormsKey> = { employee: 'byEmployee', leader: 'byLeader', both: 'byBoth', meeting: 'byMeeting' };

export function kindLabel(lang: Lang, kind: string): string {
  const key = KIND_KEYS[kind];
  return key ? tr(lang)(key) : kind;
}

export function FormsListPage(props: { vc: ViewContext; data: Awaited<ReturnType<typeof listFormsPage>>; flash?: string | undefined }) {
  const { vc, data } = props;
  const t = tr(vc.lang);
  return (
    <Layout vc={vc} title={t('listTitle')}>
      <h1>{t('listTitle')}</h1>
      <Flash message={props.flash} />
      <p>{t('listIntro')}</p>
      <p>
        <a class="button" href="/forms/edit">
          {t('newForm')}
        </a>
      </p>
      <section class="card" aria-labelledby="own-h">
        <h2 id="own-h">{t('ownTitle')}</h2>
        {data.own.length === 0 ? (
          <p>{t('noOwn')}</p>
        ) : (
          <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="own-h">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('colName')}</th>
                  <th scope="col">{t('colKind')}</th>
                  <th scope="col">{t('colLanguage')}</th>
                  <th scope="col">{t('colVersion')}</th>
                  <th scope="col">{t('colUsed')}</th>
                  <th scope="col">{t('colActions')}</th>
                </tr>
              </thead>
              <tbody>
                {data.own.map((f) => (
                  <tr>
                    <th scope="row">{f.name}</th>
                    <td>{kindLabel(vc.lang, f.kind)}</td>
                    <td>{t(LANG_KEYS[f.language] ?? 'langDa')}</td>
                    <td>{f.latest ?? '–'}</td>
                    <td>{f.rounds}</td>
                    <td>
                      <a href={`/forms/edit?id=${f.id}`} aria-label={t('editNamed', { name: f.name })}>
                        {t('edit')}
                      </a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section class="card" aria-labelledby="builtin-h">
        <h2 id="builtin-h">{t('builtinTitle')}</h2>
        <p>{t('builtinIntro')}</p>
        <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="builtin-h">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colName')}</th>
                <th scope="col">{t('colKind')}</th>
                <th scope="col">{t('colLanguage')}</th>
                <th scope="col">{t('colQuestions')}</th>
                <th scope="col">{t('colActions')}</th>
              </tr>
            </thead>
            <tbody>
              {data.builtins.map((f) => (
                <tr>
                  <th scope="row">{f.name}</th>
                  <td>{kindLabel(vc.lang, f.kind)}</td>
                  <td>{t(LANG_KEYS[f.language] ?? 'langDa')}</td>
                  <td>{f.questions}</td>
                  <td>
                    <form method="post" action="/forms/copy" class="inline">
                      <CsrfField vc={vc} />
                      <input type="hidden" name="key" value={f.key} />
                      <button type="submit" class="secondary small" aria-label={t('copyNamed', { name: f.name })}>
                        {t('copy')}
                      </button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </Layout>
  );
}

type FieldProps = { name: string; label: string; value: string; error?: string | undefined; multiline?: boolean; required?: boolean; maxLength: number; hint?: string };

/** A labelled text input or textarea with its error tied to it (aria-describedby). */
function Field(props: FieldProps) {
  const common = { id: props.name, name: props.name, maxLength: props.maxLength, ...fieldAria(props) };
  return (
    <FieldFrame name={props.name} label={props.label} hint={props.hint} error={props.error}>
      {props.multiline ? <textarea {...common} rows={3}>{props.value}</textarea> : <input type="text" {...common} value={props.value} />}
    </FieldFrame>
  );
}

function OpButton(props: { op: string; label: string; visible: string; danger?: boolean }) {
  return (
    <button type="submit" name="op" value={props.op} class={props.danger ? 'danger small' : 'secondary small'} aria-label={props.label}>
      {props.visible}
    </button>
  );
}

export type EditorProps = {
  vc: ViewContext;
  draft: Draft;
  errors?: DraftErrors | undefined;
  /** Set when editing an existing form. */
  use?: { rounds: number; dialogues: number; latest: number } | undefined;
  message?: string | undefined;
  flash?: string | undefined;
};

export function FormEditorPage(props: EditorProps) {
  const { vc, draft } = props;
  const t = tr(vc.lang);
  const editing = draft.formId !== '';
  const title = editing ? t('editorEdit', { name: draft.name || '–' }) : t('editorNew');
  const rawErrors = props.errors ?? {};
  const errors: Record<string, string> = Object.fromEntries(Object.entries(rawErrors).map(([k, v]) => [k, t(v)]));
  // The summary names where each problem is, so a long form can be fixed from the top.
  const summary: Record<string, string> = {};
  for (const [field, message] of Object.entries(errors)) {
    const m = /^s(\d+)_(?:q(\d+)_)?/.exec(field);
    const where = m ? (m[2] !== undefined ? t('questionLegend', { n: `${Number(m[1]) + 1}.${Number(m[2]) + 1}` }) : t('sectionLegend', { n: Number(m[1]) + 1 })) : undefined;
    summary[field === 'sections' ? 'sections-list' : field] = where ? t('errorAt', { where, message }) : message;
  }
  const typeOptions = QUESTION_TYPES.map((v) => ({ value: v, label: t(TYPE_KEYS[v] ?? 'typeText') }));
  const byOptions = ANSWERED_BY.map((v) => ({ value: v, label: t(BY_KEYS[v] ?? 'byBoth') }));
  const nSections = draft.sections.length;
  return (
    <Layout vc={vc} title={title}>
      <p>
        <a href="/forms">{t('cancel')}</a>
      </p>
      <h1>{title}</h1>
      <Flash message={props.flash} />
      {props.message ? (
        <p class="notice conflict" role="alert">
          {props.message}
        </p>
      ) : null}
      <ErrorSummary lang={vc.lang} errors={summary} />
      {props.use && (props.use.rounds > 0 || props.use.dialogues > 0) ? (
        <p class="notice">{t('inUse', { rounds: props.use.rounds, dialogues: props.use.dialogues, next: props.use.latest + 1 })}</p>
      ) : (
        <p class="hint">{t('versionNote')}</p>
      )}
      <form method="post" action="/forms/edit" class="stack form-builder">
        {/* Enter in a text field submits the first button: make that "save", never "remove". */}
        <button type="submit" name="op" value="save" class="visually-hidden" tabIndex={-1}>
          {t('save')}
        </button>
        <CsrfField vc={vc} />
        <input type="hidden" name="formId" value={draft.formId} />
        <input type="hidden" name="baseVersion" value={draft.baseVersion} />
        <Field name="name" label={t('nameLabel')} value={draft.name} error={errors.name} maxLength={200} required />
        {editing ? (
          <>
            <input type="hidden" name="kind" value={draft.kind} />
            <p>
              <strong>{t('kindLabel')}:</strong> {kindLabel(vc.lang, draft.kind)} <span class="hint">({t('kindFixed')})</span>
            </p>
          </>
        ) : (
          <SelectField name="kind" label={t('kindLabel')} value={draft.kind} error={errors.kind} options={BUILDER_KINDS.map((k) => ({ value: k, label: kindLabel(vc.lang, k) }))} />
        )}
        <SelectField name="language" label={t('languageLabel')} value={draft.language} error={errors.language} options={FORM_LANGUAGES.map((l) => ({ value: l, label: t(LANG_KEYS[l] ?? 'langDa') }))} />
        <p class="hint" id="sections-list">
          {t('count', { n: questionCount(draft), max: MAX_QUESTIONS })}
        </p>
        {errors.sections ? <p class="field-error">{errors.sections}</p> : null}
        {draft.sections.map((s, si) => {
          const sn = si + 1;
          return (
            <fieldset class="card builder-section">
              <legend>{t('sectionLegend', { n: sn })}</legend>
              <input type="hidden" name={sectionField(si, 'id')} value={s.id} />
              <Field name={sectionField(si, 'title')} label={t('sectionTitle')} value={s.title} error={errors[sectionField(si, 'title')]} maxLength={300} />
              <Field name={sectionField(si, 'intro')} label={t('sectionIntro')} value={s.intro} error={errors[sectionField(si, 'intro')]} maxLength={2000} multiline />
              {s.questions.map((q, qi) => {
                const qn = `${sn}.${qi + 1}`;
                const f = (x: Parameters<typeof questionField>[2]) => questionField(si, qi, x);
                return (
                  <fieldset class="builder-question">
                    <legend>{t('questionLegend', { n: qn })}</legend>
                    <input type="hidden" name={f('id')} value={q.id} />
                    <Field name={f('text')} label={t('questionText')} value={q.text} error={errors[f('text')]} maxLength={1000} multiline />
                    <SelectField name={f('type')} label={t('questionType')} value={q.type} error={errors[f('type')]} options={typeOptions} hint={t('typeHint')} />
                    <SelectField name={f('by')} label={t('questionBy')} value={q.by} error={errors[f('by')]} options={byOptions} />
                    {q.type === 'scale' ? (
                      <fieldset class="scale-labels">
                        <legend>{t('scaleLegend')}</legend>
                        {q.labels.map((l, li) => (
                          <Field name={f(`l${li + 1}` as 'l1')} label={t('scaleLabel', { n: li + 1 })} value={l} error={errors[f(`l${li + 1}` as 'l1')]} maxLength={300} />
                        ))}
                      </fieldset>
                    ) : null}
                    {q.type === 'single' || q.type === 'multiple' ? <Field name={f('options')} label={t('optionsLabel')} value={q.options} error={errors[f('options')]} maxLength={7000} multiline /> : null}
                    <Field name={f('help')} label={t('questionHelp')} value={q.help} error={errors[f('help')]} maxLength={2000} multiline />
                    <div class="actions">
                      {qi > 0 ? <OpButton op={`up-question:${si}:${qi}`} label={t('questionActions', { n: qn, action: t('moveUp') })} visible={t('moveUp')} /> : null}
                      {qi < s.questions.length - 1 ? <OpButton op={`down-question:${si}:${qi}`} label={t('questionActions', { n: qn, action: t('moveDown') })} visible={t('moveDown')} /> : null}
                      <OpButton op={`remove-question:${si}:${qi}`} label={t('questionActions', { n: qn, action: t('remove') })} visible={t('remove')} danger />
                    </div>
                  </fieldset>
                );
              })}
              <div class="actions">
                <button type="submit" name="op" value={`add-question:${si}`} class="secondary">
                  {t('addQuestion', { n: sn })}
                </button>
                {si > 0 ? <OpButton op={`up-section:${si}`} label={t('sectionActions', { n: sn, action: t('moveUp') })} visible={t('moveUp')} /> : null}
                {si < nSections - 1 ? <OpButton op={`down-section:${si}`} label={t('sectionActions', { n: sn, action: t('moveDown') })} visible={t('moveDown')} /> : null}
                <OpButton op={`remove-section:${si}`} label={t('sectionActions', { n: sn, action: t('remove') })} visible={t('remove')} danger />
              </div>
            </fieldset>
          );
        })}
        <div class="actions">
          <button type="submit" name="op" value="add-section" class="secondary">
            {t('addSection')}
          </button>
          <button type="submit" name="op" value="refresh" class="secondary">
            {t('refresh')}
          </button>
          <button type="submit" name="op" value="save">
            {t('save')}
          </button>
        </div>
      </form>
    </Layout>
  );
}
