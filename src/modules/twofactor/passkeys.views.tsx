/**
 * Passkey parts of the two-factor pages. Everything that needs the browser's WebAuthn API starts
 * `hidden` and is revealed by /assets/webauthn.js, so without JavaScript nothing broken shows and
 * the code forms work as before. Texts for the script travel in data- attributes (no inline script).
 */
import { CsrfField, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDate, translator } from '../../platform/i18n/i18n.ts';
import { passkeyMessages } from './passkeys.i18n.ts';
import { twoFactorMessages } from './twofactor.i18n.ts';
import { CodeField } from './twofactor.views.tsx';
import type { PasskeyStatus, ReauthFactor } from './passkeys.service.ts';

export type PasskeyError = 'password' | 'name' | 'registration' | 'too_many' | 'remove';

/** The WebAuthn browser library (served from node_modules) and our glue, both from our origin. */
export function PasskeyScripts() {
  return (
    <>
      <script src="/assets/simplewebauthn-browser.js" defer></script>
      <script src="/assets/webauthn.js" defer></script>
    </>
  );
}

function Status(props: { vc: ViewContext }) {
  const t = translator(props.vc.lang, passkeyMessages);
  // Filled by the script: what to do now, or why the browser step failed.
  return <p class="webauthn-status" role="status" aria-live="polite" data-webauthn-status="" data-msg-working={t('working')} data-msg-failed={t('browserFailed')}></p>;
}

export function PasskeysSection(props: { vc: ViewContext; status: PasskeyStatus; error?: PasskeyError | undefined }) {
  const { vc, status: s } = props;
  const t = translator(vc.lang, passkeyMessages);
  const tf = translator(vc.lang, twoFactorMessages);
  const err = props.error;
  return (
    <section class="stack passkeys" aria-labelledby="passkeys-title">
      <h2 id="passkeys-title">{t('title')}</h2>
      {vc.actor?.kind === 'staff' ? <p class="recommended">{t('staffRecommended')}</p> : null}
      <p>{t('intro')}</p>
      {s.passkeys.length === 0 ? (
        <p>{t('none')}</p>
      ) : (
        <ul class="passkey-list" aria-label={t('listLabel')}>
          {s.passkeys.map((p) => (
            <li>
              <strong>{p.name}</strong>
              <br />
              {t('created', { date: formatDate(vc.lang, p.createdAt) })}, {p.lastUsedAt ? t('lastUsed', { date: formatDate(vc.lang, p.lastUsedAt) }) : t('neverUsed')}
            </li>
          ))}
        </ul>
      )}
      <p data-webauthn-nojs="">{t('needsJs')}</p>

      {s.mayAdd ? (
        <div hidden data-webauthn-reveal="">
          <h3>{t('addTitle')}</h3>
          <p>{t('addIntro')}</p>
          <form method="post" action="/account/two-factor/passkeys" class="stack" data-webauthn="register" data-options-url="/account/two-factor/passkeys/options">
            <CsrfField vc={vc} />
            <input type="hidden" name="response" value="" data-webauthn-response="" />
            <TextField name="passkeyName" label={t('nameLabel')} hint={t('nameHint')} required maxLength={100} autocomplete="off" error={err === 'name' ? t('nameInvalid') : undefined} />
            <TextField
              name="passkeyPassword"
              label={tf('currentPassword')}
              type="password"
              required
              autocomplete="current-password"
              maxLength={1024}
              error={err === 'password' ? tf('passwordWrong') : undefined}
            />
            <Status vc={vc} />
            <button type="submit">{t('addButton')}</button>
          </form>
        </div>
      ) : (
        <p>{t('tooMany')}</p>
      )}

      {s.passkeys.length > 0 ? (
        <>
          <h3>{t('removeTitle')}</h3>
          {s.mayRemove ? (
            <RemoveForm vc={vc} status={s} error={err === 'remove'} />
          ) : (
            <p>{t('keepOne')}</p>
          )}
        </>
      ) : null}
    </section>
  );
}

