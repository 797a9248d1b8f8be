/**
 * Pages for the links sent by e-mail and for changing one's e-mail address. Link pages never act
 * on GET: each shows a form whose button POSTs to the same address.
 */
import { CsrfField, ErrorSummary, Flash, Layout, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { translator } from '../../platform/i18n/i18n.ts';
import { ReauthFactorFields, reauthFormAttributes } from '../twofactor/passkeys.views.tsx';
import type { ReauthFactor } from '../twofactor/passkeys.service.ts';
import { recoveryMessages } from './recovery.i18n.ts';

export function ForgotPasswordPage(props: { vc: ViewContext; sent?: boolean; error?: string | undefined; email?: string | undefined }) {
  const t = translator(props.vc.lang, recoveryMessages);
  const errors: Record<string, string> = props.error ? { email: props.error } : {};
  return (
    <Layout vc={props.vc} title={t('forgotTitle')}>
      <section class="narrow card">
        <h1>{t('forgotTitle')}</h1>
        <ErrorSummary lang={props.vc.lang} errors={errors} />
        <Flash message={props.sent ? t('forgotSent') : undefined} />
        <p>{t('forgotIntro')}</p>
        <form method="post" action="/password/forgot" class="stack" novalidate>
          <CsrfField vc={props.vc} />
          <TextField name="email" type="email" label={t('email')} value={props.email} required autocomplete="username" maxLength={254} error={props.error} />
          <button type="submit">{t('sendLink')}</button>
        </form>
      </section>
    </Layout>
  );
}

/** Choosing a password from a reset or an invitation link. */
export function SetPasswordPage(props: {
  vc: ViewContext;
  action: string;
  title: string;
  intro: string;
  button: string;
  minLength: number;
  errors?: Record<string, string>;
  email?: string | undefined;
}) {
  const t = translator(props.vc.lang, recoveryMessages);
  const errors = props.errors ?? {};
  return (
    <Layout vc={props.vc} title={props.title}>
      <section class="narrow card">
        <h1>{props.title}</h1>
        <ErrorSummary lang={props.vc.lang} errors={errors} />
        <p>{props.intro}</p>
        <form method="post" action={props.action} class="stack" novalidate>
          <CsrfField vc={props.vc} />
          {/* Lets password managers store the new password under the right login. */}
          {props.email ? <input type="hidden" name="username" value={props.email} autocomplete="username" /> : null}
          <TextField name="next" type="password" label={t('newPassword')} autocomplete="new-password" required hint={t('passwordRules', { min: props.minLength })} error={errors.next} />
          <TextField name="repeat" type="password" label={t('repeatPassword')} autocomplete="new-password" required error={errors.repeat} />
          <button type="submit">{props.button}</button>
        </form>
      </section>
    </Layout>
  );
}

export function LinkInvalidPage(props: { vc: ViewContext; message: string; retryHref?: string | undefined }) {
  const t = translator(props.vc.lang, recoveryMessages);
  return (
    <Layout vc={props.vc} title={t('linkInvalidTitle')}>
      <section class="narrow card">
        <h1>{t('linkInvalidTitle')}</h1>
        <p>{props.message}</p>
        {props.retryHref ? (
          <p>
            <a href={props.retryHref}>{t('requestNew')}</a>
          </p>
        ) : null}
      </section>
    </Layout>
  );
}

/** A page with one explanation and one button that POSTs back (unlock, confirm e-mail). */
export function ConfirmLinkPage(props: { vc: ViewContext; action: string; title: string; intro: string; button: string; error?: string | undefined }) {
  return (
    <Layout vc={props.vc} title={props.title}>
      <section class="narrow card">
        <h1>{props.title}</h1>
        {props.error ? (
          <div class="error-summary" role="alert">
            <p>{props.error}</p>
          </div>
        ) : null}
        <p>{props.intro}</p>
        <form method="post" action={props.action}>
          <CsrfField vc={props.vc} />
          <button type="submit">{props.button}</button>
        </form>
      </section>
    </Layout>
  );
}

export function ChangeEmailPage(props: { vc: ViewContext; currentEmail: string; factor: ReauthFactor; value?: string | undefined; errors?: Record<string, string>; flash?: string | undefined }) {
  const t = translator(props.vc.lang, recoveryMessages);
  const errors = props.errors ?? {};
  return (
    <Layout vc={props.vc} title={t('emailTitle')}>
      <h1>{t('emailTitle')}</h1>
      <ErrorSummary lang={props.vc.lang} errors={errors} />
      <Flash message={props.flash} />
      <p>{t('emailIntro', { email: props.currentEmail })}</p>
      <form method="post" action="/account/email" class="stack" novalidate {...reauthFormAttributes(props.factor)}>
        <CsrfField vc={props.vc} />
        <TextField name="email" type="email" label={t('newEmail')} value={props.value} required autocomplete="email" maxLength={254} error={errors.email} />
        <TextField name="current" type="password" label={t('currentPassword')} autocomplete="current-password" required error={errors.current} />
        <ReauthFactorFields vc={props.vc} factor={props.factor} codeLabel={t('codeLabel')} codeHint={t('codeHint')} error={errors.code ?? errors.passkeyResponse} />
        <button type="submit">{t('sendConfirmation')}</button>
      </form>
    </Layout>
  );
}
