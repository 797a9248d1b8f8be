/**
 * What an uploaded file is, judged by its content (issue 7, P2).
 *
 * Design note: the extension of the cleaned name says what the uploader claims; the first bytes
 * (and, for office files, the zip directory) must agree, or the file is refused. The browser's
 * Content-Type is ignored: it is whatever the client says. Office files are zip containers; their
 * central directory is read (never an entry's content) and refused when it lists too many entries,
 * too many uncompressed bytes, encrypted entries or a compression ratio no document has (zip
 * bombs). Nothing is ever unpacked by Samtale; clamd unpacks under its own limits.
 * Names are display text only: cleaned here and never used as a path anywhere.
 */
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { FileKind } from '../db/schema.ts';

export const FILE_KINDS: Record<FileKind, { extensions: string[]; contentType: string }> = {
  pdf: { extensions: ['pdf'], contentType: 'application/pdf' },
  docx: { extensions: ['docx'], contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' },
  xlsx: { extensions: ['xlsx'], contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
  odt: { extensions: ['odt'], contentType: 'application/vnd.oasis.opendocument.text' },
  ods: { extensions: ['ods'], contentType: 'application/vnd.oasis.opendocument.spreadsheet' },
  csv: { extensions: ['csv'], contentType: 'text/csv; charset=utf-8' },
  txt: { extensions: ['txt'], contentType: 'text/plain; charset=utf-8' },
  png: { extensions: ['png'], contentType: 'image/png' },
  jpeg: { extensions: ['jpg', 'jpeg'], contentType: 'image/jpeg' },
};

export const ALLOWED_EXTENSIONS = Object.values(FILE_KINDS).flatMap((k) => k.extensions);

const MAX_NAME = 200;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i;

/**
 * A safe display name: the last path segment only, no control or bidirectional-override
 * characters (which can disguise "exe.pdf" as "fdp.exe"), no characters Windows refuses, no
 * leading dots, at most 200 characters with the extension kept.
 */
export function cleanFileName(raw: string): string {
  let name = (raw ?? '').normalize('NFC');
  name = name.split(/[/\\]/).pop() ?? '';
  name = name
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    .replace(/[<>:"|?*]/g, '_')
    .replace(/\s+/g, ' ')
    .replace(/^[\s.]+|[\s.]+$/g, '');
  if (WINDOWS_RESERVED.test(name)) name = `_${name}`;
  // Lone surrogates (half an emoji) cannot be stored as UTF-8: drop them, and cut by code point.
  name = name.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
  const chars = Array.from(name);
  if (chars.length > MAX_NAME) {
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= 10 ? name.slice(dot) : '';
    name = chars.slice(0, MAX_NAME - ext.length).join('').trimEnd() + ext;
  }
  return name;
}

export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

export function kindForExtension(ext: string): FileKind | undefined {
  for (const [kind, def] of Object.entries(FILE_KINDS) as [FileKind, (typeof FILE_KINDS)[FileKind]][]) {
    if (def.extensions.includes(ext)) return kind;
  }
  return undefined;
}

const startsWith = (head: Buffer, bytes: number[] | string) => {
  const want = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
  return head.length >= want.length && head.subarray(0, want.length).equals(want);
};

/** The OpenDocument `mimetype` entry, stored first and uncompressed (ODF 1.2, section 3.3). */
function odfMimetype(head: Buffer): string | undefined {
  if (!startsWith(head, 'PK\x03\x04') || head.length < 30) return undefined;
  const nameLength = head.readUInt16LE(26);
  const extraLength = head.readUInt16LE(28);
  const compression = head.readUInt16LE(8);
  if (head.subarray(30, 30 + nameLength).toString('latin1') !== 'mimetype' || compression !== 0) return undefined;
  const size = head.readUInt32LE(18);
  const start = 30 + nameLength + extraLength;
  if (size > 100 || head.length < start + size) return undefined;
  return head.subarray(start, start + size).toString('latin1');
}

/** Checks that the start of the content matches the claimed kind (zip kinds: only the zip part). */
export function headMatches(kind: FileKind, head: Buffer): boolean {
  switch (kind) {
    case 'pdf':
      return startsWith(head, '%PDF-');
    case 'png':
      return startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    case 'jpeg':
      return startsWith(head, [0xff, 0xd8, 0xff]);
    case 'docx':
    case 'xlsx':
      return startsWith(head, 'PK\x03\x04');
    case 'odt':
      return odfMimetype(head) === 'application/vnd.oasis.opendocument.text';
    case 'ods':
      return odfMimetype(head) === 'application/vnd.oasis.opendocument.spreadsheet';
    case 'csv':
    case 'txt':
      return head.length > 0 && isText(head);
  }
}

/**
 * Text: no NUL or other control bytes except tab, line feed, form feed and carriage return. Any
 * 8-bit encoding passes (Excel writes CSV in Windows-1252 here), binaries do not.
 */
export function isText(piece: Uint8Array): boolean {
  for (const b of piece) {
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d) return false;
  }
  return true;
}

export const isZipKind = (kind: FileKind) => kind === 'docx' || kind === 'xlsx' || kind === 'odt' || kind === 'ods';

export type ZipLimits = { maxEntries: number; maxUncompressedBytes: number };
export type ZipVerdict = { ok: true } | { ok: false; reason: 'zip_bomb' | 'zip_invalid' | 'type' };

/** Documents compress well, but not a thousandfold; zip bombs do. */
const MAX_RATIO = 200;

class RangeReader extends yauzl.RandomAccessReader {
  constructor(private readonly readRange: (start: number, end: number) => Promise<Buffer>) {
    super();
  }
  override _readStreamForRange(start: number, end: number): Readable {
    const read = this.readRange;
    return Readable.from(
      (async function* () {
        yield await read(start, end);
      })(),
    );
  }
}

/**
 * Reads only the zip's central directory, through `readRange` (the store), and decides whether
 * the container is acceptable and is the kind it claims to be.
 */
export async function inspectZip(kind: FileKind, size: number, readRange: (start: number, end: number) => Promise<Buffer>, limits: ZipLimits): Promise<ZipVerdict> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(new RangeReader(readRange), size, { autoClose: false, strictFileNames: false, validateEntrySizes: true });
  } catch {
    return { ok: false, reason: 'zip_invalid' };
  }
  try {
    if (zip.entryCount > limits.maxEntries) return { ok: false, reason: 'zip_bomb' };
    const names = new Set<string>();
    let total = 0;
    const verdict = await new Promise<ZipVerdict>((resolve) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        names.add(entry.fileName);
        total += entry.uncompressedSize;
        const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
        if (entry.isEncrypted()) return resolve({ ok: false, reason: 'zip_invalid' });
        if (total > limits.maxUncompressedBytes || (entry.uncompressedSize > 1024 * 1024 && ratio > MAX_RATIO)) return resolve({ ok: false, reason: 'zip_bomb' });
        zip.readEntry();
      });
      zip.on('end', () => resolve({ ok: true }));
      zip.on('error', () => resolve({ ok: false, reason: 'zip_invalid' }));
      zip.readEntry();
    });
    if (!verdict.ok) return verdict;
    const has = (n: string) => names.has(n);
    const matches =
      kind === 'docx'
        ? has('[Content_Types].xml') && has('word/document.xml')
        : kind === 'xlsx'
          ? has('[Content_Types].xml') && has('xl/workbook.xml')
          : has('mimetype') && has('content.xml');
    return matches ? { ok: true } : { ok: false, reason: 'type' };
  } finally {
    zip.close();
  }
}
