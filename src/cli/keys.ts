/**
 * `samtale keys ...` (issue 6, M16): the key store and the master key.
 *
 *   keys status                              where the keys are, which master key wraps them, tombstones
 *   keys rotate --new-master-key-file F      re-wrap every data key under the master key in F
 *   keys new-master-key --out F              write a new random master key file (mode 0600)
 *   keys backup --to DIR                     write a (wrapped) copy of the key store to DIR; prune
 *                                            copies older than 14 days and scrub destroyed keys
 *                                            from the copies that remain
 *   keys restore --from FILE                 put keys and tombstones from a copy back (never a destroyed key)
 *
 * Rotation is resumable and safe to re-run: a key already wrapped by the new master key is
 * skipped, and each key is replaced only if nobody changed it meanwhile (compare-and-set).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { CliCommand, CliContext } from './registry.ts';
import { keyringFor, readMasterKeyFile, writeNewMasterKeyFile } from '../platform/crypto/keyring.ts';
import type { Tombstone, WrappedKey } from '../platform/crypto/keystore.ts';
import { unsafeSystemTransaction } from '../platform/db/context.ts';
import { audit } from '../platform/audit/audit.ts';

/** Key-store copies are kept at most this long (a destroyed key must not outlive it anywhere). */
export const KEY_BACKUP_MAX_DAYS = 14;
const BACKUP_NAME = /^samtale-keys-(\d{8}T\d{6}Z)\.json$/;

type KeyBackup = { format: 'samtale-key-backup/1'; createdAt: string; keys: WrappedKey[]; destroyed: string[]; tombstones: Tombstone[] };

const USAGE = `usage: samtale keys status
       samtale keys rotate --new-master-key-file FILE
       samtale keys new-master-key --out FILE
       samtale keys backup --to DIR
       samtale keys restore --from FILE`;

