/**
 * A pool-shaped adapter so Kysely's own PostgresDialect can drive PGlite.
 *
 * Why our own: the published PGlite dialect packages pin older PGlite majors. PGlite is a single
 * connection, so `connect()` hands out one client at a time and queues the rest; a transaction
 * therefore owns the database until it releases it. Never open a second transaction while holding
 * one (the same rule keeps the PostgreSQL pool from running dry).
 */
import type { PGlite } from '@electric-sql/pglite';

type QueryResult = { command: string; rowCount: number; rows: unknown[] };

const COMMAND = /^\s*(?:--[^\n]*\n\s*)*(\w+)/;

export class PGlitePool {
  #queue: Array<() => void> = [];
  #busy = false;

  /** One connection, busy or idle, and the callers waiting for it (for /metrics). */
  stats() {
    return { total: 1, idle: this.#busy ? 0 : 1, waiting: this.#queue.length, max: 1 };
  }

  constructor(readonly pglite: PGlite) {}

  async connect() {
    if (this.#busy) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#busy = true;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next) next();
      else this.#busy = false;
    };
    const pglite = this.pglite;
    return {
      async query(sqlText: string, parameters: readonly unknown[]): Promise<QueryResult> {
        const result = await pglite.query(sqlText, parameters as unknown[]);
        const command = (COMMAND.exec(sqlText)?.[1] ?? '').toUpperCase();
        return { command, rowCount: result.affectedRows ?? result.rows.length, rows: result.rows };
      },
      release,
    };
  }

  async end() {
    await this.pglite.close();
  }
}
