/**
 * Application-level encryption with the company's data key (issue 6, M16): the one API modules
 * call for free text, files and exports.
 *
 *   const stored = await sealText(companyId, 'dialogue_answers', answerId, text);
 *   const text = await openText(companyId, 'dialogue_answers', answerId, stored);
 *
 * AES-256-GCM, a fresh 96-bit IV per value, and the company, table and row bound as associated
 * data: a ciphertext copied to another row, table or company does not open (DecryptError).
 *
 * Stored format (versioned, so values written before encryption still read):
 * - bytes: 'S' 'X' 0x01 | key version (uint32 BE) | iv (12) | tag (16) | ciphertext
 * - text:  'sx1:' + base64url(the bytes above)
 * openText/openBytes return a value WITHOUT that prefix unchanged: it is plaintext written before
 * encryption was switched on. `null`/`undefined` pass through both ways, so optional columns need
 * no special case. Ciphertext grows: text by about a third plus 48 characters (mind length checks:
 * check the plaintext's length in the application, not the column's).
 *
 * `owner` is a company id, or PLATFORM for data of identities that belong to no single company
 * (TOTP secrets). After a company's key is destroyed (purge), open* throws KeyDestroyedError.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { activeKeyring, KeyDestroyedError, KeyMissingError, type Keyring } from './keyring.ts';

export { KeyDestroyedError };

export const PLATFORM = 'platform';

const MAGIC = Buffer.from([0x53, 0x58, 0x01]);
const TEXT_PREFIX = 'sx1:';
const HEADER = MAGIC.length + 4 + 12 + 16;

export class DecryptError extends Error {
  constructor(what: string) {
    super(`cannot open ${what}: wrong key, moved or altered`);
    this.name = 'DecryptError';
  }
}

function aad(owner: string, table: string, rowId: string): Buffer {
  if (!/^[a-z_][a-z0-9_.]{0,62}$/.test(table)) throw new Error(`invalid table name for sealing: ${table}`);
  return Buffer.from(JSON.stringify(['samtale', owner.toLowerCase(), table, rowId]), 'utf8');
}

async function sealRaw(ring: Keyring, owner: string, table: string, rowId: string, plain: Uint8Array): Promise<Buffer> {
  const { key, version } = await ring.dataKey(owner, true);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad(owner, table, rowId));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const v = Buffer.alloc(4);
  v.writeUInt32BE(version);
  return Buffer.concat([MAGIC, v, iv, c.getAuthTag(), ct]);
}

async function openRaw(ring: Keyring, owner: string, table: string, rowId: string, sealed: Buffer): Promise<Buffer> {
  if (sealed.length < HEADER) throw new DecryptError(`${table} ${rowId}`);
  const { key, version } = await ring.dataKey(owner, false).catch((err: unknown) => {
    // Sealed for an owner that never had a key: it belongs elsewhere.
    throw err instanceof KeyMissingError ? new DecryptError(`${table} ${rowId}`) : err;
  });
  if (sealed.readUInt32BE(MAGIC.length) !== version) throw new DecryptError(`${table} ${rowId}`);
  const ivAt = MAGIC.length + 4;
  try {
    const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(ivAt, ivAt + 12));
    d.setAAD(aad(owner, table, rowId));
    d.setAuthTag(sealed.subarray(ivAt + 12, HEADER));
    return Buffer.concat([d.update(sealed.subarray(HEADER)), d.final()]);
  } catch {
    throw new DecryptError(`${table} ${rowId}`);
  }
}

/** Whether bytes carry the sealed format (else they are plaintext written before). */
export function isSealedBytes(data: Uint8Array): boolean {
  return data.length >= HEADER && data[0] === MAGIC[0] && data[1] === MAGIC[1] && data[2] === MAGIC[2];
}

export function isSealedText(value: string): boolean {
  return value.startsWith(TEXT_PREFIX);
}

export async function sealBytes(owner: string, table: string, rowId: string, plain: Uint8Array, ring: Keyring = activeKeyring()): Promise<Buffer> {
  return sealRaw(ring, owner, table, rowId, plain);
}

export async function openBytes(owner: string, table: string, rowId: string, stored: Uint8Array, ring: Keyring = activeKeyring()): Promise<Buffer> {
  const buf = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  if (!isSealedBytes(buf)) return buf;
  return openRaw(ring, owner, table, rowId, buf);
}

export async function sealText<T extends string | null | undefined>(owner: string, table: string, rowId: string, text: T, ring: Keyring = activeKeyring()): Promise<T> {
  if (text === null || text === undefined) return text;
  const sealed = await sealRaw(ring, owner, table, rowId, Buffer.from(text, 'utf8'));
  return (TEXT_PREFIX + sealed.toString('base64url')) as T;
}

export async function openText<T extends string | null | undefined>(owner: string, table: string, rowId: string, stored: T, ring: Keyring = activeKeyring()): Promise<T> {
  if (stored === null || stored === undefined || !isSealedText(stored)) return stored;
  const raw = Buffer.from(stored.slice(TEXT_PREFIX.length), 'base64url');
  return (await openRaw(ring, owner, table, rowId, raw)).toString('utf8') as T;
}
