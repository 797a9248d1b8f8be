import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { seedDemoIfEmpty } from '../src/modules/demo/demo.ts';
import { migrate } from '../src/platform/db/migrate.ts';
import { loggedIn } from './helpers/agent.ts';
import { unsafeCountCompanies } from '../src/modules/companies/companies.service.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ DEMO_SEED: 'true' });
});
afterAll(async () => t?.close());

describe('the demo company', () => {
  it('is created only on an empty database, with random passwords written once (0600)', async () => {
    // On a shared PostgreSQL test database other files have already made companies: then the
    // seed must do nothing. On the per-file PGlite the database is empty and the seed runs.
    const before = await unsafeCountCompanies(t.deps);
    const creds = await seedDemoIfEmpty(t.deps);
    if (before > 0) {
      expect(creds).toBeUndefined();
      return;
    }
    expect(creds).toBeDefined();
    const list = creds ?? [];
    expect(list.filter((c) => c.role === 'company_admin')).toHaveLength(1);
    expect(list.filter((c) => c.role === 'leader')).toHaveLength(2);
    expect(list.filter((c) => c.role === 'employee')).toHaveLength(6);
    expect(list.filter((c) => c.role === 'platform_staff')).toHaveLength(1);
    expect(new Set(list.map((c) => c.password)).size).toBe(list.length);
    for (const c of list) expect(c.password.length).toBeGreaterThanOrEqual(20);
    const file = `${t.deps.config.dataDir}/demo-credentials.json`;
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(list);
    // The seed runs once: a second call changes nothing.
    expect(await seedDemoIfEmpty(t.deps)).toBeUndefined();
    // And the accounts work.
    const admin = list.find((c) => c.role === 'company_admin');
    const agent = await loggedIn(t.app, admin?.email ?? '', admin?.password);
    expect((await agent.get('/dashboard')).body).toContain('Demo A/S');
    // A MUS round for the sales department is running: its employees have a dialogue to prepare.
    const seller = list.find((c) => c.role === 'employee');
    const employee = await loggedIn(t.app, seller?.email ?? '', seller?.password);
    expect((await employee.get('/dialogues')).body).toMatch(/MUS \d{4}/);
  });

  it('migrations are idempotent', async () => {
    expect(await migrate(t.deps.database)).toEqual([]);
  });

  it('is never created in production', async () => {
    const prod = { ...t.deps, config: { ...t.deps.config, env: 'production' as const } };
    expect(await seedDemoIfEmpty(prod)).toBeUndefined();
  });
});

describe('the samtale CLI', () => {
  it('prints help', () => {
    const out = execFileSync('node_modules/.bin/tsx', ['src/main.ts', '--help'], { encoding: 'utf8' });
    for (const word of ['serve', 'migrate', 'company create', 'staff create']) expect(out).toContain(word);
  });

  it('refuses bad configuration with a clear message', () => {
    let stderr = '';
    try {
      execFileSync('node_modules/.bin/tsx', ['src/main.ts', 'migrate'], { encoding: 'utf8', env: { ...process.env, PORT: 'nope' }, stdio: 'pipe' });
    } catch (err) {
      stderr = String((err as { stderr?: string }).stderr);
    }
    expect(stderr).toContain('PORT');
  });
});
