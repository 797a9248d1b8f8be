import { Layout, ErrorSummary, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { translator } from '../../platform/i18n/i18n.ts';
import { authMessages } from './auth.i18n.ts';

export function LoginPage(props: { vc: ViewContext; email?: string; failed?: boolean; failedMessage?: string; next?: string; notice?: string | undefined }) {
  const t = translator(props.vc.lang, authMessages);
  return (
    <Layout vc={props.vc} title={t('loginTitle')}>
      <section class="narrow card">
        <h1>{t('loginTitle')}</h1>
        <p>{t('loginIntro')}</p>
        {props.notice ? (
          <p class="flash" role="status">
            {props.notice}
          </p>
        ) : null}
        {props.failed ? <ErrorSummary lang={props.vc.lang} errors={{ email: props.failedMessage ?? t('loginFailed') }} /> : null}
        <form method="post" action="/login" class="stack">
          <input type="hidden" name="_csrf" value={props.vc.csrfToken} />
          {props.next ? <input type="hidden" name="next" value={props.next} /> : null}
          <TextField name="email" label={t('email')} type="email" value={props.email} required autocomplete="username" maxLength={254} />
          <TextField name="password" label={t('password')} type="password" required autocomplete="current-password" maxLength={1024} />
          <button type="submit">{t('loginButton')}</button>
        </form>
        <p>
          <a href="/password/forgot">{t('forgotPassword')}</a>
        </p>
      </section>
    </Layout>
  );
}
