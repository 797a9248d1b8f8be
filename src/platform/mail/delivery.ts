/**
 * Sending the outbox. Runs as samtale_system (it must see every company's mail), so its entry
 * points are named unsafe* and listed in docs/security.md.
 *
 * Design note: a runner claims due rows with FOR UPDATE SKIP LOCKED and, in the same short
 * transaction, counts the attempt and pushes next_attempt_at forward by a lease. It then commits
 * and talks to the SMTP server outside any transaction (on PGlite a transaction holds the only
 * connection; on PostgreSQL it would hold a pool slot for the length of an SMTP dialogue). Two
 * runners never claim the same row, so each mail is sent once. The one remaining window is
 * at-least-once: when the process dies (or the database is unreachable) after the SMTP server
 * accepted a mail but before the row is marked sent, the lease runs out and the mail is sent
 * again. The Message-ID is the outbox id both times, so a receiving system can recognise it.
 *
 * A failed attempt is retried with exponential backoff (1 min, 2 min, 4 min, ... at most 6 h);
 * after MAIL_MAX_ATTEMPTS attempts the row is marked failed and audited. A down SMTP server
 * therefore never loses a mail: it stays pending until the server is back or the attempts run out.
 * After sending, the model (which may hold a link with a token) is cleared from the row.
 */
import { modulesOff } from '../modules/switches.ts';
import { sql } from 'kysely';
import type { AppDeps } from '../deps.ts';
import { unsafeSystemTransaction, withTenant } from '../db/context.ts';
import { audit } from '../audit/audit.ts';
import { isLang } from '../i18n/i18n.ts';
import { isMailTemplate, renderMail } from './templates.ts';
import { describeMailError, mailTransport, type TransportState } from './transport.ts';
import type { JobDefinition } from '../jobs/jobs.ts';

export const CLAIM_LEASE_MS = 5 * 60_000;
const BACKOFF_BASE_MS = 60_000;
const BACKOFF_MAX_MS = 6 * 60 * 60_000;

/** The wait after the n-th failed attempt (n >= 1). */
export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

export type DeliveryResult = { sent: number; retrying: number; failed: number };

type Claimed = { id: string; company_id: string | null; recipient: string; language: string; template: string; model: unknown; attempts: number };

/**
 * Narrows a delivery run to some mails. The job sends everything; tests share one database
 * across files (on PostgreSQL) and must send only their own mail.
 */
export type DeliveryScope = { companyId?: string; recipients?: string[] };

async function unsafeClaimDueMail(deps: AppDeps, now: Date, limit: number, scope: DeliveryScope): Promise<Claimed[]> {
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const due = await trx
      .selectFrom('mail_outbox')
      .select(['id', 'company_id', 'recipient', 'language', 'template', 'model', 'attempts'])
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]))
      .$if(scope.companyId !== undefined, (qb) => qb.where('company_id', '=', scope.companyId ?? ''))
      .$if(scope.recipients !== undefined, (qb) => qb.where('recipient', 'in', scope.recipients?.length ? scope.recipients : ['']))
      .orderBy(sql`next_attempt_at nulls first`)
      .orderBy('created_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (due.length === 0) return [];
    await trx
      .updateTable('mail_outbox')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: new Date(now.getTime() + CLAIM_LEASE_MS) }))
      .where(
        'id',
        'in',
        due.map((d) => d.id),
      )
      .execute();
    return due.map((d) => ({ ...d, attempts: d.attempts + 1 }));
  });
}

function messageDomain(publicUrl: string | undefined): string {
  try {
    return new URL(publicUrl ?? 'http://localhost').hostname || 'localhost';
  } catch {
    return 'localhost';
  }
}

/**
 * Sends every due mail (in batches) and returns what happened. Called by the job runner; tests
 * may call it directly with a FakeClock.
 */
