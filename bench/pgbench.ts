/**
 * The database's own ceiling for a request: the statements one app request runs, captured from
 * the bench cluster's statement log (log_statement = all, switched on only for the capture), with
 * their parameters written in, replayed by pgbench at the same concurrency. Each pgbench client
 * replays the statements of "its" request (client i the request of app connection i), so both
 * sides touch the same rows with the same spread over companies.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import pg from 'pg';
import { percentile, round } from './lib.ts';

export const PGBENCH = process.env.PGBENCH ?? '/usr/lib/postgresql/15/bin/pgbench';

export type Statement = { sql: string; params: (string | null)[] };

/** Switches the statement log on, runs `fn` request by request, and returns each one's statements. */
export async function captureStatements(url: string, logFile: string, requests: (() => Promise<void>)[]): Promise<Statement[][]> {
  const control = new pg.Client({ connectionString: url });
  await control.connect();
  try {
    const me = Number((await control.query('select pg_backend_pid() as pid')).rows[0].pid);
    await control.query(`alter system set log_statement = 'all'`);
    await control.query(`alter system set log_line_prefix = '%m [%p] '`);
    await control.query('select pg_reload_conf()');
    await new Promise((r) => setTimeout(r, 300));
    const out: Statement[][] = [];
    try {
      for (const request of requests) {
        const from = fs.statSync(logFile).size;
        await request();
        // The statements were logged before their results went back to the app.
        await new Promise((r) => setTimeout(r, 20));
        const text = readFrom(logFile, from);
        out.push(parseLog(text, me));
      }
    } finally {
      await control.query('alter system reset log_statement');
      await control.query('select pg_reload_conf()');
    }
    return out;
  } finally {
    await control.end();
  }
}

function readFrom(file: string, from: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(size - from);
    fs.readSync(fd, buf, 0, buf.length, from);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The statements of one request in a stretch of the server log. Statements are grouped by
 * backend (a request may use several pooled connections, one after the other) and by
 * transaction; transactions of the system role (the job runner's work, which may run at the same
 * time) and everything of `skipPid` (the capture's own connection) are left out. The request's
 * transactions are returned in the order they started.
 */
export function parseLog(text: string, skipPid: number): Statement[] {
  // Entries start with the prefix '%m [%p] '; continuation lines (multi-line SQL) do not.
  const entries: { pid: number; kind: string; body: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d{4}-\d{2}-\d{2} [\d:.]+ \S+ \[(\d+)\] (\w+):  (.*)$/.exec(line);
    if (m) entries.push({ pid: Number(m[1]), kind: m[2] ?? '', body: m[3] ?? '' });
    else if (entries.length > 0 && line !== '') (entries.at(-1) as { body: string }).body += '\n' + line;
  }
  type Tx = { start: number; statements: Statement[]; system: boolean };
  const done: Tx[] = [];
  const open = new Map<number, Tx>();
  const last = new Map<number, Statement>();
  entries.forEach((e, index) => {
    if (e.pid === skipPid) return;
    if (e.kind === 'LOG') {
      const m = /^(?:execute [^:]*|statement): ([\s\S]*)$/.exec(e.body);
      if (!m?.[1]) return;
      const st: Statement = { sql: m[1], params: [] };
      last.set(e.pid, st);
      let tx = open.get(e.pid);
      if (!tx) {
        tx = { start: index, statements: [], system: false };
        open.set(e.pid, tx);
      }
      tx.statements.push(st);
      if (/^set local role samtale_system/i.test(st.sql)) tx.system = true;
      if (/^(commit|rollback|end)\b/i.test(st.sql.trim()) || !/^begin\b/i.test(tx.statements[0]?.sql.trim() ?? '')) {
        done.push(tx);
        open.delete(e.pid);
      }
    } else if (e.kind === 'DETAIL' && e.body.startsWith('parameters: ')) {
      const st = last.get(e.pid);
      if (!st) return;
      for (const p of e.body.slice('parameters: '.length).matchAll(/\$(\d+) = (NULL|'((?:[^']|'')*)')/g)) {
        st.params[Number(p[1]) - 1] = p[2] === 'NULL' ? null : (p[3] ?? '').replaceAll("''", "'");
      }
    }
  });
  for (const tx of open.values()) done.push(tx);
  return done
    .filter((tx) => !tx.system)
    .sort((a, b) => a.start - b.start)
    .flatMap((tx) => tx.statements);
}

const literal = (v: string | null) => (v === null ? 'NULL' : `'${v.replaceAll("'", "''")}'`);

/**
 * One statement as a line of a pgbench script: parameters written in as literals (typed by their
 * context, as the server types unknown parameters), `overrides` replacing chosen parameters with
 * pgbench expressions such as `:v`.
 */
export function toScriptLine(s: Statement, overrides: Record<number, string> = {}): string {
  const text = s.sql.replace(/\$(\d+)/g, (_, n: string) => overrides[Number(n)] ?? literal(s.params[Number(n) - 1] ?? null));
  // pgbench reads one command per line; ':name' would be taken as a variable, so colons in the
  // captured SQL that are not casts are left alone only when no such variable exists (none here).
  return text.replace(/\s*\n\s*/g, ' ').trim().replace(/;$/, '') + ';';
}

/** A script where client i replays the statements of request i % n. */
export function branchedScript(perSlot: string[][], after: string[] = []): string {
  const n = perSlot.length;
  const lines = [`\\set slot :client_id % ${n}`];
  perSlot.forEach((stmts, i) => {
    lines.push(i === 0 ? `\\if :slot = ${i}` : `\\elif :slot = ${i}`);
    lines.push(...stmts);
  });
  lines.push('\\endif', ...after);
  return lines.join('\n') + '\n';
}

export type PgbenchResult = { tps: number | null; p50: number | null; p99: number | null; transactions: number; failed: number; clients: number; seconds: number };

/** Runs pgbench with the script against the database; latencies from its per-transaction log. */
export async function runPgbench(url: string, script: string, opts: { clients: number; threads: number; seconds: number; defines?: Record<string, string> }): Promise<PgbenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-pgbench-'));
  try {
    const file = path.join(dir, 'script.sql');
    fs.writeFileSync(file, script);
    const u = new URL(url);
    const args = ['-n', '-f', file, '-c', String(opts.clients), '-j', String(opts.threads), '-T', String(opts.seconds), '-l', '--log-prefix', path.join(dir, 'tx')];
    for (const [k, v] of Object.entries(opts.defines ?? {})) args.push('-D', `${k}=${v}`);
    args.push('-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username || 'postgres'), u.pathname.slice(1));
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(PGBENCH, args, { maxBuffer: 10 * 1024 * 1024 }, (err, out, errOut) => (err ? reject(new Error(`pgbench failed: ${errOut || err.message}`)) : resolve(out + errOut)));
    });
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
    const processed = /number of transactions actually processed: (\d+)/.exec(stdout)?.[1];
    const failed = /number of failed transactions: (\d+)/.exec(stdout)?.[1];
    const latencies: number[] = [];
    for (const f of fs.readdirSync(dir).filter((x) => x.startsWith('tx'))) {
      for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
        const cols = line.split(' ');
        if (cols.length >= 3) latencies.push(Number(cols[2]) / 1000);
      }
    }
    latencies.sort((a, b) => a - b);
    return {
      tps: tps ? round(Number(tps)) : null,
      p50: round(percentile(latencies, 50)),
      p99: round(percentile(latencies, 99)),
      transactions: Number(processed ?? 0),
      failed: Number(failed ?? 0),
      clients: opts.clients,
      seconds: opts.seconds,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
