/**
 * `samtale audit verify`: walks each audit chain (one per company, and 'platform') and reports
 * the first broken link (M20). A chain is intact when its rows number 1, 2, 3, ... without gaps,
 * each row's prev_hash is the previous row's row_hash, each row_hash is the hash of the row as it
 * is now (audit_row_hash in migrations/009_audit_chain.sql), and the chain's head names its last
 * row. So a changed row, a removed row and a cut-off tail are all found.
 *
 * Reads every company's rows: runs as samtale_system (listed in docs/security.md).
 */
import { sql } from 'kysely';
import type { Database } from '../db/database.ts';
import { unsafeSystemTransaction } from '../db/context.ts';

export type ChainReport = {
  chain: string;
  rows: number;
  ok: boolean;
  /** The first problem found, if any. */
  broken?: { seq: number; id: number | null; reason: 'changed' | 'missing' | 'relinked' | 'head' };
};

const PAGE = 5000;

export async function unsafeVerifyAuditChains(database: Database, opts: { companyId?: string } = {}): Promise<ChainReport[]> {
  return unsafeSystemTransaction(database, async (trx) => {
    const heads = (
      await sql<{ chain: string; seq: string; hash: string }>`
        select chain, seq::text as seq, hash from audit_chain_heads
        where ${opts.companyId ? sql`chain = ${opts.companyId}` : sql`true`} order by chain`.execute(trx)
    ).rows;
    const reports: ChainReport[] = [];
    for (const head of heads) {
      let expectedSeq = 1;
      let prevHash = '';
      let broken: ChainReport['broken'];
      for (let after = 0; !broken; ) {
        const rows = (
          await sql<{ id: string; seq: string; prev_hash: string; row_hash: string; actual: string }>`
            select a.id::text as id, a.chain_seq::text as seq, a.prev_hash, a.row_hash, audit_row_hash(a) as actual
            from audit_events a
            where audit_chain_key(a.company_id) = ${head.chain} and a.chain_seq > ${after}
            order by a.chain_seq limit ${PAGE}`.execute(trx)
        ).rows;
        for (const r of rows) {
          const seq = Number(r.seq);
          if (seq !== expectedSeq) {
            broken = { seq: expectedSeq, id: null, reason: 'missing' };
            break;
          }
          if (r.actual !== r.row_hash) {
            broken = { seq, id: Number(r.id), reason: 'changed' };
            break;
          }
          if (r.prev_hash !== prevHash) {
            broken = { seq, id: Number(r.id), reason: 'relinked' };
            break;
          }
          prevHash = r.row_hash;
          expectedSeq = seq + 1;
        }
        if (rows.length < PAGE) break;
        after = Number(rows[rows.length - 1]?.seq ?? after);
      }
      const rowsSeen = expectedSeq - 1;
      if (!broken && (rowsSeen !== Number(head.seq) || prevHash !== head.hash)) {
        broken = { seq: rowsSeen + 1, id: null, reason: rowsSeen < Number(head.seq) ? 'missing' : 'head' };
      }
      reports.push({ chain: head.chain, rows: rowsSeen, ok: !broken, ...(broken ? { broken } : {}) });
    }
    return reports;
  });
}
