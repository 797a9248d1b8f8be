/**
 * Encryption of backup files (M11): AES-256-GCM over fixed-size frames.
 *
 * Design note: a backup is written and read as a stream (pg_dump -> gzip -> encrypt -> file), so
 * the format is framed rather than one GCM stream with the tag at the end. With one tag at the
 * end, a restore would hand pg_restore plaintext that has not been authenticated yet; with frames,
 * every MiB is authenticated before a byte of it leaves the decryptor, memory stays bounded, and a
 * tampered or truncated file stops the restore at the first bad frame.
 *
 * File layout (version 1):
 *   header  = "SAMTBAK1" (8) | salt (32, random per file) | key id (8)
 *   frame*  = plaintext length (u32 BE) | flags (u8, 1 = final) | ciphertext | GCM tag (16)
 * The file key is HKDF-SHA256(backup key, salt); a frame's nonce is its index (96-bit BE), unique
 * under that key; its associated data is header | index (u64 BE) | flags, so frames cannot be
 * reordered, dropped, moved between files, or cut off (the last frame must carry the final flag).
 * The key id (HMAC of the key) lets a wrong key fail with a clear message before any decryption.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import type { Config } from '../../config.ts';

export const MAGIC = Buffer.from('SAMTBAK1', 'ascii');
export const HEADER_BYTES = 48;
export const FRAME_PLAIN_BYTES = 1024 * 1024;
const TAG_BYTES = 16;
const FRAME_HEAD_BYTES = 5;

export class BackupError extends Error {
  constructor(
    readonly code: 'BACKUP_OFF' | 'NO_KEY' | 'WRONG_KEY' | 'TAMPERED' | 'NOT_FOUND' | 'TARGET_NOT_EMPTY' | 'TARGET_IN_USE' | 'KIND_MISMATCH' | 'NEWER_SCHEMA' | 'TOOL_FAILED' | 'NO_DATABASE' | 'BAD_FILE',
    message: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

/** The backup key: BACKUP_KEY, BACKUP_KEY_FILE, or (outside production) <dataDir>/backup.key, made 0600 when missing. */
export function loadBackupKey(config: Config): Buffer {
  if (config.backup.key) return config.backup.key;
  const file = config.backup.keyFile ?? (config.env === 'production' ? undefined : path.join(config.dataDir, 'backup.key'));
  if (!file) throw new BackupError('NO_KEY', 'No backup key: set BACKUP_KEY or BACKUP_KEY_FILE.');
  if (!fs.existsSync(file)) {
    if (config.backup.keyFile) throw new BackupError('NO_KEY', `BACKUP_KEY_FILE ${file} does not exist.`);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // 'wx': never overwrite a key another process has just written.
    try {
      fs.writeFileSync(file, `${crypto.randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const raw = fs.readFileSync(file);
  const fromText = Buffer.from(raw.toString('utf8').trim(), 'base64');
  if (fromText.length === 32) return fromText;
  if (raw.length === 32) return raw;
  throw new BackupError('NO_KEY', `The backup key file ${file} must hold 32 random bytes (raw, or base64 on one line).`);
}

export function keyId(key: Buffer): string {
  return crypto.createHmac('sha256', key).update('samtale backup key id').digest().subarray(0, 8).toString('hex');
}

function fileKey(key: Buffer, salt: Buffer): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', key, salt, 'samtale backup file v1', 32));
}

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function aad(header: Buffer, index: number, flags: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES + 9);
  header.copy(b, 0);
  b.writeBigUInt64BE(BigInt(index), HEADER_BYTES);
  b[HEADER_BYTES + 8] = flags;
  return b;
}

/** The manifest's MAC: a manifest edited by hand (or for another file) fails verification. */
export function manifestMac(key: Buffer, canonical: string): string {
  const macKey = Buffer.from(crypto.hkdfSync('sha256', key, Buffer.alloc(0), 'samtale backup manifest v1', 32));
  return crypto.createHmac('sha256', macKey).update(canonical).digest('hex');
}

export class EncryptStream extends Transform {
  #key: Buffer;
  #header: Buffer;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #index = 0;

  constructor(key: Buffer) {
    super();
    const salt = crypto.randomBytes(32);
    this.#header = Buffer.concat([MAGIC, salt, Buffer.from(keyId(key), 'hex')]);
    this.#key = fileKey(key, salt);
    this.push(this.#header);
  }

  #frame(plain: Buffer, final: boolean) {
    const flags = final ? 1 : 0;
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#key, nonce(this.#index));
    cipher.setAAD(aad(this.#header, this.#index, flags));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const head = Buffer.alloc(FRAME_HEAD_BYTES);
    head.writeUInt32BE(plain.length, 0);
    head[4] = flags;
    this.push(Buffer.concat([head, body, cipher.getAuthTag()]));
    this.#index++;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    while (this.#pendingBytes > FRAME_PLAIN_BYTES) {
      const all = Buffer.concat(this.#pending);
      this.#frame(all.subarray(0, FRAME_PLAIN_BYTES), false);
      const rest = all.subarray(FRAME_PLAIN_BYTES);
      this.#pending = [rest];
      this.#pendingBytes = rest.length;
    }
    cb();
  }

  override _flush(cb: TransformCallback) {
    this.#frame(Buffer.concat(this.#pending), true);
    this.#pending = [];
    cb();
  }
}

export class DecryptStream extends Transform {
  #master: Buffer;
  #key: Buffer | undefined;
  #header: Buffer | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #index = 0;
  #final = false;

  constructor(key: Buffer) {
    super();
    this.#master = key;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    try {
      this.#drain();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  #drain() {
    if (!this.#header) {
      if (this.#buf.length < HEADER_BYTES) return;
      const header = this.#buf.subarray(0, HEADER_BYTES);
      if (!header.subarray(0, 8).equals(MAGIC)) throw new BackupError('BAD_FILE', 'This is not a Samtale backup file (or it is damaged at the start).');
      const id = header.subarray(40, 48).toString('hex');
      if (id !== keyId(this.#master)) {
        throw new BackupError('WRONG_KEY', `This backup was encrypted with another backup key (key id ${id}; the configured key has id ${keyId(this.#master)}).`);
      }
      this.#header = Buffer.from(header);
      this.#key = fileKey(this.#master, header.subarray(8, 40));
      this.#buf = this.#buf.subarray(HEADER_BYTES);
    }
    for (;;) {
      if (this.#buf.length === 0) return;
      if (this.#final) throw new BackupError('TAMPERED', 'The backup file has data after its last frame: it has been altered.');
      if (this.#buf.length < FRAME_HEAD_BYTES) return;
      const len = this.#buf.readUInt32BE(0);
      const flags = this.#buf[4]!;
      if (len > FRAME_PLAIN_BYTES || (flags !== 0 && flags !== 1)) throw new BackupError('TAMPERED', 'The backup file is damaged or has been altered (bad frame header).');
      const total = FRAME_HEAD_BYTES + len + TAG_BYTES;
      if (this.#buf.length < total) return;
      const decipher = crypto.createDecipheriv('aes-256-gcm', this.#key!, nonce(this.#index));
      decipher.setAAD(aad(this.#header!, this.#index, flags));
      decipher.setAuthTag(this.#buf.subarray(FRAME_HEAD_BYTES + len, total));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(this.#buf.subarray(FRAME_HEAD_BYTES, FRAME_HEAD_BYTES + len)), decipher.final()]);
      } catch {
        throw new BackupError('TAMPERED', `The backup file is damaged or has been altered (frame ${this.#index} fails authentication).`);
      }
      this.push(plain);
      this.#index++;
      this.#final = flags === 1;
      this.#buf = this.#buf.subarray(total);
    }
  }

  override _flush(cb: TransformCallback) {
    if (!this.#header) return cb(new BackupError('BAD_FILE', 'The backup file is too short to be a Samtale backup.'));
    if (!this.#final || this.#buf.length > 0) return cb(new BackupError('TAMPERED', 'The backup file is cut off (its last frame is missing).'));
    cb();
  }
}

/** Reads the key id from a backup file's header without decrypting anything. */
export function readKeyId(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const n = fs.readSync(fd, header, 0, HEADER_BYTES, 0);
    if (n < HEADER_BYTES || !header.subarray(0, 8).equals(MAGIC)) throw new BackupError('BAD_FILE', `${path.basename(file)} is not a Samtale backup file.`);
    return header.subarray(40, 48).toString('hex');
  } finally {
    fs.closeSync(fd);
  }
}
