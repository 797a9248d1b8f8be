/**
 * Backups (M11): create, list, verify, restore and prune, on PGlite and on PostgreSQL, against real
 * databases. The PostgreSQL tests dump scratch databases of their own (never the shared test
 * database), and the job test runs on a PGlite of its own (scheduled_jobs is global).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany } from './helpers/factories.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { openDatabase, pgliteParsers, wrapPglite } from '../src/platform/db/database.ts';
import { listMigrations, migrate } from '../src/platform/db/migrate.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { runDueJobs } from '../src/platform/jobs/jobs.ts';
import { backupJob } from '../src/modules/backup/backup.job.ts';
import { BackupError, createBackup, listBackups, pruneBackups, restoreBackup, signManifest, verifyBackup } from '../src/modules/backup/backup.service.ts';
import { Progress } from '../src/modules/backup/backup.progress.ts';
import { unsafeAfterRestore } from '../src/modules/backup/backup.restore.ts';
import { unsafePurgeCompany } from '../src/modules/termination/termination.service.ts';
import { contentCipher } from '../src/platform/storage/encryption.ts';

const pgUrl = inject('databaseUrl');
const lastMigration = listMigrations().at(-1)!.name;
const newKey = () => crypto.randomBytes(32).toString('base64');
const tmp = (label: string) => fs.mkdtempSync(path.join(os.tmpdir(), `samtale-backup-${label}-`));
const DAY = 86_400_000;

function configFor(env: Record<string, string>): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env });
}

/** A PGlite app of its own, also when the rest of the run uses PostgreSQL. */
async function pgliteApp(env: Record<string, string>): Promise<TestApp> {
  if (!pgUrl) return createTestApp(env);
  const pglite = await PGlite.create({ parsers: pgliteParsers });
  const database = wrapPglite(pglite);
  await migrate(database);
  return createTestApp(env, database);
}

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

function flipByte(file: string, at: number) {
  const b = fs.readFileSync(file);
  b[at] = b[at]! ^ 0x01;
  fs.writeFileSync(file, b);
}

