/**
 * Where file content lives (issue 7). One interface, `ContentStore`, so an S3-compatible store
 * can be added for large installations; the default keeps content in PostgreSQL (`file_chunks`),
 * so replication, backups and purges cover files with no extra system.
 *
 * Design note: content is written and read in chunks of CHUNK_BYTES, each in its own short
 * transaction opened by the caller's `run` (withTenant for requests, unsafeSystemTransaction for
 * jobs), so nothing holds the whole file in memory and no transaction stays open while a slow
 * client uploads or downloads (on PGlite a transaction holds the only connection). A file's
 * metadata row (`files`) says whether the content may be used: the store never decides that.
 * Every chunk passes through `contentCipher` (encryption.ts), the one place for issue 6's keys.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Tx } from '../db/context.ts';
import { contentCipher, type ContentCipher } from './encryption.ts';

export const CHUNK_BYTES = 512 * 1024;

/** Runs `fn` in a fresh transaction in the right tenant context. */
export type TxRunner = <T>(fn: (trx: Tx) => Promise<T>) => Promise<T>;
export type StoreScope = { companyId: string; run: TxRunner };

export interface ContentWriter {
  write(data: Uint8Array): Promise<void>;
  /** Flushes the last piece; returns what was stored. */
  finish(): Promise<{ size: number; sha256: string }>;
}

export interface ContentStore {
  /** For a `files` row that already exists (state `uploading`). */
  writer(scope: StoreScope, fileId: string): ContentWriter;
  /** The whole content, piece by piece. */
  read(scope: StoreScope, fileId: string): AsyncIterable<Uint8Array>;
  /** Bytes [start, end) (for a zip's central directory). */
  readRange(scope: StoreScope, fileId: string, start: number, end: number): Promise<Buffer>;
  /**
   * Removes the content inside the caller's transaction, so that destroying and its audit event
   * commit together. (An object store would delete after commit and retry from a job.)
   */
  destroy(trx: Tx, fileId: string): Promise<void>;
}

const asBuffer = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

export class PostgresContentStore implements ContentStore {
  constructor(private readonly cipher: ContentCipher = contentCipher) {}

  writer(scope: StoreScope, fileId: string): ContentWriter {
    const hash = createHash('sha256');
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let seq = 0;
    let size = 0;
    const flush = async (piece: Buffer) => {
      const at = { companyId: scope.companyId, fileId, seq };
      const sealed = await this.cipher.seal(at, piece);
      await scope.run((trx) =>
        trx.insertInto('file_chunks').values({ company_id: scope.companyId, file_id: fileId, seq, cipher: sealed.cipher, data: sealed.data }).execute(),
      );
      seq += 1;
    };
    return {
      write: async (data) => {
        const buf = asBuffer(data);
        hash.update(buf);
        size += buf.length;
        pending.push(buf);
        pendingBytes += buf.length;
        // Every chunk but the last is exactly CHUNK_BYTES long, so readRange can find offsets.
        while (pendingBytes >= CHUNK_BYTES) {
          const all = Buffer.concat(pending);
          await flush(all.subarray(0, CHUNK_BYTES));
          const rest = all.subarray(CHUNK_BYTES);
          pending = rest.length > 0 ? [rest] : [];
          pendingBytes = rest.length;
        }
      },
      finish: async () => {
        if (pendingBytes > 0) await flush(Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
        return { size, sha256: hash.digest('hex') };
      },
    };
  }

  private async chunk(scope: StoreScope, fileId: string, seq: number): Promise<Buffer | undefined> {
    const row = await scope.run((trx) => trx.selectFrom('file_chunks').select(['cipher', 'data']).where('file_id', '=', fileId).where('seq', '=', seq).executeTakeFirst());
    if (!row) return undefined;
    return asBuffer(await this.cipher.open({ companyId: scope.companyId, fileId, seq }, { cipher: row.cipher, data: row.data }));
  }

  async *read(scope: StoreScope, fileId: string): AsyncIterable<Uint8Array> {
    for (let seq = 0; ; seq++) {
      const piece = await this.chunk(scope, fileId, seq);
      if (!piece) return;
      yield piece;
    }
  }

  async readRange(scope: StoreScope, fileId: string, start: number, end: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let seq = Math.floor(start / CHUNK_BYTES); seq * CHUNK_BYTES < end; seq++) {
      const piece = await this.chunk(scope, fileId, seq);
      if (!piece) break;
      const base = seq * CHUNK_BYTES;
      parts.push(piece.subarray(Math.max(0, start - base), Math.min(piece.length, end - base)));
    }
    return Buffer.concat(parts);
  }

  async destroy(trx: Tx, fileId: string): Promise<void> {
    await trx.deleteFrom('file_chunks').where('file_id', '=', fileId).execute();
  }
}

/** The store in use; an S3-compatible one would be chosen here from the config. */
export const contentStore: ContentStore = new PostgresContentStore();

/** A Node stream over a store's content, for the HTTP response. */
export function contentStream(store: ContentStore, scope: StoreScope, fileId: string): Readable {
  return Readable.from(store.read(scope, fileId));
}
