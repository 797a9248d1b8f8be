/**
 * Per-company data keys (issue 6, M16).
 *
 * Design note. Every company has one 256-bit data key, made on first use; the platform has one
 * more ('platform', for secrets of identities that belong to no single company, such as TOTP
 * secrets). A data key is stored only wrapped: AES-256-GCM under the master key, with the key's
 * id and version as associated data, in the key store (keystore.ts), which is never the
 * application's database. The master key comes from SAMTALE_MASTER_KEY or
 * SAMTALE_MASTER_KEY_FILE; outside production a missing file is generated (mode 0600).
 *
 * Unwrapped keys are kept in memory for KEY_CACHE_SECONDS (default 60). Destroying a key (a
 * company purge) removes it from the store and from this node's cache at once; every other node
 * stops using it when its cache entry expires, at most KEY_CACHE_SECONDS later, because a cache
 * miss asks the store again and finds the key destroyed.
 *
 * One process can hold several keyrings (tests build several apps); `installKeys` makes one the
 * active keyring that the envelope functions (envelope.ts) use, `releaseKeys` steps back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Config } from '../../config.ts';
import { ConfigError, loadConfig } from '../../config.ts';
import { DirectoryKeyStore, KeyDestroyedError, PostgresKeyStore, assertKeyId, type KeyStore, type WrappedKey } from './keystore.ts';

export { KeyDestroyedError };

export type MasterKey = { id: string; key: Buffer };

/** The owner never had a key (so nothing sealed for it can exist). */
export class KeyMissingError extends Error {
  constructor(keyId: string) {
    super(`there is no data key ${keyId}`);
    this.name = 'KeyMissingError';
  }
}

/** A fingerprint that names a master key without revealing it. */
export function masterKeyId(key: Buffer): string {
  return createHash('sha256').update('samtale-master-key-id:').update(key).digest('hex').slice(0, 16);
}

/** Reads a master key file: 32 bytes in base64 (as `openssl rand -base64 32` writes), or 32 raw bytes. */
export function readMasterKeyFile(file: string, opts: { production: boolean }): MasterKey {
  const stat = fs.statSync(file);
  if (opts.production && (stat.mode & 0o077) !== 0) {
    throw new ConfigError(`Invalid configuration:\n  ${file} must be readable by the service user only (chmod 600)`);
  }
  const raw = fs.readFileSync(file);
  const key = raw.length === 32 ? raw : Buffer.from(raw.toString('utf8').trim(), 'base64');
  if (key.length !== 32) throw new ConfigError(`Invalid configuration:\n  ${file} must hold 32 random bytes in base64 (openssl rand -base64 32)`);
  return { id: masterKeyId(key), key };
}

/** Writes a new master key file (mode 0600); refuses to overwrite one. */
export function writeNewMasterKeyFile(file: string): MasterKey {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // Written completely under a temporary name, then linked into place: a process starting at the
  // same moment sees either no file or the whole key, and an existing file is never replaced.
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return { id: masterKeyId(key), key };
}

