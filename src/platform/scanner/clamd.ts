/**
 * Virus scanning through clamd's INSTREAM command (P5), over TCP or a unix socket.
 *
 * Design note: the protocol is small enough to write out. We send `zINSTREAM\0`, then the
 * content as chunks of a 4-byte big-endian length plus data, then a zero length, and read one
 * reply terminated by `\0`. Only `stream: OK` means clean; `stream: <name> FOUND` means infected;
 * anything else (a size-limit reply, an error, a timeout, a refused connection, a closed socket)
 * is an error and the file stays waiting (fail closed). No file is ever treated as clean without
 * clamd having said so. The content is streamed: the caller hands an async iterable of chunks,
 * read one at a time from storage.
 *
 * P3: clamd does not encrypt; the config accepts only a local clamd in production (a unix socket
 * or a loopback address), see src/config.ts.
 */
import net from 'node:net';
import type { Config } from '../../config.ts';

export type ScanResult =
  | { kind: 'clean' }
  | { kind: 'infected'; signature: string }
  | { kind: 'error'; reason: ScanErrorReason };

/** Short, content-free codes; stored on the file row and shown to operators. */
export type ScanErrorReason = 'not_configured' | 'unreachable' | 'timeout' | 'size_limit' | 'scanner_error';

export interface Scanner {
  readonly configured: boolean;
  scan(content: AsyncIterable<Uint8Array>): Promise<ScanResult>;
  /** PING/PONG, for /readyz. */
  ping(): Promise<boolean>;
}

/** clamd's INSTREAM limit is StreamMaxLength; we send pieces of at most this size. */
const PIECE = 64 * 1024;

type Address = { socket: string } | { host: string; port: number };

export class ClamdScanner implements Scanner {
  readonly configured = true;
  constructor(
    private readonly address: Address,
    private readonly timeoutMs: number,
  ) {}

  private connect(): net.Socket {
    const socket = 'socket' in this.address ? net.connect({ path: this.address.socket }) : net.connect({ host: this.address.host, port: this.address.port });
    socket.setNoDelay(true);
    return socket;
  }

  async ping(): Promise<boolean> {
    const reply = await this.exchange(async (socket) => {
      socket.write('zPING\0');
    }, Math.min(this.timeoutMs, 3000)).catch(() => undefined);
    return reply === 'PONG';
  }

  async scan(content: AsyncIterable<Uint8Array>): Promise<ScanResult> {
    let reply: string;
    try {
      reply = await this.exchange(async (socket) => {
        await write(socket, Buffer.from('zINSTREAM\0'));
        for await (const chunk of content) {
          for (let at = 0; at < chunk.length; at += PIECE) {
            const piece = chunk.subarray(at, Math.min(chunk.length, at + PIECE));
            const length = Buffer.alloc(4);
            length.writeUInt32BE(piece.length, 0);
            // clamd closes the connection when the stream exceeds its limit: stop writing then.
            if (socket.destroyed || socket.writableEnded) return;
            await write(socket, Buffer.concat([length, piece]));
          }
        }
        await write(socket, Buffer.alloc(4));
      }, this.timeoutMs);
    } catch (err) {
      return { kind: 'error', reason: err instanceof ScanTimeout ? 'timeout' : err instanceof SizeLimit ? 'size_limit' : 'unreachable' };
    }
    return interpret(reply);
  }

  /** Connects, runs `send`, and resolves with the reply up to its terminating NUL. */
  private exchange(send: (socket: net.Socket) => Promise<void>, timeoutMs: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const socket = this.connect();
      const parts: Buffer[] = [];
      let settled = false;
      const finish = (err: Error | undefined, value?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(value ?? '');
      };
      const timer = setTimeout(() => finish(new ScanTimeout()), timeoutMs);
      const replySoFar = () => Buffer.concat(parts).toString('utf8');
      socket.on('data', (data: Buffer) => {
        parts.push(data);
        const text = replySoFar();
        const end = text.indexOf('\0');
        if (end >= 0) finish(undefined, text.slice(0, end).trim());
      });
      socket.on('end', () => {
        const text = replySoFar().replace(/\0+$/, '').trim();
        if (text) finish(undefined, text);
        else finish(new Error('clamd closed the connection without a reply'));
      });
      socket.on('error', (err) => {
        // clamd answers a too-long stream and closes at once; a write may then fail (EPIPE).
        const text = replySoFar();
        if (/size limit/i.test(text)) finish(new SizeLimit());
        else if (text.includes('\0')) finish(undefined, text.slice(0, text.indexOf('\0')).trim());
        else finish(err);
      });
      socket.once('connect', () => {
        send(socket).catch((err: unknown) => {
          const text = replySoFar();
          if (/size limit/i.test(text)) finish(new SizeLimit());
          else if (!text) finish(err instanceof Error ? err : new Error('write failed'));
          // Otherwise the reply is on its way; 'data' or 'end' settles.
        });
      });
    });
  }
}

class ScanTimeout extends Error {}
class SizeLimit extends Error {}

function write(socket: net.Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/** Only an exact `stream: OK` is clean. */
export function interpret(reply: string): ScanResult {
  if (reply === 'stream: OK') return { kind: 'clean' };
  const found = /^stream: (.{1,200}) FOUND$/.exec(reply);
  if (found?.[1]) return { kind: 'infected', signature: found[1] };
  if (/size limit/i.test(reply)) return { kind: 'error', reason: 'size_limit' };
  return { kind: 'error', reason: 'scanner_error' };
}

/** Without a configured clamd nothing is ever clean: every file waits. */
export const noScanner: Scanner = {
  configured: false,
  scan: async () => ({ kind: 'error', reason: 'not_configured' }),
  ping: async () => false,
};

export function scannerFromConfig(config: Config): Scanner {
  const s = config.scanner;
  if (s.kind === 'none') return noScanner;
  return 'socket' in s ? new ClamdScanner({ socket: s.socket }, s.timeoutMs) : new ClamdScanner({ host: s.host, port: s.port }, s.timeoutMs);
}

export type ScannerHealth = { status: 'ok' | 'unreachable' | 'not_configured'; checkedAt?: string };

/**
 * For /readyz: a PING at most every 15 seconds per process (cached), so probes never flood
 * clamd. The scanner never decides readiness: uploads wait while it is away.
 */
const healthCache = new Map<string, { at: number; ok: boolean }>();

export async function scannerHealth(config: Config, now = Date.now()): Promise<ScannerHealth> {
  const s = config.scanner;
  if (s.kind === 'none') return { status: 'not_configured' };
  const key = 'socket' in s ? `unix:${s.socket}` : `${s.host}:${s.port}`;
  const cached = healthCache.get(key);
  if (cached && now - cached.at < 15_000) return { status: cached.ok ? 'ok' : 'unreachable', checkedAt: new Date(cached.at).toISOString() };
  const ok = await scannerFromConfig(config).ping();
  healthCache.set(key, { at: now, ok });
  return { status: ok ? 'ok' : 'unreachable', checkedAt: new Date(now).toISOString() };
}
