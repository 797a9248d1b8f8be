/** The company security settings page. Texts from companysettings.i18n.ts; values escaped by the renderer. */
import { CsrfField, ErrorSummary, Flash, Layout, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { translator } from '../../platform/i18n/i18n.ts';
import { companySettingsMessages } from './companysettings.i18n.ts';
import { REQUIRE_TWO_FACTOR } from './companysettings.service.ts';

export type SecurityFormValues = { min_password_length: string; require_two_factor: string };

export function SecuritySettingsPage(props: { vc: ViewContext; values: SecurityFormValues; errors?: Record<string, string>; flash?: string | undefined; threshold: string; thresholdError?: string | undefined }) {
  const t = translator(props.vc.lang, companySettingsMessages);
  const errors = props.errors ?? {};
  const labels = { none: t('twoFactorNone'), admins_leaders: t('twoFactorAdminsLeaders'), everyone: t('twoFactorEveryone') };
  const tfError = errors.require_two_factor;
  return (
    <Layout vc={props.vc} title={t('title')}>
      <section class="narrow card">
        <h1>{t('title')}</h1>
        <Flash message={props.flash} />
        <ErrorSummary lang={props.vc.lang} errors={errors} />
        <p>{t('intro')}</p>
        <form method="post" action="/org/settings/security" class="stack">
          <CsrfField vc={props.vc} />
          <TextField
            name="min_password_length"
            label={t('minLengthLabel')}
            hint={t('minLengthHint')}
            type="number"
            required
            maxLength={3}
            value={props.values.min_password_length}
            error={errors.min_password_length}
          />
          <fieldset id="require_two_factor" class={tfError ? 'field has-error' : 'field'} aria-describedby="require_two_factor-hint">
            <legend>{t('twoFactorLegend')}</legend>
            <p class="hint" id="require_two_factor-hint">
              {t('twoFactorHint')}
            </p>
            {tfError ? <p class="field-error">{tfError}</p> : null}
            {REQUIRE_TWO_FACTOR.map((v) => (
              <div class="radio">
                <input type="radio" id={`require_two_factor-${v}`} name="require_two_factor" value={v} checked={props.values.require_two_factor === v} />
                <label for={`require_two_factor-${v}`}>{labels[v]}</label>
              </div>
            ))}
          </fieldset>
          <button type="submit">{t('saveButton')}</button>
        </form>
        <p>
          <a href="/org/audit">{t('auditLink')}</a>
        </p>
      </section>
      <section class="narrow card" aria-labelledby="statistics-settings-h">
        <h2 id="statistics-settings-h">{t('statisticsTitle')}</h2>
        <ErrorSummary lang={props.vc.lang} errors={props.thresholdError ? { statistics_threshold: props.thresholdError } : {}} />
        <form method="post" action="/org/settings/statistics" class="stack">
          <CsrfField vc={props.vc} />
          <TextField
            name="statistics_threshold"
            label={t('thresholdLabel')}
            hint={t('thresholdHint')}
            type="number"
            required
            maxLength={2}
            value={props.threshold}
            error={props.thresholdError}
          />
          <button type="submit">{t('thresholdSave')}</button>
        </form>
        <p>
          <a href="/forms">{t('formsLink')}</a> · <a href="/statistics">{t('statisticsLink')}</a>
        </p>
      </section>
    </Layout>
  );
}
