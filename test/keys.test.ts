/**
 * M16 per-company data keys: the envelope format and its associated data, file chunks and TOTP
 * secrets at rest, destroyed keys, master key rotation, key-store copies, the configuration
 * rules, and the key store in its own PostgreSQL database.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, giveTotpFactor, type CompanyFixture } from './helpers/factories.ts';
import { createAvailableFile, pdf } from './helpers/files.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { DecryptError, KeyDestroyedError, openBytes, openText, PLATFORM, sealBytes, sealText } from '../src/platform/crypto/envelope.ts';
import { Keyring, keyringFor, masterKeyId, readMasterKeyFile, unwrapKey, wrapKey, writeNewMasterKeyFile } from '../src/platform/crypto/keyring.ts';
import { DirectoryKeyStore, PostgresKeyStore } from '../src/platform/crypto/keystore.ts';
import { contentStore } from '../src/platform/storage/store.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { findFactor, startEnrolment } from '../src/modules/twofactor/twofactor.repository.ts';
import { keysCommand, backupKeys } from '../src/cli/keys.ts';
import type { CliContext } from '../src/cli/registry.ts';
import type { AppDeps } from '../src/platform/deps.ts';
import { buildApp } from '../src/app.ts';

let t: TestApp;
let a: CompanyFixture;
let b: CompanyFixture;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-keys-test-'));

beforeAll(async () => {
  t = await createTestApp();
  a = await createCompany(t.deps);
  b = await createCompany(t.deps);
});
afterAll(async () => {
  await t?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A CLI context on the test database that does not close it. */
function cliContext(config = t.deps.config): CliContext {
  const deps: AppDeps = { ...t.deps, config, database: { ...t.deps.database, close: async () => undefined } };
  return { config, openDeps: async () => deps };
}

const quiet = async <T,>(fn: () => Promise<T>): Promise<T> => {
  const log = console.log;
  const err = console.error;
  console.log = () => undefined;
  console.error = () => undefined;
  try {
    return await fn();
  } finally {
    console.log = log;
    console.error = err;
  }
};

