/**
 * `npm run bench [-- --quick | --full] [options]`: Samtale's benchmarks, end to end and bounded
 * in time. See bench/README.md for what each number means.
 *
 * 1. A throwaway PostgreSQL 15 cluster of its own (scripts/pg-cluster.sh, PG_DIR .pg/bench, port
 *    54335 or the next free one); never the shared test cluster.
 * 2. The generated data set (`samtale demo --scale`), kept between runs while the scale is the same.
 * 3. The app (`samtale serve`, NODE_ENV=development) on 127.0.0.1, then autocannon and pgbench
 *    against 127.0.0.1 only; results to bench/results/<time>.json and .md.
 */
// The app's modules in the app's own import order first: the demo module reaches the dialogue
// services, whose imports assume that order.
import '../src/app.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Request } from 'autocannon';
import { FULL_SCALE, QUICK_SCALE, scaleEmail, type ScaleOptions } from '../src/modules/demo/demo.ts';
import { anonymous, cannon, cpuSecondsOf, login, probe, ROOT, round, rssSampler, sleep, startApp, startCluster, stopCluster, summarise, timed, waitExit, withDatabase, type App, type Load, type Session } from './lib.ts';
import { branchedScript, captureStatements, runPgbench, toScriptLine, type Statement } from './pgbench.ts';

const DEFAULT_SCALE: ScaleOptions = { companies: 60, employees: 16000, years: 3, bigCompany: 10000 };

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    full: { type: 'boolean' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    companies: { type: 'string' },
    employees: { type: 'string' },
    years: { type: 'string' },
    big: { type: 'string' },
    pool: { type: 'string' },
    'pg-port': { type: 'string' },
    'app-port': { type: 'string' },
    only: { type: 'string' },
    'purge-limit': { type: 'string' },
    keep: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});

if (opt.help) {
  console.log(`npm run bench -- [--quick | --full] [--duration S] [--connections N] [--pool N]
  [--companies N --employees N --years N --big N] [--only open,autosave,login,pages,ops,memory]
  [--purge-limit S]
  [--pg-port P] [--app-port P] [--keep]     (see bench/README.md)`);
  process.exit(0);
}

const int = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number.parseInt(v, 10));
const baseScale = opt.full ? FULL_SCALE : opt.quick ? QUICK_SCALE : DEFAULT_SCALE;
const scale: ScaleOptions = {
  companies: int(opt.companies, baseScale.companies),
  employees: int(opt.employees, baseScale.employees),
  years: int(opt.years, baseScale.years),
  bigCompany: int(opt.big, baseScale.bigCompany),
};
const seconds = int(opt.duration, opt.quick ? 5 : 15);
const connections = int(opt.connections, 50);
const pool = int(opt.pool, 10);
const only = new Set((opt.only ?? 'open,autosave,login,pages,ops,memory').split(','));
const PG_DIR = path.join(ROOT, '.pg/bench');
const DB = 'samtale_bench';
// The purge benchmark stops after this long (it is reported as not finished).
const PURGE_LIMIT_S = int(opt['purge-limit'], 120);
const METRICS_PORT = int(opt['app-port'], 54336) + 2;

/** Values of the app's Prometheus metrics from ONE scrape (null when metrics are not available). */
async function metrics(names: string[]): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = Object.fromEntries(names.map((n) => [n, null]));
  try {
    const text = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
    for (const name of names) {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
      out[name] = m?.[1] ? Number(m[1]) : null;
    }
  } catch {
    // no metrics in this build
  }
  return out;
}

function log(line: string) {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', memoryGb: round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.type()} ${os.release()}` },
  settings: { scale, seconds, connections, pool, quick: Boolean(opt.quick), full: Boolean(opt.full) },
  // The machine is shared: a high load average at the start or end means noisy numbers.
  loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
};

