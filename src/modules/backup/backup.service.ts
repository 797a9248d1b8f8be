/**
 * Backups (M11): create, list, verify, restore and prune encrypted database backups.
 *
 * PostgreSQL: `pg_dump --format=custom` streamed through gzip and the framed AES-256-GCM encryption
 * (backup.crypto.ts) into BACKUP_DIR, never whole in memory. The dump is taken from a snapshot that
 * this module exports from its own REPEATABLE READ transaction (`pg_export_snapshot()`); the
 * manifest's row counts and per-table checksums are computed in that same transaction, so they
 * describe exactly the rows in the dump even while the app keeps writing.
 * PGlite: the data directory dump of the open instance, taken while this module holds PGlite's only
 * connection (no transaction of the app is half-way), through the same gzip + encryption.
 *
 * Next to each `<name>.sbk` lies `<name>.manifest.json` (format, time, database kind, schema
 * version, sizes, SHA-256 of the encrypted file, rows and checksum per table, and a MAC under the
 * backup key) and, once verified, `<name>.verified.json`.
 *
 * The dump role must see every row: a superuser or a BYPASSRLS role; otherwise pg_dump and the
 * checksums run as samtale_system (`--role`), which migration 023 lets read every table.
 */
import { isMultiHostUrl, resolvePrimaryUrl } from '../../platform/db/multi-host.ts';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Readable, Writable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import pg from 'pg';
import type { Config } from '../../config.ts';
import type { Database } from '../../platform/db/database.ts';
import { listMigrations } from '../../platform/db/migrate.ts';
import { BackupError, DecryptStream, EncryptStream, keyId, loadBackupKey, manifestMac, readKeyId } from './backup.crypto.ts';
import { Progress, type ProgressSink } from './backup.progress.ts';

export { BackupError } from './backup.crypto.ts';

export const FORMAT_VERSION = 1;
const SUFFIX = '.sbk';

export type TableStat = { rows: number; checksum: string };

export type Manifest = {
  formatVersion: number;
  name: string;
  file: string;
  createdAt: string;
  databaseKind: 'postgres' | 'pglite';
  dumpFormat: 'pg_dump-custom' | 'pglite-datadir-tar';
  compression: 'gzip';
  encryption: 'aes-256-gcm-frames-v1';
  keyId: string;
  schemaVersion: string | null;
  plainBytes: number;
  bytes: number;
  sha256: string;
  tables: Record<string, TableStat>;
  mac: string;
};

export type VerifyRecord = { at: string; ok: boolean; problems: string[] };

export type BackupInfo = { manifest: Manifest; path: string; verified: VerifyRecord | undefined };

type Q = (sqlText: string) => Promise<Record<string, unknown>[]>;

type Opts = { progress?: ProgressSink | undefined };

// --- helpers ------------------------------------------------------------------------------------

