/**
 * Two-factor pages: the login's second step, enrolment (QR code and typed secret), recovery codes
 * shown once, and the account page. The QR code is SVG made by the server and shown through an
 * <img> data: URI (the CSP allows img data: and forbids inline style and script).
 */
import QRCode from 'qrcode';
import { CsrfField, ErrorSummary, Flash, Layout, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDate, translator } from '../../platform/i18n/i18n.ts';
import { groupedSecret, totpUri } from '../../platform/auth/totp.ts';
import { twoFactorMessages } from './twofactor.i18n.ts';
import { passkeyMessages } from './passkeys.i18n.ts';
import { PasskeyLoginForm, PasskeyScripts, PasskeysSection, type PasskeyError } from './passkeys.views.tsx';
import type { PasskeyStatus } from './passkeys.service.ts';

export type EnrolmentQr = { imageSrc: string; groupedSecret: string };

/** The QR code (as an image source) and the grouped secret for an enrolment. */
export async function enrolmentQr(secret: string, accountLabel: string): Promise<EnrolmentQr> {
  const svg = await QRCode.toString(totpUri(secret, accountLabel), { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { imageSrc: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, groupedSecret: groupedSecret(secret) };
}

/** A one-time-code input: numeric keyboard, and the browser may fill it from an SMS or app. */
export function CodeField(props: { name: string; label: string; hint: string; error?: string | undefined }) {
  return <TextField {...props} required inputMode="numeric" pattern="[0-9 ]*" autocomplete="one-time-code" maxLength={8} />;
}

function QrPanel(props: { vc: ViewContext; qr: EnrolmentQr }) {
  const t = translator(props.vc.lang, twoFactorMessages);
  return (
    <div class="stack">
      <p>{t('scanQr')}</p>
      <p>
        <img src={props.qr.imageSrc} alt={t('qrAlt')} width={220} height={220} />
      </p>
      <p>{t('typeSecret')}</p>
      <p>
        <code class="secret">{props.qr.groupedSecret}</code>
      </p>
    </div>
  );
}

/**
 * Login, second step: a passkey (revealed by the script), a code, or (behind a disclosure) a
 * recovery code; or first enrolment (M2). `totp: false` hides the code form for an identity that
 * has only passkeys.
 */
export function SecondFactorPage(props: {
  vc: ViewContext;
  qr?: EnrolmentQr | undefined;
  failed?: boolean;
  passkeyFailed?: boolean;
  passkeys?: boolean | undefined;
  totp?: boolean | undefined;
}) {
  const t = translator(props.vc.lang, twoFactorMessages);
  const tp = translator(props.vc.lang, passkeyMessages);
  const enrol = Boolean(props.qr);
  const title = enrol ? t('enrolRequiredTitle') : t('secondFactorTitle');
  const passkeys = !enrol && props.passkeys === true;
  const totp = enrol || props.totp !== false;
  return (
    <Layout vc={props.vc} title={title}>
      <section class="narrow card">
        <h1>{title}</h1>
        {props.passkeyFailed ? <ErrorSummary lang={props.vc.lang} errors={{ 'passkey-login': tp('loginPasskeyWrong') }} /> : null}
        {props.failed && !props.passkeyFailed ? <ErrorSummary lang={props.vc.lang} errors={{ [totp ? 'code' : 'recoveryCode']: t('codeWrong') }} /> : null}
        {props.qr ? (
          <>
            <p>{t('enrolRequiredIntro')}</p>
            <QrPanel vc={props.vc} qr={props.qr} />
          </>
        ) : (
          <p>{passkeys ? tp('loginIntroPasskey') : t('secondFactorIntro')}</p>
        )}
        {passkeys ? <PasskeyLoginForm vc={props.vc} /> : null}
        {passkeys && totp ? <p>{tp('loginOrCode')}</p> : null}
        {passkeys && !totp ? <p data-webauthn-nojs="">{tp('needsJs')}</p> : null}
        {totp ? (
          <form method="post" action="/login/second-factor" class="stack">
            <CsrfField vc={props.vc} />
            <CodeField
              name="code"
              label={enrol ? t('confirmCodeLabel') : t('codeLabel')}
              hint={enrol ? t('confirmCodeHint') : t('codeHint')}
              error={props.failed && !props.passkeyFailed ? t('codeWrong') : undefined}
            />
            <button type="submit">{enrol ? t('confirmButton') : t('verifyButton')}</button>
          </form>
        ) : null}
        {passkeys ? <PasskeyScripts /> : null}
        {enrol ? null : (
          // Open when there is no code form: then it is the only way that works without the script.
          <details open={!totp}>
            <summary>{t('useRecoveryCode')}</summary>
            <form method="post" action="/login/second-factor" class="stack">
              <CsrfField vc={props.vc} />
              <TextField name="recoveryCode" label={t('recoveryCodeLabel')} required autocomplete="off" maxLength={40} />
              <button type="submit">{t('verifyButton')}</button>
            </form>
          </details>
        )}
      </section>
    </Layout>
  );
}

/** The new recovery codes, shown once; the page is never cached (no-store is set by the route). */
export function RecoveryCodesPage(props: { vc: ViewContext; codes: string[]; continueHref: string }) {
  const t = translator(props.vc.lang, twoFactorMessages);
  return (
    <Layout vc={props.vc} title={t('recoveryTitle')}>
      <section class="narrow card">
        <p class="flash" role="status">
          {t('enrolled')}
        </p>
        <h1>{t('recoveryTitle')}</h1>
        <p>{t('recoveryIntro')}</p>
        <ul class="recovery-codes">
          {props.codes.map((c) => (
            <li>
              <code>{c}</code>
            </li>
          ))}
        </ul>
        <p>
          <a class="button" href={props.continueHref}>
            {t('continue')}
          </a>
        </p>
      </section>
    </Layout>
  );
}

export type AccountTwoFactorState =
  | { state: 'off' }
  | { state: 'enrolling'; qr: EnrolmentQr }
  | { state: 'on'; confirmedAt: Date; unusedCodes: number; mayRemove: boolean };

export function AccountTwoFactorPage(props: {
  vc: ViewContext;
  status: AccountTwoFactorState;
  error?: 'password' | 'code' | undefined;
  flash?: string | undefined;
  passkeys?: PasskeyStatus | undefined;
  passkeyError?: PasskeyError | undefined;
}) {
  const t = translator(props.vc.lang, twoFactorMessages);
  const tp = translator(props.vc.lang, passkeyMessages);
  const s = props.status;
  const hasPasskeys = (props.passkeys?.passkeys.length ?? 0) > 0;
  const pe = props.passkeyError;
  const passkeyErrors: Record<string, string> =
    pe === 'password'
      ? { passkeyPassword: t('passwordWrong') }
      : pe === 'name'
        ? { passkeyName: tp('nameInvalid') }
        : pe === 'registration'
          ? { passkeyName: tp('registrationFailed') }
          : pe === 'too_many'
            ? { 'passkeys-title': tp('tooMany') }
            : pe === 'remove'
              ? { removePassword: tp('wrong') }
              : {};
  return (
    <Layout vc={props.vc} title={t('twoFactorTitle')}>
      <section class="narrow card">
        <h1>{t('twoFactorTitle')}</h1>
        <Flash message={props.flash} />
        {props.error === 'password' ? <ErrorSummary lang={props.vc.lang} errors={{ password: t('passwordWrong') }} /> : null}
        {props.error === 'code' ? <ErrorSummary lang={props.vc.lang} errors={{ code: t('codeWrong') }} /> : null}
        <ErrorSummary lang={props.vc.lang} errors={passkeyErrors} />
        {s.state === 'off' ? (
          <>
            <p>{hasPasskeys ? tp('totpOffWithPasskeys') : t('statusOff')}</p>
            <p>{t('startIntro')}</p>
            <form method="post" action="/account/two-factor/start" class="stack">
              <CsrfField vc={props.vc} />
              <TextField name="password" label={t('currentPassword')} type="password" required autocomplete="current-password" maxLength={1024} error={props.error === 'password' ? t('passwordWrong') : undefined} />
              <button type="submit">{t('startButton')}</button>
            </form>
          </>
        ) : null}
        {s.state === 'enrolling' ? (
          <>
            <QrPanel vc={props.vc} qr={s.qr} />
            <form method="post" action="/account/two-factor/confirm" class="stack">
              <CsrfField vc={props.vc} />
              <CodeField name="code" label={t('confirmCodeLabel')} hint={t('confirmCodeHint')} error={props.error === 'code' ? t('codeWrong') : undefined} />
              <button type="submit">{t('confirmButton')}</button>
            </form>
          </>
        ) : null}
        {s.state === 'on' ? (
          <>
            <p>{t('statusOn', { date: formatDate(props.vc.lang, s.confirmedAt) })}</p>
            <p>{t('codesLeft', { n: s.unusedCodes })}</p>
            {s.mayRemove ? (
              <>
                <h2>{t('removeTitle')}</h2>
                <p>{t('removeIntro')}</p>
                <form method="post" action="/account/two-factor/remove" class="stack">
                  <CsrfField vc={props.vc} />
                  <TextField name="password" label={t('currentPassword')} type="password" required autocomplete="current-password" maxLength={1024} />
                  <CodeField name="code" label={t('confirmCodeLabel')} hint={t('confirmCodeHint')} />
                  <button type="submit" class="secondary">
                    {t('removeButton')}
                  </button>
                </form>
              </>
            ) : (
              <p>{t('staffCannotRemove')}</p>
            )}
          </>
        ) : null}
        {props.passkeys ? (
          <>
            {s.state !== 'on' && hasPasskeys ? <p>{t('codesLeft', { n: props.passkeys.unusedCodes })}</p> : null}
            <PasskeysSection vc={props.vc} status={props.passkeys} error={pe} />
            <PasskeyScripts />
          </>
        ) : null}
      </section>
    </Layout>
  );
}
