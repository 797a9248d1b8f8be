/**
 * THE place where file content will be encrypted with the company's key (issue 6, retention and
 * keys). Every chunk passes through `contentCipher.seal` on its way into storage and through
 * `contentCipher.open` on its way out; nothing else touches stored bytes.
 *
 * Today files are NOT encrypted at the application level: `plaintext` stores chunks as they
 * arrive and marks them `cipher = 'none'`. They are protected by PostgreSQL's access control,
 * row-level security (M8) and whatever encryption the database's disks and backups have. When the
 * per-company keys exist, add a cipher here (for example AES-256-GCM with the chunk's company,
 * file id and sequence number as associated data), store its name in `file_chunks.cipher`, and
 * let `open` choose by that name, so chunks written before the change can still be read.
 */
export type ChunkAddress = { companyId: string; fileId: string; seq: number };

export interface ContentCipher {
  seal(at: ChunkAddress, plain: Uint8Array): Promise<{ cipher: string; data: Uint8Array }>;
  open(at: ChunkAddress, stored: { cipher: string; data: Uint8Array }): Promise<Uint8Array>;
}

export const plaintext: ContentCipher = {
  seal: async (_at, plain) => ({ cipher: 'none', data: plain }),
  open: async (_at, stored) => {
    if (stored.cipher !== 'none') throw new Error(`unknown chunk cipher: ${stored.cipher}`);
    return stored.data;
  },
};

/** The cipher in use. Issue 6 replaces this with its per-company key cipher. */
export const contentCipher: ContentCipher = plaintext;
