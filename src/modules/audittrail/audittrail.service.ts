/**
 * The company's audit trail for its admins (issue 5, M20): browse with filters (person, event
 * type, date range) and export to CSV. Only company admins of the session's company; everyone
 * else gets 404. Row-level security (audit_read) already confines reads to the session's company;
 * the role check here decides who in the company may look. The export is itself audited.
 */
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor, UserActor } from '../../platform/auth/actor.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { NotFoundError } from '../../platform/errors.ts';

export const PAGE_SIZE = 50;
export const EXPORT_LIMIT = 100_000;

export type AuditFilter = {
  /** A user id: events the person did. */
  person?: string | undefined;
  /** An exact event type, or a family such as "auth." */
  type?: string | undefined;
  /** Dates (YYYY-MM-DD) in the company's time zone, inclusive. */
  from?: string | undefined;
  to?: string | undefined;
  /** Keyset paging: only rows with a smaller id. */
  before?: number | undefined;
};

export type AuditRow = {
  id: number;
  createdAt: Date;
  actorName: string | null;
  actorKind: 'user' | 'staff' | 'system';
  eventType: string;
  objectType: string | null;
  objectId: string | null;
  data: string;
  ip: string | null;
  userAgent: string | null;
};

export function mayReadAuditTrail(actor: Actor | undefined): actor is UserActor {
  return actor?.kind === 'user' && actor.role === 'company_admin';
}

function admin(actor: Actor | undefined): UserActor {
  if (!mayReadAuditTrail(actor)) throw new NotFoundError();
  return actor;
}

const TIME_ZONE = 'Europe/Copenhagen';

async function query(trx: Tx, companyId: string, filter: AuditFilter, limit: number): Promise<AuditRow[]> {
  let q = trx
    .selectFrom('audit_events as a')
    .leftJoin('users as u', 'u.id', 'a.actor_user_id')
    .select(['a.id', 'a.created_at', 'a.actor_user_id', 'a.actor_staff_id', 'a.event_type', 'a.object_type', 'a.object_id', 'a.data', 'a.ip', 'a.user_agent', 'u.name as actor_name'])
    .where('a.company_id', '=', companyId);
  if (filter.person) q = q.where('a.actor_user_id', '=', filter.person);
  if (filter.type) q = filter.type.endsWith('.') ? q.where('a.event_type', 'like', `${filter.type.replace(/[%_\\]/g, '')}%`) : q.where('a.event_type', '=', filter.type);
  if (filter.from) q = q.where(sql<boolean>`(a.created_at at time zone ${TIME_ZONE})::date >= ${filter.from}::date`);
  if (filter.to) q = q.where(sql<boolean>`(a.created_at at time zone ${TIME_ZONE})::date <= ${filter.to}::date`);
  if (filter.before) q = q.where('a.id', '<', filter.before);
  const rows = await q.orderBy('a.id', 'desc').limit(limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    createdAt: new Date(r.created_at),
    actorName: r.actor_name ?? null,
    actorKind: r.actor_staff_id ? 'staff' : r.actor_user_id ? 'user' : 'system',
    eventType: r.event_type,
    objectType: r.object_type,
    objectId: r.object_id,
    data: typeof r.data === 'string' ? r.data : JSON.stringify(r.data),
    ip: r.ip,
    userAgent: r.user_agent ?? null,
  }));
}

export type AuditPage = {
  rows: AuditRow[];
  /** The id to page on from, when there are older rows. */
  nextBefore: number | undefined;
  people: { id: string; name: string }[];
  types: string[];
};

export async function getAuditPage(deps: AppDeps, actor: Actor | undefined, filter: AuditFilter): Promise<AuditPage> {
  const a = admin(actor);
  return withTenant(deps.database, { companyId: a.companyId, userId: a.userId }, async (trx) => {
    const rows = await query(trx, a.companyId, filter, PAGE_SIZE + 1);
    const people = await trx
      .selectFrom('users as u')
      .innerJoin('employments as e', 'e.user_id', 'u.id')
      .select(['u.id', 'u.name'])
      .where('e.company_id', '=', a.companyId)
      .orderBy('u.name')
      .distinct()
      .execute();
    const types = await trx.selectFrom('audit_events').select('event_type').where('company_id', '=', a.companyId).distinct().orderBy('event_type').execute();
    const more = rows.length > PAGE_SIZE;
    const shown = more ? rows.slice(0, PAGE_SIZE) : rows;
    return { rows: shown, nextBefore: more ? shown[shown.length - 1]?.id : undefined, people, types: types.map((t) => t.event_type) };
  });
}

/** The rows for the CSV export (newest first, at most EXPORT_LIMIT); the export is audited. */
export async function exportAudit(deps: AppDeps, actor: Actor | undefined, filter: AuditFilter, ip: string): Promise<AuditRow[]> {
  const a = admin(actor);
  return withTenant(deps.database, { companyId: a.companyId, userId: a.userId }, async (trx) => {
    const rows = await query(trx, a.companyId, { ...filter, before: undefined }, EXPORT_LIMIT);
    await audit(trx, whoFromActor(a, ip), { type: 'audit.exported', data: { rows: rows.length, type: filter.type ?? null, from: filter.from ?? null, to: filter.to ?? null, person: filter.person ?? null } });
    return rows;
  });
}

/**
 * One CSV field. Quoted always; a value that a spreadsheet would run as a formula (= + - @, tab,
 * carriage return) gets a leading apostrophe, so opening the export cannot execute anything.
 */
export function csvField(value: string | number | null): string {
  let s = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export function toCsv(rows: AuditRow[]): string {
  const header = ['time_utc', 'actor', 'actor_kind', 'event', 'object_type', 'object_id', 'ip', 'user_agent', 'data'];
  const lines = rows.map((r) =>
    [r.createdAt.toISOString(), r.actorName, r.actorKind, r.eventType, r.objectType, r.objectId, r.ip, r.userAgent, r.data].map(csvField).join(','),
  );
  // A byte-order mark lets spreadsheet programs read the UTF-8 (æ, ø, å) correctly.
  return `\uFEFF${[header.join(','), ...lines].join('\r\n')}\r\n`;
}
