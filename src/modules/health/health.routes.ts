import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';

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
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not_ready', checks: { database } });
  });
}
