/** The company admin's API page: tokens (the new one shown once), allow-list, legacy switch. */
import { CsrfField, ErrorSummary, Flash, Layout, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDateTime, translator } from '../../platform/i18n/i18n.ts';
import { apiTokenMessages } from './apitokens.i18n.ts';
import type { ApiSettingsView } from './apitokens.service.ts';

export type ApiPageProps = {
  vc: ViewContext;
  settings: ApiSettingsView;
  flash?: string | undefined;
  newToken?: { name: string; token: string } | undefined;
  errors?: Record<string, string>;
  values?: { name?: string; allowed_cidrs?: string; legacy_headers?: boolean };
};

export function ApiSettingsPage(props: ApiPageProps) {
  const { vc, settings } = props;
  const t = translator(vc.lang, apiTokenMessages);
  const errors = props.errors ?? {};
  const cidrs = props.values?.allowed_cidrs ?? settings.allowedCidrs.join('\n');
  const legacy = props.values?.legacy_headers ?? settings.legacyHeaders;
  return (
    <Layout vc={vc} title={t('title')}>
      <section class="card">
        <h1>{t('title')}</h1>
        <Flash message={props.flash} />
        <ErrorSummary lang={vc.lang} errors={errors} />
        <p>{t('intro')}</p>
        {!settings.configured ? <p class="field-error">{t('notConfigured')}</p> : null}
        {settings.configured && !settings.enabled ? <p class="field-error">{t('disabled')}</p> : null}
        <p>
          {t('companyIdLabel')}: <code>{settings.companyId}</code>
        </p>
        <p>
          <a href="/v3/openapi.json">{t('docsLink')}</a>
        </p>
        {props.newToken ? (
          <div class="flash" role="status">
            <h2>{t('createdHeading')}</h2>
            <p>{t('createdOnce')}</p>
            <p>
              {props.newToken.name}: <code class="secret">{props.newToken.token}</code>
            </p>
          </div>
        ) : null}
        <h2>{t('tokensHeading')}</h2>
        {settings.tokens.length === 0 ? (
          <p>{t('noTokens')}</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('colName')}</th>
                  <th scope="col">{t('colCreated')}</th>
                  <th scope="col">{t('colLastUsed')}</th>
                  <th scope="col">{t('colStatus')}</th>
                  <th scope="col">
                    <span class="visually-hidden">{t('revokeButton')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {settings.tokens.map((tok) => (
                  <tr>
                    <td>{tok.name}</td>
                    <td>{formatDateTime(vc.lang, tok.created_at)}</td>
                    <td>{tok.last_used_at ? formatDateTime(vc.lang, tok.last_used_at) : t('never')}</td>
                    <td>{tok.revoked_at ? t('revoked') : t('active')}</td>
                    <td>
                      {tok.revoked_at ? null : (
                        <form method="post" action={`/org/settings/api/tokens/${tok.id}/revoke`}>
                          <CsrfField vc={vc} />
                          <button type="submit" class="secondary small">
                            {t('revokeButton')}
                          </button>
                        </form>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {settings.configured ? (
          <form method="post" action="/org/settings/api/tokens" class="stack">
            <CsrfField vc={vc} />
            <TextField name="name" label={t('nameLabel')} hint={t('nameHint')} required maxLength={100} value={props.values?.name ?? ''} error={errors.name} />
            <button type="submit">{t('createButton')}</button>
          </form>
        ) : null}
        <h2>{t('settingsHeading')}</h2>
        <form method="post" action="/org/settings/api/settings" class="stack">
          <CsrfField vc={vc} />
          <div class={errors.allowed_cidrs ? 'field has-error' : 'field'}>
            <label for="allowed_cidrs">{t('cidrsLabel')}</label>
            <p class="hint" id="allowed_cidrs-hint">
              {t('cidrsHint')}
            </p>
            {errors.allowed_cidrs ? <p class="field-error">{errors.allowed_cidrs}</p> : null}
            <textarea id="allowed_cidrs" name="allowed_cidrs" rows={4} maxLength={4000} aria-describedby="allowed_cidrs-hint">
              {cidrs}
            </textarea>
          </div>
          <div class="checkbox">
            <input type="checkbox" id="legacy_headers" name="legacy_headers" value="on" checked={legacy} aria-describedby="legacy_headers-hint" />
            <label for="legacy_headers">{t('legacyLabel')}</label>
            <p class="hint" id="legacy_headers-hint">
              {t('legacyHint')}
            </p>
          </div>
          <button type="submit">{t('saveButton')}</button>
        </form>
      </section>
    </Layout>
  );
}
