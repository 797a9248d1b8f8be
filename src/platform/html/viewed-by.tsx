/**
 * "Viewed by" (M14) at the top of a document: who has opened it and when, most recent first,
 * one line per person (with how many times), support staff clearly marked. The first few are
 * shown; the rest open with "show all" (a <details> element: no script needed).
 */
import type { Viewer } from '../audit/views.ts';
import { formatDateTime, translator } from '../i18n/i18n.ts';
import { common } from './common.i18n.ts';
import { roleLabel, type ViewContext } from './layout.tsx';

const SHOWN = 5;

function ViewerLine(props: { vc: ViewContext; v: Viewer }) {
  const t = translator(props.vc.lang, common);
  const { v } = props;
  const who = v.support ? <strong class="badge warn">{t('viewedBySupport')}</strong> : <span>{v.name ?? t('viewedByUnknown')}</span>;
  const role = v.support ? '' : ` (${v.role === 'delegate' ? t('viewedByDelegate') : roleLabel(props.vc.lang, v.role === 'admin' ? 'company_admin' : v.role)})`;
  return (
    <li>
      {who}
      {role} – <time dateTime={v.lastViewedAt.toISOString()}>{formatDateTime(props.vc.lang, v.lastViewedAt)}</time>
      {v.count > 1 ? ` ${t('viewedByTimes', { n: v.count })}` : ''}
    </li>
  );
}

export function ViewedBy(props: { vc: ViewContext; viewers: Viewer[] }) {
  const t = translator(props.vc.lang, common);
  const first = props.viewers.slice(0, SHOWN);
  const rest = props.viewers.slice(SHOWN);
  return (
    <section class="viewed-by" aria-labelledby="viewed-by-h">
      <h2 id="viewed-by-h">{t('viewedBy')}</h2>
      <ul>
        {first.map((v) => (
          <ViewerLine vc={props.vc} v={v} />
        ))}
      </ul>
      {rest.length > 0 ? (
        <details>
          <summary>{t('viewedByShowAll', { n: props.viewers.length })}</summary>
          <ul>
            {rest.map((v) => (
              <ViewerLine vc={props.vc} v={v} />
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}
