/**
 * The page frame. No inline script or style anywhere (the CSP forbids both): behaviour comes from
 * /assets/app.js and htmx, both served by the app; the CSRF token reaches htmx through the
 * hx-headers attribute on <body>.
 */
import type { ComponentChildren } from 'preact';
import type { Actor } from '../auth/actor.ts';
import { formatDateTime, LANGUAGES, translator, type Lang } from '../i18n/i18n.ts';
import { common } from './common.i18n.ts';

export type ViewContext = {
  lang: Lang;
  actor: Actor | undefined;
  csrfToken: string;
  path: string;
};

const LANGUAGE_NAMES: Record<Lang, string> = { da: 'Dansk', en: 'English', sv: 'Svenska' };

type NavItem = { href: string; label: string };

function navFor(vc: ViewContext): NavItem[] {
  const t = translator(vc.lang, common);
  const a = vc.actor;
  if (!a) return [];
  if (a.kind === 'staff') return [{ href: '/staff/companies', label: t('navCompanies') }];
  const items: NavItem[] = [{ href: '/dashboard', label: t('navDashboard') }, { href: '/dialogues', label: t('navDialogues') }, { href: '/inbox', label: t('navInbox') }, { href: '/notifications', label: t('navNotifications') }];
  if (a.role === 'company_admin' || a.managesDepartment) {
    items.push({ href: '/org', label: t('navOrganisation') }, { href: '/org/employees', label: t('navEmployees') });
  }
  if (a.role === 'company_admin' || a.role === 'leader' || a.managesDepartment) items.push({ href: '/statistics', label: t('navStatistics') });
  if (a.role === 'company_admin') items.push({ href: '/forms', label: t('navForms') });
  return items;
}

export function roleLabel(lang: Lang, role: string): string {
  const t = translator(lang, common);
  switch (role) {
    case 'employee':
      return t('roleEmployee');
    case 'leader':
      return t('roleLeader');
    case 'company_admin':
      return t('roleCompanyAdmin');
    case 'operator':
      return t('roleOperator');
    case 'support':
      return t('roleSupport');
    default:
      return role;
  }
}