function loadMasters(config: Config): { current: MasterKey; previous: MasterKey[] } {
  const production = config.env === 'production';
  let current: MasterKey;
  if (config.keys.masterKey) {
    current = { id: masterKeyId(config.keys.masterKey), key: config.keys.masterKey };
  } else {
    const file = config.keys.masterKeyFile;
    // M16: the data keys are only as safe as the key wrapping them; production never invents one.
    if (!file) throw new ConfigError('Invalid configuration:\n  production needs SAMTALE_MASTER_KEY_FILE (or SAMTALE_MASTER_KEY): 32 random bytes in base64, kept outside the database and its backups');
    if (!fs.existsSync(file)) {
      if (production) throw new ConfigError(`Invalid configuration:\n  the master key file ${file} does not exist`);
      try {
        writeNewMasterKeyFile(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    current = readMasterKeyFile(file, { production });
  }
  const previous = config.keys.previousMasterKeyFile ? [readMasterKeyFile(config.keys.previousMasterKeyFile, { production })] : [];
  return { current, previous };
}

export function openKeyStore(config: Config): KeyStore {
  return config.keys.databaseUrl ? new PostgresKeyStore(config.keys.databaseUrl) : new DirectoryKeyStore(config.keys.dir);
}

const wrapAad = (keyId: string, version: number) => Buffer.from(`samtale-key:${keyId}:v${version}`, 'utf8');

export function wrapKey(master: MasterKey, keyId: string, version: number, dataKey: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', master.key, iv);
  c.setAAD(wrapAad(keyId, version));
  const ct = Buffer.concat([c.update(dataKey), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
}

export function unwrapKey(master: MasterKey, keyId: string, version: number, wrapped: string): Buffer {
  const raw = Buffer.from(wrapped, 'base64');
  const d = createDecipheriv('aes-256-gcm', master.key, raw.subarray(0, 12));
  d.setAAD(wrapAad(keyId, version));
  d.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
}

/** The key id of a company ('company-<uuid>') or of the platform ('platform'). */
export function keyIdFor(owner: string): string {
  const id = owner === 'platform' ? 'platform' : `company-${owner.toLowerCase()}`;
  assertKeyId(id);
  return id;
}

export type RotationReport = { rewrapped: number; already: number; failed: { keyId: string; reason: string }[] };

export class Keyring {
  private readonly cache = new Map<string, { key: Buffer; version: number; until: number }>();

  constructor(
    readonly store: KeyStore,
    readonly master: MasterKey,
    readonly previous: MasterKey[],
    readonly cacheMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private masterById(id: string): MasterKey | undefined {
    return [this.master, ...this.previous].find((m) => m.id === id);
  }

  /**
   * The owner's data key. `create`: make it if it does not exist (sealing); otherwise a missing
   * key is an error (opening). A destroyed key is always an error (KeyDestroyedError).
   */
  async dataKey(owner: string, create: boolean): Promise<{ key: Buffer; version: number }> {
    const keyId = keyIdFor(owner);
    const hit = this.cache.get(keyId);
    if (hit && hit.until > this.now()) return hit;
    this.cache.delete(keyId);
    let stored = await this.store.get(keyId);
    if (stored === 'destroyed') throw new KeyDestroyedError(keyId);
    if (!stored) {
      if (!create) throw new KeyMissingError(keyId);
      const fresh = randomBytes(32);
      stored = await this.store.create({
        keyId,
        version: 1,
        masterKeyId: this.master.id,
        wrapped: wrapKey(this.master, keyId, 1, fresh),
        createdAt: new Date(this.now()).toISOString(),
        rewrappedAt: null,
      });
    }
    const master = this.masterById(stored.masterKeyId);
    if (!master) throw new Error(`the data key ${keyId} is wrapped by master key ${stored.masterKeyId}, which this node does not have`);
    const key = unwrapKey(master, keyId, stored.version, stored.wrapped);
    const entry = { key, version: stored.version, until: this.now() + this.cacheMs };
    if (this.cacheMs > 0) this.cache.set(keyId, entry);
    return entry;
  }

  /** Destroys a company's data key: everything sealed with it can never be opened again. */
  async destroy(owner: string, at: Date): Promise<void> {
    const keyId = keyIdFor(owner);
    this.cache.delete(keyId);
    await this.store.destroy(keyId, at);
  }

  /** Re-wraps every key under `next`. Safe to repeat and to resume: keys already under `next` are skipped. */
  async rotate(next: MasterKey, at: Date, onKey?: (keyId: string, outcome: string) => void): Promise<RotationReport> {
    const report: RotationReport = { rewrapped: 0, already: 0, failed: [] };
    for (const k of await this.store.list()) {
      if (k.masterKeyId === next.id) {
        report.already++;
        onKey?.(k.keyId, 'already');
        continue;
      }
      const from = this.masterById(k.masterKeyId);
      if (!from) {
        report.failed.push({ keyId: k.keyId, reason: `wrapped by unknown master key ${k.masterKeyId}` });
        onKey?.(k.keyId, 'failed');
        continue;
      }
      const plain = unwrapKey(from, k.keyId, k.version, k.wrapped);
      const rewrapped: WrappedKey = { ...k, masterKeyId: next.id, wrapped: wrapKey(next, k.keyId, k.version, plain), rewrappedAt: at.toISOString() };
      // Proves the new wrapping before it replaces the old one.
      if (!unwrapKey(next, k.keyId, k.version, rewrapped.wrapped).equals(plain)) throw new Error(`re-wrapping ${k.keyId} did not round-trip`);
      if (await this.store.rewrap(rewrapped, k.masterKeyId)) {
        report.rewrapped++;
        onKey?.(k.keyId, 'rewrapped');
      } else {
        report.failed.push({ keyId: k.keyId, reason: 'changed while rotating; run again' });
        onKey?.(k.keyId, 'failed');
      }
    }
    this.cache.clear();
    return report;
  }

  forget(): void {
    this.cache.clear();
  }
}

// ---- keyrings of this process ----------------------------------------------------------------

const byIdentity = new Map<string, Keyring>();
const installed: Keyring[] = [];

function identity(config: Config, master: MasterKey, previous: MasterKey[]): string {
  return JSON.stringify([config.keys.databaseUrl ?? config.keys.dir, master.id, previous.map((p) => p.id), config.keys.cacheSeconds]);
}

/** The keyring for a configuration (one per key store and master key in this process). */
export function keyringFor(config: Config): Keyring {
  const { current, previous } = loadMasters(config);
  const id = identity(config, current, previous);
  let ring = byIdentity.get(id);
  if (!ring) {
    ring = new Keyring(openKeyStore(config), current, previous, config.keys.cacheSeconds * 1000);
    byIdentity.set(id, ring);
  }
  return ring;
}

/** Makes the configuration's keyring the one the envelope functions use (buildApp, the CLI). */
export function installKeys(config: Config): Keyring {
  const ring = keyringFor(config);
  installed.push(ring);
  return ring;
}

/** Undoes one installKeys (app close). */
export function releaseKeys(ring: Keyring): void {
  const i = installed.lastIndexOf(ring);
  if (i >= 0) installed.splice(i, 1);
}

/** The active keyring; a process that installed none (a CLI command) uses the environment's configuration. */
export function activeKeyring(): Keyring {
  const top = installed.at(-1);
  if (top) return top;
  return installKeys(loadConfig());
}

/** Closes every key store of this process (tests, shutdown). */
export async function closeKeyrings(): Promise<void> {
  const rings = [...byIdentity.values()];
  byIdentity.clear();
  installed.length = 0;
  for (const r of rings) await r.store.close();
}
