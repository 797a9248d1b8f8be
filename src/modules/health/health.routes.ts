import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import { mailHealth, type MailHealth } from '../../platform/mail/delivery.ts';
import { scannerHealth, type ScannerHealth } from '../../platform/scanner/clamd.ts';
import { jobRunnerHealth, type JobRunnerHealth } from '../../platform/jobs/jobs.ts';

/** How long /readyz waits for the database before calling it down. */
export const READY_DB_TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]);
}

/**
 * Liveness and readiness for load balancers and monitoring (P4). No personal data.
 *
 * /readyz names every check. Required (503 when failing): the database (answers `select 1`
 * within 2 s) and this node's job runner once started (a runner that has stopped, as during
 * shutdown, or has not ticked for a long time makes the node not ready). Reported only: mail and
 * the virus scanner, which never decide readiness (their work waits safely in PostgreSQL).
 */
export function registerHealth(app: FastifyInstance, deps: AppDeps) {
  app.get('/healthz', { config: { public: true }, logLevel: 'warn' }, async (_req, reply) => {
    return reply.header('cache-control', 'no-store').send({ status: 'ok' });
  });

  app.get('/readyz', { config: { public: true }, logLevel: 'warn' }, async (_req, reply) => {
    const started = Date.now();
    let database: { status: 'ok' | 'down'; latencyMs?: number };
    try {
      await withTimeout(sql`select 1`.execute(deps.database.db), READY_DB_TIMEOUT_MS);
      database = { status: 'ok', latencyMs: Date.now() - started };
    } catch {
      database = { status: 'down' };
    }
    // The job runner of this node (mail delivery, scans, cleanups). Not started: a node built
    // without one (tests, tools) is not held against readiness; `samtale serve` always starts it.
    const jobs: JobRunnerHealth = jobRunnerHealth(deps);
    // Mail never decides readiness: the outbox keeps mails while SMTP is away (and the file
    // transport is always 'ok'). Operators watch mail.status and the pending/failed counts.
    let mail: MailHealth | { status: 'unknown' };
    try {
      mail = database.status === 'ok' ? await withTimeout(mailHealth(deps), READY_DB_TIMEOUT_MS) : { status: 'unknown' };
    } catch {
      mail = { status: 'unknown' };
    }
    // The virus scanner never decides readiness either: uploads wait for a scan while it is away
    // (fail closed). Operators alert on scanner.status other than 'ok' (P5).
    let scanner: ScannerHealth | { status: 'unknown' };
    try {
      scanner = await scannerHealth(deps.config);
    } catch {
      scanner = { status: 'unknown' };
    }
    const failing = [
      ...(database.status === 'ok' ? [] : ['database']),
      ...(jobs.status === 'stalled' || jobs.status === 'stopped' ? ['jobs'] : []),
    ];
    const ready = failing.length === 0;
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not_ready', failing, required: ['database', 'jobs'], checks: { database, jobs, mail, scanner } });
  });
}