export function backupDir(config: Config): string {
  const dir = config.backup.dir;
  if (!dir) throw new BackupError('BACKUP_OFF', 'Backups are off: set BACKUP_DIR (a separate disk or remote mount) and BACKUP_KEY or BACKUP_KEY_FILE.');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function canonical(m: Omit<Manifest, 'mac'>): string {
  const { formatVersion, name, file, createdAt, databaseKind, dumpFormat, compression, encryption, keyId: kid, schemaVersion, plainBytes, bytes, sha256, tables } = m;
  const sortedTables = Object.fromEntries(Object.keys(tables).sort().map((k) => [k, tables[k]]));
  return JSON.stringify({ formatVersion, name, file, createdAt, databaseKind, dumpFormat, compression, encryption, keyId: kid, schemaVersion, plainBytes, bytes, sha256, tables: sortedTables });
}

/** The manifest with its MAC under the backup key. */
export function signManifest(key: Buffer, body: Omit<Manifest, 'mac'>): Manifest {
  return { ...body, mac: manifestMac(key, canonical(body)) };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Rows and an order-independent checksum per table: the sums of two 60-bit slices of each row's
 * md5 (of its text form, with the session's time zone and formats pinned). Constant memory.
 */
export async function tableStats(q: Q): Promise<Record<string, TableStat>> {
  const tables = await q(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') order by c.relname`,
  );
  const out: Record<string, TableStat> = {};
  for (const t of tables) {
    const name = String(t.name);
    const [r] = await q(
      `select count(*)::bigint as rows,
              coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint), 0)::text as a,
              coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint), 0)::text as b
         from (select md5(t::text) as h from ${quoteIdent(name)} t) s`,
    );
    out[name] = { rows: Number(r!.rows), checksum: `${String(r!.a)}.${String(r!.b)}` };
  }
  return out;
}

const PIN_SETTINGS = `set local timezone = 'UTC'; set local datestyle = 'ISO, MDY'; set local intervalstyle = 'postgres'; set local extra_float_digits = 1; set local bytea_output = 'hex'`;

/** PG_BIN's tool, else Debian's PostgreSQL 15 one, else the bare name (the system finds it on PATH). */
function binary(config: Config, name: 'pg_dump' | 'pg_restore'): string {
  if (config.backup.pgBin) return path.join(config.backup.pgBin, name);
  const debian = path.join('/usr/lib/postgresql/15/bin', name);
  return fs.existsSync(debian) ? debian : name;
}

/** libpq connection for a child process: the password goes in the environment, not the command line. */
function pgTarget(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { dbname: u.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

/** The owner role's URL, with a single host: on a replicated cluster (M11) the current primary's. */
async function ownerUrl(config: Config): Promise<string> {
  const url = config.migrationDatabaseUrl ?? config.databaseUrl;
  if (!url) throw new BackupError('NO_DATABASE', 'This needs PostgreSQL: set DATABASE_URL (and MIGRATION_DATABASE_URL for the owner role).');
  return isMultiHostUrl(url) ? resolvePrimaryUrl(url) : url;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs a PostgreSQL tool; resolves when it exits 0, rejects with its last stderr lines otherwise. */
function toolDone(child: ChildProcess, tool: string): Promise<void> {
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString('utf8')).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new BackupError('TOOL_FAILED', `${tool} could not be started (${(e as NodeJS.ErrnoException).code ?? e.message}); set PG_BIN to the directory holding it.`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new BackupError('TOOL_FAILED', `${tool} failed (exit ${code}): ${err.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

async function pgClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Opens a read-only snapshot transaction that sees every row (superuser, BYPASSRLS, or samtale_system). */
async function beginAllRows(client: pg.Client, readOnly: boolean): Promise<{ role: string | undefined }> {
  await client.query(`begin isolation level repeatable read${readOnly ? ' read only' : ''}`);
  await client.query(PIN_SETTINGS);
  const r = await client.query('select rolsuper or rolbypassrls as bypass from pg_roles where rolname = current_user');
  const bypass = Boolean(r.rows[0]?.bypass);
  if (!bypass) await client.query('set local role samtale_system');
  return { role: bypass ? undefined : 'samtale_system' };
}

function clientQ(client: pg.Client): Q {
  return async (sqlText) => (await client.query(sqlText)).rows as Record<string, unknown>[];
}

async function schemaVersionOf(q: Q): Promise<string | null> {
  const exists = await q(`select to_regclass('public.schema_migrations') is not null as ok`);
  if (!exists[0]?.ok) return null;
  const rows = await q('select name from schema_migrations order by name desc limit 1');
  return rows[0] ? String(rows[0].name) : null;
}

class Hasher extends Transform {
  hash = crypto.createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

// --- create -------------------------------------------------------------------------------------

export type CreateDeps = { config: Config; database: Database; clock: { now(): Date } };

export async function createBackup(deps: CreateDeps, opts: Opts = {}): Promise<BackupInfo> {
  const { config, database } = deps;
  const dir = backupDir(config);
  const key = loadBackupKey(config);
  const createdAt = deps.clock.now();
  const name = `samtale-${stamp(createdAt)}-${crypto.randomBytes(3).toString('hex')}`;
  const file = `${name}${SUFFIX}`;
  const finalPath = path.join(dir, file);
  const partial = `${finalPath}.partial`;
  const progress = new Progress('backup', undefined, opts.progress);
  const hasher = new Hasher();
  let plainBytes = 0;
  const plainCounter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      plainBytes += chunk.length;
      progress.add(chunk.length);
      cb(null, chunk);
    },
  });
  const sink = () => [zlib.createGzip({ level: 6 }), new EncryptStream(key), hasher, fs.createWriteStream(partial, { mode: 0o600 })] as const;

  let tables: Record<string, TableStat>;
  let schemaVersion: string | null;
  let dumpFormat: Manifest['dumpFormat'];
  try {
    if (database.kind === 'postgres') {
      dumpFormat = 'pg_dump-custom';
      const url = await ownerUrl(config);
      const client = await pgClient(url);
      try {
        const { role } = await beginAllRows(client, true);
        const snap = String((await client.query('select pg_export_snapshot() as s')).rows[0].s);
        const target = pgTarget(url);
        const child = spawn(binary(config, 'pg_dump'), ['--format=custom', '--compress=0', `--snapshot=${snap}`, '--no-password', ...(role ? [`--role=${role}`] : []), `--dbname=${target.dbname}`], {
          env: target.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const exited = toolDone(child, 'pg_dump');
        exited.catch(() => {});
        try {
          // The counts run in the exporting transaction while pg_dump reads the same snapshot.
          const [stats] = await Promise.all([
            (async () => {
              const q = clientQ(client);
              return { tables: await tableStats(q), version: await schemaVersionOf(q) };
            })(),
            pipeline(child.stdout!, plainCounter, ...sink()).then(() => exited),
          ]);
          tables = stats.tables;
          schemaVersion = stats.version;
        } catch (err) {
          if (child.exitCode === null) child.kill();
          throw err;
        }
        await client.query('commit');
      } finally {
        await client.end().catch(() => {});
      }
    } else {
      dumpFormat = 'pglite-datadir-tar';
      const pglite = database.pglite;
      if (!pglite) throw new BackupError('NO_DATABASE', 'The embedded database is not open.');
      // Holding PGlite's only connection: no app transaction runs while the counts and dump are taken.
      const taken = await database.ownerSession(async (q) => {
        await q('begin');
        try {
          await q(PIN_SETTINGS);
          const qq: Q = (s) => q(s, []);
          const t = await tableStats(qq);
          const v = await schemaVersionOf(qq);
          await q('commit');
          return { t, v, blob: await pglite.dumpDataDir('none') };
        } catch (err) {
          await q('rollback').catch(() => {});
          throw err;
        }
      });
      tables = taken.t;
      schemaVersion = taken.v;
      await pipeline(Readable.fromWeb(taken.blob.stream() as never), plainCounter, ...sink());
    }
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw err;
  }
  progress.done(`written to ${finalPath}`);
  const body: Omit<Manifest, 'mac'> = {
    formatVersion: FORMAT_VERSION,
    name,
    file,
    createdAt: createdAt.toISOString(),
    databaseKind: database.kind,
    dumpFormat,
    compression: 'gzip',
    encryption: 'aes-256-gcm-frames-v1',
    keyId: keyId(key),
    schemaVersion,
    plainBytes,
    bytes: hasher.bytes,
    sha256: hasher.hash.digest('hex'),
    tables,
  };
  const manifest = signManifest(key, body);
  fs.writeFileSync(path.join(dir, `${name}.manifest.json`), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(partial, finalPath);
  return { manifest, path: finalPath, verified: undefined };
}

// --- list ---------------------------------------------------------------------------------------

export function listBackups(config: Config): BackupInfo[] {
  const dir = backupDir(config);
  const out: BackupInfo[] = [];
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.manifest.json')) continue;
    let manifest: Manifest;
    try {
      manifest = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Manifest;
    } catch {
      continue;
    }
    if (typeof manifest.name !== 'string' || typeof manifest.createdAt !== 'string') continue;
    const vf = path.join(dir, `${manifest.name}.verified.json`);
    let verified: VerifyRecord | undefined;
    try {
      verified = fs.existsSync(vf) ? (JSON.parse(fs.readFileSync(vf, 'utf8')) as VerifyRecord) : undefined;
    } catch {
      verified = undefined;
    }
    out.push({ manifest, path: path.join(dir, path.basename(String(manifest.file))), verified });
  }
  return out.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt));
}

/** The backup at FILE (a path, a file name in BACKUP_DIR, or a backup name), or the newest. */
export function findBackup(config: Config, file?: string): { manifest: Manifest; path: string } {
  if (!file) {
    const newest = listBackups(config)[0];
    if (!newest) throw new BackupError('NOT_FOUND', `No backups in ${backupDir(config)}.`);
    return newest;
  }
  const candidates = [file, path.join(config.backup.dir ?? '.', file), path.join(config.backup.dir ?? '.', `${file}${SUFFIX}`)];
  const found = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
  if (!found) throw new BackupError('NOT_FOUND', `No backup file ${file}.`);
  const manifestPath = found.replace(/\.sbk$/, '') + '.manifest.json';
  if (!fs.existsSync(manifestPath)) throw new BackupError('NOT_FOUND', `The manifest ${path.basename(manifestPath)} is missing next to ${path.basename(found)}.`);
  return { manifest: JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Manifest, path: found };
}

// --- checks shared by verify and restore --------------------------------------------------------

/** Key, manifest MAC and SHA-256 of the encrypted file: nothing is decrypted before these pass. */
async function checkFile(key: Buffer, b: { manifest: Manifest; path: string }, opts: Opts): Promise<void> {
  const fileKeyId = readKeyId(b.path);
  if (fileKeyId !== keyId(key)) {
    throw new BackupError('WRONG_KEY', `This backup was encrypted with another backup key (key id ${fileKeyId}; the configured key has id ${keyId(key)}).`);
  }
  const { mac, ...body } = b.manifest;
  if (typeof mac !== 'string' || manifestMac(key, canonical(body)) !== mac) {
    throw new BackupError('TAMPERED', 'The manifest has been altered (its MAC does not match).');
  }
  const progress = new Progress('checksum', b.manifest.bytes, opts.progress);
  const hasher = new Hasher();
  await pipeline(fs.createReadStream(b.path), progress.counter(), hasher, new Writable({ write: (_c, _e, cb) => cb() }));
  progress.done();
  if (hasher.bytes !== b.manifest.bytes || hasher.hash.digest('hex') !== b.manifest.sha256) {
    throw new BackupError('TAMPERED', 'The backup file does not match its manifest (size or SHA-256): it is damaged or has been altered.');
  }
}

function plainStream(key: Buffer, b: { manifest: Manifest; path: string }, progress: Progress): Readable {
  const out = new Transform({ transform: (c: Buffer, _e, cb) => cb(null, c) });
  pipeline(fs.createReadStream(b.path), progress.counter(), new DecryptStream(key), zlib.createGunzip(), out).catch((err: unknown) => out.destroy(err as Error));
  return out;
}

async function plainBuffer(key: Buffer, b: { manifest: Manifest; path: string }, progress: Progress): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(plainStream(key, b, progress), new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }));
  return Buffer.concat(parts);
}

export function compareStats(expected: Record<string, TableStat>, actual: Record<string, TableStat>): string[] {
  const problems: string[] = [];
  for (const [t, e] of Object.entries(expected)) {
    const a = actual[t];
    if (!a) problems.push(`table ${t} is missing`);
    else if (a.rows !== e.rows) problems.push(`table ${t}: ${a.rows} rows, manifest says ${e.rows}`);
    else if (a.checksum !== e.checksum) problems.push(`table ${t}: checksum differs from the manifest`);
  }
  for (const t of Object.keys(actual)) if (!expected[t]) problems.push(`table ${t} is not in the manifest`);
  return problems;
}

async function pgRestore(config: Config, key: Buffer, b: { manifest: Manifest; path: string }, url: string, progress: Progress): Promise<void> {
  const target = pgTarget(url);
  const child = spawn(binary(config, 'pg_restore'), ['--no-owner', '--exit-on-error', '--single-transaction', '--no-password', `--dbname=${target.dbname}`], {
    env: target.env,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const exited = toolDone(child, 'pg_restore');
  exited.catch(() => {});
  await Promise.all([pipeline(plainStream(key, b, progress), child.stdin!), exited]);
}

async function statsOfPostgres(url: string): Promise<{ tables: Record<string, TableStat>; version: string | null }> {
  const client = await pgClient(url);
  try {
    await beginAllRows(client, true);
    const q = clientQ(client);
    const tables = await tableStats(q);
    const version = await schemaVersionOf(q);
    await client.query('commit');
    return { tables, version };
  } finally {
    await client.end().catch(() => {});
  }
}

async function statsOfPglite(pglite: import('@electric-sql/pglite').PGlite): Promise<{ tables: Record<string, TableStat>; version: string | null }> {
  await pglite.exec('begin');
  await pglite.exec(PIN_SETTINGS);
  const q: Q = async (s) => (await pglite.query(s)).rows as Record<string, unknown>[];
  const tables = await tableStats(q);
  const version = await schemaVersionOf(q);
  await pglite.exec('commit');
  return { tables, version };
}

// --- verify -------------------------------------------------------------------------------------

export type VerifyResult = { manifest: Manifest; path: string; ok: boolean; problems: string[] };

/**
 * Restores a backup into a scratch database (PostgreSQL: a temporary database on the same server,
 * dropped after; PGlite: an in-memory instance) and compares it with the manifest.
 */
export async function verifyBackup(config: Config, file: string | undefined, opts: Opts = {}): Promise<VerifyResult> {
  const key = loadBackupKey(config);
  const b = findBackup(config, file);
  const problems: string[] = [];
  try {
    await checkFile(key, b, opts);
    const progress = new Progress('restore into scratch database', b.manifest.bytes, opts.progress);
    let got: { tables: Record<string, TableStat>; version: string | null };
    if (b.manifest.databaseKind === 'postgres') {
      const url = await ownerUrl(config);
      const scratch = `samtale_verify_${Date.now()}_${crypto.randomBytes(3).toString('hex')}`;
      const admin = await pgClient(url);
      try {
        try {
          await admin.query(`create database ${scratch}`);
        } catch (err) {
          throw new BackupError('NO_DATABASE', `Cannot create a scratch database to verify in (${(err as Error).message}); the database role needs CREATEDB.`);
        }
        try {
          await pgRestore(config, key, b, withDatabase(url, scratch), progress);
          got = await statsOfPostgres(withDatabase(url, scratch));
        } finally {
          await admin.query(`drop database if exists ${scratch} with (force)`).catch(() => {});
        }
      } finally {
        await admin.end().catch(() => {});
      }
    } else {
      const data = await plainBuffer(key, b, progress);
      const { PGlite } = await import('@electric-sql/pglite');
      const pglite = await PGlite.create({ loadDataDir: new Blob([new Uint8Array(data)]) });
      try {
        got = await statsOfPglite(pglite);
      } finally {
        await pglite.close();
      }
    }
    progress.done();
    problems.push(...compareStats(b.manifest.tables, got.tables));
    if (got.version !== b.manifest.schemaVersion) problems.push(`schema version ${got.version} differs from the manifest's ${b.manifest.schemaVersion}`);
  } catch (err) {
    if (err instanceof BackupError && err.code !== 'TAMPERED' && err.code !== 'BAD_FILE' && err.code !== 'TOOL_FAILED') throw err;
    problems.push(err instanceof Error ? err.message : String(err));
  }
  const record: VerifyRecord = { at: new Date().toISOString(), ok: problems.length === 0, problems };
  if (config.backup.dir && path.dirname(path.resolve(b.path)) === path.resolve(config.backup.dir)) {
    fs.writeFileSync(path.join(config.backup.dir, `${b.manifest.name}.verified.json`), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  }
  return { manifest: b.manifest, path: b.path, ok: record.ok, problems };
}

// --- restore ------------------------------------------------------------------------------------

export type RestoreResult = { manifest: Manifest; ok: boolean; problems: string[]; keptAside: string | undefined };

/**
 * Restores FILE into the configured database. A target with tables (PostgreSQL) or a non-empty
 * data directory (PGlite) is refused unless `force`; with `force` the old data is kept aside (the
 * schema renamed to public_before_restore_<time>, or the directory renamed), never deleted.
 * The app must be stopped while this runs.
 */
export async function restoreBackup(config: Config, file: string, opts: Opts & { force?: boolean; now?: Date } = {}): Promise<RestoreResult> {
  const key = loadBackupKey(config);
  const b = findBackup(config, file);
  const kind: Manifest['databaseKind'] = config.databaseUrl ? 'postgres' : 'pglite';
  if (b.manifest.databaseKind !== kind) {
    throw new BackupError('KIND_MISMATCH', `This is a ${b.manifest.databaseKind} backup; the configured database is ${kind}.`);
  }
  const known = listMigrations().at(-1)?.name;
  if (b.manifest.schemaVersion && known && b.manifest.schemaVersion > known) {
    // The code would run on tables it does not know; restore with the release that made it.
    throw new BackupError('NEWER_SCHEMA', `This backup has schema ${b.manifest.schemaVersion}, newer than this release knows (${known}); restore it with a newer Samtale.`);
  }
  await checkFile(key, b, opts);
  const progress = new Progress('restore', b.manifest.bytes, opts.progress);
  const when = stamp(opts.now ?? new Date()).toLowerCase();
  let keptAside: string | undefined;
  let got: { tables: Record<string, TableStat>; version: string | null };
  if (kind === 'postgres') {
    const url = await ownerUrl(config);
    const client = await pgClient(url);
    try {
      const [r] = (await client.query(`select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'S')`)).rows;
      if (Number(r.n) > 0) {
        if (!opts.force) throw new BackupError('TARGET_NOT_EMPTY', 'The target database is not empty; stop the app and pass --force to restore over it (the current data is kept aside, not deleted).');
        const [busy] = (await client.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`)).rows;
        if (Number(busy.n) > 0) {
          throw new BackupError('TARGET_IN_USE', `${busy.n} other connection(s) are open to the target database: stop every app node (and other clients) before restoring over it.`);
        }
        keptAside = `public_before_restore_${when}`;
        await client.query(`alter schema public rename to ${keptAside}; create schema public;`);
      }
      try {
        await pgRestore(config, key, b, url, progress);
      } catch (err) {
        if (keptAside) await client.query(`drop schema public cascade; alter schema ${keptAside} rename to public;`).catch(() => {});
        throw err;
      }
    } finally {
      await client.end().catch(() => {});
    }
    got = await statsOfPostgres(url);
  } else {
    const dir = path.join(config.dataDir, 'pglite');
    if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
      if (!opts.force) throw new BackupError('TARGET_NOT_EMPTY', `The embedded database ${dir} is not empty; stop the app and pass --force to restore over it (the current data is kept aside, not deleted).`);
      keptAside = `${dir}.before-restore-${when}`;
      fs.renameSync(dir, keptAside);
    }
    try {
      const data = await plainBuffer(key, b, progress);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { PGlite } = await import('@electric-sql/pglite');
      const pglite = await PGlite.create({ dataDir: dir, loadDataDir: new Blob([new Uint8Array(data)]) });
      try {
        got = await statsOfPglite(pglite);
      } finally {
        await pglite.close();
      }
    } catch (err) {
      if (keptAside) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(keptAside, dir);
      }
      throw err;
    }
  }
  progress.done();
  const problems = compareStats(b.manifest.tables, got.tables);
  return { manifest: b.manifest, ok: problems.length === 0, problems, keptAside };
}

// --- prune --------------------------------------------------------------------------------------

/** Removes backups older than BACKUP_RETENTION_DAYS (by the manifest's time), and stale partial files. */
export function pruneBackups(config: Config, now: Date): string[] {
  const dir = backupDir(config);
  const cutoff = now.getTime() - config.backup.retentionDays * 86_400_000;
  const removed: string[] = [];
  for (const b of listBackups(config)) {
    if (new Date(b.manifest.createdAt).getTime() >= cutoff) continue;
    for (const f of [b.manifest.file, `${b.manifest.name}.manifest.json`, `${b.manifest.name}.verified.json`]) fs.rmSync(path.join(dir, path.basename(f)), { force: true });
    removed.push(b.manifest.name);
  }
  for (const f of fs.readdirSync(dir)) {
    // A backup cut off by a crash leaves a .partial file; one older than a day is abandoned.
    if (!f.endsWith('.partial')) continue;
    const p = path.join(dir, f);
    if (fs.statSync(p).mtimeMs < Date.now() - 86_400_000) fs.rmSync(p, { force: true });
  }
  return removed;
}
