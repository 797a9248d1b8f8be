/**
 * Helpers for bench/run.ts: the throwaway PostgreSQL cluster, the app process, HTTP logins,
 * autocannon runs and the numbers (percentiles, RSS). Everything talks to 127.0.0.1 only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon, { type Client, type Request, type Result } from 'autocannon';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

export const round = (x: number, digits = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);

// ------------------------------------------------------------------ the PostgreSQL cluster

export type Cluster = { url: string; port: number; dir: string; log: string };

/** Starts (or reuses) the bench cluster through scripts/pg-cluster.sh; never the test cluster. */
export function startCluster(dir: string, port: number): Cluster {
  const out = execFileSync(path.join(ROOT, 'scripts/pg-cluster.sh'), ['start'], { env: { ...process.env, PG_DIR: dir, PG_PORT: String(port) }, encoding: 'utf8' }).trim();
  const url = out.split('\n').at(-1) ?? '';
  const actual = Number(new URL(url).port);
  return { url, port: actual, dir, log: path.join(dir, 'server.log') };
}

export function stopCluster(dir: string): void {
  execFileSync(path.join(ROOT, 'scripts/pg-cluster.sh'), ['stop'], { env: { ...process.env, PG_DIR: dir }, stdio: 'ignore' });
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

// ------------------------------------------------------------------ processes

/** `node --import tsx src/main.ts ...` on the same Node as this script (Node 24 from npm). */
export function samtale(args: string[], env: Record<string, string>, opts: { quiet?: boolean } = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: opts.quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
  });
}

export function waitExit(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code ?? 1));
  });
}

/**
 * Runs a command to its end: exit code, wall time and the peak RSS of the process together with
 * its children (pg_dump, pg_restore, ...), sampled every 100 ms.
 */
export async function timed(args: string[], env: Record<string, string>, timeoutMs = 0): Promise<{ code: number; seconds: number; peakRssMb: number | null; output: string; timedOut: boolean }> {
  const started = performance.now();
  const child = samtale(args, env, { quiet: true });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const sampler = rssSampler(child.pid ?? 0, 100, true);
  let timedOut = false;
  const timer = timeoutMs > 0 ? setTimeout(() => ((timedOut = true), child.kill('SIGTERM')), timeoutMs) : undefined;
  const code = await waitExit(child);
  if (timer) clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  const peak = sampler.stop();
  return { code, seconds, peakRssMb: peak.max, output, timedOut };
}

/** The RSS (MiB) of a process, with its descendants when `tree` (Linux /proc). */
export function rssOf(pid: number, tree = false): number | null {
  const kb = (p: number) => {
    try {
      return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  let pids = [pid];
  if (tree) {
    const parent = new Map<number, number>();
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {
        // gone
      }
    }
    const inTree = new Set([pid]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [p, pp] of parent) if (!inTree.has(p) && inTree.has(pp)) (inTree.add(p), (grew = true));
    }
    pids = [...inTree];
  }
  const total = pids.reduce((a, p) => a + kb(p), 0);
  return total > 0 ? total / 1024 : null;
}

/** CPU seconds (user + system) a process has used so far (Linux /proc, 100 ticks a second). */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** Samples the RSS of a process (and its descendants) every `ms`. */
export function rssSampler(pid: number, ms: number, tree = false) {
  const samples: number[] = [];
  const read = () => {
    const v = rssOf(pid, tree);
    if (v !== null) samples.push(v);
  };
  read();
  const timer = setInterval(read, ms);
  return {
    stop() {
      read();
      clearInterval(timer);
      return { samples: samples.length, max: samples.length ? Math.max(...samples) : null, last: samples.at(-1) ?? null };
    },
  };
}

export type App = { base: string; child: ChildProcess; pid: number; startSeconds: number; stop(): Promise<void> };

