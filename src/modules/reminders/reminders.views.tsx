/** The in-app notifications and the reminder preferences. Texts in reminders.i18n.ts. */
import { CsrfField, Flash, Layout, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDate, formatDateTime, translator } from '../../platform/i18n/i18n.ts';
import { reminderMessages } from './reminders.i18n.ts';
import { OPTIONAL_REMINDERS, type Notification, type NotificationKind, type ReminderPrefs } from './reminders.service.ts';

const kindKey = (k: NotificationKind) => `k_${k}` as const;

export function NotificationsPage(props: { vc: ViewContext; items: Notification[] }) {
  const { vc } = props;
  const t = translator(vc.lang, reminderMessages);
  return (
    <Layout vc={vc} title={t('title')}>
      <h1>{t('title')}</h1>
      <p>{t('intro')}</p>
      <p>
        <a href="/account/reminders">{t('prefsLink')}</a>
      </p>
      {props.items.length === 0 ? (
        <p>{t('none')}</p>
      ) : (
        <>
          <form method="post" action="/notifications/read">
            <CsrfField vc={vc} />
            <button type="submit" class="secondary small">
              {t('markRead')}
            </button>
          </form>
          <ul class="notifications">
            {props.items.map((n) => (
              <li class={n.read ? undefined : 'unread'}>
                {n.read ? null : <span class="badge warn">{t('unread')}</span>} <strong>{t(kindKey(n.reminder))}</strong>
                {n.deadline ? ` – ${formatDate(vc.lang, n.deadline)}` : ''} <span class="hint">({formatDateTime(vc.lang, n.createdAt)})</span>{' '}
                <a href={n.path}>{t('open')}</a>
              </li>
            ))}
          </ul>
        </>
      )}
    </Layout>
  );
}

export function ReminderPrefsPage(props: { vc: ViewContext; prefs: ReminderPrefs; flash?: string | undefined }) {
  const { vc, prefs } = props;
  const t = translator(vc.lang, reminderMessages);
  return (
    <Layout vc={vc} title={t('prefsTitle')}>
      <h1>{t('prefsTitle')}</h1>
      <Flash message={props.flash} />
      <p>{t('prefsIntro')}</p>
      <form method="post" action="/account/reminders" class="stack card">
        <CsrfField vc={vc} />
        <fieldset>
          <legend>{t('prefsTitle')}</legend>
          {OPTIONAL_REMINDERS.map((k) => (
            <div class="field">
              <label>
                <input type="checkbox" name="on" value={k} checked={!prefs.off.includes(k)} /> {t(kindKey(k))}
              </label>
            </div>
          ))}
        </fieldset>
        <div class="field">
          <label>
            <input type="checkbox" name="digest" value="1" checked={prefs.digest} /> {t('digest')}
          </label>
        </div>
        <button type="submit">{t('save')}</button>
      </form>
    </Layout>
  );
}