describe('M16 envelope: AES-256-GCM with company, table and row as associated data', () => {
  it('opens only at the same company, table and row; plaintext from before still reads', async () => {
    const row = randomUUID();
    const sealed = await sealText(a.companyId, 'dialogue_answers', row, 'Min hemmelige note æøå');
    expect(sealed.startsWith('sx1:')).toBe(true);
    expect(sealed).not.toContain('hemmelige');
    expect(await openText(a.companyId, 'dialogue_answers', row, sealed)).toBe('Min hemmelige note æøå');
    // Moved to another row, table or company: refused.
    await expect(openText(a.companyId, 'dialogue_answers', randomUUID(), sealed)).rejects.toBeInstanceOf(DecryptError);
    await expect(openText(a.companyId, 'agreements', row, sealed)).rejects.toBeInstanceOf(DecryptError);
    await expect(openText(b.companyId, 'dialogue_answers', row, sealed)).rejects.toBeInstanceOf(DecryptError);
    // Altered: refused.
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.at(-1);
    await expect(openText(a.companyId, 'dialogue_answers', row, flipped)).rejects.toBeInstanceOf(DecryptError);
    // Written before encryption, and empty values: unchanged.
    expect(await openText(a.companyId, 'dialogue_answers', row, 'old plain text')).toBe('old plain text');
    expect(await openText(a.companyId, 'dialogue_answers', row, null)).toBeNull();
    expect(await sealText(a.companyId, 'dialogue_answers', row, undefined)).toBeUndefined();
    // Two seals of the same text differ (fresh IV).
    expect(await sealText(a.companyId, 'dialogue_answers', row, 'x')).not.toBe(await sealText(a.companyId, 'dialogue_answers', row, 'x'));
  });

  it('bytes: sealed and opened, bound the same way; unsealed bytes pass through', async () => {
    const data = Buffer.from('%PDF-1.4 payroll');
    const sealed = await sealBytes(a.companyId, 'exports', 'e1', data);
    expect(sealed.includes(Buffer.from('payroll'))).toBe(false);
    expect((await openBytes(a.companyId, 'exports', 'e1', sealed)).equals(data)).toBe(true);
    await expect(openBytes(a.companyId, 'exports', 'e2', sealed)).rejects.toBeInstanceOf(DecryptError);
    expect((await openBytes(a.companyId, 'exports', 'e1', data)).equals(data)).toBe(true);
  });

  it('file chunks are stored sealed under the company key; chunks from before (cipher none) still read; a moved chunk does not', async () => {
    const fileId = randomUUID();
    await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx
        .insertInto('files')
        .values({ id: fileId, company_id: a.companyId, purpose: 'inbox', uploaded_by: a.employee.employmentId, name: 'x.pdf', kind: 'pdf', content_type: 'application/pdf', size_bytes: 0, state: 'uploading' })
        .execute(),
    );
    const scope = { companyId: a.companyId, run: <T,>(fn: Parameters<typeof withTenant<T>>[2]) => withTenant(t.deps.database, { companyId: a.companyId }, fn) };
    const content = pdf('secret salary letter');
    const w = contentStore.writer(scope, fileId);
    await w.write(content);
    await w.finish();
    const row = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('file_chunks').select(['cipher', 'data']).where('file_id', '=', fileId).executeTakeFirstOrThrow());
    expect(row.cipher).toBe('aes-256-gcm/v1');
    expect(Buffer.from(row.data).includes(Buffer.from('salary'))).toBe(false);
    const parts: Buffer[] = [];
    for await (const p of contentStore.read(scope, fileId)) parts.push(Buffer.from(p));
    expect(Buffer.concat(parts).equals(content)).toBe(true);

    const old = await createAvailableFile(t.deps, a, pdf('from before'));
    const oldParts: Buffer[] = [];
    for await (const p of contentStore.read(scope, old)) oldParts.push(Buffer.from(p));
    expect(Buffer.concat(oldParts).equals(pdf('from before'))).toBe(true);

    // Copy the sealed chunk onto the old file's row: it no longer opens.
    await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.updateTable('file_chunks').set({ cipher: row.cipher, data: row.data }).where('file_id', '=', old).where('seq', '=', 0).execute(),
    );
    await expect(contentStore.readRange(scope, old, 0, 10)).rejects.toBeInstanceOf(DecryptError);
  });

  it('TOTP secrets are stored sealed with the platform key; secrets stored before still work', async () => {
    const secret = await withTenant(t.deps.database, { userId: a.leader.userId }, (trx) => startEnrolment(trx, { userId: a.leader.userId }, t.clock.now()));
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    const stored = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('totp_factors').select(['id', 'secret']).where('user_id', '=', a.leader.userId).executeTakeFirstOrThrow());
    expect(stored.secret.startsWith('sx1:')).toBe(true);
    expect(stored.secret).not.toContain(secret);
    expect(await openText(PLATFORM, 'totp_factors', stored.id, stored.secret)).toBe(secret);
    const found = await withTenant(t.deps.database, { userId: a.leader.userId }, (trx) => findFactor(trx, { userId: a.leader.userId }));
    expect(found?.secret).toBe(secret);
    const plain = await giveTotpFactor(t.deps, a.employee.userId);
    const foundPlain = await withTenant(t.deps.database, { userId: a.employee.userId }, (trx) => findFactor(trx, { userId: a.employee.userId }));
    expect(foundPlain?.secret).toBe(plain);
  });
});