function option(args: string[], name: string): string | undefined {
  try {
    const { values } = parseArgs({ args, options: { [name]: { type: 'string' } }, strict: true, allowPositionals: false });
    const v = values[name];
    return typeof v === 'string' && v.trim() !== '' ? v : undefined;
  } catch {
    return undefined;
  }
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

function stampDate(s: string): Date {
  return new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`);
}

function writeFile0600(file: string, content: string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

async function status(ctx: CliContext): Promise<number> {
  const ring = keyringFor(ctx.config);
  const keys = await ring.store.list();
  const destroyed = await ring.store.destroyedIds();
  const stones = await ring.store.tombstones();
  console.log(`Key store: ${ring.store.describe()}`);
  console.log(`Master key: ${ring.master.id}${ring.previous.length ? ` (previous, still accepted: ${ring.previous.map((p) => p.id).join(', ')})` : ''}`);
  console.log(`Unwrapped keys are cached for ${ring.cacheMs / 1000} s.`);
  const byMaster = new Map<string, number>();
  for (const k of keys) byMaster.set(k.masterKeyId, (byMaster.get(k.masterKeyId) ?? 0) + 1);
  console.log(`Data keys: ${keys.length}`);
  for (const [id, n] of byMaster) console.log(`  ${n} wrapped by ${id}${id === ring.master.id ? ' (current)' : ' (NOT the current master key: run keys rotate)'}`);
  console.log(`Destroyed keys: ${destroyed.length}`);
  console.log(`Tombstones (purged companies): ${stones.length}`);
  for (const s of stones) console.log(`  ${s.companyId}  requested ${s.requestedAt} by ${s.requestedBy}; ${s.purgedAt ? `purged ${s.purgedAt}` : 'purge under way'}${s.reappliedAt ? `; purged again ${s.reappliedAt}` : ''}`);
  await ring.store.close().catch(() => undefined);
  return [...byMaster.keys()].every((id) => id === ring.master.id) ? 0 : 1;
}

async function rotate(args: string[], ctx: CliContext): Promise<number> {
  const file = option(args, 'new-master-key-file');
  if (!file) {
    console.error(`keys rotate needs --new-master-key-file FILE\n${USAGE}`);
    return 2;
  }
  const next = readMasterKeyFile(path.resolve(file), { production: ctx.config.env === 'production' });
  const ring = keyringFor(ctx.config);
  console.log(`Re-wrapping every data key in ${ring.store.describe()} under master key ${next.id} ...`);
  const report = await ring.rotate(next, new Date(), (keyId, outcome) => console.log(`  ${keyId}: ${outcome}`));
  console.log(`${report.rewrapped} re-wrapped, ${report.already} already under the new master key, ${report.failed.length} failed.`);
  for (const f of report.failed) console.error(`  FAILED ${f.keyId}: ${f.reason}`);
  const deps = await ctx.openDeps(ctx.config);
  try {
    await unsafeSystemTransaction(deps.database, (trx) =>
      audit(trx, { companyId: null }, { type: 'keys.rotated', data: { actor: 'operator', masterKeyId: next.id, rewrapped: report.rewrapped, already: report.already, failed: report.failed.length } }),
    );
  } finally {
    await deps.database.close();
    await ring.store.close().catch(() => undefined);
  }
  if (report.failed.length > 0) {
    console.error('Run the command again; keys already re-wrapped are skipped.');
    return 1;
  }
  console.log(`Done. Now set SAMTALE_MASTER_KEY_FILE=${path.resolve(file)} on every node (and remove SAMTALE_PREVIOUS_MASTER_KEY_FILE), restart, and destroy the old master key.`);
  return 0;
}

/** Writes a copy, prunes copies older than 14 days, and removes destroyed keys from the rest. */
export async function backupKeys(ctx: Pick<CliContext, 'config'>, dir: string, now: Date): Promise<{ file: string; pruned: string[]; scrubbed: number }> {
  const ring = keyringFor(ctx.config);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const destroyed = await ring.store.destroyedIds();
  const copy: KeyBackup = { format: 'samtale-key-backup/1', createdAt: now.toISOString(), keys: await ring.store.list(), destroyed, tombstones: await ring.store.tombstones() };
  const file = path.join(dir, `samtale-keys-${stamp(now)}.json`);
  writeFile0600(file, JSON.stringify(copy));
  const pruned: string[] = [];
  let scrubbed = 0;
  const gone = new Set(destroyed);
  for (const name of fs.readdirSync(dir)) {
    const m = BACKUP_NAME.exec(name);
    if (!m?.[1] || path.join(dir, name) === file) continue;
    const full = path.join(dir, name);
    if (now.getTime() - stampDate(m[1]).getTime() > KEY_BACKUP_MAX_DAYS * 86_400_000) {
      fs.rmSync(full, { force: true });
      pruned.push(name);
      continue;
    }
    const old = JSON.parse(fs.readFileSync(full, 'utf8')) as KeyBackup;
    const kept = old.keys.filter((k) => !gone.has(k.keyId));
    if (kept.length !== old.keys.length) {
      scrubbed += old.keys.length - kept.length;
      writeFile0600(full, JSON.stringify({ ...old, keys: kept, destroyed: [...new Set([...old.destroyed, ...destroyed])] }));
    }
  }
  return { file, pruned, scrubbed };
}

async function backup(args: string[], ctx: CliContext): Promise<number> {
  const to = option(args, 'to');
  if (!to) {
    console.error(`keys backup needs --to DIR\n${USAGE}`);
    return 2;
  }
  const r = await backupKeys(ctx, path.resolve(to), new Date());
  console.log(`Wrote ${r.file} (wrapped keys: useless without the master key).`);
  if (r.pruned.length) console.log(`Pruned ${r.pruned.length} copy(ies) older than ${KEY_BACKUP_MAX_DAYS} days: ${r.pruned.join(', ')}`);
  if (r.scrubbed) console.log(`Removed ${r.scrubbed} destroyed key(s) from older copies.`);
  return 0;
}

async function restore(args: string[], ctx: CliContext): Promise<number> {
  const from = option(args, 'from');
  if (!from) {
    console.error(`keys restore needs --from FILE\n${USAGE}`);
    return 2;
  }
  const copy = JSON.parse(fs.readFileSync(path.resolve(from), 'utf8')) as KeyBackup;
  if (copy.format !== 'samtale-key-backup/1') {
    console.error('That file is not a Samtale key-store copy.');
    return 2;
  }
  const ring = keyringFor(ctx.config);
  const destroyedNow = new Set(await ring.store.destroyedIds());
  let restored = 0;
  let refused = 0;
  for (const id of copy.destroyed) if (!destroyedNow.has(id)) await ring.store.destroy(id, new Date());
  const gone = new Set([...destroyedNow, ...copy.destroyed]);
  for (const k of copy.keys) {
    if (gone.has(k.keyId)) {
      refused++;
      continue;
    }
    if ((await ring.store.get(k.keyId)) === undefined) {
      await ring.store.create(k);
      restored++;
    }
  }
  const known = new Set((await ring.store.tombstones()).map((t) => t.companyId));
  for (const t of copy.tombstones) if (!known.has(t.companyId)) await ring.store.putTombstone(t);
  console.log(`Restored ${restored} key(s); ${refused} destroyed key(s) stay destroyed; tombstones merged.`);
  return 0;
}

export const keysCommand: CliCommand = {
  name: 'keys',
  help: `  keys status | rotate --new-master-key-file F | new-master-key --out F | backup --to DIR | restore --from FILE
                              per-company data keys (M16): status and tombstones, master key rotation,
                              key-store copies (kept at most 14 days)`,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'status':
        return status(ctx);
      case 'rotate':
        return rotate(rest, ctx);
      case 'backup':
        return backup(rest, ctx);
      case 'restore':
        return restore(rest, ctx);
      case 'new-master-key': {
        const out = option(rest, 'out');
        if (!out) {
          console.error(`keys new-master-key needs --out FILE\n${USAGE}`);
          return 2;
        }
        try {
          const m = writeNewMasterKeyFile(path.resolve(out));
          console.log(`Wrote a new master key ${m.id} to ${path.resolve(out)} (mode 0600). Keep it apart from the database and its backups.`);
          return 0;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
            console.error('That file exists already; it is never overwritten.');
            return 2;
          }
          throw err;
        }
      }
      default:
        console.error(USAGE);
        return 2;
    }
  },
};
