/**
 * The development mail page: with no SMTP server configured, mails are written as files under
 * <data dir>/mail/, and platform staff can read them here. The routes exist only when the file
 * transport is in use and never in production (where the page would show other people's links).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { Layout } from '../../platform/html/layout.tsx';
import { formatDateTime, formatNumber, translator } from '../../platform/i18n/i18n.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { mailMessages } from '../../platform/mail/mail.i18n.ts';
import { mailHealth } from '../../platform/mail/delivery.ts';
import { mailDir, type FileMailSummary } from '../../platform/mail/transport.ts';

const idQuery = z.object({ id: z.uuid().optional() });

function readSummaries(dir: string, limit: number): FileMailSummary[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /^[0-9a-f-]{36}\.json$/.test(n));
  } catch {
    return [];
  }
  const all: FileMailSummary[] = [];
  for (const n of names) {
    try {
      all.push(JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as FileMailSummary);
    } catch {
      // A half-written file: skip it.
    }
  }
  return all.sort((a, b) => b.writtenAt.localeCompare(a.writtenAt)).slice(0, limit);
}

export function devMailEnabled(deps: AppDeps): boolean {
  return deps.config.mail.transport === 'file' && deps.config.env !== 'production';
}

export function registerDevMail(app: FastifyInstance, deps: AppDeps) {
  if (!devMailEnabled(deps)) return;
  const dir = mailDir(deps.config);

  app.get('/staff/dev/mail', { config: { staff: true } }, async (req, reply) => {
    if (req.actor?.kind !== 'staff') throw new NotFoundError();
    const vc = viewContext(req);
    const t = translator(vc.lang, mailMessages);
    const q = idQuery.safeParse(req.query);
    if (!q.success) throw new NotFoundError();
    reply.header('cache-control', 'no-store');

    if (q.data.id) {
      const file = path.join(dir, `${q.data.id}.json`);
      if (!fs.existsSync(file)) throw new NotFoundError();
      const m = JSON.parse(fs.readFileSync(file, 'utf8')) as FileMailSummary;
      return sendPage(
        reply,
        <Layout vc={vc} title={m.subject}>
          <p>
            <a href="/staff/dev/mail">{t('devBack')}</a>
          </p>
          <h1>{m.subject}</h1>
          <dl>
            <dt>{t('devTo')}</dt>
            <dd>{m.to}</dd>
            <dt>{t('devTemplate')}</dt>
            <dd>
              <code>{m.template}</code> ({m.lang})
            </dd>
            <dt>{t('devTime')}</dt>
            <dd>{formatDateTime(vc.lang, new Date(m.writtenAt))}</dd>
          </dl>
          <h2>{t('devText')}</h2>
          <pre class="mail-text">{m.text}</pre>
        </Layout>,
      );
    }

    const health = await mailHealth(deps);
    const mails = readSummaries(dir, 200);
    return sendPage(
      reply,
      <Layout vc={vc} title={t('devTitle')}>
        <h1>{t('devTitle')}</h1>
        <p>{t('devIntro')}</p>
        <ul>
          <li>{t('devPending', { n: formatNumber(vc.lang, health.pending) })}</li>
          <li>{t('devFailed', { n: formatNumber(vc.lang, health.failed) })}</li>
        </ul>
        {mails.length === 0 ? (
          <p>{t('devEmpty')}</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('devTime')}</th>
                  <th scope="col">{t('devTo')}</th>
                  <th scope="col">{t('devSubject')}</th>
                </tr>
              </thead>
              <tbody>
                {mails.map((m) => (
                  <tr>
                    <td>{formatDateTime(vc.lang, new Date(m.writtenAt))}</td>
                    <td>{m.to}</td>
                    <td>
                      <a href={`/staff/dev/mail?id=${m.id}`}>{m.subject}</a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Layout>,
    );
  });
}