describe('M16 destroyed keys', () => {
  it('a destroyed key opens nothing and is never made again; other nodes stop within the cache time', async () => {
    const dir = path.join(tmp, 'destroy');
    const master = writeNewMasterKeyFile(path.join(dir, 'master.key'));
    let now = Date.now();
    const node1 = new Keyring(new DirectoryKeyStore(dir), master, [], 60_000, () => now);
    const node2 = new Keyring(new DirectoryKeyStore(dir), master, [], 60_000, () => now);
    const company = randomUUID();
    const sealed = await sealText(company, 'agreements', 'r1', 'agreement text', node1);
    expect(await openText(company, 'agreements', 'r1', sealed, node2)).toBe('agreement text');
    await node1.destroy(company, new Date());
    await expect(openText(company, 'agreements', 'r1', sealed, node1)).rejects.toBeInstanceOf(KeyDestroyedError);
    await expect(sealText(company, 'agreements', 'r2', 'new', node1)).rejects.toBeInstanceOf(KeyDestroyedError);
    // Node 2 still has the key in its cache for at most the cache time, then never again.
    expect(await openText(company, 'agreements', 'r1', sealed, node2)).toBe('agreement text');
    now += 60_001;
    await expect(openText(company, 'agreements', 'r1', sealed, node2)).rejects.toBeInstanceOf(KeyDestroyedError);
    expect(fs.readdirSync(path.join(dir, 'keys')).filter((f) => f.startsWith(`company-${company}`))).toEqual([`company-${company}.destroyed`]);
  });

  it('keys are stored only wrapped, in files readable by the owner alone', async () => {
    const dir = path.join(tmp, 'wrapped');
    const master = writeNewMasterKeyFile(path.join(dir, 'master.key'));
    expect(fs.statSync(path.join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    const ring = new Keyring(new DirectoryKeyStore(dir), master, [], 0);
    const company = randomUUID();
    const { key } = await ring.dataKey(company, true);
    const file = path.join(dir, 'keys', `company-${company}.json`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, 'keys')).mode & 0o777).toBe(0o700);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain(key.toString('base64'));
    expect(text).not.toContain(key.toString('hex'));
    expect(JSON.parse(text)).toMatchObject({ keyId: `company-${company}`, version: 1, masterKeyId: master.id });
  });
});

