import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import { mailHealth, type MailHealth } from '../../platform/mail/delivery.ts';
import { scannerHealth, type ScannerHealth } from '../../platform/scanner/clamd.ts';

/** Liveness and readiness for load balancers and monitoring (P4). No personal data. */
export function registerHealth(app: FastifyInstance, deps: AppDeps) {
  app.get('/healthz', { config: { public: true }, logLevel: 'warn' }, async (_req, reply) => {
    return reply.header('cache-control', 'no-store').send({ status: 'ok' });
  });

  app.get('/readyz', { config: { public: true }, logLevel: 'warn' }, async (_req, reply) => {
    const started = Date.now();
    let database: { status: 'ok' | 'down'; latencyMs?: number };
    try {
      await sql`select 1`.execute(deps.database.db);
      database = { status: 'ok', latencyMs: Date.now() - started };
    } catch {
      database = { status: 'down' };
    }
    const ready = database.status === 'ok';
    // Mail never decides readiness: the outbox keeps mails while SMTP is away (and the file
    // transport is always 'ok'). Operators watch mail.status and the pending/failed counts.
    let mail: MailHealth | { status: 'unknown' };
    try {
      mail = ready ? await mailHealth(deps) : { status: 'unknown' };
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
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not_ready', checks: { database, mail, scanner } });
  });
}
