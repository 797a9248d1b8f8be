/**
 * The failover drill (M11): proves that a hard loss of the primary database loses no write the
 * app has acknowledged, and that the app finds the new primary by itself.
 *
 *   scripts/failover-drill.sh [--keep] [--workers N] [--detect-ms MS] [--recovery-seconds S] [--json FILE]
 *
 * 1. starts the three clusters of scripts/pg-replicas.sh (primary, synchronous standby,
 *    asynchronous remote replica) in a directory of its own;
 * 2. creates a company with the CLI (`samtale company create`, which migrates first) and starts
 *    `samtale serve` with the multi-host DATABASE_URL;
 * 3. logs in as the company's administrator through the real login form and runs a write load
 *    through the real UI: each worker creates departments (`POST /org/departments`) one after the
 *    other and records every one the app acknowledged (its success answer, 303 See Other);
 * 4. stops the primary hard (`pg_ctl stop -m immediate`), waits as a cluster manager would before
 *    deciding (--detect-ms, default 1000), promotes the synchronous standby and points the remote
 *    replica at it, while the load goes on;
 * 5. stops the load once the app has written again for a while, and compares: every acknowledged
 *    department must be on the new primary.
 *
 * Exit status 0 only when no acknowledged write is missing and the app recovered within
 * --recovery-seconds (default 30) of the kill. The clusters and the app are removed at the end,
 * on failure too (--keep leaves the clusters for a look with `pg-replicas.sh status`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPLICAS = path.join(ROOT, 'scripts', 'pg-replicas.sh');
// tsx as a loader in the same process (its CLI would start a second one that a kill misses).
const TSX = ['--import', 'tsx'];

export type DrillOptions = {
  dir: string;
  keep: boolean;
  workers: number;
  detectMs: number;
  recoverySeconds: number;
  /** Writes acknowledged before the primary is stopped. */
  writesBeforeKill: number;
  /** How long the load keeps running after the first write on the new primary. */
  afterRecoveryMs: number;
  followRemote: boolean;
  log: (line: string) => void;
};

export type DrillReport = {
  ok: boolean;
  problems: string[];
  acknowledgedWrites: number;
  acknowledgedBeforeKill: number;
  foundOnNewPrimary: number;
  missingAcknowledged: string[];
  /** Written but never acknowledged (in flight when the primary died): not a loss. */
  unacknowledgedButSaved: number;
  failedRequests: number;
  failedStatuses: Record<string, number>;
  /** From the first failed request to the first success after it. */
  secondsWithoutService: number | null;
  /** From the kill to the first acknowledged write on the new primary. */
  secondsKillToRecovery: number | null;
  secondsKillToPromote: number;
  remoteReplica: 'follows' | 'not checked' | 'behind' | 'failed';
  startedAt: string;
};

type Event = { start: number; end: number; ok: boolean; status: string; name: string };