/** Starts `samtale serve` and waits until GET /healthz answers. */
export async function startApp(env: Record<string, string>, port: number, timeoutMs = 120_000): Promise<App> {
  const started = performance.now();
  const child = samtale(['serve'], { ...env, PORT: String(port), HOST: '127.0.0.1' });
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode} before answering`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (performance.now() - started > timeoutMs) {
      child.kill('SIGTERM');
      throw new Error('the app did not answer /healthz in time');
    }
    await sleep(50);
  }
  const startSeconds = (performance.now() - started) / 1000;
  return {
    base,
    child,
    pid: child.pid ?? 0,
    startSeconds,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const done = await Promise.race([waitExit(child), sleep(10_000).then(() => -1)]);
      if (done === -1) child.kill('SIGKILL');
    },
  };
}

// ------------------------------------------------------------------ HTTP as a browser

export type Session = { email: string; cookie: string; csrf: string };

function cookiesOf(res: Response, jar: Map<string, string>) {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const eq = pair?.indexOf('=') ?? -1;
    if (!pair || eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

const jarHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
export const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** An anonymous visitor: the cookies and CSRF token of the login page (for the login storm). */
export async function anonymous(base: string): Promise<{ cookie: string; csrf: string }> {
  const jar = new Map<string, string>();
  const res = await fetch(`${base}/login`, { redirect: 'manual' });
  cookiesOf(res, jar);
  return { cookie: jarHeader(jar), csrf: csrfOf(await res.text()) };
}

/** Logs in through the real form; the CSRF token is then read from `landing`. */
let visitors = 0;

export async function login(base: string, email: string, password: string, landing = '/dashboard'): Promise<Session> {
  const jar = new Map<string, string>();
  // Each benchmark user is a visitor of its own (the app trusts X-Forwarded-For in the bench).
  const n = ++visitors;
  const xff = { 'x-forwarded-for': `10.250.${(n >> 8) & 255}.${n & 255}` };
  const page = await fetch(`${base}/login`, { redirect: 'manual', headers: xff });
  cookiesOf(page, jar);
  const csrf = csrfOf(await page.text());
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base, cookie: jarHeader(jar), ...xff },
    body: new URLSearchParams({ _csrf: csrf, email, password }).toString(),
  });
  cookiesOf(res, jar);
  await res.arrayBuffer();
  if (res.status !== 303) throw new Error(`login of ${email} answered ${res.status}`);
  const land = await fetch(`${base}${landing}`, { headers: { cookie: jarHeader(jar) }, redirect: 'manual' });
  cookiesOf(land, jar);
  const html = await land.text();
  if (land.status !== 200) throw new Error(`${landing} answered ${land.status} for ${email}`);
  return { email, cookie: jarHeader(jar), csrf: csrfOf(html) };
}

// ------------------------------------------------------------------ load

export type Load = {
  requestsPerSecond: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  requests: number;
  ok: number;
  other: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** CPU of the app process during the load: percent of one core, and ms per request. */
  appCpuPercent?: number | null;
  appCpuMsPerRequest?: number | null;
};

export function summarise(r: Result, okStatus: (code: number) => boolean = (c) => c >= 200 && c < 300): Load {
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
  const total = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const ok = Object.entries(statusCodes).filter(([k]) => okStatus(Number(k))).reduce((a, [, v]) => a + v, 0);
  return {
    requestsPerSecond: round(r.requests.average),
    p50: round(r.latency.p50),
    p90: round(r.latency.p90),
    p99: round(r.latency.p99),
    max: round(r.latency.max),
    requests: total,
    ok,
    other: total - ok,
    errors: r.errors + r.timeouts,
    statusCodes,
  };
}

/**
 * autocannon with one request builder per connection: connection i gets `perClient(i)`, whose
 * closure may keep state between its requests (autocannon resets its own context every loop).
 */
export async function cannon(base: string, connections: number, seconds: number, perClient: (i: number) => Request): Promise<Result> {
  let next = 0;
  return autocannon({
    url: base,
    connections,
    duration: seconds,
    timeout: 30,
    setupClient(client: Client) {
      client.setRequests([perClient(next++)]);
    },
  });
}

/** Sequential GETs of a cheap URL while something else runs: the app's responsiveness. */
export function probe(url: string, everyMs = 10) {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const res = await fetch(url);
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
      } catch {
        latencies.push(performance.now() - t0);
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const s = [...latencies].sort((a, b) => a - b);
      return { samples: s.length, p50: round(percentile(s, 50), 2), p99: round(percentile(s, 99), 2), max: round(s.at(-1) ?? NaN, 2) };
    },
  };
}
