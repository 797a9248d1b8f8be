/**
 * Progress for long backups and restores (M11): bytes processed, and the percentage when the size
 * is known. On a terminal the line is redrawn at most once a second; otherwise (cron, logs) only
 * the final line is written. Always on stderr, so stdout stays the command's result.
 */
import { Transform, type TransformCallback } from 'node:stream';

export type ProgressSink = { write(text: string): unknown; isTTY?: boolean | undefined };

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export class Progress {
  bytes = 0;
  #last = 0;
  #drawn = false;

  constructor(
    readonly label: string,
    readonly total: number | undefined,
    readonly sink: ProgressSink | undefined,
    readonly now: () => number = Date.now,
  ) {}

  #line(): string {
    const pct = this.total ? ` (${Math.min(100, Math.floor((this.bytes / this.total) * 100))} %)` : '';
    return `${this.label}: ${formatBytes(this.bytes)}${this.total ? ` of ${formatBytes(this.total)}` : ''}${pct}`;
  }

  add(n: number) {
    this.bytes += n;
    if (!this.sink?.isTTY) return;
    const t = this.now();
    if (t - this.#last < 1000) return;
    this.#last = t;
    this.sink.write(`\r${this.#line()}\u001b[K`);
    this.#drawn = true;
  }

  done(suffix = 'done') {
    if (!this.sink) return;
    this.sink.write(`${this.#drawn ? '\r' : ''}${this.#line()}, ${suffix}${this.#drawn ? '\u001b[K' : ''}\n`);
  }

  /** A pass-through stream that counts what flows by. */
  counter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        this.add(chunk.length);
        cb(null, chunk);
      },
    });
  }
}
