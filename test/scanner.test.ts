/**
 * P5 the clamd client fails closed: only an exact `stream: OK` is clean; a silent, closing or
 * garbled scanner leaves the file waiting. Uses small local TCP servers that play a broken clamd,
 * and the real clamd (scripts/clamd.sh) when there is one. P3: only a local clamd in production.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClamdScanner, interpret, noScanner } from '../src/platform/scanner/clamd.ts';
import { loadConfig } from '../src/config.ts';
import { clamdAddress, EICAR } from './helpers/files.ts';

async function* content(...pieces: Buffer[]) {
  for (const p of pieces) yield p;
}

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A fake clamd on a free loopback port that answers with `behave`. */
async function fakeClamd(behave: (socket: net.Socket, received: () => Buffer) => void): Promise<number> {
  const server = net.createServer((socket) => {
    const parts: Buffer[] = [];
    socket.on('data', (d) => parts.push(d));
    socket.on('error', () => undefined);
    behave(socket, () => Buffer.concat(parts));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

describe('P5 clamd replies', () => {
  it('P5 only an exact "stream: OK" is clean', () => {
    expect(interpret('stream: OK')).toEqual({ kind: 'clean' });
    expect(interpret('stream: Eicar-Test-Signature FOUND')).toEqual({ kind: 'infected', signature: 'Eicar-Test-Signature' });
    expect(interpret('INSTREAM size limit exceeded. ERROR')).toEqual({ kind: 'error', reason: 'size_limit' });
    expect(interpret('stream: OKAY')).toEqual({ kind: 'error', reason: 'scanner_error' });
    expect(interpret('')).toEqual({ kind: 'error', reason: 'scanner_error' });
    expect(interpret('stream: Can\'t allocate memory ERROR')).toEqual({ kind: 'error', reason: 'scanner_error' });
  });

  it('P5 without a scanner nothing is clean', async () => {
    expect(await noScanner.scan(content(Buffer.from('x')))).toEqual({ kind: 'error', reason: 'not_configured' });
  });

  it('P5 sends INSTREAM with length-prefixed pieces and a zero length at the end', async () => {
    let seen: Buffer = Buffer.alloc(0);
    const port = await fakeClamd((socket, received) => {
      socket.on('data', () => {
        const all = received();
        if (all.length >= 4 && all.subarray(-4).equals(Buffer.alloc(4))) {
          seen = all;
          socket.end('stream: OK\0');
        }
      });
    });
    const result = await new ClamdScanner({ host: '127.0.0.1', port }, 5000).scan(content(Buffer.from('abc'), Buffer.from('de')));
    expect(result).toEqual({ kind: 'clean' });
    expect(seen.subarray(0, 10).toString('latin1')).toBe('zINSTREAM\0');
    expect(seen.subarray(10).toString('hex')).toBe('00000003616263' + '000000026465' + '00000000');
  });

  it('P5 a scanner that never answers is a timeout, one that closes silently is an error: never clean', async () => {
    const silent = await fakeClamd(() => undefined);
    expect(await new ClamdScanner({ host: '127.0.0.1', port: silent }, 300).scan(content(Buffer.from('x')))).toEqual({ kind: 'error', reason: 'timeout' });
    const closing = await fakeClamd((socket) => socket.end());
    const r = await new ClamdScanner({ host: '127.0.0.1', port: closing }, 5000).scan(content(Buffer.from('x')));
    expect(r.kind).toBe('error');
    const garbled = await fakeClamd((socket) => socket.end('PONG\0'));
    expect((await new ClamdScanner({ host: '127.0.0.1', port: garbled }, 5000).scan(content(Buffer.from('x')))).kind).toBe('error');
  });

  it('P5 a refused connection is "unreachable"', async () => {
    const port = await fakeClamd(() => undefined);
    await new Promise((r) => servers.pop()?.close(r));
    expect(await new ClamdScanner({ host: '127.0.0.1', port }, 2000).scan(content(Buffer.from('x')))).toEqual({ kind: 'error', reason: 'unreachable' });
  });
});

const clamd = clamdAddress();

describe.skipIf(!clamd)('P5 the real clamd', () => {
  it('P5 finds EICAR, passes clean content, answers PING, and reports a stream over its limit as an error (never clean)', async () => {
    const scanner = new ClamdScanner({ host: clamd?.host ?? '', port: Number(clamd?.port) }, 20_000);
    expect(await scanner.ping()).toBe(true);
    const found = await scanner.scan(content(EICAR));
    expect(found.kind).toBe('infected');
    expect(await scanner.scan(content(Buffer.from('hello')))).toEqual({ kind: 'clean' });
    // scripts/clamd.sh sets StreamMaxLength 40M.
    const big = Buffer.alloc(1024 * 1024, 0x41);
    const result = await scanner.scan(content(...Array.from({ length: 45 }, () => big)));
    // clamd replies "size limit exceeded" and closes while we may still be writing; under load the
    // connection reset can reach us before the reply (Linux then drops the unread reply). Either
    // way the stream is an error, never clean, and the file stays waiting (fail closed).
    expect(result.kind).toBe('error');
    expect(['size_limit', 'unreachable']).toContain(result.kind === 'error' ? result.reason : '');
  });
});

describe('P3 only a local clamd in production', () => {
  const prod = { NODE_ENV: 'production', TRUST_PROXY: 'true', PUBLIC_URL: 'https://samtale.example', SMTP_URL: 'smtp://mail.example' } as const;
  it('P3 refuses a remote CLAMD_HOST in production and accepts the loopback or a socket', () => {
    expect(() => loadConfig({ ...prod, CLAMD_HOST: 'clamd.internal' })).toThrow(/CLAMD_HOST/);
    expect(loadConfig({ ...prod, CLAMD_HOST: '127.0.0.1' }).scanner).toMatchObject({ kind: 'clamd', host: '127.0.0.1', port: 3310 });
    expect(loadConfig({ ...prod, CLAMD_SOCKET: '/run/clamav/clamd.ctl' }).scanner).toMatchObject({ kind: 'clamd', socket: '/run/clamav/clamd.ctl' });
    expect(() => loadConfig({ CLAMD_SOCKET: '/x', CLAMD_HOST: '127.0.0.1' })).toThrow(/not both/);
    expect(loadConfig({}).scanner).toEqual({ kind: 'none' });
    expect(loadConfig({}).uploads.maxFileBytes).toBe(25 * 1024 * 1024);
  });
});