describe('M11 backups on PGlite', { timeout: 120_000 }, () => {
  let t: TestApp;
  let backupDir: string;
  let key: string;
  let companyName: string;
  let keyEnv: Record<string, string>;
  beforeAll(async () => {
    backupDir = tmp('dir');
    key = newKey();
    // A key store of its own: re-applying tombstones must not touch other test files' companies.
    const keys = tmp('keys');
    cleanup.push(() => fs.rmSync(keys, { recursive: true, force: true }));
    keyEnv = { SAMTALE_KEY_DIR: path.join(keys, 'store'), SAMTALE_MASTER_KEY_FILE: path.join(keys, 'master.key') };
    t = await pgliteApp({ BACKUP_DIR: backupDir, BACKUP_KEY: key, ...keyEnv });
    cleanup.push(() => t.close(), () => fs.rmSync(backupDir, { recursive: true, force: true }));
    companyName = `Backup Probe ${crypto.randomUUID()}`;
    await createCompany(t.deps, { name: companyName });
  });

  it('create writes an encrypted 0600 file with a manifest; list shows it; verify restores it into a scratch database', async () => {
    const made = await createBackup(t.deps);
    const m = made.manifest;
    expect(m).toMatchObject({ formatVersion: 1, databaseKind: 'pglite', schemaVersion: lastMigration, compression: 'gzip', dumpFormat: 'pglite-datadir-tar' });
    expect(m.tables.companies!.rows).toBeGreaterThanOrEqual(1);
    expect(m.sha256).toBe(crypto.createHash('sha256').update(fs.readFileSync(made.path)).digest('hex'));
    expect(fs.statSync(made.path).size).toBe(m.bytes);
    expect(fs.statSync(made.path).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(backupDir, `${m.name}.manifest.json`)).mode & 0o777).toBe(0o600);
    // Encrypted: the company's name is nowhere in the file.
    expect(fs.readFileSync(made.path).includes(Buffer.from(companyName))).toBe(false);

    const before = listBackups(t.deps.config).find((b) => b.manifest.name === m.name);
    expect(before?.verified).toBeUndefined();
    const v = await verifyBackup(t.deps.config, undefined);
    expect(v.manifest.name).toBe(m.name);
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect(listBackups(t.deps.config).find((b) => b.manifest.name === m.name)?.verified?.ok).toBe(true);
  });

  it('a tampered backup file fails verify, and so does a manifest edited to match it', async () => {
    const made = await createBackup(t.deps);
    const copy = path.join(backupDir, 'tampered');
    fs.mkdirSync(copy);
    const cfg = configFor({ BACKUP_DIR: copy, BACKUP_KEY: key, SAMTALE_DATA_DIR: copy });
    const file = path.join(copy, made.manifest.file);
    fs.copyFileSync(made.path, file);
    const manifestFile = path.join(copy, `${made.manifest.name}.manifest.json`);
    fs.copyFileSync(path.join(backupDir, `${made.manifest.name}.manifest.json`), manifestFile);
    expect((await verifyBackup(cfg, made.manifest.file)).ok).toBe(true);

    flipByte(file, Math.floor(made.manifest.bytes / 2));
    const v = await verifyBackup(cfg, made.manifest.file);
    expect(v.ok).toBe(false);
    expect(v.problems.join(' ')).toMatch(/SHA-256/);
    expect(listBackups(cfg)[0]?.verified?.ok).toBe(false);

    // Someone fixes the checksum in the manifest too: its MAC gives it away.
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    manifest.sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    const v2 = await verifyBackup(cfg, made.manifest.file);
    expect(v2.ok).toBe(false);
    expect(v2.problems.join(' ')).toMatch(/manifest has been altered/);

    // A cut-off file fails too.
    fs.copyFileSync(made.path, file);
    fs.copyFileSync(path.join(backupDir, `${made.manifest.name}.manifest.json`), manifestFile);
    fs.truncateSync(file, made.manifest.bytes - 100);
    expect((await verifyBackup(cfg, made.manifest.file)).ok).toBe(false);
  });

  it('a wrong key fails clearly, before anything is decrypted', async () => {
    const cfg = configFor({ BACKUP_DIR: backupDir, BACKUP_KEY: newKey(), SAMTALE_DATA_DIR: backupDir });
    await expect(verifyBackup(cfg, undefined)).rejects.toThrow(/encrypted with another backup key/);
    const target = tmp('wrongkey');
    cleanup.push(() => fs.rmSync(target, { recursive: true, force: true }));
    await expect(restoreBackup(configFor({ BACKUP_DIR: backupDir, BACKUP_KEY: newKey(), SAMTALE_DATA_DIR: target }), listBackups(cfg)[0]!.path)).rejects.toMatchObject({ code: 'WRONG_KEY' });
    expect(fs.existsSync(path.join(target, 'pglite'))).toBe(false);
  });

  it('restore fills an empty data directory, refuses a non-empty one without force, and keeps the old data aside with force', async () => {
    const made = await createBackup(t.deps);
    const target = tmp('restore');
    cleanup.push(() => fs.rmSync(target, { recursive: true, force: true }));
    const cfg = configFor({ BACKUP_DIR: backupDir, BACKUP_KEY: key, SAMTALE_DATA_DIR: target });
    const first = await restoreBackup(cfg, made.path);
    expect(first).toMatchObject({ ok: true, problems: [], keptAside: undefined });

    await expect(restoreBackup(cfg, made.path)).rejects.toMatchObject({ code: 'TARGET_NOT_EMPTY' });
    const second = await restoreBackup(cfg, made.manifest.file, { force: true });
    expect(second.ok).toBe(true);
    expect(second.keptAside && fs.existsSync(second.keptAside)).toBe(true);

    // A backup from a newer release (a later migration) is refused before anything is touched.
    const newer = path.join(backupDir, 'newer');
    fs.mkdirSync(newer);
    fs.copyFileSync(made.path, path.join(newer, made.manifest.file));
    const { mac: _mac, ...body } = made.manifest;
    fs.writeFileSync(path.join(newer, `${made.manifest.name}.manifest.json`), JSON.stringify(signManifest(Buffer.from(key, 'base64'), { ...body, schemaVersion: '999_from_the_future' })));
    await expect(restoreBackup(configFor({ BACKUP_DIR: newer, BACKUP_KEY: key, SAMTALE_DATA_DIR: target }), made.manifest.file, { force: true })).rejects.toMatchObject({ code: 'NEWER_SCHEMA' });

    const database = await openDatabase({ dataDir: target });
    try {
      const names = await unsafeSystemTransaction(database, (trx) => trx.selectFrom('companies').select('name').execute());
      expect(names.map((n) => n.name)).toContain(companyName);
    } finally {
      await database.close();
    }
  });

  it('M16: a backup taken before a company was purged restores with the company but none of its files readable, and its tombstone purges it again', async () => {
    const victim = await createCompany(t.deps, { name: `Leaving ${crypto.randomUUID()}` });
    // A file of the company, sealed with its key as every upload is.
    const fileId = crypto.randomUUID();
    const at0 = { companyId: victim.companyId, fileId, seq: 0 };
    const sealed = await contentCipher.seal(at0, Buffer.from('Fortroligt referat fra sygefraværssamtalen'));
    await unsafeSystemTransaction(t.deps.database, async (trx) => {
      await trx
        .insertInto('files')
        .values({ id: fileId, company_id: victim.companyId, purpose: 'inbox', uploaded_by: victim.employee.employmentId, name: 'referat.txt', kind: 'txt', content_type: 'text/plain', size_bytes: 42, state: 'available' })
        .execute();
      await trx.insertInto('file_chunks').values({ company_id: victim.companyId, file_id: fileId, seq: 0, cipher: sealed.cipher, data: sealed.data }).execute();
    });
    const made = await createBackup(t.deps);
    const at = t.clock.now();
    await unsafePurgeCompany(t.deps, victim.companyId, { companyId: victim.companyId, requestedAt: new Date(at.getTime() - 14 * DAY).toISOString(), requestedBy: 'operator:backup-test', purgeAfter: at.toISOString(), purgedAt: null }, at);

    const target = tmp('tombstone');
    cleanup.push(() => fs.rmSync(target, { recursive: true, force: true }));
    const cfg = configFor({ BACKUP_DIR: backupDir, BACKUP_KEY: key, SAMTALE_DATA_DIR: target, ...keyEnv });
    const restored = await restoreBackup(cfg, made.path);
    expect(restored.ok).toBe(true);
    const database = await openDatabase({ dataDir: target });
    try {
      const ids = () => unsafeSystemTransaction(database, (trx) => trx.selectFrom('companies').select('id').execute()).then((r) => r.map((x) => x.id));
      expect(await ids()).toContain(victim.companyId);
      // The old backup still holds the company's file, but its key was destroyed with the purge:
      // nothing of it can be read any more, even before the tombstone is applied again.
      const chunk = await unsafeSystemTransaction(database, (trx) => trx.selectFrom('file_chunks').select(['cipher', 'data']).where('file_id', '=', fileId).executeTakeFirstOrThrow());
      expect(Buffer.from(chunk.data).toString('latin1')).not.toContain('Fortroligt');
      await expect(contentCipher.open(at0, chunk)).rejects.toThrow();
      const after = await unsafeAfterRestore({ ...t.deps, config: cfg, database }, restored.manifest);
      expect(after.repurged).toHaveLength(1);
      expect(after.repurged[0]).toContain(victim.companyId);
      const left = await ids();
      expect(left).not.toContain(victim.companyId);
      expect(left.length).toBeGreaterThan(0);
      const users = await unsafeSystemTransaction(database, (trx) => trx.selectFrom('users').select('id').where('id', '=', victim.admin.userId).execute());
      expect(users).toEqual([]);
      const restoredEvent = await unsafeSystemTransaction(database, (trx) => trx.selectFrom('audit_events').select('data').where('event_type', '=', 'platform.backup_restored').execute());
      expect(restoredEvent).toHaveLength(1);
      // Nothing more to do the second time (e.g. at the next start).
      expect((await unsafeAfterRestore({ ...t.deps, config: cfg, database }, restored.manifest)).repurged).toEqual([]);
    } finally {
      await database.close();
    }
  });

  it('prune removes backups older than 90 days by their manifest time and keeps newer ones; more than 90 days is refused', async () => {
    const dir = tmp('prune');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const deps = { ...t.deps, config: configFor({ BACKUP_DIR: dir, BACKUP_KEY: key, SAMTALE_DATA_DIR: dir }) };
    const start = t.clock.now();
    const old = await createBackup(deps);
    t.clock.advance(50 * DAY);
    const newer = await createBackup(deps);
    t.clock.advance(41 * DAY);
    expect(pruneBackups(deps.config, t.clock.now())).toEqual([old.manifest.name]);
    expect(fs.existsSync(old.path)).toBe(false);
    expect(fs.existsSync(path.join(dir, `${old.manifest.name}.manifest.json`))).toBe(false);
    expect(fs.existsSync(newer.path)).toBe(true);
    expect(listBackups(deps.config).map((b) => b.manifest.name)).toEqual([newer.manifest.name]);
    expect(new Date(newer.manifest.createdAt).getTime()).toBe(start.getTime() + 50 * DAY);
    expect(() => configFor({ BACKUP_RETENTION_DAYS: '91' })).toThrow(/at most 90/);
    expect(configFor({}).backup.retentionDays).toBe(90);
  });

  it('the daily job makes a backup once a day and prunes old ones', async () => {
    const dir = tmp('job');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const deps = { ...t.deps, config: configFor({ BACKUP_DIR: dir, BACKUP_KEY: key, SAMTALE_DATA_DIR: dir, BACKUP_RETENTION_DAYS: '2' }) };
    const first = await runDueJobs(deps, [backupJob]);
    expect(first).toMatchObject([{ name: 'backup.daily', ok: true }]);
    expect(await runDueJobs(deps, [backupJob])).toEqual([]);
    t.clock.advance(DAY);
    await runDueJobs(deps, [backupJob]);
    expect(listBackups(deps.config)).toHaveLength(2);
    t.clock.advance(2 * DAY);
    const third = await runDueJobs(deps, [backupJob]);
    expect((third[0]?.result as { pruned: string[] }).pruned).toHaveLength(1);
    expect(listBackups(deps.config)).toHaveLength(2);
    const events = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('event_type').where('event_type', 'in', ['platform.backup_created', 'platform.backups_pruned']).execute(),
    );
    expect(events.filter((e) => e.event_type === 'platform.backup_created').length).toBeGreaterThanOrEqual(3);

    // Backups off (production without BACKUP_DIR): the job fails loudly every day.
    t.clock.advance(DAY);
    const off = { ...deps, config: { ...deps.config, backup: { ...deps.config.backup, dir: undefined } } };
    expect(await runDueJobs(off, [backupJob])).toMatchObject([{ name: 'backup.daily', ok: false, error: 'BACKUP_OFF' }]);
  });

  it('progress shows bytes and percent on a terminal at most once a second, and only a final line elsewhere', () => {
    let now = 0;
    const lines: string[] = [];
    const tty = new Progress('restore', 4096, { isTTY: true, write: (s: string) => lines.push(s) }, () => now);
    now = 1000;
    tty.add(1024);
    now = 1500;
    tty.add(1024);
    now = 2100;
    tty.add(1024);
    tty.done();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('1.0 KiB of 4.0 KiB (25 %)');
    expect(lines[2]).toContain('3.0 KiB of 4.0 KiB (75 %), done');
    const logged: string[] = [];
    const quiet = new Progress('backup', undefined, { isTTY: false, write: (s: string) => logged.push(s) });
    quiet.add(10);
    quiet.add(10);
    quiet.done();
    expect(logged).toEqual(['backup: 20 B, done\n']);
  });

  it('the CLI refuses to open the embedded database unless told the server is stopped', async () => {
    const dir = tmp('cli-pglite');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const r = await cli(['backup', 'create'], { SAMTALE_DATA_DIR: dir, BACKUP_KEY: key });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--offline/);
    expect(fs.existsSync(path.join(dir, 'pglite'))).toBe(false);
  });
});