describe('M16 master key rotation', () => {
  it('re-wraps every key under the new master key, resumably; afterwards the old master key is not needed', async () => {
    const dir = path.join(tmp, 'rotate');
    const oldFile = path.join(dir, 'old.key');
    const newFile = path.join(dir, 'new.key');
    writeNewMasterKeyFile(oldFile);
    const before = loadConfig({ NODE_ENV: 'test', SAMTALE_DATA_DIR: dir, LOG_LEVEL: 'silent', SAMTALE_KEY_DIR: path.join(dir, 'store'), SAMTALE_MASTER_KEY_FILE: oldFile });
    const ring = keyringFor(before);
    const companies = [randomUUID(), randomUUID(), randomUUID()];
    const sealed = await Promise.all(companies.map((c) => sealText(c, 'dialogue_notes', 'n1', `note of ${c}`, ring)));
    await sealText(PLATFORM, 'totp_factors', 'f1', 'JBSWY3DPEHPK3PXP', ring);

    const created = await quiet(() => keysCommand.run(['new-master-key', '--out', newFile], cliContext(before)));
    expect(created).toBe(0);
    const next = readMasterKeyFile(newFile, { production: true });
    expect(next.id).not.toBe(ring.master.id);

    // Half-way: one key is already re-wrapped (as if a first run stopped there).
    const first = (await ring.store.list())[0]!;
    const plain = unwrapKey(ring.master, first.keyId, first.version, first.wrapped);
    expect(await ring.store.rewrap({ ...first, masterKeyId: next.id, wrapped: wrapKey(next, first.keyId, first.version, plain), rewrappedAt: new Date().toISOString() }, ring.master.id)).toBe(true);
    // A stale compare-and-set (someone else re-wrapped it first) changes nothing.
    expect(await ring.store.rewrap({ ...first, masterKeyId: 'x', wrapped: 'x' }, ring.master.id)).toBe(false);
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => void lines.push(line);
    try {
      expect(await keysCommand.run(['rotate', '--new-master-key-file', newFile], cliContext(before))).toBe(0);
    } finally {
      console.log = log;
    }
    expect(lines).toContain('3 re-wrapped, 1 already under the new master key, 0 failed.');
    expect((await ring.store.list()).every((k) => k.masterKeyId === next.id)).toBe(true);
    // Safe to re-run.
    expect(await ring.rotate(next, new Date())).toEqual({ rewrapped: 0, already: 4, failed: [] });
    const audited = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('data').where('event_type', '=', 'keys.rotated').where(sql<boolean>`data->>'masterKeyId' = ${next.id}`).execute(),
    );
    expect(audited.length).toBe(1);

    // Without the old master key at all: everything still opens.
    fs.rmSync(oldFile);
    const after = loadConfig({ NODE_ENV: 'test', SAMTALE_DATA_DIR: dir, LOG_LEVEL: 'silent', SAMTALE_KEY_DIR: path.join(dir, 'store'), SAMTALE_MASTER_KEY_FILE: newFile, KEY_CACHE_SECONDS: '0' });
    const ring2 = keyringFor(after);
    for (const [i, c] of companies.entries()) expect(await openText(c, 'dialogue_notes', 'n1', sealed[i]!, ring2)).toBe(`note of ${c}`);
    expect(await quiet(() => keysCommand.run(['status'], cliContext(after)))).toBe(0);
  });

  it('the CLI rotation re-wraps keys wrapped by the current and the previous master key', async () => {
    const dir = path.join(tmp, 'rotate-cli');
    const k1 = path.join(dir, 'k1.key');
    const k2 = path.join(dir, 'k2.key');
    const k3 = path.join(dir, 'k3.key');
    for (const f of [k1, k2, k3]) writeNewMasterKeyFile(f);
    const env = { NODE_ENV: 'test', SAMTALE_DATA_DIR: dir, LOG_LEVEL: 'silent', SAMTALE_KEY_DIR: path.join(dir, 'store'), KEY_CACHE_SECONDS: '0' };
    const c1 = randomUUID();
    const c2 = randomUUID();
    const s1 = await sealText(c1, 'agreements', 'a', 'one', keyringFor(loadConfig({ ...env, SAMTALE_MASTER_KEY_FILE: k1 })));
    // Nodes moved to k2, still accepting k1 while the rotation runs.
    const during = loadConfig({ ...env, SAMTALE_MASTER_KEY_FILE: k2, SAMTALE_PREVIOUS_MASTER_KEY_FILE: k1 });
    const s2 = await sealText(c2, 'agreements', 'a', 'two', keyringFor(during));
    expect(await quiet(() => keysCommand.run(['status'], cliContext(during)))).toBe(1);
    expect(await quiet(() => keysCommand.run(['rotate', '--new-master-key-file', k3], cliContext(during)))).toBe(0);
    const only3 = keyringFor(loadConfig({ ...env, SAMTALE_MASTER_KEY_FILE: k3 }));
    expect(await openText(c1, 'agreements', 'a', s1, only3)).toBe('one');
    expect(await openText(c2, 'agreements', 'a', s2, only3)).toBe('two');
    // A master key that never wrapped these keys opens nothing.
    const stranger = keyringFor(loadConfig({ ...env, SAMTALE_MASTER_KEY_FILE: k1 }));
    await expect(openText(c1, 'agreements', 'a', s1, stranger)).rejects.toThrow(/master key/);
  });
});

