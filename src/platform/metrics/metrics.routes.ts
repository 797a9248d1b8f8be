/**
 * Where Prometheus scrapes (P4). Two ways, both off by default:
 * - METRICS_PORT: a listener of its own (startMetricsServer), bound to METRICS_HOST
 *   (127.0.0.1 unless set; another host needs METRICS_TOKEN, checked in src/config.ts). When
 *   METRICS_TOKEN is set it is required there too.
 * - METRICS_TOKEN: GET /metrics on the main port with `Authorization: Bearer <token>`. Without a
 *   token configured the route does not exist (404 like any unknown path); a missing or wrong
 *   token gets 401.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { safeEqual } from '../auth/tokens.ts';
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics.ts';

export function bearerMatches(header: string | string[] | undefined, token: string | undefined): boolean {
  if (!token) return false;
  const value = Array.isArray(header) ? header[0] : header;
  const m = /^Bearer ([\x21-\x7e]{1,200})$/.exec(value ?? '');
  return Boolean(m?.[1] && safeEqual(m[1], token));
}

export function registerMetrics(app: FastifyInstance, deps: AppDeps) {
  if (!deps.config.metrics.token) return;
  // Public as far as sessions go: Prometheus has no session; the bearer token is the key.
  app.get('/metrics', { config: { public: true }, logLevel: 'warn' }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    if (!bearerMatches(req.headers.authorization, deps.config.metrics.token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').type('text/plain; charset=utf-8').send('unauthorized\n');
    }
    return reply.type(METRICS_CONTENT_TYPE).send(await renderMetrics(deps));
  });
}

export type MetricsServer = { port: number; close(): Promise<void> };

/** The separate metrics listener for `samtale serve` (METRICS_PORT). Only GET /metrics. */
export async function startMetricsServer(deps: AppDeps, opts: { port: number; host: string }): Promise<MetricsServer> {
  const token = deps.config.metrics.token;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    if (req.method !== 'GET' || path !== '/metrics') return send(404, 'not found\n');
    if (token && !bearerMatches(req.headers.authorization, token)) return send(401, 'unauthorized\n');
    renderMetrics(deps).then(
      (body) => send(200, body, METRICS_CONTENT_TYPE),
      () => send(503, 'metrics unavailable\n'),
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
