/**
 * The failover drill in CI (M11): three PostgreSQL clusters (primary, synchronous standby,
 * asynchronous remote replica), the real app under a write load through its UI, the primary
 * stopped hard and the standby promoted. Asserts that no acknowledged write is lost and that the
 * app writes again by itself.
 *
 * Runs only in the PostgreSQL pass (TEST_DATABASE_URL set), so it does not run twice, and needs
 * the PostgreSQL 15 binaries. Without them it is skipped, except under CI=true, where it fails:
 * CI must run it. The drill runs as its own process group, removed with its clusters whatever
 * happens.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DrillReport } from '../scripts/failover-drill.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const haveBinaries = fs.existsSync(path.join(PG_BIN, 'pg_ctl')) && fs.existsSync(path.join(PG_BIN, 'pg_basebackup'));

describe.skipIf(!onPostgres)('M11 failover drill: primary lost under write load', () => {
  const dir = path.join(ROOT, '.pg', `replicas-test-${process.pid}`);
  const jsonFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-failover-')), 'report.json');
  let drillPid: number | undefined;

  afterAll(() => {
    // Whatever happened: the drill's process group (the drill and the app) and the clusters go.
    if (drillPid) {
      try {
        process.kill(-drillPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    spawnSync(path.join(ROOT, 'scripts', 'pg-replicas.sh'), ['destroy'], { env: { ...process.env, PG_REPLICAS_DIR: dir }, stdio: 'ignore' });
    fs.rmSync(path.dirname(jsonFile), { recursive: true, force: true });
  });

  it.skipIf(!haveBinaries && !CI)('loses no acknowledged write and recovers by itself', async () => {
    expect(haveBinaries, `PostgreSQL binaries missing in ${PG_BIN}; CI=true requires them (apt-get install postgresql-15)`).toBe(true);
    const child = spawn(path.join(ROOT, 'scripts', 'failover-drill.sh'), ['--dir', dir, '--json', jsonFile, '--recovery-seconds', '30'], {
      cwd: ROOT,
      env: { ...process.env, PG_BIN },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    drillPid = child.pid;
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    drillPid = undefined;
    expect(fs.existsSync(jsonFile), out).toBe(true);
    const report = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as DrillReport;
    expect(report.missingAcknowledged, out).toEqual([]);
    expect(report.acknowledgedWrites).toBeGreaterThan(report.acknowledgedBeforeKill);
    expect(report.foundOnNewPrimary).toBe(report.acknowledgedWrites);
    expect(report.secondsKillToRecovery, out).not.toBeNull();
    expect(report.secondsKillToRecovery!).toBeLessThan(30);
    // Requests during the outage get the 503 "try again" page, never a 500.
    expect(report.failedStatuses['500'] ?? 0, out).toBe(0);
    expect(report.ok, out).toBe(true);
    expect(code, out).toBe(0);
  }, 240_000);
});
