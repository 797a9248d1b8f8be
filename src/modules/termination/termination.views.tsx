/** The company admin's termination page (M16). Texts in termination.i18n.ts; values escaped. */
import { CsrfField, ErrorSummary, Flash, Layout, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDateTime, translator } from '../../platform/i18n/i18n.ts';
import { ReauthFactorFields, reauthFormAttributes } from '../twofactor/passkeys.views.tsx';
import { terminationMessages } from './termination.i18n.ts';
import { PAGE_PATH, type TerminationPage } from './termination.service.ts';

export type StartFormValues = { reason: string };

export function TerminationSettingsPage(props: { vc: ViewContext; page: TerminationPage; values?: StartFormValues; errors?: Record<string, string>; flash?: string | undefined }) {
  const { vc, page } = props;
  const t = translator(vc.lang, terminationMessages);
  const errors = props.errors ?? {};
  const current = page.current;
  return (
    <Layout vc={vc} title={t('title')}>
      <h1>{t('title')}</h1>
      <Flash message={props.flash} />
      <ErrorSummary lang={vc.lang} errors={errors} />
      <p>{t('intro')}</p>
      <section class="card" aria-labelledby="status-h">
        <h2 id="status-h" class={current ? 'badge warn' : undefined}>
          {current ? t('statusTerminating', { time: formatDateTime(vc.lang, current.purgeAfter) }) : t('statusNone')}
        </h2>
        {current ? (
          <p>
            {current.requestedBy.kind === 'admin'
              ? t('requestedByAdmin', { time: formatDateTime(vc.lang, current.requestedAt), name: current.requestedBy.name ?? '' })
              : t('requestedByOperator', { time: formatDateTime(vc.lang, current.requestedAt) })}
          </p>
        ) : null}
        {current?.reason ? <p>{t('reasonShown', { reason: current.reason })}</p> : null}
      </section>
      {current ? (
        <section class="card" aria-labelledby="cancel-h">
          <h2 id="cancel-h">{t('cancelTitle')}</h2>
          <p>{t('cancelIntro', { time: formatDateTime(vc.lang, current.purgeAfter) })}</p>
          <form method="post" action={`${PAGE_PATH}/cancel`} class="stack">
            <CsrfField vc={vc} />
            <button type="submit">{t('cancel')}</button>
          </form>
        </section>
      ) : page.factor === 'none' ? (
        <p class="notice">
          {t('needFactor')} <a href="/account/two-factor">{t('setUpFactor')}</a>
        </p>
      ) : (
        <section class="card" aria-labelledby="start-h">
          <h2 id="start-h">{t('startTitle')}</h2>
          <form method="post" action={`${PAGE_PATH}/start`} class="stack" novalidate {...reauthFormAttributes(page.factor)}>
            <CsrfField vc={vc} />
            <div class={errors.confirm ? 'field has-error' : 'field'}>
              {errors.confirm ? (
                <p class="field-error" id="confirm-error">
                  {errors.confirm}
                </p>
              ) : null}
              <label>
                <input type="checkbox" id="confirm" name="confirm" value="1" required aria-describedby={errors.confirm ? 'confirm-error' : undefined} /> {t('confirm', { company: page.companyName })}
              </label>
            </div>
            <TextField name="reason" label={t('reason')} hint={t('reasonHint')} value={props.values?.reason ?? ''} maxLength={500} error={errors.reason} />
            <ReauthFactorFields vc={vc} factor={page.factor} codeLabel={t('codeLabel')} codeHint={t('codeHint')} error={errors.code} />
            <button type="submit" class="danger">
              {t('start')}
            </button>
          </form>
        </section>
      )}
    </Layout>
  );
}