async function main() {
  // ---------------------------------------------------------------- cluster and data
  const cluster = startCluster(PG_DIR, int(opt['pg-port'], 54335));
  log(`PostgreSQL at ${cluster.url} (data in ${path.relative(ROOT, PG_DIR)})`);
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  const ensureDb = async (fresh: boolean) => {
    if (fresh) await admin.query(`drop database if exists ${DB} with (force)`);
    const exists = (await admin.query('select 1 from pg_database where datname = $1', [DB])).rowCount;
    if (!exists) await admin.query(`create database ${DB}`);
  };
  await ensureDb(false);
  await admin.end();
  const url = withDatabase(cluster.url, DB);
  const credentials = path.join(PG_DIR, 'credentials.json');
  const env: Record<string, string> = {
    NODE_ENV: 'development',
    DATABASE_URL: url,
    SAMTALE_DATA_DIR: path.join(PG_DIR, 'appdata'),
    LOG_LEVEL: 'warn',
    DEMO_SEED: 'false',
    JOB_TICK_SECONDS: '3600',
    DATABASE_POOL_SIZE: String(pool),
    // The login storm comes from many addresses, as through a load balancer: X-Forwarded-For is
    // trusted, so the per-address login limit (60 in 5 minutes) applies per simulated visitor.
    TRUST_PROXY: 'true',
    // Prometheus metrics on a loopback port of their own: the app's event-loop lag during the storm.
    METRICS_PORT: String(METRICS_PORT),
  };
  const scaleArgs = ['demo', '--scale', '--companies', String(scale.companies), '--employees', String(scale.employees), '--years', String(scale.years), '--big', String(scale.bigCompany), '--credentials', credentials];
  log(`data set: ${JSON.stringify(scale)}`);
  let gen = await timed(scaleArgs, env);
  if (gen.code !== 0 && /another or an unfinished data set|not empty/.test(gen.output)) {
    log('the bench database holds another data set: starting it afresh');
    const again = new pg.Client({ connectionString: cluster.url });
    await again.connect();
    await again.query(`drop database if exists ${DB} with (force)`);
    await again.query(`create database ${DB}`);
    await again.end();
    gen = await timed(scaleArgs, env);
  }
  if (gen.code !== 0) throw new Error(`demo --scale failed:\n${gen.output}`);
  const cached = /already holds that data set/.test(gen.output);
  const counts = Object.fromEntries([...gen.output.matchAll(/^ {2}(\w+)\s+(\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  results.dataSet = { cached, seconds: cached ? null : round(gen.seconds), peakRssMb: cached ? null : round(gen.peakRssMb ?? NaN), counts };
  log(cached ? 'data set already loaded (cached)' : `data set generated in ${gen.seconds.toFixed(1)} s`);
  const password = (JSON.parse(fs.readFileSync(credentials, 'utf8')) as { password: string }).password;

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const dbSize = (await db.query('select pg_database_size(current_database()) as b')).rows[0].b as string;
  (results.dataSet as Record<string, unknown>).databaseMb = round(Number(dbSize) / 2 ** 20);

  // ---------------------------------------------------------------- the app
  const app = await startApp(env, int(opt['app-port'], 54336));
  log(`app up in ${app.startSeconds.toFixed(2)} s (pid ${app.pid}, pool ${pool})`);
  // The job runner's first tick (reminders, mail, cleanups) runs at start: let it finish, so the
  // benchmarks measure requests and the statement capture sees only the request's statements.
  const quietSeconds = await waitQuiet(db);
  log(`start-up jobs done after ${quietSeconds.toFixed(1)} s`);
  results.appStart = { secondsToHealthz: round(app.startSeconds, 2), startupJobsSeconds: round(quietSeconds) };
  const rss = rssSampler(app.pid, 250);
  const memoryAt: Record<string, number | null> = { idle: null };
  const rssNow = () => {
    try {
      return round(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${app.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024);
    } catch {
      return null;
    }
  };
  memoryAt.idle = rssNow();

  try {
    // Connection i works on dialogue i: a preparing dialogue of the first team's leader in
    // company 1 + (i mod companies-1), so the connections spread over companies as real load does.
    const others = Math.max(1, scale.companies - 1);
    const slots: { email: string; dialogueId: string; session?: Session }[] = [];
    for (let i = 0; i < connections; i++) {
      const ci = scale.companies === 1 ? 0 : 1 + (i % others);
      const wrap = Math.floor(i / others);
      const employee = scaleEmail.employee(ci, 1 + 4 * wrap);
      const row = await db.query(
        `select d.id from dialogues d join employments e on e.id = d.employee_employment_id join users u on u.id = e.user_id
         where lower(u.email) = $1 and d.state = 'preparing' and d.leader_submitted_at is null`,
        [employee],
      );
      const id = row.rows[0]?.id as string | undefined;
      if (!id) throw new Error(`no preparing dialogue for ${employee}: the scale is too small for ${connections} connections`);
      slots.push({ email: scaleEmail.leader(ci, 0), dialogueId: id });
    }
    for (const s of slots) s.session = await login(app.base, s.email, password, `/dialogues/${s.dialogueId}`);
    log(`${slots.length} leaders logged in`);
    const sess = (i: number) => slots[i % slots.length]?.session as Session;
    /** A load with the app's CPU use while it ran. */
    const withCpu = async (fn: () => Promise<Load>): Promise<Load> => {
      const c0 = cpuSecondsOf(app.pid);
      const t0 = performance.now();
      const load = await fn();
      const c1 = cpuSecondsOf(app.pid);
      const wall = (performance.now() - t0) / 1000;
      const cpu = c0 !== null && c1 !== null ? c1 - c0 : null;
      return { ...load, appCpuPercent: cpu === null ? null : round((100 * cpu) / wall), appCpuMsPerRequest: cpu === null || load.requests === 0 ? null : round((1000 * cpu) / load.requests, 2) };
    };

    // -------------------------------------------------------------- 1. open a dialogue
    if (only.has('open')) {
      const openReq = (i: number): Request => {
        const s = slots[i % slots.length];
        return { method: 'GET', path: `/dialogues/${s?.dialogueId}`, headers: { cookie: sess(i).cookie, accept: 'text/html' } };
      };
      await cannon(app.base, connections, 2, openReq); // warm-up
      // One connection first: the time one request takes when nothing waits (its service time).
      const single = await withCpu(async () => summarise(await cannon(app.base, 1, Math.max(3, Math.round(seconds / 3)), openReq)));
      const appRun = await withCpu(async () => summarise(await cannon(app.base, connections, seconds, openReq)));
      memoryAt.openDialogue = rssNow();
      // Requests still queued in the app when autocannon stopped must finish before the capture.
      await waitQuiet(db);
      const captured = await captureStatements(cluster.url.replace(/\/postgres$/, `/${DB}`), cluster.log, slots.map((s) => async () => {
        const res = await fetch(`${app.base}/dialogues/${s.dialogueId}`, { headers: { cookie: s.session?.cookie ?? '' } });
        await res.text();
        if (res.status !== 200) throw new Error(`capture: ${res.status}`);
      }));
      const script = branchedScript(captured.map((stmts) => stmts.map((s) => toScriptLine(s))));
      fs.writeFileSync(path.join(PG_DIR, 'open-dialogue.pgbench.sql'), script);
      const pgb = await runPgbench(url, script, { clients: connections, threads: 2, seconds });
      results.openDialogue = { app: appRun, oneConnection: single, pgbench: pgb, statementsPerRequest: captured[0]?.length ?? 0, statements: captured[0]?.map((s) => s.sql.replace(/\s+/g, ' ').slice(0, 200)), ratio: ratio(appRun, pgb.tps) };
      log(`open a dialogue: app ${appRun.requestsPerSecond} req/s p50 ${appRun.p50} ms p99 ${appRun.p99} ms; pgbench ${pgb.tps} tps; ratio ${ratio(appRun, pgb.tps)}`);
    }

    // -------------------------------------------------------------- 2. autosave an answer
    if (only.has('autosave')) {
      const ids = slots.map((s) => s.dialogueId);
      const reset = () => db.query(`update dialogue_answers set version = 1 where dialogue_id = any($1::uuid[]) and question_id = 'proud' and side = 'leader'`, [ids]);
      const saveReq = (i: number): Request => {
        const s = slots[i % slots.length];
        const state = { version: 1, n: 0 };
        const session = sess(i);
        return {
          method: 'POST',
          path: `/dialogues/${s?.dialogueId}/answers`,
          setupRequest: (req) => ({
            ...req,
            headers: { cookie: session.cookie, origin: app.base, 'content-type': 'application/x-www-form-urlencoded', 'hx-request': 'true', 'x-csrf-token': session.csrf, accept: 'text/html' },
            body: new URLSearchParams({ _csrf: session.csrf, q_proud: `Autosave ${i}: ${++state.n}`, v_proud: String(state.version) }).toString(),
          }),
          onResponse: (status, body) => {
            const v = /name="v_proud" value="(\d+)"/.exec(body)?.[1];
            if (v) state.version = Number(v);
            else if (status === 200) state.version++;
          },
        };
      };
      await waitQuiet(db);
      await reset();
      const captured = await captureStatements(cluster.url.replace(/\/postgres$/, `/${DB}`), cluster.log, slots.map((s, i) => async () => {
        const res = await fetch(`${app.base}/dialogues/${s.dialogueId}/answers`, {
          method: 'POST',
          headers: { cookie: s.session?.cookie ?? '', origin: app.base, 'content-type': 'application/x-www-form-urlencoded', 'hx-request': 'true' },
          body: new URLSearchParams({ _csrf: s.session?.csrf ?? '', q_proud: `Capture ${i}`, v_proud: '1' }).toString(),
        });
        await res.text();
        if (res.status !== 200) throw new Error(`capture autosave: ${res.status}`);
      }));
      await reset();
      await waitQuiet(db);
      const appRun = await withCpu(async () => summarise(await cannon(app.base, connections, seconds, saveReq)));
      memoryAt.autosave = rssNow();
      await waitQuiet(db);
      await reset();
      // The version check in pgbench: each client carries its row's version in :v, as the page does.
      const script = branchedScript(
        captured.map((stmts) => stmts.map((s) => toScriptLine(s, versionOverrides(s)))),
        ['\\set v :v + 1'],
      );
      fs.writeFileSync(path.join(PG_DIR, 'autosave.pgbench.sql'), script);
      const pgb = await runPgbench(url, script, { clients: connections, threads: 2, seconds, defines: { v: '1' } });
      const conflicts = appRun.statusCodes['409'] ?? 0;
      results.autosave = { app: appRun, conflicts, pgbench: pgb, statementsPerRequest: captured[0]?.length ?? 0, statements: captured[0]?.map((s) => s.sql.replace(/\s+/g, ' ').slice(0, 200)), ratio: ratio(appRun, pgb.tps) };
      log(`autosave: app ${appRun.requestsPerSecond} req/s p99 ${appRun.p99} ms (${conflicts} conflicts); pgbench ${pgb.tps} tps; ratio ${ratio(appRun, pgb.tps)}`);
    }

    // -------------------------------------------------------------- 3. login storm
    if (only.has('login')) {
      await waitQuiet(db);
      const anon = await anonymous(app.base);
      const idle = probe(`${app.base}/healthz`);
      await sleep(2000);
      const baseline = await idle.stop();
      const users: string[] = [];
      for (let ci = 0; ci < scale.companies && users.length < 2000; ci++) for (let k = 0; k < 20; k++) users.push(scaleEmail.employee(ci, k));
      const stormReq = (i: number): Request => {
        let n = i;
        return {
          method: 'POST',
          path: '/login',
          setupRequest: (req) => {
            n += connections;
            return {
              ...req,
              headers: { cookie: anon.cookie, origin: app.base, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': visitor(n) },
              body: new URLSearchParams({ _csrf: anon.csrf, email: users[n % users.length] ?? '', password }).toString(),
            };
          },
        };
      };
      await metrics([]); // a scrape resets Node's lag histogram
      const during = probe(`${app.base}/healthz`);
      const storm = await withCpu(async () => summarise(await cannon(app.base, connections, seconds, stormReq), (c) => c === 303));
      const lag = await during.stop();
      const lags = await metrics(['nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds']);
      const lagP99 = lags.nodejs_eventloop_lag_p99_seconds ?? null;
      const lagMax = lags.nodejs_eventloop_lag_max_seconds ?? null;
      memoryAt.loginStorm = rssNow();
      const eventLoopLag = { p99Ms: lagP99 === null ? null : round(lagP99 * 1000, 2), maxMs: lagMax === null ? null : round(lagMax * 1000, 2) };
      results.loginStorm = { logins: storm, loginsPerSecond: round(storm.ok / seconds), healthzIdle: baseline, healthzDuringStorm: lag, eventLoopLagDuringStorm: eventLoopLag };
      log(`login storm: ${round(storm.ok / seconds)} logins/s (p99 ${storm.p99} ms); /healthz p99 ${lag.p99} ms during, ${baseline.p99} ms idle; event-loop lag p99 ${eventLoopLag.p99Ms} ms`);
    }

    // -------------------------------------------------------------- 4. dashboards and statistics
    if (only.has('pages')) {
      const rounds = await db.query(
        `select r.id, r.name from dialogue_rounds r join companies c on c.id = r.company_id where c.name = 'Bench Stor A/S' order by r.created_at`,
      );
      const current = rounds.rows.at(-1)?.id as string;
      const lastClosed = (rounds.rows.at(-2) ?? rounds.rows.at(-1))?.id as string;
      const hr = await login(app.base, scaleEmail.admin(0), password);
      const leader = await login(app.base, scaleEmail.leader(0, 0), password);
      const pages: { who: string; session: Session; path: string }[] = [
        { who: 'leader', session: leader, path: '/dashboard' },
        { who: 'leader', session: leader, path: '/dialogues' },
        { who: 'hr', session: hr, path: '/dashboard' },
        { who: 'hr', session: hr, path: '/dialogues' },
        { who: 'hr', session: hr, path: '/rounds' },
        { who: 'hr', session: hr, path: `/rounds/${current}` },
        { who: 'hr', session: hr, path: `/rounds/${lastClosed}/statistics` },
        { who: 'hr', session: hr, path: '/org/employees' },
        { who: 'hr', session: hr, path: '/archive' },
      ];
      const out: Record<string, Load & { bytes?: number }> = {};
      const pageSeconds = Math.max(3, Math.round(seconds / 2));
      for (const p of pages) {
        await waitQuiet(db);
        const first = await fetch(`${app.base}${p.path}`, { headers: { cookie: p.session.cookie }, redirect: 'manual' });
        const bytes = (await first.arrayBuffer()).byteLength;
        if (first.status !== 200) {
          out[`${p.who} ${p.path}`] = { ...emptyLoad(), statusCodes: { [String(first.status)]: 1 } };
          continue;
        }
        const r = await withCpu(async () => summarise(await cannon(app.base, 4, pageSeconds, () => ({ method: 'GET', path: p.path, headers: { cookie: p.session.cookie, accept: 'text/html' } }))));
        out[`${p.who} ${p.path.replace(current, ':current').replace(lastClosed, ':closed')}`] = { ...r, bytes };
        log(`page ${p.who} ${p.path}: p50 ${r.p50} ms p99 ${r.p99} ms (${r.requestsPerSecond} req/s, ${Math.round(bytes / 1024)} KiB)`);
      }
      memoryAt.pages = rssNow();
      results.pages = { company: `Bench Stor A/S (${scale.bigCompany} employees)`, connections: 4, seconds: pageSeconds, results: out };
    }

    const mem = rss.stop();
    results.appMemory = { rssMbAt: memoryAt, rssMbMax: round(mem.max ?? NaN), samples: mem.samples };
  } finally {
    // Let requests autocannon left in flight finish before the app shuts down.
    await waitQuiet(db, 60_000).catch(() => 0);
    await app.stop();
    await db.end();
  }

  // ---------------------------------------------------------------- 5. retention and backup
  if (only.has('ops')) results.operations = await operations(cluster.url, env);

  // ---------------------------------------------------------------- 6. start-up on PGlite
  if (only.has('memory')) results.startup = { pgliteNpmStart: await pgliteStartup() };

  if (!opt.keep) stopCluster(PG_DIR);
  results.finishedAt = new Date().toISOString();
  results.loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));
  writeResults();
}

/** Waits until no other session of the bench database is busy for two seconds. */
async function waitQuiet(db: pg.Client, limitMs = 600_000): Promise<number> {
  const started = performance.now();
  let quiet = 0;
  while (quiet < 8 && performance.now() - started < limitMs) {
    const busy = Number((await db.query(`select count(*) as n from pg_stat_activity where datname = current_database() and state <> 'idle' and pid <> pg_backend_pid()`)).rows[0].n);
    quiet = busy === 0 ? quiet + 1 : 0;
    await sleep(250);
  }
  return (performance.now() - started) / 1000;
}

function versionOverrides(s: Statement): Record<number, string> {
  // update "dialogue_answers" set ..., "version" = $n, ... where ... and "version" = $m
  if (!/^update "dialogue_answers"/.test(s.sql)) return {};
  const refs = [...s.sql.matchAll(/"version" = \$(\d+)/g)].map((m) => Number(m[1]));
  if (refs.length !== 2) return {};
  return { [refs[0] as number]: ':v + 1', [refs[1] as number]: ':v' };
}

/** A distinct private address for the n-th simulated visitor. */
function visitor(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function ratio(app: Load, tps: number | null): number | null {
  return app.requestsPerSecond !== null && tps ? round(app.requestsPerSecond / tps, 2) : null;
}

function emptyLoad(): Load {
  return { requestsPerSecond: null, p50: null, p90: null, p99: null, max: null, requests: 0, ok: 0, other: 0, errors: 0, statusCodes: {} };
}

/**
 * Item 5, only when the commands exist in this build (`samtale --help`). Works on a copy of the
 * bench database (CREATE DATABASE ... TEMPLATE), so the cached data set stays whole: a full
 * backup and its verification, then the termination and purge of the big company.
 */
async function operations(clusterUrl: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const help = await timed(['--help'], {});
  const has = (cmd: string) => help.output.includes(cmd);
  const out: Record<string, unknown> = {};
  const COPY = 'samtale_bench_ops';
  const admin = new pg.Client({ connectionString: clusterUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${COPY} with (force)`);
    const t0 = performance.now();
    await admin.query(`create database ${COPY} template ${DB}`);
    out.copySeconds = round((performance.now() - t0) / 1000);
    const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-bench-backups-'));
    // A data directory of its own (a copy: the same master and backup keys): the purge records a
    // tombstone there and destroys the company's key, which must never reach the bench data set.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-bench-opsdata-'));
    fs.cpSync(env.SAMTALE_DATA_DIR ?? '', dataDir, { recursive: true, filter: (src) => !src.includes(`${path.sep}mail`) && !src.includes(`${path.sep}backups`) });
    const opsEnv = { ...env, DATABASE_URL: withDatabase(clusterUrl, COPY), BACKUP_DIR: backupDir, SAMTALE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    try {
      if (has('backup create') && has('backup verify')) {
        const made = await timed(['backup', 'create'], opsEnv);
        const verified = made.code === 0 ? await timed(['backup', 'verify'], opsEnv) : undefined;
        const size = fs.readdirSync(backupDir).reduce((a, f) => a + fs.statSync(path.join(backupDir, f)).size, 0);
        out.backup = {
          measured: made.code === 0 && verified?.code === 0,
          create: { seconds: round(made.seconds), peakRssMb: round(made.peakRssMb ?? NaN), code: made.code },
          verify: verified ? { seconds: round(verified.seconds), peakRssMb: round(verified.peakRssMb ?? NaN), code: verified.code } : null,
          backupMb: round(size / 2 ** 20),
          ...(made.code !== 0 || verified?.code !== 0 ? { reason: (made.code !== 0 ? made.output : verified?.output ?? '').slice(-500) } : {}),
        };
        log(`backup create ${made.seconds.toFixed(1)} s (peak ${made.peakRssMb?.toFixed(0)} MiB), verify ${verified?.seconds.toFixed(1)} s (peak ${verified?.peakRssMb?.toFixed(0)} MiB)`);
      } else {
        out.backup = { measured: false, reason: '`samtale backup create/verify` is not in this build' };
      }
      if (has('retention run') && has('company terminate')) {
        const copy = new pg.Client({ connectionString: withDatabase(clusterUrl, COPY) });
        await copy.connect();
        const big = (await copy.query(`select c.id, (select count(*) from employments e where e.company_id = c.id) as people from companies c where c.name = 'Bench Stor A/S'`)).rows[0] as { id: string; people: string };
        await copy.end();
        const terminated = await timed(['company', 'terminate', '--company', big.id, '--reason', 'benchmark'], opsEnv);
        const asOf = new Date(Date.now() + 15 * 86400_000).toISOString().slice(0, 10);
        const purged = terminated.code === 0 ? await timed(['retention', 'run', '--as-of', asOf, '--company', big.id], opsEnv, PURGE_LIMIT_S * 1000) : undefined;
        if (purged?.timedOut) {
          // The purge's transaction dies with its connection; cancel it so the copy can be dropped.
          await admin.query(`select pg_cancel_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [COPY]);
        }
        out.purge = {
          measured: terminated.code === 0 && purged?.code === 0 && /companies\.purge: 1 purged/.test(purged.output),
          timedOut: purged?.timedOut ?? false,
          limitSeconds: PURGE_LIMIT_S,
          company: `Bench Stor A/S, ${big.people} people (employments)`,
          seconds: purged ? round(purged.seconds) : null,
          peakRssMb: purged ? round(purged.peakRssMb ?? NaN) : null,
          output: (purged?.output ?? terminated.output).split('\n').filter((l) => /purged|error|Error/.test(l)).slice(0, 20),
        };
        log(`purge of the big company: ${purged?.seconds.toFixed(1)} s (peak ${purged?.peakRssMb?.toFixed(0)} MiB)`);
      } else {
        out.purge = { measured: false, reason: '`samtale retention run` or `company terminate` is not in this build' };
      }
    } finally {
      fs.rmSync(backupDir, { recursive: true, force: true });
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    await admin.query(`drop database if exists ${COPY} with (force)`);
  } finally {
    await admin.end();
  }
  return out;
}

/** `npm start` on a fresh PGlite data directory, then again on the same one: time to /healthz. */
async function pgliteStartup(): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-bench-pglite-'));
  const runs: { run: string; seconds: number | null; rssMb: number | null }[] = [];
  try {
    for (const run of ['fresh data directory (migrations and demo company)', 'existing data directory']) {
      const port = 54337;
      const started = performance.now();
      const env: Record<string, string | undefined> = { ...process.env, NODE_ENV: 'development', SAMTALE_DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
      delete env.DATABASE_URL;
      delete env.MIGRATION_DATABASE_URL;
      const child = spawn('npm', ['start', '--silent'], { cwd: ROOT, detached: true, stdio: 'ignore', env });
      let seconds: number | null = null;
      while (performance.now() - started < 180_000 && child.exitCode === null) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/healthz`);
          if (res.ok) {
            seconds = (performance.now() - started) / 1000;
            break;
          }
        } catch {
          // not yet
        }
        await sleep(50);
      }
      // The node process is the last of npm's descendants; its RSS is the app's.
      let rssMb: number | null = null;
      try {
        const pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
        for (const p of pids) {
          const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
          const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
          const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
          if (pgid === child.pid && cmd.includes('src/main.ts')) {
            const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? NaN);
            if (Number.isFinite(kb)) rssMb = round(kb / 1024);
          }
        }
      } catch {
        // best effort
      }
      // Stop the whole process group (npm, tsx, node) and wait until the port is free again.
      const group = child.pid;
      if (group) process.kill(-group, 'SIGTERM');
      await Promise.race([waitExit(child), sleep(10_000)]);
      for (let i = 0; i < 150; i++) {
        try {
          await fetch(`http://127.0.0.1:${port}/healthz`);
        } catch {
          break;
        }
        await sleep(100);
      }
      try {
        if (group) process.kill(-group, 'SIGKILL');
      } catch {
        // already gone
      }
      runs.push({ run, seconds: seconds === null ? null : round(seconds, 2), rssMb });
      log(`npm start on PGlite (${run}): ${seconds === null ? 'did not answer' : `${seconds.toFixed(2)} s`} to /healthz`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { runs };
}

function writeResults() {
  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  const dir = path.join(ROOT, 'bench/results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify(results, null, 2) + '\n');
  const md = markdown();
  fs.writeFileSync(path.join(dir, `${stamp}.md`), md);
  console.log('\n' + md);
  log(`results in bench/results/${stamp}.json and .md`);
}

function markdown(): string {
  const r = results as Record<string, any>;
  const s = r.settings;
  const lines: string[] = [];
  lines.push(`# Samtale benchmark ${r.startedAt}`, '');
  lines.push(`Machine: ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memoryGb} GiB, Node ${r.machine.node}, ${r.machine.platform}.`);
  lines.push(`Data set: ${s.scale.companies} companies, ${s.scale.employees} employees (big company ${s.scale.bigCompany}), ${s.scale.years} years; ${r.dataSet?.cached ? 'cached from an earlier run' : `generated in ${r.dataSet?.seconds} s (peak RSS ${r.dataSet?.peakRssMb} MiB)`}; database ${r.dataSet?.databaseMb} MiB.`);
  lines.push(`Load average (1, 5, 15 min) at the start: ${(r.loadAverageAtStart ?? []).join(', ')}; at the end: ${(r.loadAverageAtEnd ?? []).join(', ')}.`);
  lines.push(`Each load: ${s.seconds} s, ${s.connections} connections; app pool ${s.pool} connections; PostgreSQL 15 with fsync off (throwaway cluster).`, '');
  lines.push('| benchmark | app req/s | app p50 ms | app p99 ms | app CPU ms/req | pgbench tps | pgbench p99 ms | app/pgbench |', '|---|---|---|---|---|---|---|---|');
  for (const [name, key] of [['open a dialogue', 'openDialogue'], ['autosave an answer', 'autosave']] as const) {
    const b = r[key];
    if (b) lines.push(`| ${name} (${b.statementsPerRequest} statements) | ${b.app.requestsPerSecond} | ${b.app.p50} | ${b.app.p99} | ${b.app.appCpuMsPerRequest ?? '-'} | ${b.pgbench.tps} | ${b.pgbench.p99} | ${b.ratio} |`);
  }
  if (r.openDialogue?.oneConnection) lines.push('', `Open a dialogue over one connection: p50 ${r.openDialogue.oneConnection.p50} ms, p99 ${r.openDialogue.oneConnection.p99} ms, ${r.openDialogue.oneConnection.requestsPerSecond} req/s.`);
  lines.push('');
  if (r.loginStorm) {
    const l = r.loginStorm;
    lines.push(`Login storm: ${l.loginsPerSecond} logins/s (p50 ${l.logins.p50} ms, p99 ${l.logins.p99} ms, ${l.logins.other} not 303). GET /healthz meanwhile: p50 ${l.healthzDuringStorm.p50} ms, p99 ${l.healthzDuringStorm.p99} ms (idle: p99 ${l.healthzIdle.p99} ms). The app's event-loop lag during the storm (its metrics): p99 ${l.eventLoopLagDuringStorm?.p99Ms ?? '-'} ms, max ${l.eventLoopLagDuringStorm?.maxMs ?? '-'} ms.`, '');
  }
  if (r.pages) {
    lines.push(`Pages of ${r.pages.company}, ${r.pages.connections} connections for ${r.pages.seconds} s each:`, '', '| who and page | p50 ms | p99 ms | req/s | app CPU ms/req | KiB | status |', '|---|---|---|---|---|---|---|');
    for (const [k, v] of Object.entries(r.pages.results as Record<string, any>)) {
      lines.push(`| ${k} | ${v.p50 ?? '-'} | ${v.p99 ?? '-'} | ${v.requestsPerSecond ?? '-'} | ${v.appCpuMsPerRequest ?? '-'} | ${v.bytes ? Math.round(v.bytes / 1024) : '-'} | ${Object.keys(v.statusCodes).join(', ')} |`);
    }
    lines.push('');
  }
  if (r.appMemory) lines.push(`App RSS (one node): ${Object.entries(r.appMemory.rssMbAt).map(([k, v]) => `${k} ${v} MiB`).join(', ')}; max ${r.appMemory.rssMbMax} MiB.`, '');
  if (r.operations) {
    const o = r.operations;
    if (o.backup?.measured) lines.push(`Full backup (database copy of ${r.dataSet?.databaseMb} MiB): create ${o.backup.create.seconds} s, peak RSS ${o.backup.create.peakRssMb} MiB (with pg_dump); verify ${o.backup.verify.seconds} s, peak RSS ${o.backup.verify.peakRssMb} MiB; backup file ${o.backup.backupMb} MiB.`);
    else if (o.backup) lines.push(`Backup: not measured (${o.backup.reason ?? 'failed'}).`);
    if (o.purge?.measured) lines.push(`Purge of ${o.purge.company} (terminated, then \`retention run --as-of\` 15 days on): ${o.purge.seconds} s, peak RSS ${o.purge.peakRssMb} MiB.`);
    else if (o.purge?.timedOut) lines.push(`Purge of ${o.purge.company}: did not finish within ${o.purge.limitSeconds} s (stopped; see bench/README.md).`);
    else if (o.purge) lines.push(`Purge: not measured (${o.purge.reason ?? JSON.stringify(o.purge.output)}).`);
    lines.push('');
  }
  if (r.startup) lines.push(`npm start on PGlite: ${(r.startup.pgliteNpmStart.runs as any[]).map((x) => `${x.run}: ${x.seconds ?? 'no answer'} s (RSS ${x.rssMb ?? '-'} MiB)`).join('; ')}.`, '');
  return lines.join('\n');
}

main().catch((err) => {
  console.error(err);
  writeResults();
  process.exit(1);
});
