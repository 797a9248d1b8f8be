/**
 * THE place where file content is encrypted with the company's key (issue 6, M16). Every chunk
 * passes through `contentCipher.seal` on its way into storage and through `contentCipher.open`
 * on its way out; nothing else touches stored bytes.
 *
 * New chunks are sealed with AES-256-GCM under the company's data key (src/platform/crypto), with
 * the chunk's company, file id and sequence number as associated data, and marked
 * `cipher = 'aes-256-gcm/v1'`: a chunk copied to another file, position or company does not
 * open. `open` chooses by that name, so chunks written before (`cipher = 'none'`) are still read.
 * When a company is purged its data key is destroyed, so its chunks in any old data backup can no
 * longer be read.
 */
import { openBytes, sealBytes } from '../crypto/envelope.ts';

export type ChunkAddress = { companyId: string; fileId: string; seq: number };

export interface ContentCipher {
  seal(at: ChunkAddress, plain: Uint8Array): Promise<{ cipher: string; data: Uint8Array }>;
  open(at: ChunkAddress, stored: { cipher: string; data: Uint8Array }): Promise<Uint8Array>;
}

/** Chunks written before encryption (and test fixtures) are stored as uploaded. */
export const plaintext: ContentCipher = {
  seal: async (_at, plain) => ({ cipher: 'none', data: plain }),
  open: async (_at, stored) => {
    if (stored.cipher !== 'none') throw new Error(`unknown chunk cipher: ${stored.cipher}`);
    return stored.data;
  },
};

export const COMPANY_KEY_CIPHER = 'aes-256-gcm/v1';
const chunkRow = (at: ChunkAddress) => `${at.fileId}/${at.seq}`;

/** AES-256-GCM under the company's data key; reads 'none' chunks as they are. */
export const companyKeyCipher: ContentCipher = {
  seal: async (at, plain) => ({ cipher: COMPANY_KEY_CIPHER, data: await sealBytes(at.companyId, 'file_chunks', chunkRow(at), plain) }),
  open: async (at, stored) => {
    if (stored.cipher === 'none') return stored.data;
    if (stored.cipher !== COMPANY_KEY_CIPHER) throw new Error(`unknown chunk cipher: ${stored.cipher}`);
    return openBytes(at.companyId, 'file_chunks', chunkRow(at), stored.data);
  },
};

/** The cipher in use. */
export const contentCipher: ContentCipher = companyKeyCipher;
