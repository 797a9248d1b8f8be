/**
 * The secure inbox page. The upload form is a plain multipart POST that works without
 * JavaScript; /assets/upload.js adds a progress bar and drag and drop (no inline script).
 */
import { CsrfField, Layout, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDateTime, formatNumber, translator, type Lang } from '../../platform/i18n/i18n.ts';
import { ALLOWED_EXTENSIONS } from '../../platform/storage/file-types.ts';
import type { ReceiveOutcome } from '../../platform/storage/files.ts';
import { filesMessages } from './files.i18n.ts';
import type { FileRow, InboxPage as InboxData } from './files.service.ts';

export type Limits = { maxFileBytes: number; maxCompanyBytes: number; maxFilesPerRequest: number; maxFilesPerDialogue?: number };

export function formatBytes(lang: Lang, bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${formatNumber(lang, Math.round((bytes / (1024 * 1024 * 1024)) * 10) / 10)} GB`;
  if (bytes >= 1024 * 1024) return `${formatNumber(lang, Math.round((bytes / (1024 * 1024)) * 10) / 10)} MB`;
  if (bytes >= 1024) return `${formatNumber(lang, Math.round(bytes / 1024))} kB`;
  return `${formatNumber(lang, bytes)} B`;
}

const ACCEPT = ALLOWED_EXTENSIONS.map((e) => `.${e}`).join(',');

export function outcomeText(lang: Lang, limits: Limits, o: ReceiveOutcome): string {
  const t = translator(lang, filesMessages);
  const params = { name: o.name, maxFile: formatBytes(lang, limits.maxFileBytes), max: formatBytes(lang, limits.maxCompanyBytes) };
  if (o.status === 'stored') {
    if (o.state === 'available') return t('resultStoredAvailable', params);
    if (o.state === 'infected') return t('resultInfected', { ...params, signature: o.signature ?? '' });
    return t('resultStoredWaiting', params);
  }
  switch (o.reason) {
    case 'type':
      return t('refusedType', params);
    case 'too_large':
      return t('refusedTooLarge', params);
    case 'quota':
      return t('refusedQuota', params);
    case 'empty':
      return t('refusedEmpty', params);
    case 'zip_bomb':
      return t('refusedZipBomb', params);
    case 'zip_invalid':
      return t('refusedZipInvalid', params);
    case 'no_name':
      return t('refusedNoName', params);
    case 'dialogue_limit':
      return t('refusedDialogueLimit', { ...params, maxFiles: limits.maxFilesPerDialogue ?? 0 });
    case 'locked':
      return t('refusedLocked', params);
  }
}

const isBad = (o: ReceiveOutcome) => o.status === 'refused' || o.state === 'infected';

/** The results of one upload; also sent alone to upload.js. */
export function UploadResults(props: { lang: Lang; limits: Limits; outcomes: ReceiveOutcome[]; error?: string | undefined }) {
  const t = translator(props.lang, filesMessages);
  if (props.outcomes.length === 0 && !props.error) return null;
  const bad = props.error !== undefined || props.outcomes.some(isBad);
  return (
    <section class={bad ? 'upload-results error-summary' : 'upload-results flash'} role={bad ? 'alert' : 'status'} tabIndex={-1} aria-labelledby="upload-results-heading">
      <h2 id="upload-results-heading">{t('resultsHeading')}</h2>
      <ul>
        {props.error ? <li>{props.error}</li> : null}
        {props.outcomes.map((o) => (
          <li class={isBad(o) ? 'refused' : 'accepted'}>{outcomeText(props.lang, props.limits, o)}</li>
        ))}
      </ul>
    </section>
  );
}

function stateLabel(lang: Lang, f: FileRow): string {
  const t = translator(lang, filesMessages);
  return f.state === 'available' ? t('stateAvailable') : f.state === 'infected' ? t('stateInfected') : t('stateWaiting');
}

export function InboxPageView(props: {
  vc: ViewContext;
  data: InboxData;
  limits: Limits;
  scannerConfigured: boolean;
  outcomes?: ReceiveOutcome[];
  error?: string | undefined;
}) {
  const { vc, data, limits } = props;
  const lang = vc.lang;
  const t = translator(lang, filesMessages);
  const maxFile = formatBytes(lang, limits.maxFileBytes);
  return (
    <Layout vc={vc} title={t('title')}>
      <script src="/assets/upload.js" defer></script>
      <h1>{t('title')}</h1>
      <p>{data.canRead ? t('introAdmin') : t('intro')}</p>
      {props.scannerConfigured ? null : (
        <div class="notice" role="note">
          <p>{t('scannerMissing')}</p>
          {data.canRead ? <p>{t('scannerMissingAdmin')}</p> : null}
        </div>
      )}
      <div id="upload-results" aria-live="polite">
        <UploadResults lang={lang} limits={limits} outcomes={props.outcomes ?? []} error={props.error} />
      </div>

      {data.canRead && data.refused.length > 0 ? (
        <section class="refused-files" aria-labelledby="refused-heading">
          <h2 id="refused-heading">{t('refusedHeading')}</h2>
          <p>{t('refusedIntro')}</p>
          <ul>
            {data.refused.map((f) => (
              <li>
                <strong>{f.name}</strong> – {f.uploaderName ?? t('unknownSender')}, {formatDateTime(lang, f.createdAt)} ({f.signature ?? ''})
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <section aria-labelledby="send-heading">
        <h2 id="send-heading">{t('sendHeading')}</h2>
        <form method="post" action="/inbox" enctype="multipart/form-data" class="upload-form" data-upload-form="true" data-uploading={t('uploading')} data-failed={t('uploadFailed')}>
          <CsrfField vc={vc} />
          <div class="field drop-zone">
            <label for="files">{t('filesLabel')}</label>
            <p class="hint" id="files-hint">
              {t('filesHint', { maxFile, maxFiles: limits.maxFilesPerRequest })} <span class="drop-hint" hidden>{t('dropHint')}</span>
            </p>
            <input id="files" name="files" type="file" multiple accept={ACCEPT} required aria-describedby="files-hint" data-max-bytes={String(limits.maxFileBytes)} />
          </div>
          <div class="upload-progress" hidden>
            <label for="upload-progress-bar">{t('progressLabel')}</label>
            <progress id="upload-progress-bar" max="100" value="0"></progress>
            <span class="upload-progress-text" aria-live="polite"></span>
          </div>
          <button type="submit">{t('sendButton')}</button>
        </form>
        <p class="hint">{t('usage', { used: formatBytes(lang, data.usedBytes), max: formatBytes(lang, limits.maxCompanyBytes) })}</p>
      </section>

      <section aria-labelledby="list-heading">
        <h2 id="list-heading">{data.canRead ? t('listHeading') : t('ownHeading')}</h2>
        {data.files.length === 0 ? (
          <p>{t('emptyList')}</p>
        ) : (
          <div class="table-wrap">
            <table class="files-table">
              <thead>
                <tr>
                  <th scope="col">{t('colName')}</th>
                  {data.canRead ? <th scope="col">{t('colFrom')}</th> : null}
                  <th scope="col">{t('colSize')}</th>
                  <th scope="col">{t('colReceived')}</th>
                  <th scope="col">{t('colState')}</th>
                  {data.canRead ? <th scope="col">{t('colDownloadedBy')}</th> : null}
                </tr>
              </thead>
              <tbody>
                {data.files.map((f) => (
                  <tr>
                    <td>
                      {data.canRead && f.state === 'available' ? (
                        <a href={`/inbox/files/${f.id}/download`} download aria-label={t('downloadNamed', { name: f.name })}>
                          {f.name}
                        </a>
                      ) : (
                        f.name
                      )}
                    </td>
                    {data.canRead ? <td>{f.uploaderName ?? t('unknownSender')}</td> : null}
                    <td>{formatBytes(lang, f.sizeBytes)}</td>
                    <td>{formatDateTime(lang, f.createdAt)}</td>
                    <td>{stateLabel(lang, f)}</td>
                    {data.canRead ? (
                      <td>
                        {f.downloadedBy.length === 0
                          ? t('notDownloaded')
                          : f.downloadedBy.map((v, i) => (
                              <span>
                                {i > 0 ? ', ' : ''}
                                {v.name || t('unknownSender')} ({formatDateTime(lang, v.lastAt)}
                                {v.count > 1 ? `, ${t('times', { n: v.count })}` : ''})
                              </span>
                            ))}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Layout>
  );
}
