/**
 * GET /org/audit (the page) and GET /org/audit.csv (the export) for company admins; 404 for
 * everyone else (audittrail.service.ts). Filters come from the query string and are validated;
 * a bad date re-renders the page with a message (422) instead of guessing.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { auditTrailMessages } from './audittrail.i18n.ts';
import { exportAudit, getAuditPage, mayReadAuditTrail, toCsv, type AuditFilter } from './audittrail.service.ts';
import { AuditTrailPage, type FilterValues } from './audittrail.views.tsx';
import { NotFoundError } from '../../platform/errors.ts';

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function validDate(s: string): boolean {
  if (!DATE_RE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** The filter from the query string, the values to show back, and a message per bad field. */
function readFilter(req: FastifyRequest): { filter: AuditFilter; values: FilterValues; errors: Record<string, 'badDate' | 'badRange'> } {
  const q = req.query as Record<string, unknown>;
  const str = (k: string, max: number) => (typeof q[k] === 'string' ? (q[k] as string).trim().slice(0, max) : '');
  const values: FilterValues = { person: str('person', 36), type: str('type', 100), from: str('from', 10), to: str('to', 10) };
  const errors: Record<string, 'badDate' | 'badRange'> = {};
  if (values.from && !validDate(values.from)) errors.from = 'badDate';
  if (values.to && !validDate(values.to)) errors.to = 'badDate';
  if (!errors.from && !errors.to && values.from && values.to && values.from > values.to) errors.to = 'badRange';
  const before = Number(str('before', 20));
  const filter: AuditFilter = {
    person: UUID_RE.test(values.person) ? values.person : undefined,
    type: /^[a-z_.]{1,100}$/.test(values.type) ? values.type : undefined,
    from: errors.from ? undefined : values.from || undefined,
    to: errors.to ? undefined : values.to || undefined,
    before: Number.isSafeInteger(before) && before > 0 ? before : undefined,
  };
  return { filter, values, errors };
}

export function registerAuditTrail(app: FastifyInstance, deps: AppDeps) {
  app.get('/org/audit', async (req, reply) => {
    const { filter, values, errors } = readFilter(req);
    const page = await getAuditPage(deps, req.actor, filter);
    const t = translator(req.lang, auditTrailMessages);
    const messages = Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, t(v)]));
    return sendPage(reply, <AuditTrailPage vc={viewContext(req)} page={page} values={values} errors={messages} />, Object.keys(errors).length ? 422 : 200);
  });

  app.get('/org/audit.csv', async (req, reply) => {
    if (!mayReadAuditTrail(req.actor)) throw new NotFoundError();
    const { filter, errors } = readFilter(req);
    if (Object.keys(errors).length) return reply.redirect(`/org/audit?${new URLSearchParams(req.query as Record<string, string>).toString()}`, 303);
    const rows = await exportAudit(deps, req.actor, filter, req.ip);
    const day = deps.clock.now().toISOString().slice(0, 10);
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="samtale-audit-${day}.csv"`)
      .header('x-content-type-options', 'nosniff')
      .send(toCsv(rows));
  });
}
