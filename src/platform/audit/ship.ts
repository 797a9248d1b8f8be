/**
 * Ships committed audit rows to the JSON log (issue 5), so they can be forwarded to a separate
 * system that the database's administrators do not control.
 *
 * Design note: a row is written in the same transaction as its change, so writing the log line
 * at insert time would also log changes that later roll back. Instead this job reads each chain
 * from where it stopped (audit_shipped) in chain order; chain order is commit order (the chain
 * trigger holds the head's lock until commit), so no committed row is skipped. A crash between
 * logging and saving the position logs a few rows twice; each line carries the chain and its
 * sequence number, so a receiver can drop duplicates. Reads every company: samtale_system.
 */
import pino from 'pino';
import { sql } from 'kysely';
import type { AppDeps } from '../deps.ts';
import { unsafeSystemTransaction } from '../db/context.ts';
import type { JobDefinition } from '../jobs/jobs.ts';

export type AuditLogLine = {
  stream: 'audit';
  chain: string;
  seq: number;
  hash: string;
  at: string;
  company_id: string | null;
  actor_user_id: string | null;
  actor_staff_id: string | null;
  event: string;
  object_type: string | null;
  object_id: string | null;
  ip: string | null;
  data: unknown;
};

const BATCH = 1000;

export async function unsafeShipAuditEvents(deps: AppDeps, write: (line: AuditLogLine) => void): Promise<number> {
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const chains = (
      await sql<{ chain: string; from_seq: string }>`
        select h.chain, coalesce(s.seq, 0)::text as from_seq
        from audit_chain_heads h left join audit_shipped s on s.chain = h.chain
        where h.seq > coalesce(s.seq, 0)`.execute(trx)
    ).rows;
    let shipped = 0;
    for (const c of chains) {
      const rows = (
        await sql<{
          seq: string; row_hash: string; created_at: Date; company_id: string | null; actor_user_id: string | null; actor_staff_id: string | null;
          event_type: string; object_type: string | null; object_id: string | null; ip: string | null; data: unknown;
        }>`
          select chain_seq::text as seq, row_hash, created_at, company_id, actor_user_id, actor_staff_id, event_type, object_type, object_id, ip, data
          from audit_events where audit_chain_key(company_id) = ${c.chain} and chain_seq > ${Number(c.from_seq)}
          order by chain_seq limit ${BATCH}`.execute(trx)
      ).rows;
      for (const r of rows) {
        write({
          stream: 'audit', chain: c.chain, seq: Number(r.seq), hash: r.row_hash, at: new Date(r.created_at).toISOString(),
          company_id: r.company_id, actor_user_id: r.actor_user_id, actor_staff_id: r.actor_staff_id, event: r.event_type,
          object_type: r.object_type, object_id: r.object_id, ip: r.ip, data: r.data,
        });
      }
      const last = rows.at(-1);
      if (!last) continue;
      await sql`insert into audit_shipped (chain, seq) values (${c.chain}, ${Number(last.seq)})
        on conflict (chain) do update set seq = excluded.seq`.execute(trx);
      shipped += rows.length;
    }
    return shipped;
  });
}

let logger: pino.Logger | undefined;

export const auditShipJob: JobDefinition = {
  name: 'audit.ship',
  intervalSeconds: 10,
  run: (deps) => {
    logger ??= pino({ level: deps.config.logLevel, base: undefined });
    const log = logger;
    return unsafeShipAuditEvents(deps, (line) => log.info(line, 'audit event'));
  },
};