export async function unsafeDeliverDueMail(deps: AppDeps, opts: { batch?: number; maxBatches?: number; scope?: DeliveryScope } = {}): Promise<DeliveryResult> {
  const result: DeliveryResult = { sent: 0, retrying: 0, failed: 0 };
  // P7: with e-mail switched off, mails wait in the outbox (nothing is lost) until it is on again.
  if ((await modulesOff(deps)).has('email')) return result;
  const transport = mailTransport(deps.config, deps.clock);
  const batch = opts.batch ?? 20;
  // When the server cannot be reached, the rest of the batch is not tried (each try could wait
  // for the full connection timeout): those rows count a failed attempt with the same error.
  let serverDown: string | undefined;
  for (let round = 0; round < (opts.maxBatches ?? 50) && !serverDown; round++) {
    const claimed = await unsafeClaimDueMail(deps, deps.clock.now(), batch, opts.scope ?? {});
    for (const row of claimed) {
      let error: string | undefined = serverDown;
      let permanent = false;
      if (!serverDown) {
        try {
          if (!isMailTemplate(row.template) || !isLang(row.language)) throw Object.assign(new Error('unknown template or language'), { code: 'EUNKNOWN_TEMPLATE' });
          const rendered = renderMail(row.template, row.model, row.language, deps.config.publicUrl);
          await transport.send({
            id: row.id,
            to: row.recipient,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            template: row.template,
            lang: row.language,
            messageId: `<${row.id}@${messageDomain(deps.config.publicUrl)}>`,
          });
        } catch (err) {
          error = describeMailError(err);
          permanent = (err as { code?: unknown }).code === 'EUNKNOWN_TEMPLATE' || (err instanceof Error && err.message.startsWith('mail model for'));
          if (/^(ECONNECTION|ETIMEDOUT|ESOCKET|EDNS|ETLS|EAUTH)\b/.test(error)) serverDown = error;
        }
      }
      const now = deps.clock.now();
      if (error === undefined) {
        await unsafeSystemTransaction(deps.database, async (trx) => {
          await trx
            .updateTable('mail_outbox')
            .set({ status: 'sent', sent_at: now, model: '{}', last_error: null, next_attempt_at: null })
            .where('id', '=', row.id)
            .where('status', '=', 'pending')
            .execute();
          await audit(trx, { companyId: row.company_id }, { type: 'mail.sent', objectType: 'mail', objectId: row.id, data: { template: row.template } }, now);
        });
        result.sent++;
      } else if (permanent || row.attempts >= deps.config.mail.maxAttempts) {
        await unsafeSystemTransaction(deps.database, async (trx) => {
          const r = await trx
            .updateTable('mail_outbox')
            .set({ status: 'failed', last_error: error, next_attempt_at: null })
            .where('id', '=', row.id)
            .where('status', '=', 'pending')
            .where('attempts', '=', row.attempts)
            .executeTakeFirst();
          if (Number(r.numUpdatedRows) > 0) {
            await audit(trx, { companyId: row.company_id }, { type: 'mail.failed', objectType: 'mail', objectId: row.id, data: { template: row.template, attempts: row.attempts, error } }, now);
          }
        });
        result.failed++;
      } else {
        await unsafeSystemTransaction(deps.database, (trx) =>
          trx
            .updateTable('mail_outbox')
            .set({ last_error: error, next_attempt_at: new Date(now.getTime() + backoffMs(row.attempts)) })
            .where('id', '=', row.id)
            .where('status', '=', 'pending')
            .where('attempts', '=', row.attempts)
            .execute(),
        );
        result.retrying++;
      }
    }
    if (claimed.length < batch) break;
  }
  return result;
}

export type MailHealth = TransportState & { pending: number; failed: number };

/**
 * For /readyz and the dev page: the transport's state and how many mails wait or have failed.
 * Runs as the app role: mail_outbox_counts() returns the two numbers and no row.
 */
export async function mailHealth(deps: AppDeps): Promise<MailHealth> {
  const counts = await withTenant(deps.database, {}, async (trx) => {
    const r = await sql<{ pending: string | number; failed: string | number }>`select pending, failed from mail_outbox_counts()`.execute(trx);
    return r.rows[0];
  });
  const state = await mailTransport(deps.config, deps.clock).state(deps.clock.now());
  return { ...state, pending: Number(counts?.pending ?? 0), failed: Number(counts?.failed ?? 0) };
}

/** The periodic job that sends the outbox (registered in src/platform/jobs/jobs.ts). */
export const mailDeliveryJob: JobDefinition = {
  name: 'mail.deliver',
  intervalSeconds: 5,
  leaseSeconds: 15 * 60,
  run: (deps) => unsafeDeliverDueMail(deps),
};
