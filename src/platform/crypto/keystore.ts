/**
 * The key store (issue 6, M16): wrapped data keys and the tombstones of purged companies, kept
 * SEPARATE from the data, so a data backup never holds the keys that open it and the records of
 * what was purged survive the restore of an old data backup.
 *
 * Two implementations behind one interface:
 * - DirectoryKeyStore: one JSON file per key and per tombstone in a directory (mode 0700, files
 *   0600). The default for one app node with the embedded database. Writes are atomic (write a
 *   temporary file, then link or rename), so a crash never leaves half a key.
 * - PostgresKeyStore: two tables in a database of its own (KEYSTORE_DATABASE_URL), for several
 *   app nodes; never the application's database.
 *
 * Only wrapped keys are stored (AES-256-GCM under the master key, keyring.ts); the store alone
 * cannot open anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type WrappedKey = {
  /** 'platform' or 'company-<uuid>'. */
  keyId: string;
  /** The data key's version (ciphertexts name it). */
  version: number;
  /** Which master key wrapped it (a fingerprint, never the key). */
  masterKeyId: string;
  /** base64 of iv (12) | tag (16) | wrapped key (32). */
  wrapped: string;
  createdAt: string;
  rewrappedAt: string | null;
};

/** The operator's record of a company that was (or is being) purged. No name, no personal data. */
export type Tombstone = {
  companyId: string;
  /** When termination was asked for, and by whom ('company_admin:<employment id>', 'operator:<name>'). */
  requestedAt: string;
  requestedBy: string;
  /** The day the purge became due (14 days after the request). */
  purgeAfter: string;
  /** Set when the purge finished; null while it is under way. */
  purgedAt: string | null;
  /** Last time reapplyTombstones found rows of this company again (an old backup restored). */
  reappliedAt?: string | null | undefined;
};

export interface KeyStore {
  readonly kind: 'directory' | 'postgres';
  /** Where it is, for `keys status` (never a password). */
  describe(): string;
  /** The wrapped key, 'destroyed' when it was destroyed, undefined when it never existed. */
  get(keyId: string): Promise<WrappedKey | 'destroyed' | undefined>;
  /** Stores a new key unless one exists (then returns that one: the first writer wins). Throws KeyDestroyedError for a destroyed key. */
  create(key: WrappedKey): Promise<WrappedKey>;
  /** Replaces a key's wrapping if it is still wrapped by `expectedMasterKeyId` (rotation). */
  rewrap(key: WrappedKey, expectedMasterKeyId: string): Promise<boolean>;
  /** Forgets the key for good and remembers that it was destroyed (so it is never made again). */
  destroy(keyId: string, at: Date): Promise<void>;
  list(): Promise<WrappedKey[]>;
  destroyedIds(): Promise<string[]>;
  putTombstone(t: Tombstone): Promise<void>;
  tombstones(): Promise<Tombstone[]>;
  close(): Promise<void>;
}

export class KeyDestroyedError extends Error {
  constructor(keyId: string) {
    super(`the data key ${keyId} was destroyed`);
    this.name = 'KeyDestroyedError';
  }
}

