/**
 * Attachments on the dialogue page and on their own page (issue 7). The upload forms are plain
 * multipart POSTs that work without JavaScript; /assets/upload.js adds progress to the first one
 * (the dialogue's own form), no inline script.
 */
import { CsrfField, Layout, type ViewContext } from '../../platform/html/layout.tsx';
import { formatDateTime, translator, type Lang } from '../../platform/i18n/i18n.ts';
import { ALLOWED_EXTENSIONS } from '../../platform/storage/file-types.ts';
import type { ReceiveOutcome } from '../../platform/storage/files.ts';
import { filesMessages } from '../files/files.i18n.ts';
import { formatBytes, UploadResults, type Limits } from '../files/files.views.tsx';
import { attachmentMessages } from './dialogues.attachments.i18n.ts';
import type { AttachmentRow, AttachmentsData } from './dialogues.attachments.ts';

const ACCEPT = ALLOWED_EXTENSIONS.map((e) => `.${e}`).join(',');

function stateLabel(lang: Lang, f: AttachmentRow): string {
  const t = translator(lang, attachmentMessages);
  return f.state === 'available' ? t('stateAvailable') : f.state === 'infected' ? t('stateInfected') : t('stateWaiting');
}

function AttachmentsTable(props: { lang: Lang; data: AttachmentsData; files: AttachmentRow[]; showAgreement: boolean; caption: string }) {
  const { lang, data } = props;
  const t = translator(lang, attachmentMessages);
  const titleOf = (id: string | null) => (id === null ? t('wholeDialogue') : (data.agreements.find((a) => a.id === id)?.title ?? ''));
  return (
    <div class="table-wrap">
      <table class="files-table">
        <caption class="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t('colName')}</th>
            <th scope="col">{t('colSize')}</th>
            <th scope="col">{t('colState')}</th>
            <th scope="col">{t('colBy')}</th>
            <th scope="col">{t('colAt')}</th>
            {props.showAgreement ? <th scope="col">{t('colAgreement')}</th> : null}
            <th scope="col">{t('colDownloadedBy')}</th>
          </tr>
        </thead>
        <tbody>
          {props.files.map((f) => (
            <tr>
              <td>
                {f.state === 'available' ? (
                  <a href={`/attachments/${f.id}/download`} download aria-label={t('downloadNamed', { name: f.name })}>
                    {f.name}
                  </a>
                ) : (
                  f.name
                )}
              </td>
              <td>{formatBytes(lang, f.sizeBytes)}</td>
              <td>{stateLabel(lang, f)}</td>
              <td>{f.uploaderName ?? t('unknown')}</td>
              <td>{formatDateTime(lang, f.createdAt)}</td>
              {props.showAgreement ? <td>{titleOf(f.agreementId)}</td> : null}
              <td>
                {f.downloadedBy.length === 0
                  ? t('notDownloaded')
                  : f.downloadedBy.map((v, i) => (
                      <span>
                        {i > 0 ? ', ' : ''}
                        {v.name ?? t('unknown')} ({formatDateTime(lang, v.lastViewedAt)}
                        {v.count > 1 ? `, ${t('times', { n: v.count })}` : ''})
                      </span>
                    ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The dialogue's attachments: list, limit and the upload form. */
export function AttachmentsSection(props: { vc: ViewContext; data: AttachmentsData; limits: Limits; outcomes?: ReceiveOutcome[]; error?: string | undefined }) {
  const { vc, data, limits } = props;
  const lang = vc.lang;
  const t = translator(lang, attachmentMessages);
  const tf = translator(lang, filesMessages);
  const full = data.count >= data.limit;
  return (
    <section class="card attachments" id="attachments" aria-labelledby="attachments-h">
      <script src="/assets/upload.js" defer></script>
      <h2 id="attachments-h">{t('heading')}</h2>
      <p>{t('intro')}</p>
      <p class="hint">{t('limit', { count: data.count, max: data.limit })}</p>
      {data.mayAttach ? null : <p class="notice">{t('closedNote')}</p>}
      <div id="upload-results" aria-live="polite">
        <UploadResults lang={lang} limits={{ ...limits, maxFilesPerDialogue: data.limit }} outcomes={props.outcomes ?? []} error={props.error} />
      </div>
      {data.files.length === 0 ? <p>{t('noAttachments')}</p> : <AttachmentsTable lang={lang} data={data} files={data.files} showAgreement={data.agreements.length > 0} caption={t('heading')} />}
      {data.mayAttach && !full ? (
        <form
          method="post"
          action={`/dialogues/${data.dialogueId}/attachments`}
          enctype="multipart/form-data"
          class="upload-form stack no-print"
          data-upload-form="true"
          data-uploading={tf('uploading')}
          data-failed={tf('uploadFailed')}
          aria-labelledby="attach-h"
        >
          <h3 id="attach-h">{t('attachHeading')}</h3>
          <CsrfField vc={vc} />
          <div class="field drop-zone">
            <label for="attachment-files">{t('filesLabel')}</label>
            <p class="hint" id="attachment-files-hint">
              {tf('filesHint', { maxFile: formatBytes(lang, limits.maxFileBytes), maxFiles: limits.maxFilesPerRequest })} <span class="drop-hint" hidden>{tf('dropHint')}</span>
            </p>
            <input id="attachment-files" name="files" type="file" multiple accept={ACCEPT} required aria-describedby="attachment-files-hint" data-max-bytes={String(limits.maxFileBytes)} />
          </div>
          <div class="upload-progress" hidden>
            <label for="attachment-progress-bar">{tf('progressLabel')}</label>
            <progress id="attachment-progress-bar" max="100" value="0"></progress>
            <span class="upload-progress-text" aria-live="polite"></span>
          </div>
          <button type="submit">{t('attachButton')}</button>
        </form>
      ) : null}
    </section>
  );
}

/** One agreement's files and a small form to attach more (no progress bar; works without JS). */
export function AgreementAttachments(props: { vc: ViewContext; data: AttachmentsData; agreementId: string; title: string; limits: Limits }) {
  const { vc, data, agreementId } = props;
  const lang = vc.lang;
  const t = translator(lang, attachmentMessages);
  const files = data.files.filter((f) => f.agreementId === agreementId);
  const full = data.count >= data.limit;
  return (
    <div class="agreement-attachments">
      {files.length > 0 ? <AttachmentsTable lang={lang} data={data} files={files} showAgreement={false} caption={t('agreementFiles')} /> : null}
      {data.mayAttach && !full ? (
        <form method="post" action={`/agreements/${agreementId}/attachments`} enctype="multipart/form-data" class="stack no-print">
          <CsrfField vc={vc} />
          <div class="field">
            <label for={`agreement-files-${agreementId}`}>{t('agreementFilesLabel')}</label>
            <input id={`agreement-files-${agreementId}`} name="files" type="file" multiple accept={ACCEPT} required />
          </div>
          <button type="submit" class="secondary small" aria-label={t('agreementAttachNamed', { title: props.title })}>
            {t('attachButton')}
          </button>
        </form>
      ) : null}
    </div>
  );
}

/** Its own page: where an upload without JavaScript lands, and refusals are shown. */
export function AttachmentsPage(props: { vc: ViewContext; data: AttachmentsData; limits: Limits; outcomes?: ReceiveOutcome[]; error?: string | undefined }) {
  const t = translator(props.vc.lang, attachmentMessages);
  return (
    <Layout vc={props.vc} title={t('pageTitle')}>
      <p class="no-print actions">
        <a href={`/dialogues/${props.data.dialogueId}`}>{t('backToDialogue')}</a>
      </p>
      <h1>{t('pageTitle')}</h1>
      <AttachmentsSection vc={props.vc} data={props.data} limits={props.limits} outcomes={props.outcomes} error={props.error} />
    </Layout>
  );
}
