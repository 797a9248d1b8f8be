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

export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await openTestDatabase();
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
