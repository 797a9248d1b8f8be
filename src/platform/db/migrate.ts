/**
 * Forward-only SQL migrations from `migrations/NNN_name.sql`, applied in order, each in its own
 * transaction, under an advisory lock so several app nodes starting at once migrate only once.
 * Plain SQL (not Kysely's TypeScript migrations) keeps them readable by a DBA and checkable on
 * PostgreSQL 15 and PGlite (18) alike.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations');
const LOCK_KEY = 7_314_202_611;

export function listMigrations(dir = MIGRATIONS_DIR): { name: string; file: string }[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ name: f.replace(/\.sql$/, ''), file: path.join(dir, f) }));
}

export async function migrate(database: Database, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = listMigrations(dir);
  return database.ownerSession(async (q) => {
    await q(`select pg_advisory_lock(${LOCK_KEY})`, []);
    try {
      await q(`create table if not exists schema_migrations (
        name text primary key,
        applied_at timestamptz not null default now()
      )`);
      const done = new Set((await q('select name from schema_migrations', [])).map((r) => String(r.name)));
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.name)) continue;
        const body = fs.readFileSync(m.file, 'utf8');
        await q(`begin;\n${body}\n;insert into schema_migrations (name) values ('${m.name}');\ncommit;`);
        applied.push(m.name);
      }
      return applied;
    } catch (err) {
      await q('rollback').catch(() => {});
      throw err;
    } finally {
      await q(`select pg_advisory_unlock(${LOCK_KEY})`, []);
    }
  });
}

export async function schemaVersion(database: Database): Promise<string | undefined> {
  return database.ownerSession(async (q) => {
    const rows = await q(
      "select name from schema_migrations order by name desc limit 1", [],
    ).catch(() => []);
    return rows[0] ? String(rows[0].name) : undefined;
  });
}