describe('M16 key-store copies are kept at most 14 days', () => {
  it('writes a wrapped copy, prunes copies older than 14 days and removes destroyed keys from the rest', async () => {
    const dir = path.join(tmp, 'backup');
    const config = loadConfig({ NODE_ENV: 'test', SAMTALE_DATA_DIR: dir, LOG_LEVEL: 'silent', SAMTALE_KEY_DIR: path.join(dir, 'store'), SAMTALE_MASTER_KEY_FILE: path.join(dir, 'master.key') });
    const ring = keyringFor(config);
    const gone = randomUUID();
    const kept = randomUUID();
    await ring.dataKey(gone, true);
    await ring.dataKey(kept, true);
    const copies = path.join(dir, 'copies');
    const day = 86_400_000;
    const start = new Date('2027-03-01T02:00:00Z');
    const first = await backupKeys({ config }, copies, start);
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(first.file, 'utf8')).toContain(`company-${gone}`);
    await ring.destroy(gone, new Date());
    const second = await backupKeys({ config }, copies, new Date(start.getTime() + 5 * day));
    expect(second.scrubbed).toBe(1);
    expect(fs.readFileSync(first.file, 'utf8')).not.toContain(`"keyId":"company-${gone}"`);
    expect(fs.readFileSync(first.file, 'utf8')).toContain(`company-${kept}`);
    const third = await backupKeys({ config }, copies, new Date(start.getTime() + 15 * day));
    expect(third.pruned).toEqual([path.basename(first.file)]);
    expect(fs.readdirSync(copies).sort()).toEqual([path.basename(second.file), path.basename(third.file)].sort());

    // Restoring a copy into an empty store brings keys back, never a destroyed one.
    const restoredDir = path.join(dir, 'restored');
    const restoredConfig = loadConfig({ NODE_ENV: 'test', SAMTALE_DATA_DIR: dir, LOG_LEVEL: 'silent', SAMTALE_KEY_DIR: restoredDir, SAMTALE_MASTER_KEY_FILE: path.join(dir, 'master.key') });
    expect(await quiet(() => keysCommand.run(['restore', '--from', third.file], cliContext(restoredConfig)))).toBe(0);
    const restored = keyringFor(restoredConfig);
    expect((await restored.dataKey(kept, false)).key.equals((await ring.dataKey(kept, false)).key)).toBe(true);
    await expect(restored.dataKey(gone, true)).rejects.toBeInstanceOf(KeyDestroyedError);
  });
});

describe('M16 configuration', () => {
  const production = { NODE_ENV: 'production', PUBLIC_URL: 'https://samtale.example', TRUST_PROXY: 'true', SMTP_URL: 'smtp://mail.example:587' };

  it('production without a master key is refused before anything is served; with one it starts', async () => {
    const bare = loadConfig({ ...production, SAMTALE_DATA_DIR: path.join(tmp, 'prod-none') });
    expect(bare.keys.masterKeyFile).toBeUndefined();
    expect(() => keyringFor(bare)).toThrow(ConfigError);
    expect(() => keyringFor(bare)).toThrow(/SAMTALE_MASTER_KEY/);
    await expect(buildApp({ ...t.deps, config: bare })).rejects.toThrow(/SAMTALE_MASTER_KEY/);
    expect(fs.existsSync(path.join(tmp, 'prod-none'))).toBe(false);
    const key = Buffer.alloc(32, 7).toString('base64');
    const withKey = loadConfig({ ...production, SAMTALE_MASTER_KEY: key, SAMTALE_KEY_DIR: path.join(tmp, 'prod-store') });
    expect(withKey.keys.masterKey?.length).toBe(32);
    expect(keyringFor(withKey).master.id).toBe(masterKeyId(Buffer.alloc(32, 7)));
    expect(() => loadConfig({ ...production, SAMTALE_MASTER_KEY: 'c2hvcnQ=' })).toThrow(/32 random bytes/);
    expect(() => loadConfig({ ...production, SAMTALE_MASTER_KEY: key, SAMTALE_MASTER_KEY_FILE: '/x' })).toThrow(/not both/);
  });

  it('production never generates a master key file and refuses one others can read', () => {
    const dir = path.join(tmp, 'prod');
    fs.mkdirSync(dir, { recursive: true });
    const missing = loadConfig({ ...production, SAMTALE_DATA_DIR: dir, SAMTALE_MASTER_KEY_FILE: path.join(dir, 'none.key') });
    expect(() => keyringFor(missing)).toThrow(/does not exist/);
    expect(fs.existsSync(path.join(dir, 'none.key'))).toBe(false);
    const open = path.join(dir, 'open.key');
    fs.writeFileSync(open, Buffer.alloc(32, 1).toString('base64'), { mode: 0o644 });
    fs.chmodSync(open, 0o644);
    expect(() => keyringFor(loadConfig({ ...production, SAMTALE_DATA_DIR: dir, SAMTALE_MASTER_KEY_FILE: open }))).toThrow(/chmod 600/);
  });

  it('development generates a master key file (mode 0600) under the data dir', () => {
    const dir = path.join(tmp, 'dev');
    const config = loadConfig({ NODE_ENV: 'development', SAMTALE_DATA_DIR: dir });
    expect(config.keys.dir).toBe(path.join(dir, 'keys'));
    const ring = keyringFor(config);
    const file = path.join(dir, 'master.key');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(ring.master.id).toBe(masterKeyId(readMasterKeyFile(file, { production: true }).key));
  });
});

