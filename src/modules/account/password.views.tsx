/**
 * The change-password page. Passwords are never written back into the page; the fields carry
 * the autocomplete hints password managers need, and no maxlength (a long pasted pass phrase
 * must reach the server whole, where 1024 characters is the limit).
 */
import type { ViewContext } from '../../platform/html/layout.tsx';
import { CsrfField, ErrorSummary, Flash, Layout, TextField } from '../../platform/html/layout.tsx';
import { translator } from '../../platform/i18n/i18n.ts';
import type { ChangePasswordErrors } from './password.service.ts';
import { accountMessages } from './account.i18n.ts';
// The second factor again: an app code, or a passkey for people who have only passkeys.
import { ReauthFactorFields, reauthFormAttributes } from '../twofactor/passkeys.views.tsx';
import type { ReauthFactor } from '../twofactor/passkeys.service.ts';

export function passwordErrorMessages(vc: ViewContext, errors: ChangePasswordErrors, factor: ReauthFactor = 'totp'): Record<string, string> {
  const t = translator(vc.lang, accountMessages);
  const out: Record<string, string> = {};
  if (errors.current) out.current = errors.current === 'required' ? t('currentRequired') : t('currentWrong');
  if (errors.next === 'required') out.next = t('newRequired');
  else if (errors.next) {
    out.next = errors.next
      .map((p) =>
        p.code === 'too_short'
          ? t('tooShort', { min: p.min })
          : p.code === 'too_long'
            ? t('tooLong', { max: p.max })
            : p.code === 'common'
              ? t('common')
              : t('containsName', { part: p.part }),
      )
      .join(' ');
  }
  if (errors.repeat) out.repeat = t('mismatch');
  if (errors.code) out[factor === 'passkey' ? 'passkeyResponse' : 'code'] = factor === 'passkey' ? t('passkeyFailed') : errors.code === 'required' ? t('codeRequired') : t('codeWrong');
  return out;
}

export function ChangePasswordPage(props: { vc: ViewContext; minLength: number; factor: ReauthFactor; errors?: Record<string, string>; flash?: string | undefined }) {
  const { vc } = props;
  const t = translator(vc.lang, accountMessages);
  const errors = props.errors ?? {};
  return (
    <Layout vc={vc} title={t('changePassword')}>
      <h1>{t('changePassword')}</h1>
      <ErrorSummary lang={vc.lang} errors={errors} />
      <Flash message={props.flash} />
      <p>{t('passwordIntro')}</p>
      <form method="post" action="/account/password" class="stack" novalidate {...reauthFormAttributes(props.factor)}>
        <CsrfField vc={vc} />
        <TextField name="current" type="password" label={t('currentPassword')} autocomplete="current-password" required error={errors.current} />
        <TextField
          name="next"
          type="password"
          label={t('newPassword')}
          autocomplete="new-password"
          required
          hint={t('passwordRules', { min: props.minLength })}
          error={errors.next}
        />
        <TextField name="repeat" type="password" label={t('repeatPassword')} autocomplete="new-password" required error={errors.repeat} />
        <ReauthFactorFields vc={vc} factor={props.factor} codeLabel={t('codeLabel')} codeHint={t('codeHint')} error={errors.code ?? errors.passkeyResponse} />
        <button type="submit">{t('savePassword')}</button>
      </form>
      <p>
        <a href="/account/sessions">{t('mySessions')}</a>
      </p>
    </Layout>
  );
}
