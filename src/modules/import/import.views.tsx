/**
 * The employee import pages: the upload form (a plain multipart POST, no script needed) and the
 * preview with every row's problems. Everything from the file is rendered as text by TSX.
 */
import { CsrfField, Flash, Layout, type ViewContext } from '../../platform/html/layout.tsx';
import { formatNumber, translator, type Lang } from '../../platform/i18n/i18n.ts';
import { importMessages, type ImportKey } from './import.i18n.ts';
import { MAX_ROWS } from './import.parse.ts';
import type { Preview, Problem } from './import.service.ts';

const tr = (lang: Lang) => translator(lang, importMessages);

function sizeText(lang: Lang, bytes: number): string {
  return `${formatNumber(lang, Math.round((bytes / (1024 * 1024)) * 10) / 10)} MB`;
}

function Alert(props: { message: string | undefined }) {
  if (!props.message) return null;
  return (
    <div class="error-summary" role="alert" tabIndex={-1}>
      <p>{props.message}</p>
    </div>
  );
}

export function ImportFormPage(props: { vc: ViewContext; maxFileBytes: number; flash?: string | undefined; error?: string | undefined }) {
  const { vc } = props;
  const t = tr(vc.lang);
  return (
    <Layout vc={vc} title={t('title')}>
      <p>
        <a href="/org/employees">{t('backToEmployees')}</a>
      </p>
      <h1>{t('title')}</h1>
      <Flash message={props.flash} />
      <Alert message={props.error} />
      <p>{t('intro')}</p>
      <p>{t('columns')}</p>
      <p>
        <strong>{t('cprRule')}</strong>
      </p>
      <form method="post" action="/org/import" enctype="multipart/form-data" class="stack card">
        <CsrfField vc={vc} />
        <div class="field">
          <label for="import-file">{t('fileLabel')}</label>
          <p class="hint" id="import-file-hint">
            {t('limits', { rows: formatNumber(vc.lang, MAX_ROWS), size: sizeText(vc.lang, props.maxFileBytes) })}
          </p>
          <input id="import-file" name="file" type="file" accept=".csv,.xlsx" required aria-describedby="import-file-hint" />
        </div>
        <div>
          <button type="submit">{t('uploadButton')}</button>
        </div>
      </form>
    </Layout>
  );
}

function problemText(lang: Lang, p: Problem): string {
  return tr(lang)(p.key, p.params);
}

export function ImportPreviewPage(props: { vc: ViewContext; preview: Preview; error?: string | undefined }) {
  const { vc, preview } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const discard = (importId: string | null) =>
    importId ? (
      <form method="post" action={`/org/import/${importId}/delete`}>
        <CsrfField vc={vc} />
        <button type="submit" class="secondary">
          {t('discardButton')}
        </button>
      </form>
    ) : null;
  const again = (
    <p class="actions">
      <a class="button secondary" href="/org/import">
        {t('uploadAgain')}
      </a>
      <a href="/org/employees">{t('backToEmployees')}</a>
    </p>
  );
  if (preview.status === 'applied') {
    return (
      <Layout vc={vc} title={t('previewTitle')}>
        <h1>{t('previewTitle')}</h1>
        <Flash message={t('applied', { count: preview.count })} />
        {again}
      </Layout>
    );
  }
  if (preview.status === 'waiting' || preview.status === 'refused') {
    const message =
      preview.status === 'waiting' ? t(preview.scannerConfigured ? 'waiting' : 'waitingNoScanner') : t(preview.problem.key as ImportKey, preview.problem.params);
    return (
      <Layout vc={vc} title={t('previewTitle')}>
        <h1>{t('previewTitle')}</h1>
        {preview.fileName ? <p>{t('previewFile', { name: preview.fileName })}</p> : null}
        {preview.status === 'waiting' ? (
          <p class="flash" role="status">
            {message}
          </p>
        ) : (
          <Alert message={message} />
        )}
        {discard(preview.importId)}
        {again}
      </Layout>
    );
  }
  const ok = preview.rows.length - preview.blocked;
  return (
    <Layout vc={vc} title={t('previewTitle')}>
      <h1>{t('previewTitle')}</h1>
      <p>{t('previewFile', { name: preview.fileName })}</p>
      <Alert message={props.error} />
      {preview.blocked > 0 ? <Alert message={t('blockedSummary', { count: preview.blocked })} /> : <p role="status">{t('readySummary', { count: ok })}</p>}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t('colRow')}</th>
              <th scope="col">{t('colName')}</th>
              <th scope="col">{t('colEmail')}</th>
              <th scope="col">{t('colTitle')}</th>
              <th scope="col">{t('colTeam')}</th>
              <th scope="col">{t('colLeader')}</th>
              <th scope="col">{t('colProblems')}</th>
            </tr>
          </thead>
          <tbody>
            {preview.rows.map((r) => (
              <tr class={r.problems.length > 0 ? 'has-error' : undefined}>
                <th scope="row">{r.line}</th>
                <td>{r.name}</td>
                <td>{r.email}</td>
                <td>{r.title || '–'}</td>
                <td>{r.team}</td>
                <td>{r.leader === null ? r.leaderText : t(r.leader ? 'yes' : 'no')}</td>
                <td>
                  {r.problems.length === 0 ? (
                    t('rowOk')
                  ) : (
                    <ul>
                      {r.problems.map((p) => (
                        <li>{problemText(lang, p)}</li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {preview.blocked === 0 ? (
        <form method="post" action={`/org/import/${preview.importId}/apply`} class="stack">
          <CsrfField vc={vc} />
          <p class="hint">{t('applyHint')}</p>
          <div>
            <button type="submit">{t('applyButton', { count: ok })}</button>
          </div>
        </form>
      ) : null}
      {discard(preview.importId)}
      {again}
    </Layout>
  );
}
