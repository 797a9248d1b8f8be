/**
 * The real app on a real database for tests. Only the clock is a fake (injected through deps).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { PGlite } from '@electric-sql/pglite';
import { loadConfig } from '../../src/config.ts';
import { openDatabase, pgliteParsers, wrapPglite, type Database } from '../../src/platform/db/database.ts';
import { PasswordHasher } from '../../src/platform/auth/passwords.ts';
import type { AppDeps, Clock } from '../../src/platform/deps.ts';
import { buildApp } from '../../src/app.ts';
import pg from 'pg';
import { migrate } from '../../src/platform/db/migrate.ts';

export class FakeClock implements Clock {
  constructor(public current = new Date('2027-03-01T09:00:00Z')) {}
  now() {
    return new Date(this.current);
  }
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export async function openTestDatabase(): Promise<Database> {
  const url = inject('databaseUrl');
  if (url) return openDatabase({ databaseUrl: url, poolSize: 4 });
  const snapshot = fs.readFileSync(inject('pgliteSnapshot'));
  const pglite = await PGlite.create({ loadDataDir: new Blob([snapshot]), parsers: pgliteParsers });
  return wrapPglite(pglite);
}

/** Lets test helpers that only hold the app (the Agent) reach its deps. */
export const depsOf = new WeakMap<FastifyInstance, AppDeps>();

export type TestApp = { app: FastifyInstance; deps: AppDeps; clock: FakeClock; close(): Promise<void> };

/**
 * A test app on a database of its own, also when the run shares one PostgreSQL database between
 * test files: for tests that change platform-wide state (module switches), which would otherwise
 * reach the other files running at the same time.
 */
export async function createIsolatedTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const url = inject('databaseUrl');
  if (!url) return createTestApp(env);
  const name = `samtale_iso_${Date.now()}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const own = new URL(url);
  own.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: own.toString(), poolSize: 4 });
  await migrate(database);
  const t = await createTestApp(env, database);
  return {
    ...t,
    async close() {
      await t.close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export async function createTestApp(env: Record<string, string> = {}, given?: Database): Promise<TestApp> {
  const database = given ?? (await openTestDatabase());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-test-'));
  // Test agents browse from 127.x.y.z (see agent.ts): all of loopback counts as the staff network.
  const config = loadConfig({ NODE_ENV: 'test', SAMTALE_DATA_DIR: dataDir, LOG_LEVEL: 'silent', STAFF_ALLOWED_CIDRS: '127.0.0.0/8,::1/128', ...env });
  const clock = new FakeClock();
  const deps: AppDeps = { config, database, clock, hasher: new PasswordHasher(config.argon2) };
  const app = await buildApp(deps);
  await app.ready();
  depsOf.set(app, deps);
  return {
    app,
    deps,
    clock,
    async close() {
      await app.close();
      await database.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