// --- PostgreSQL -----------------------------------------------------------------------------------

async function scratchDatabase(label: string): Promise<string> {
  const name = `samtale_bk_${label}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  cleanup.push(async () => {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });
  const u = new URL(pgUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|MIGRATION_DATABASE_URL|BACKUP_|SAMTALE_DATA_DIR|NODE_ENV)/.test(k)));
    const child = spawn('npx', ['tsx', 'src/main.ts', ...args], { env: { ...base, LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!pgUrl)('M11 backups on PostgreSQL', { timeout: 120_000 }, () => {
  let t: TestApp;
  let sourceUrl: string;
  let backupDir: string;
  let key: string;
  let companyName: string;
  beforeAll(async () => {
    sourceUrl = await scratchDatabase('src');
    backupDir = tmp('pgdir');
    key = newKey();
    const database = await openDatabase({ databaseUrl: sourceUrl, poolSize: 4 });
    await migrate(database);
    t = await createTestApp({ DATABASE_URL: sourceUrl, BACKUP_DIR: backupDir, BACKUP_KEY: key }, database);
    cleanup.push(() => t.close(), () => fs.rmSync(backupDir, { recursive: true, force: true }));
    companyName = `PG Backup Probe ${crypto.randomUUID()}`;
    await createCompany(t.deps, { name: companyName });
  });

  it('create (pg_dump) + list + verify in a scratch database that is dropped afterwards', async () => {
    const made = await createBackup(t.deps);
    expect(made.manifest).toMatchObject({ databaseKind: 'postgres', dumpFormat: 'pg_dump-custom', schemaVersion: lastMigration });
    expect(made.manifest.tables.companies!.rows).toBe(1);
    expect(fs.readFileSync(made.path).includes(Buffer.from(companyName))).toBe(false);
    expect(listBackups(t.deps.config).map((b) => b.manifest.name)).toContain(made.manifest.name);
    const v = await verifyBackup(t.deps.config, made.manifest.file);
    expect(v.problems).toEqual([]);
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    const left = await c.query("select count(*)::int as n from pg_database where datname like 'samtale_verify_%'");
    await c.end();
    expect(left.rows[0].n).toBe(0);
  });

  it('a backup made while another connection keeps inserting restores to exactly the counts and checksums in its manifest', async () => {
    const writer = new pg.Client({ connectionString: sourceUrl });
    await writer.connect();
    await writer.query('create table load_probe (id bigserial primary key, v text not null)');
    let stop = false;
    const loop = (async () => {
      let i = 0;
      while (!stop) await writer.query('insert into load_probe (v) values ($1), ($1), ($1)', [`row ${i++}`]);
    })();
    const count = async () => Number((await t.deps.database.ownerSession((q) => q('select count(*)::int as n from load_probe', [])))[0]!.n);
    await new Promise((r) => setTimeout(r, 200));
    const before = await count();
    const made = await createBackup(t.deps);
    const after = await count();
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await loop;
    const final = await count();
    await writer.end();

    const inDump = made.manifest.tables.load_probe!.rows;
    expect(before).toBeGreaterThan(0);
    expect(inDump).toBeGreaterThanOrEqual(before);
    expect(inDump).toBeLessThanOrEqual(after);
    // Rows kept arriving while the dump ran and after it: the snapshot left them out.
    expect(after).toBeGreaterThan(before);
    expect(final).toBeGreaterThan(inDump);
    const v = await verifyBackup(t.deps.config, made.manifest.file);
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);

    // And a real restore of it has exactly the manifest's rows.
    const targetUrl = await scratchDatabase('load');
    const r = await restoreBackup(configFor({ DATABASE_URL: targetUrl, BACKUP_DIR: backupDir, BACKUP_KEY: key }), made.path);
    expect(r.problems).toEqual([]);
    const c = new pg.Client({ connectionString: targetUrl });
    await c.connect();
    expect((await c.query('select count(*)::int as n from load_probe')).rows[0].n).toBe(inDump);
    await c.end();
    await t.deps.database.ownerSession((q) => q('drop table load_probe', []));
  });

  it('restore refuses a non-empty database without force; with force it restores and keeps the old schema aside; the app works on it', async () => {
    const made = await createBackup(t.deps);
    const targetUrl = await scratchDatabase('target');
    const cfg = configFor({ DATABASE_URL: targetUrl, BACKUP_DIR: backupDir, BACKUP_KEY: key });
    expect((await restoreBackup(cfg, made.path)).ok).toBe(true);
    await expect(restoreBackup(cfg, made.path)).rejects.toBeInstanceOf(BackupError);
    await expect(restoreBackup(cfg, made.path)).rejects.toMatchObject({ code: 'TARGET_NOT_EMPTY' });
    // Not under a running app: another open connection stops a restore over the data.
    const other = new pg.Client({ connectionString: targetUrl });
    await other.connect();
    await expect(restoreBackup(cfg, made.path, { force: true })).rejects.toMatchObject({ code: 'TARGET_IN_USE' });
    await other.end();
    const forced = await restoreBackup(cfg, made.path, { force: true });
    expect(forced.ok).toBe(true);
    expect(forced.keptAside).toMatch(/^public_before_restore_/);

    const database = await openDatabase({ databaseUrl: targetUrl, poolSize: 2 });
    try {
      expect(await migrate(database)).toEqual([]);
      const company = await unsafeSystemTransaction(database, (trx) => trx.selectFrom('companies').select(['id', 'name']).where('name', '=', companyName).executeTakeFirstOrThrow());
      // Row-level security and the grants came back with it: the tenant role sees its own company only.
      const seen = await withTenant(database, { companyId: company.id }, (trx) => trx.selectFrom('companies').select('id').execute());
      expect(seen.map((s) => s.id)).toEqual([company.id]);
      const none = await withTenant(database, {}, (trx) => trx.selectFrom('companies').select('id').execute());
      expect(none).toEqual([]);
    } finally {
      await database.close();
    }
    const c = new pg.Client({ connectionString: targetUrl });
    await c.connect();
    const schemas = await c.query("select nspname from pg_namespace where nspname like 'public_before_restore_%'");
    await c.end();
    expect(schemas.rows).toHaveLength(1);
  });

  it('an owner role without BYPASSRLS still dumps every tenant row (through samtale_system) and can verify and restore', async () => {
    const role = `samtale_bk_owner_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`create role ${role} login createdb nosuperuser nobypassrls; grant samtale_app, samtale_system, samtale_support to ${role} with admin option`);
    const dbName = `${role}_db`;
    await admin.query(`create database ${dbName} owner ${role}`);
    const restoreName = `${role}_restore`;
    await admin.query(`create database ${restoreName} owner ${role}`);
    cleanup.push(async () => {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`drop database if exists ${dbName} with (force)`);
      await c.query(`drop database if exists ${restoreName} with (force)`);
      await c.query(`drop role if exists ${role}`);
      await c.end();
    });
    await admin.end();
    const asRole = (db: string) => {
      const u = new URL(pgUrl);
      u.username = role;
      u.pathname = `/${db}`;
      return u.toString();
    };
    const database = await openDatabase({ databaseUrl: asRole(dbName), poolSize: 2 });
    let made: Awaited<ReturnType<typeof createBackup>>;
    try {
      await migrate(database);
      const deps = { ...t.deps, database, config: configFor({ DATABASE_URL: asRole(dbName), BACKUP_DIR: backupDir, BACKUP_KEY: key }) };
      await createCompany(deps, { name: 'Owner Role Probe' });
      // As the owner itself (forced row-level security) the tenant rows are invisible:
      const visible = await database.ownerSession((q) => q('select count(*)::int as n from companies', []));
      expect(visible[0]!.n).toBe(0);
      made = await createBackup(deps);
    } finally {
      await database.close();
    }
    expect(made.manifest.tables.companies!.rows).toBe(1);
    expect(made.manifest.tables.employments!.rows).toBeGreaterThan(0);
    const cfg = configFor({ DATABASE_URL: asRole(restoreName), BACKUP_DIR: backupDir, BACKUP_KEY: key });
    expect((await verifyBackup(cfg, made.manifest.file)).problems).toEqual([]);
    const restored = await restoreBackup(cfg, made.manifest.file);
    expect(restored.problems).toEqual([]);
    // The database owner may also put its old schema aside.
    const forced = await restoreBackup(cfg, made.manifest.file, { force: true });
    expect(forced.problems).toEqual([]);
    expect(forced.keptAside).toMatch(/^public_before_restore_/);
  });

  it('end to end through the CLI: backup create, list, verify, and restore refusing a non-empty database', async () => {
    const dir = tmp('cli');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const env = { DATABASE_URL: sourceUrl, BACKUP_DIR: path.join(dir, 'backups'), BACKUP_KEY: key, SAMTALE_DATA_DIR: dir };
    const created = await cli(['backup', 'create'], env);
    expect(created.stderr).toMatch(/backup: .*, written to/);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^Backup samtale-\d{8}T\d{6}Z-[0-9a-f]{6} written/);
    const listed = await cli(['backup', 'list'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/postgres\s+\d{3}_\w+\s+no/);
    const verified = await cli(['backup', 'verify'], env);
    expect(verified.stdout).toMatch(/^OK /);
    expect(verified.code).toBe(0);
    const name = listBackups(configFor(env))[0]!.manifest.file;
    const refused = await cli(['backup', 'restore', name], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not empty/);
    const targetEnv = { ...env, DATABASE_URL: await scratchDatabase('clitarget') };
    const restored = await cli(['backup', 'restore', name], targetEnv);
    expect(restored.stderr).toMatch(/restore: .* \(100 %\), done/);
    expect(restored.stdout).toMatch(/Restored samtale-.*row counts and checksums match/);
    expect(restored.stdout).toMatch(/No purged company was back/);
    expect(restored.code).toBe(0);
    const forced = await cli(['backup', 'restore', name, '--force'], targetEnv);
    expect(forced.stdout).toMatch(/kept aside as public_before_restore_/);
    expect(forced.code).toBe(0);
    const wrongKey = await cli(['backup', 'verify'], { ...env, BACKUP_KEY: newKey() });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/another backup key/);
  }, 300_000);
});