const KEY_ID = /^(platform|company-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function assertKeyId(keyId: string): void {
  if (!KEY_ID.test(keyId)) throw new Error(`invalid key id: ${keyId}`);
}

function writeAtomic(file: string, content: string, exclusive: boolean): boolean {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  try {
    if (exclusive) {
      try {
        fs.linkSync(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
    } else {
      fs.renameSync(tmp, file);
    }
    return true;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export class DirectoryKeyStore implements KeyStore {
  readonly kind = 'directory' as const;
  private readonly keys: string;
  private readonly graves: string;

  constructor(private readonly dir: string) {
    this.keys = path.join(dir, 'keys');
    this.graves = path.join(dir, 'tombstones');
    for (const d of [dir, this.keys, this.graves]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  describe(): string {
    return `directory ${this.dir}`;
  }

  private keyFile(keyId: string): string {
    assertKeyId(keyId);
    return path.join(this.keys, `${keyId}.json`);
  }

  private destroyedMarker(keyId: string): string {
    assertKeyId(keyId);
    return path.join(this.keys, `${keyId}.destroyed`);
  }

  async get(keyId: string): Promise<WrappedKey | 'destroyed' | undefined> {
    // The marker wins over a key file (a create racing with a destroy).
    if (fs.existsSync(this.destroyedMarker(keyId))) return 'destroyed';
    return readJson<WrappedKey>(this.keyFile(keyId));
  }

  async create(key: WrappedKey): Promise<WrappedKey> {
    const file = this.keyFile(key.keyId);
    if (fs.existsSync(this.destroyedMarker(key.keyId))) throw new KeyDestroyedError(key.keyId);
    if (writeAtomic(file, JSON.stringify(key), true)) {
      if (fs.existsSync(this.destroyedMarker(key.keyId))) {
        fs.rmSync(file, { force: true });
        throw new KeyDestroyedError(key.keyId);
      }
      return key;
    }
    const existing = readJson<WrappedKey>(file);
    if (!existing) throw new Error(`key ${key.keyId} vanished while it was created`);
    return existing;
  }

  async rewrap(key: WrappedKey, expectedMasterKeyId: string): Promise<boolean> {
    const file = this.keyFile(key.keyId);
    const current = readJson<WrappedKey>(file);
    if (!current || current.masterKeyId !== expectedMasterKeyId) return false;
    writeAtomic(file, JSON.stringify(key), false);
    return true;
  }

  async destroy(keyId: string, at: Date): Promise<void> {
    const file = this.keyFile(keyId);
    writeAtomic(path.join(this.keys, `${keyId}.destroyed`), JSON.stringify({ keyId, destroyedAt: at.toISOString() }), false);
    fs.rmSync(file, { force: true });
  }

  async list(): Promise<WrappedKey[]> {
    return fs
      .readdirSync(this.keys)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readJson<WrappedKey>(path.join(this.keys, f)))
      .filter((k): k is WrappedKey => k !== undefined)
      .sort((a, b) => a.keyId.localeCompare(b.keyId));
  }

  async destroyedIds(): Promise<string[]> {
    return fs
      .readdirSync(this.keys)
      .filter((f) => f.endsWith('.destroyed'))
      .map((f) => f.slice(0, -'.destroyed'.length))
      .sort();
  }

  async putTombstone(t: Tombstone): Promise<void> {
    if (!UUID.test(t.companyId)) throw new Error('invalid company id');
    writeAtomic(path.join(this.graves, `${t.companyId}.json`), JSON.stringify(t), false);
  }

  async tombstones(): Promise<Tombstone[]> {
    return fs
      .readdirSync(this.graves)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readJson<Tombstone>(path.join(this.graves, f)))
      .filter((t): t is Tombstone => t !== undefined)
      .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  async close(): Promise<void> {}
}

export class PostgresKeyStore implements KeyStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;

  constructor(private readonly url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 3, idleTimeoutMillis: 10_000, allowExitOnIdle: true });
    this.pool.on('error', () => {});
  }

  /** Two nodes starting at once must not race on CREATE TABLE: an advisory lock serialises them. */
  private async createTables(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      await client.query("select pg_advisory_xact_lock(hashtext('samtale_keystore_schema'))");
      await client.query(
        `create table if not exists samtale_wrapped_keys (
           key_id text primary key, version int not null, master_key_id text, wrapped text,
           created_at timestamptz not null, rewrapped_at timestamptz, destroyed_at timestamptz)`,
      );
      await client.query('create table if not exists samtale_tombstones (company_id uuid primary key, record jsonb not null)');
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  describe(): string {
    const u = new URL(this.url);
    return `postgres ${u.hostname}:${u.port || '5432'}${u.pathname}`;
  }

  private async q(text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    this.ready ??= this.createTables().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    await this.ready;
    return (await this.pool.query(text, params)).rows as Record<string, unknown>[];
  }

  private static row(r: Record<string, unknown>): WrappedKey {
    return {
      keyId: String(r.key_id),
      version: Number(r.version),
      masterKeyId: String(r.master_key_id),
      wrapped: String(r.wrapped),
      createdAt: new Date(r.created_at as string).toISOString(),
      rewrappedAt: r.rewrapped_at ? new Date(r.rewrapped_at as string).toISOString() : null,
    };
  }

  async get(keyId: string): Promise<WrappedKey | 'destroyed' | undefined> {
    assertKeyId(keyId);
    const [r] = await this.q('select * from samtale_wrapped_keys where key_id = $1', [keyId]);
    if (!r) return undefined;
    return r.destroyed_at ? 'destroyed' : PostgresKeyStore.row(r);
  }

  async create(key: WrappedKey): Promise<WrappedKey> {
    assertKeyId(key.keyId);
    await this.q(
      `insert into samtale_wrapped_keys (key_id, version, master_key_id, wrapped, created_at) values ($1, $2, $3, $4, $5)
       on conflict (key_id) do nothing`,
      [key.keyId, key.version, key.masterKeyId, key.wrapped, key.createdAt],
    );
    const got = await this.get(key.keyId);
    if (got === 'destroyed') throw new KeyDestroyedError(key.keyId);
    if (!got) throw new Error(`key ${key.keyId} vanished while it was created`);
    return got;
  }

  async rewrap(key: WrappedKey, expectedMasterKeyId: string): Promise<boolean> {
    const rows = await this.q(
      `update samtale_wrapped_keys set master_key_id = $2, wrapped = $3, rewrapped_at = $4
       where key_id = $1 and master_key_id = $5 and destroyed_at is null returning key_id`,
      [key.keyId, key.masterKeyId, key.wrapped, key.rewrappedAt ?? new Date().toISOString(), expectedMasterKeyId],
    );
    return rows.length === 1;
  }

  async destroy(keyId: string, at: Date): Promise<void> {
    assertKeyId(keyId);
    await this.q(
      `insert into samtale_wrapped_keys (key_id, version, created_at, destroyed_at) values ($1, 0, $2, $2)
       on conflict (key_id) do update set master_key_id = null, wrapped = null, destroyed_at = coalesce(samtale_wrapped_keys.destroyed_at, $2)`,
      [keyId, at.toISOString()],
    );
  }

  async list(): Promise<WrappedKey[]> {
    return (await this.q('select * from samtale_wrapped_keys where destroyed_at is null order by key_id')).map((r) => PostgresKeyStore.row(r));
  }

  async destroyedIds(): Promise<string[]> {
    return (await this.q('select key_id from samtale_wrapped_keys where destroyed_at is not null order by key_id')).map((r) => String(r.key_id));
  }

  async putTombstone(t: Tombstone): Promise<void> {
    if (!UUID.test(t.companyId)) throw new Error('invalid company id');
    await this.q('insert into samtale_tombstones (company_id, record) values ($1, $2) on conflict (company_id) do update set record = excluded.record', [t.companyId, JSON.stringify(t)]);
  }

  async tombstones(): Promise<Tombstone[]> {
    return (await this.q("select record from samtale_tombstones order by record->>'requestedAt'")).map((r) => (typeof r.record === 'string' ? JSON.parse(r.record) : r.record) as Tombstone);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