export async function runDrill(opts: DrillOptions): Promise<DrillReport> {
  const log = opts.log;
  const env = { ...process.env, PG_REPLICAS_DIR: opts.dir, PG_REPLICAS_DB: 'samtale' };
  const replicas = (cmd: string) => {
    const r = spawnSync(REPLICAS, [cmd], { env, encoding: 'utf8', cwd: ROOT });
    if (r.status !== 0) throw new Error(`pg-replicas.sh ${cmd} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-drill-'));
  let app: ChildProcess | undefined;
  const cleanup = () => {
    if (app && app.exitCode === null) app.kill('SIGKILL');
    if (!opts.keep) spawnSync(REPLICAS, ['destroy'], { env, stdio: 'ignore' });
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    replicas('destroy');
    log('starting primary, synchronous standby and remote replica ...');
    const urls = Object.fromEntries(
      replicas('start')
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
    const multiUrl = urls.multi;
    const newPrimaryUrl = urls.standby;
    const remoteUrl = urls.remote;
    if (!multiUrl || !newPrimaryUrl || !remoteUrl) throw new Error('pg-replicas.sh printed no URLs');
    log(`database: ${multiUrl}`);

    const port = await freePort();
    const appEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'development',
      DEMO_SEED: 'false',
      LOG_LEVEL: 'error',
      SAMTALE_DATA_DIR: dataDir,
      DATABASE_URL: multiUrl,
      DATABASE_POOL_SIZE: '5',
      PORT: String(port),
    };
    const email = `drill-admin-${Date.now()}@drill.example`;
    log('creating the company (migrates the database first) ...');
    const created = spawnSync(process.execPath, [...TSX, 'src/main.ts', 'company', 'create', '--name', 'Failover Drill', '--admin-name', 'Drill Admin', '--admin-email', email, '--language', 'en'], {
      cwd: ROOT,
      env: appEnv,
      encoding: 'utf8',
    });
    const cm = /Company ([0-9a-f-]{36}) created\. .*\(shown once\): (\S+)/.exec(created.stdout);
    if (created.status !== 0 || !cm?.[1] || !cm[2]) throw new Error(`company create failed: ${created.stdout}${created.stderr}`);
    const [, companyId, password] = cm as unknown as [string, string, string];

    log('starting the app ...');
    let appOut = '';
    app = spawn(process.execPath, [...TSX, 'src/main.ts', 'serve'], { cwd: ROOT, env: appEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    app.stdout?.on('data', (d) => (appOut = (appOut + String(d)).slice(-20_000)));
    app.stderr?.on('data', (d) => (appOut = (appOut + String(d)).slice(-20_000)));
    const base = `http://127.0.0.1:${port}`;
    const upBy = Date.now() + 60_000;
    while (!(await fetch(`${base}/healthz`).then((r) => r.ok, () => false))) {
      if (Date.now() > upBy || app.exitCode !== null) throw new Error(`the app did not start:\n${appOut}`);
      await sleep(200);
    }
    log(`app running on ${base}`);

    // Each worker is one browser: its own session, logged in through the form.
    const browsers: Browser[] = [];
    for (let i = 0; i < opts.workers; i++) browsers.push(await Browser.login(base, email, password));
    const parentId = browsers[0]!.parentId;
    log(`${opts.workers} browsers logged in; write load running`);

    const events: Event[] = [];
    const acked: string[] = [];
    let stop = false;
    let seq = 0;
    const t0 = Date.now();
    const worker = async (b: Browser, w: number) => {
      while (!stop) {
        const name = `drill ${w}-${++seq}`;
        const start = Date.now() - t0;
        let status: string;
        try {
          status = String(await b.post('/org/departments', { name, parent_id: parentId }));
        } catch (err) {
          status = (err as { name?: string }).name === 'TimeoutError' ? 'timeout' : 'network error';
        }
        const ok = status === '303';
        events.push({ start, end: Date.now() - t0, ok, status, name });
        if (ok) acked.push(name);
        else await sleep(100); // a person clicking again, not a tight loop
      }
    };
    const load = browsers.map((b, i) => worker(b, i + 1));

    while (acked.length < opts.writesBeforeKill) {
      if (Date.now() - t0 > 30_000) throw new Error(`the load did not get going: ${summarise(events)}\n${appOut}`);
      await sleep(50);
    }
    const acknowledgedBeforeKill = acked.length;
    const killAt = Date.now() - t0;
    replicas('kill-primary');
    log(`primary stopped hard after ${acknowledgedBeforeKill} acknowledged writes`);
    await sleep(opts.detectMs);
    replicas('promote-standby');
    const promoteAt = Date.now() - t0;
    log(`standby promoted ${((promoteAt - killAt) / 1000).toFixed(1)} s after the kill`);

    const recoveryDeadline = t0 + killAt + opts.recoverySeconds * 1000;
    let recoveredAt: number | undefined;
    while (Date.now() < recoveryDeadline) {
      recoveredAt = events.find((e) => e.ok && e.start > promoteAt)?.end;
      if (recoveredAt !== undefined) break;
      await sleep(50);
    }
    if (recoveredAt !== undefined) await sleep(opts.afterRecoveryMs);
    stop = true;
    await Promise.all(load);

    let remoteReplica: DrillReport['remoteReplica'] = 'not checked';
    if (opts.followRemote) {
      try {
        replicas('follow-remote');
        remoteReplica = 'behind';
      } catch (err) {
        log(String(err));
        remoteReplica = 'failed';
      }
    }

    const saved = new Set(await departmentNames(newPrimaryUrl, companyId));
    const missing = acked.filter((n) => !saved.has(n));
    const ackedSet = new Set(acked);
    const unacknowledgedButSaved = [...saved].filter((n) => n.startsWith('drill ') && !ackedSet.has(n)).length;
    if (remoteReplica === 'behind') {
      const by = Date.now() + 15_000;
      while (Date.now() < by) {
        const onRemote = new Set(await departmentNames(remoteUrl, companyId).catch(() => []));
        if (acked.every((n) => onRemote.has(n))) {
          remoteReplica = 'follows';
          break;
        }
        await sleep(250);
      }
    }

    const failures = events.filter((e) => !e.ok);
    const firstFailure = failures[0];
    const firstSuccessAfter = firstFailure ? events.filter((e) => e.ok && e.start >= firstFailure.end).sort((a, b) => a.end - b.end)[0] : undefined;
    const failedStatuses: Record<string, number> = {};
    for (const f of failures) failedStatuses[f.status] = (failedStatuses[f.status] ?? 0) + 1;
    const problems: string[] = [];
    if (missing.length > 0) problems.push(`${missing.length} acknowledged write(s) missing on the new primary`);
    if (recoveredAt === undefined) problems.push(`the app did not write again within ${opts.recoverySeconds} s of the kill`);
    if (failures.some((f) => f.status === '500')) problems.push('some requests failed with 500 instead of 503');
    if (app.exitCode !== null) problems.push(`the app exited (${app.exitCode}) during the drill`);
    if (problems.length > 0) log(`app output (last lines):\n${appOut.split('\n').slice(-30).join('\n')}`);

    return {
      ok: problems.length === 0,
      problems,
      acknowledgedWrites: acked.length,
      acknowledgedBeforeKill,
      foundOnNewPrimary: acked.length - missing.length,
      missingAcknowledged: missing,
      unacknowledgedButSaved,
      failedRequests: failures.length,
      failedStatuses,
      secondsWithoutService: firstFailure && firstSuccessAfter ? round((firstSuccessAfter.end - firstFailure.end) / 1000) : null,
      secondsKillToRecovery: recoveredAt !== undefined ? round((recoveredAt - killAt) / 1000) : null,
      secondsKillToPromote: round((promoteAt - killAt) / 1000),
      remoteReplica,
      startedAt: new Date(t0).toISOString(),
    };
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    cleanup();
  }
}

/** A cookie jar and the form's CSRF token: enough of a browser for the login and one form. */
class Browser {
  cookies = new Map<string, string>();
  csrf = '';
  parentId = '';

  private constructor(readonly base: string) {}

  static async login(base: string, email: string, password: string): Promise<Browser> {
    const b = new Browser(base);
    await b.get('/login');
    const status = await b.post('/login', { email, password });
    if (status !== 303) throw new Error(`login failed (${status})`);
    const org = await b.get('/org');
    const m = /name="parent_id"[\s\S]*?<option value="([0-9a-f-]{36})"/.exec(org);
    if (!m?.[1]) throw new Error('no department to create departments under on /org');
    b.parentId = m[1];
    return b;
  }

  private remember(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private headers(): Record<string, string> {
    return { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '), accept: 'text/html', origin: this.base };
  }

  async get(url: string): Promise<string> {
    const res = await fetch(this.base + url, { headers: this.headers(), redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    this.remember(res);
    const body = await res.text();
    const m = /name="_csrf" value="([^"]+)"/.exec(body);
    if (m?.[1]) this.csrf = m[1];
    return body;
  }

  async post(url: string, form: Record<string, string>): Promise<number> {
    const res = await fetch(this.base + url, {
      method: 'POST',
      headers: { ...this.headers(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: this.csrf, ...form }).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    this.remember(res);
    await res.arrayBuffer();
    return res.status;
  }
}

async function departmentNames(url: string, companyId: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const r = await client.query<{ name: string }>('select name from departments where company_id = $1', [companyId]);
    return r.rows.map((x) => x.name);
  } finally {
    await client.end();
  }
}

function summarise(events: Event[]): string {
  const by: Record<string, number> = {};
  for (const e of events) by[e.status] = (by[e.status] ?? 0) + 1;
  return JSON.stringify(by);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function formatReport(r: DrillReport): string {
  const lines = [
    `failover drill ${r.ok ? 'PASSED' : 'FAILED'} (${r.startedAt})`,
    `  acknowledged writes:            ${r.acknowledgedWrites} (${r.acknowledgedBeforeKill} before the kill)`,
    `  found on the new primary:       ${r.foundOnNewPrimary}`,
    `  acknowledged writes lost:       ${r.missingAcknowledged.length}`,
    `  saved but never acknowledged:   ${r.unacknowledgedButSaved} (in flight when the primary died)`,
    `  failed requests:                ${r.failedRequests} ${JSON.stringify(r.failedStatuses)}`,
    `  time without service:           ${r.secondsWithoutService ?? '-'} s (first failure to first success after it)`,
    `  kill to promotion:              ${r.secondsKillToPromote} s`,
    `  kill to first write again:      ${r.secondsKillToRecovery ?? '-'} s`,
    `  remote replica:                 ${r.remoteReplica}`,
  ];
  for (const p of r.problems) lines.push(`  PROBLEM: ${p}`);
  return lines.join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      keep: { type: 'boolean', default: false },
      workers: { type: 'string', default: '4' },
      'detect-ms': { type: 'string', default: '1000' },
      'recovery-seconds': { type: 'string', default: '30' },
      'writes-before-kill': { type: 'string', default: '40' },
      'no-remote': { type: 'boolean', default: false },
      dir: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const num = (v: string | undefined, name: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  const started = Date.now();
  const report = await runDrill({
    dir: path.resolve(values.dir ?? path.join(ROOT, '.pg', 'replicas-drill')),
    keep: values.keep,
    workers: num(values.workers, 'workers', 1, 32),
    detectMs: num(values['detect-ms'], 'detect-ms', 0, 60_000),
    recoverySeconds: num(values['recovery-seconds'], 'recovery-seconds', 1, 600),
    writesBeforeKill: num(values['writes-before-kill'], 'writes-before-kill', 1, 100_000),
    afterRecoveryMs: 2000,
    followRemote: !values['no-remote'],
    log: (line) => process.stderr.write(`drill: [${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`),
  });
  console.log(formatReport(report));
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  // Exit now: a keep-alive socket to the stopped app must not hold the process open.
  process.exit(report.ok ? 0 : 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`drill: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  });
}