// --- P7: the CI audit step ------------------------------------------------------------------------

function auditScript(report: object, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const dir = tmp('audit');
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'report.json');
  fs.writeFileSync(file, JSON.stringify(report));
  return new Promise((resolve) => {
    const child = spawn('bash', ['scripts/audit.sh'], { env: { ...process.env, AUDIT_REPORT: file, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('P7 scripts/audit.sh fails CI on high or critical advisories in production dependencies', () => {
  const report = (high: number, critical: number) => ({
    auditReportVersion: 2,
    vulnerabilities: high + critical ? { 'some-lib': { severity: critical ? 'critical' : 'high', range: '<1.2.3' } } : {},
    metadata: { vulnerabilities: { info: 0, low: 1, moderate: 2, high, critical, total: 3 + high + critical } },
  });

  it('passes a report with only lower advisories, fails on high and on critical', async () => {
    expect(await auditScript(report(0, 0))).toMatchObject({ code: 0 });
    const high = await auditScript(report(1, 0));
    expect(high.code).toBe(1);
    expect(high.out).toMatch(/high\s+some-lib/);
    expect((await auditScript(report(0, 1))).code).toBe(1);
  });

  it('without a report (the endpoint answered 405) warns and passes, unless AUDIT_REQUIRED=true', async () => {
    const noReport = { message: '405 Method Not Allowed - POST https://registry.example/-/npm/v1/security/advisories/bulk', statusCode: 405 };
    const warned = await auditScript(noReport);
    expect(warned.code).toBe(0);
    expect(warned.out).toMatch(/WARNING.*405 Method Not Allowed.*NOT checked/);
    const required = await auditScript(noReport, { AUDIT_REQUIRED: 'true' });
    expect(required.code).toBe(1);
    expect(required.out).toMatch(/FAILED/);
  });
});
