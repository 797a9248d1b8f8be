/**
 * The multi-host DATABASE_URL (M11): the parser, the config check, the 503 page while no server
 * accepts writes, and, on PostgreSQL, the pool skipping a dead host and reconnecting after its
 * connection was cut. The full failover with three clusters is test/failover.test.ts.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { sql } from 'kysely';
import { loadConfig, ConfigError } from '../src/config.ts';
import { openDatabase } from '../src/platform/db/database.ts';
import { DatabaseUnavailableError, DatabaseUrlError, isDatabaseUnavailable, MultiHostPool, parseDatabaseUrl, resolvePrimaryUrl } from '../src/platform/db/multi-host.ts';
import { createTestApp } from './helpers/app.ts';

/** A loopback port where nothing listens (connections are refused at once). */
async function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('M11 multi-host database URL: parsing', () => {
  it('reads several hosts, each with its port (5432 when none), and keeps the rest of the URL per host', () => {
    const p = parseDatabaseUrl('postgres://web:s%40cret@db1.internal:5433,db2.internal,[::1]:6000/samtale?sslmode=verify-full&target_session_attrs=read-write');
    expect(p.hosts).toEqual([
      { host: 'db1.internal', port: 5433 },
      { host: 'db2.internal', port: 5432 },
      { host: '[::1]', port: 6000 },
    ]);
    expect(p.targetSessionAttrs).toBe('read-write');
    expect(p.forHost(p.hosts[1]!)).toBe('postgres://web:s%40cret@db2.internal:5432/samtale?sslmode=verify-full');
    expect(p.forHost(p.hosts[2]!)).toBe('postgres://web:s%40cret@[::1]:6000/samtale?sslmode=verify-full');
  });

  it('implies read-write with several hosts, and refuses a target that could land on a standby', () => {
    expect(parseDatabaseUrl('postgresql://a,b/db').targetSessionAttrs).toBe('read-write');
    expect(parseDatabaseUrl('postgres://a:1,b:2/db?target_session_attrs=primary').targetSessionAttrs).toBe('read-write');
    expect(() => parseDatabaseUrl('postgres://a,b/db?target_session_attrs=any')).toThrow(DatabaseUrlError);
    expect(() => parseDatabaseUrl('postgres://a,b/db?target_session_attrs=read-only')).toThrow(DatabaseUrlError);
    expect(() => parseDatabaseUrl('postgres://a,b/db?target_session_attrs=standby')).toThrow(DatabaseUrlError);
  });

  it('keeps a single-host URL as it is', () => {
    const p = parseDatabaseUrl('postgres://u@localhost/samtale');
    expect(p.hosts).toEqual([{ host: 'localhost', port: 5432 }]);
    expect(p.targetSessionAttrs).toBe('any');
  });

  it('refuses malformed host lists', () => {
    for (const bad of ['postgres://u@/db', 'postgres://u@a,,b/db', 'postgres://u@a:99999/db', 'postgres://u@a:x/db', 'postgres://u@a b/db', 'postgres://u@a,b:1:2/db', 'mysql://a/db']) {
      expect(() => parseDatabaseUrl(bad), bad).toThrow(DatabaseUrlError);
    }
  });

  it('is checked at boot: a bad DATABASE_URL or MIGRATION_DATABASE_URL stops the process with its name', () => {
    const ok = loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://u@10.0.0.1:5432,10.0.0.2:5432/samtale?target_session_attrs=read-write' });
    expect(ok.databaseUrl).toContain('10.0.0.2');
    expect(() => loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://u@a,b/db?target_session_attrs=any' })).toThrow(/DATABASE_URL: with several hosts/);
    expect(() => loadConfig({ NODE_ENV: 'test', MIGRATION_DATABASE_URL: 'postgres://u@a,,b/db' })).toThrow(ConfigError);
  });

  it('tells connection losses, shutdowns and standby answers apart from ordinary SQL errors', () => {
    expect(isDatabaseUnavailable(new DatabaseUnavailableError('x'))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(new Error('something else'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});

describe('M11 no writable database server: a clear 503, never a 500', () => {
  it('answers a page asking to try again, in the user\'s language, with Retry-After', async () => {
    const database = await openDatabase({ databaseUrl: `postgres://postgres@127.0.0.1:${await deadPort()},127.0.0.1:${await deadPort()}/samtale`, poolSize: 2 });
    const t = await createTestApp({}, database);
    try {
      // Any session cookie makes the request look the session up in the database.
      const res = await t.app.inject({
        method: 'GET',
        url: '/dashboard',
        headers: { accept: 'text/html', 'accept-language': 'en', cookie: `samtale_session=${'a'.repeat(43)}` },
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body).toContain('Please try again in a moment');
      expect(res.body).toContain('Everything saved before is safe');
      const da = await t.app.inject({ method: 'GET', url: '/dashboard', headers: { accept: 'text/html', 'accept-language': 'da', cookie: `samtale_session=${'b'.repeat(43)}` } });
      expect(da.statusCode).toBe(503);
      expect(da.body).toContain('Prøv igen om lidt');
    } finally {
      await t.close();
    }
  });
});

const databaseUrl = inject('databaseUrl');

describe.skipIf(!databaseUrl)('M11 multi-host pool on PostgreSQL', () => {
  const real = databaseUrl ? new URL(databaseUrl) : undefined;
  const hostPort = real ? `${real.hostname}:${real.port || 5432}` : '';
  const withHosts = (hosts: string) => (real ? `${real.protocol}//${real.username ? `${real.username}@` : ''}${hosts}${real.pathname}` : '');
  const pools: MultiHostPool[] = [];
  afterAll(async () => {
    for (const p of pools) await p.end().catch(() => undefined);
  });

  it('skips a host that refuses connections and uses the next one, for the app and for migrations', async () => {
    const url = withHosts(`127.0.0.1:${await deadPort()},${hostPort}`);
    const database = await openDatabase({ databaseUrl: url, poolSize: 2 });
    try {
      const r = await sql<{ one: number }>`select 1 as one`.execute(database.db);
      expect(r.rows[0]?.one).toBe(1);
      const owner = await database.ownerSession((q) => q('select pg_is_in_recovery() as standby'));
      expect(owner[0]?.standby).toBe(false);
      expect(await resolvePrimaryUrl(url)).toBe(withHosts(hostPort));
    } finally {
      await database.close();
    }
  });

  it('drops a connection the server cut, without retrying the failed query, and finds the server again', async () => {
    const switches: string[] = [];
    const pool = new MultiHostPool(withHosts(`127.0.0.1:${await deadPort()},${hostPort}`), { max: 1, onSwitch: (h, reason) => switches.push(h ? `to ${h.port}` : reason) });
    pools.push(pool);
    const client = await pool.connect();
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    // An operator (or a dying server) ends the backend while a transaction holds it: the next
    // query on it fails, and is not repeated elsewhere.
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query('select pg_terminate_backend($1)', [pid]);
    await admin.end();
    await new Promise((r) => setTimeout(r, 200));
    const failed = await client.query('select 1').then(
      () => undefined,
      (err: unknown) => err,
    );
    client.release();
    expect(isDatabaseUnavailable(failed)).toBe(true);
    expect(pool.currentHost).toBeUndefined();
    // The next checkout connects afresh, to a new backend.
    const fresh = await pool.connect();
    const pid2 = (await fresh.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    fresh.release();
    expect(pid2).not.toBe(pid);
    expect(switches.filter((s) => s.startsWith('to ')).length).toBe(2);
  });

  it('fails fast with DatabaseUnavailableError when no host answers', async () => {
    const pool = new MultiHostPool(withHosts(`127.0.0.1:${await deadPort()},127.0.0.1:${await deadPort()}`), { max: 1 });
    pools.push(pool);
    await expect(pool.connect()).rejects.toBeInstanceOf(DatabaseUnavailableError);
  });
});
