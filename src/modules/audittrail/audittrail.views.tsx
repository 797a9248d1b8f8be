/**
 * The audit trail page: a GET filter form (works without JavaScript, bookmarkable), a table that
 * scrolls sideways on a phone, keyset paging, and the CSV link with the same filters.
 */
import { ErrorSummary, Layout, SelectField, TextField, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDateTime, translator } from '../../platform/i18n/i18n.ts';
import { auditTrailMessages } from './audittrail.i18n.ts';
import type { AuditPage, AuditRow } from './audittrail.service.ts';

export type FilterValues = { person: string; type: string; from: string; to: string };

export function queryString(values: FilterValues, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...values, ...extra })) if (v) params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}

function Who(props: { vc: ViewContext; row: AuditRow }) {
  const t = translator(props.vc.lang, auditTrailMessages);
  if (props.row.actorKind === 'staff') return <span class="badge warn">{t('support')}</span>;
  if (props.row.actorKind === 'system') return <span>{t('system')}</span>;
  return <span>{props.row.actorName ?? t('unknownPerson')}</span>;
}

export function AuditTrailPage(props: { vc: ViewContext; page: AuditPage; values: FilterValues; errors?: Record<string, string> }) {
  const { vc, page, values } = props;
  const t = translator(vc.lang, auditTrailMessages);
  const errors = props.errors ?? {};
  const families = [...new Set(page.types.map((type) => `${type.split('.')[0] ?? type}.`))];
  const typeOptions = [
    ...families.map((f) => ({ value: f, label: t('family', { family: f.slice(0, -1) }) })),
    ...page.types.map((type) => ({ value: type, label: type })),
  ];
  return (
    <Layout vc={vc} title={t('title')}>
      <h1>{t('title')}</h1>
      <p>{t('intro')}</p>
      <ErrorSummary lang={vc.lang} errors={errors} />
      <form method="get" action="/org/audit" class="filters card" aria-label={t('filters')}>
        <SelectField name="person" label={t('person')} value={values.person} emptyLabel={t('anyone')} options={page.people.map((p) => ({ value: p.id, label: p.name }))} />
        <SelectField name="type" label={t('type')} value={values.type} emptyLabel={t('anyType')} options={typeOptions} />
        <TextField name="from" label={t('from')} type="date" hint={t('dateHint')} value={values.from} error={errors.from} />
        <TextField name="to" label={t('to')} type="date" hint={t('dateHint')} value={values.to} error={errors.to} />
        <div class="actions">
          <button type="submit">{t('apply')}</button>
          <a class="button secondary" href={`/org/audit.csv${queryString(values)}`} download="">
            {t('exportCsv')}
          </a>
        </div>
      </form>
      {page.rows.length === 0 ? (
        <p>{t('none')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colTime')}</th>
                <th scope="col">{t('colWho')}</th>
                <th scope="col">{t('colEvent')}</th>
                <th scope="col">{t('colObject')}</th>
                <th scope="col">{t('colFrom')}</th>
                <th scope="col">{t('colDetails')}</th>
              </tr>
            </thead>
            <tbody>
              {page.rows.map((r) => (
                <tr>
                  <td>
                    <time dateTime={r.createdAt.toISOString()}>{formatDateTime(vc.lang, r.createdAt)}</time>
                  </td>
                  <td>
                    <Who vc={vc} row={r} />
                  </td>
                  <td>
                    <code>{r.eventType}</code>
                  </td>
                  <td>{r.objectType ? `${r.objectType} ${r.objectId ?? ''}` : ''}</td>
                  <td>{r.ip ?? ''}</td>
                  <td>
                    <code class="wrap">{r.data === '{}' ? '' : r.data}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="actions">
        {page.nextBefore ? <a href={`/org/audit${queryString(values, { before: String(page.nextBefore) })}`}>{t('older')}</a> : null}{' '}
        <a href={`/org/audit${queryString(values)}`}>{t('newest')}</a>
      </p>
    </Layout>
  );
}