export function Layout(props: { vc: ViewContext; title: string; children: ComponentChildren }) {
  const { vc } = props;
  const t = translator(vc.lang, common);
  const nav = navFor(vc);
  const hxHeaders = JSON.stringify({ 'x-csrf-token': vc.csrfToken });
  return (
    <html lang={vc.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}' />
        <title>{`${props.title} – ${t('appName')}`}</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <script src="/assets/htmx.min.js" defer></script>
        <script src="/assets/app.js" defer></script>
      </head>
      <body hx-headers={hxHeaders}>
        <a class="skip-link" href="#main">
          {t('skipToContent')}
        </a>
        <header class="site-header">
          <div class="brand">
            <a href={vc.actor ? (vc.actor.kind === 'staff' ? '/staff/companies' : '/dashboard') : '/login'}>{t('appName')}</a>
            {vc.actor?.kind === 'user' ? <span class="company-name">{vc.actor.companyName}</span> : null}
          </div>
          {nav.length > 0 ? (
            <nav aria-label={t('mainNav')} class="main-nav">
              <ul>
                {nav.map((item) => (
                  <li>
                    <a href={item.href} aria-current={vc.path === item.href ? 'page' : undefined}>
                      {item.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          ) : null}
          <div class="account">
            <form method="post" action="/settings/language" class="language-form">
              <input type="hidden" name="_csrf" value={vc.csrfToken} />
              <input type="hidden" name="returnTo" value={vc.path} />
              <label for="language-select" class="visually-hidden">
                {t('language')}
              </label>
              <select id="language-select" name="language" data-autosubmit="true">
                {LANGUAGES.map((l) => (
                  <option value={l} selected={l === vc.lang}>
                    {LANGUAGE_NAMES[l]}
                  </option>
                ))}
              </select>
              <button type="submit" class="secondary small">
                {t('changeLanguage')}
              </button>
            </form>
            {vc.actor ? (
              <form method="post" action="/logout" class="logout-form">
                <input type="hidden" name="_csrf" value={vc.csrfToken} />
                <a class="who" href="/account/sessions">
                  {vc.actor.name}
                </a>
                <button type="submit" class="secondary small">
                  {t('logout')}
                </button>
              </form>
            ) : null}
          </div>
        </header>
        <SupportBanner vc={vc} />
        <main id="main" tabIndex={-1}>
          {props.children}
        </main>
        <footer class="site-footer">{t('footer')}</footer>
      </body>
    </html>
  );
}

/** On every page while platform support is inside a company by its consent (M13), and once after it ends. */
function SupportBanner(props: { vc: ViewContext }) {
  const actor = props.vc.actor;
  if (actor?.kind !== 'staff' || (!actor.support && !actor.supportEnded)) return null;
  const t = translator(props.vc.lang, common);
  if (!actor.support) {
    return (
      <div class="support-banner" role="status">
        <p>{t('supportEnded')}</p>
      </div>
    );
  }
  const mode = actor.support.allowEdit ? t('supportMayEdit') : t('supportReadOnly');
  return (
    <div class="support-banner" role="region" aria-label={t('supportLeave')}>
      <p>{t('supportBanner', { company: actor.support.companyName, mode, until: formatDateTime(props.vc.lang, actor.support.until) })}</p>
      <form method="post" action="/staff/support/leave">
        <input type="hidden" name="_csrf" value={props.vc.csrfToken} />
        <button type="submit" class="secondary small">
          {t('supportLeave')}
        </button>
      </form>
    </div>
  );
}

/** A list of problems at the top of a form, linking to each field (GOV.UK pattern). */
export function ErrorSummary(props: { lang: Lang; errors: Record<string, string> }) {
  const entries = Object.entries(props.errors);
  if (entries.length === 0) return null;
  const t = translator(props.lang, common);
  return (
    <div class="error-summary" role="alert" tabIndex={-1}>
      <h2>{t('errorSummaryTitle')}</h2>
      <ul>
        {entries.map(([field, message]) => (
          <li>
            <a href={`#${field}`}>{message}</a>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** What a field's control needs to point at its hint and error (screen readers read them with it). */
export function fieldAria(props: { name: string; hint?: string | undefined; error?: string | undefined }): { 'aria-invalid'?: 'true'; 'aria-describedby'?: string } {
  const describedBy = [props.hint ? `${props.name}-hint` : '', props.error ? `${props.name}-error` : ''].filter(Boolean).join(' ');
  return { 'aria-invalid': props.error ? 'true' : undefined, 'aria-describedby': describedBy || undefined };
}

/** The frame every form field shares: the label, then the hint and the error (ids for fieldAria). */
export function FieldFrame(props: { name: string; label: string; hint?: string | undefined; error?: string | undefined; children: ComponentChildren }) {
  return (
    <div class={props.error ? 'field has-error' : 'field'}>
      <label for={props.name}>{props.label}</label>
      {props.hint ? (
        <p class="hint" id={`${props.name}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p class="field-error" id={`${props.name}-error`}>
          {props.error}
        </p>
      ) : null}
      {props.children}
    </div>
  );
}

export function TextField(props: {
  name: string;
  label: string;
  value?: string | undefined;
  error?: string | undefined;
  type?: string;
  required?: boolean;
  maxLength?: number;
  autocomplete?: string;
  hint?: string;
  inputMode?: 'numeric' | 'text' | 'email';
  pattern?: string;
}) {
  return (
    <FieldFrame name={props.name} label={props.label} hint={props.hint} error={props.error}>
      <input
        id={props.name}
        name={props.name}
        type={(props.type ?? 'text') as 'text'}
        value={props.value ?? ''}
        required={props.required}
        maxLength={props.maxLength}
        autocomplete={props.autocomplete}
        inputmode={props.inputMode}
        pattern={props.pattern}
        {...fieldAria(props)}
      />
    </FieldFrame>
  );
}

export function SelectField(props: {
  name: string;
  label: string;
  value?: string | null | undefined;
  error?: string | undefined;
  hint?: string | undefined;
  options: { value: string; label: string }[];
  emptyLabel?: string;
}) {
  return (
    <FieldFrame name={props.name} label={props.label} hint={props.hint} error={props.error}>
      <select id={props.name} name={props.name} {...fieldAria(props)}>
        {props.emptyLabel !== undefined ? <option value="">{props.emptyLabel}</option> : null}
        {props.options.map((o) => (
          <option value={o.value} selected={o.value === (props.value ?? '')}>
            {o.label}
          </option>
        ))}
      </select>
    </FieldFrame>
  );
}

export function CsrfField(props: { vc: ViewContext }) {
  return <input type="hidden" name="_csrf" value={props.vc.csrfToken} />;
}

export function Flash(props: { message: string | undefined }) {
  if (!props.message) return null;
  return (
    <p class="flash" role="status">
      {props.message}
    </p>
  );
}