describe('M16 key store in its own PostgreSQL database', () => {
  const base = inject('databaseUrl');
  let url = '';
  let name = '';
  beforeAll(async () => {
    if (!base) return;
    name = `samtale_keys_${Date.now()}_${process.pid}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(base);
    u.pathname = `/${name}`;
    url = u.toString();
  });
  afterAll(async () => {
    if (!base || !name) return;
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });

  it.skipIf(!base)('keeps wrapped keys, destroyed markers and tombstones; two nodes agree on one key', async () => {
    const master = writeNewMasterKeyFile(path.join(tmp, 'pg', 'master.key'));
    const store1 = new PostgresKeyStore(url);
    const store2 = new PostgresKeyStore(url);
    try {
      const node1 = new Keyring(store1, master, [], 60_000);
      const node2 = new Keyring(store2, master, [], 60_000);
      const company = randomUUID();
      const [k1, k2] = await Promise.all([node1.dataKey(company, true), node2.dataKey(company, true)]);
      expect(k1.key.equals(k2.key)).toBe(true);
      const sealed = await sealText(company, 'agreements', 'r', 'text', node1);
      expect(await openText(company, 'agreements', 'r', sealed, node2)).toBe('text');
      const next = writeNewMasterKeyFile(path.join(tmp, 'pg', 'next.key'));
      expect((await node1.rotate(next, new Date())).failed).toEqual([]);
      const node3 = new Keyring(store1, next, [], 0);
      expect(await openText(company, 'agreements', 'r', sealed, node3)).toBe('text');
      await node3.destroy(company, new Date());
      expect(await store2.get(`company-${company}`)).toBe('destroyed');
      await expect(openText(company, 'agreements', 'r', sealed, node3)).rejects.toBeInstanceOf(KeyDestroyedError);
      await expect(node3.dataKey(company, true)).rejects.toBeInstanceOf(KeyDestroyedError);
      await store1.putTombstone({ companyId: company, requestedAt: new Date().toISOString(), requestedBy: 'operator:test', purgeAfter: new Date().toISOString(), purgedAt: null });
      await store1.putTombstone({ companyId: company, requestedAt: new Date().toISOString(), requestedBy: 'operator:test', purgeAfter: new Date().toISOString(), purgedAt: '2027-03-15T00:00:00.000Z' });
      expect((await store2.tombstones()).map((s) => [s.companyId, s.purgedAt])).toEqual([[company, '2027-03-15T00:00:00.000Z']]);
      // The application's database knows nothing of it.
      const tables = await unsafeSystemTransaction(t.deps.database, (trx) =>
        sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_name in ('samtale_wrapped_keys', 'samtale_tombstones')`.execute(trx),
      );
      expect(tables.rows[0]?.n).toBe(0);
    } finally {
      await store1.close();
      await store2.close();
    }
  });
});
