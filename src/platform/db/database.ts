/**
 * Opens the database: PostgreSQL through `pg` when a URL is configured, otherwise PGlite stored in
 * the data directory. Both go through Kysely's PostgresDialect, so the same SQL runs on both.
 *
 * Value parsing is aligned between the two drivers: bigint as number, `date` as 'YYYY-MM-DD'
 * text (never a Date at local midnight), timestamptz as Date.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import type { DB } from './schema.ts';
import { PGlitePool } from './pglite-pool.ts';
import { connectToPrimary, isMultiHostUrl, MultiHostPool } from './multi-host.ts';

export type Database = {
  kind: 'pglite' | 'postgres';
  db: Kysely<DB>;
  /**
   * One connection as the owner role (migrations, operator tooling). `q` runs a multi-statement
   * script when called without parameters.
   */
  ownerSession<T>(fn: (q: OwnerQuery) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Connection pool numbers for /metrics (P4). */
  poolStats(): PoolStats;
  pglite?: PGlite;
};

export type PoolStats = { total: number; idle: number; waiting: number; max: number };

const INT8 = 20;
const DATE = 1082;

pg.types.setTypeParser(INT8, (v) => Number(v));
pg.types.setTypeParser(DATE, (v) => v);

export type OwnerQuery = (sqlText: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

export type OpenOptions = {
  databaseUrl?: string | undefined;
  migrationDatabaseUrl?: string | undefined;
  dataDir?: string | undefined;
  poolSize?: number;
  /** A PGlite instance made by the caller (tests load a pre-migrated snapshot). */
  pglite?: PGlite;
};

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.migrationDatabaseUrl, opts.poolSize ?? 10);
  let pglite = opts.pglite;
  if (!pglite) {
    const { PGlite } = await import('@electric-sql/pglite');
    if (!opts.dataDir) throw new Error('dataDir is required for the embedded database');
    const dir = path.join(opts.dataDir, 'pglite');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    pglite = await PGlite.create({ dataDir: dir, parsers: pgliteParsers });
  }
  return wrapPglite(pglite);
}

export const pgliteParsers = {
  [INT8]: (v: string) => Number(v),
  [DATE]: (v: string) => v,
};

export function wrapPglite(pglite: PGlite): Database {
  const pool = new PGlitePool(pglite);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: pool as never }) });
  return {
    kind: 'pglite',
    db,
    pglite,
    poolStats: () => pool.stats(),
    async ownerSession(fn) {
      const client = await pool.connect();
      try {
        return await fn(async (sqlText, params) => {
          if (params && params.length > 0) return (await pglite.query(sqlText, params)).rows as Record<string, unknown>[];
          const results = await pglite.exec(sqlText);
          return (results.at(-1)?.rows ?? []) as Record<string, unknown>[];
        });
      } finally {
        client.release();
      }
    },
    async close() {
      await db.destroy();
    },
  };
}

function openPostgres(url: string, migrationUrl: string | undefined, poolSize: number): Database {
  // Several hosts (a replicated cluster, M11): our pool that follows the primary after a failover.
  // One host: pg's own pool, unchanged.
  let pool: pg.Pool | MultiHostPool;
  if (isMultiHostUrl(url)) {
    pool = new MultiHostPool(url, { max: poolSize });
  } else {
    const single = new pg.Pool({ connectionString: url, max: poolSize });
    // A broken idle connection must not crash the process; the next checkout reconnects.
    single.on('error', () => {});
    // Nor one that breaks while checked out between two queries: its next query fails instead.
    single.on('connect', (client) => client.on('error', () => {}));
    pool = single;
  }
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: pool as pg.Pool }) });
  const ownerUrl = migrationUrl ?? url;
  return {
    kind: 'postgres',
    db,
    poolStats: () =>
      pool instanceof MultiHostPool ? pool.stats() : { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: poolSize },
    async ownerSession(fn) {
      let client: pg.Client;
      if (isMultiHostUrl(ownerUrl)) {
        client = await connectToPrimary(ownerUrl);
      } else {
        client = new pg.Client({ connectionString: ownerUrl });
        await client.connect();
      }
      try {
        return await fn(async (sqlText, params) => {
          const result = (await client.query(sqlText, params)) as unknown as pg.QueryResult | pg.QueryResult[];
          const last = Array.isArray(result) ? result.at(-1) : result;
          return (last?.rows ?? []) as Record<string, unknown>[];
        });
      } finally {
        await client.end();
      }
    },
    async close() {
      await db.destroy();
    },
  };
}