function RemoveForm(props: { vc: ViewContext; status: PasskeyStatus; error: boolean }) {
  const { vc, status: s } = props;
  const t = translator(vc.lang, passkeyMessages);
  const tf = translator(vc.lang, twoFactorMessages);
  const fields = (
    <>
      <CsrfField vc={vc} />
      <div class="field">
        <label for="passkeyId">{t('removeKeyLabel')}</label>
        <select id="passkeyId" name="passkeyId">
          {s.passkeys.map((p) => (
            <option value={p.id}>{p.name}</option>
          ))}
        </select>
      </div>
      <TextField name="removePassword" label={tf('currentPassword')} type="password" required autocomplete="current-password" maxLength={1024} error={props.error ? t('wrong') : undefined} />
    </>
  );
  if (s.hasTotp) {
    return (
      <form method="post" action="/account/two-factor/passkeys/remove" class="stack">
        <p>{t('removeIntroTotp')}</p>
        {fields}
        <CodeField name="removeCode" label={tf('confirmCodeLabel')} hint={tf('confirmCodeHint')} />
        <button type="submit" class="secondary">
          {t('removeButton')}
        </button>
      </form>
    );
  }
  // Only passkeys: the second factor for the removal is an assertion, which needs the script.
  return (
    <div hidden data-webauthn-reveal="">
      <form method="post" action="/account/two-factor/passkeys/remove" class="stack" data-webauthn="reauth" data-options-url="/account/two-factor/passkeys/reauth-options">
        <p>{t('removeIntroPasskey')}</p>
        {fields}
        <input type="hidden" name="passkeyResponse" value="" data-webauthn-response="" />
        <Status vc={vc} />
        <button type="submit" class="secondary">
          {t('removeWithPasskeyButton')}
        </button>
      </form>
    </div>
  );
}

/** The login's second step: "Use a passkey", answered by a normal form post once signed. */
export function PasskeyLoginForm(props: { vc: ViewContext }) {
  const t = translator(props.vc.lang, passkeyMessages);
  return (
    <div hidden data-webauthn-reveal="">
      <form method="post" action="/login/second-factor" class="stack" data-webauthn="login" data-options-url="/login/second-factor/passkey-options" data-expired-url="/login?expired=1">
        <CsrfField vc={props.vc} />
        <input type="hidden" name="passkeyResponse" value="" data-webauthn-response="" />
        <Status vc={props.vc} />
        <button type="submit" id="passkey-login">
          {t('usePasskey')}
        </button>
      </form>
    </div>
  );
}

/**
 * The second-factor part of a form that changes one's own account (password, e-mail): an app
 * code when the person has an authenticator app, otherwise an answer from one of their passkeys
 * (the form then needs the script: see reauthFormAttributes).
 */
export function ReauthFactorFields(props: { vc: ViewContext; factor: ReauthFactor; codeLabel: string; codeHint: string; error?: string | undefined }) {
  if (props.factor === 'none') return null;
  if (props.factor === 'totp') return <CodeField name="code" label={props.codeLabel} hint={props.codeHint} error={props.error} />;
  const t = translator(props.vc.lang, passkeyMessages);
  return (
    <>
      <PasskeyScripts />
      {props.error ? (
        <p class="field-error" id="passkeyResponse">
          {props.error}
        </p>
      ) : null}
      <p class="hint">{t('reauthWithPasskey')}</p>
      <input type="hidden" name="passkeyResponse" value="" data-webauthn-response="" />
      <Status vc={props.vc} />
    </>
  );
}

/** Attributes that let /assets/webauthn.js ask a passkey before the form is sent. */
export function reauthFormAttributes(factor: ReauthFactor): Record<string, string> {
  return factor === 'passkey' ? { 'data-webauthn': 'reauth', 'data-options-url': '/account/two-factor/passkeys/reauth-options' } : {};
}
