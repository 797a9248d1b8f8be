/**
 * M8: tenant isolation is a property of the database, not of careful application code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { withTenant, unsafeSystemTransaction } from '../src/platform/db/context.ts';

let t: TestApp;
let a: CompanyFixture;
let b: CompanyFixture;

beforeAll(async () => {
  t = await createTestApp();
  a = await createCompany(t.deps);
  b = await createCompany(t.deps);
});
afterAll(async () => t?.close());

describe('M8 row-level security in the catalog', () => {
  it('every table with a company_id column has row-level security enabled and forced', async () => {
    const rows = await unsafeSystemTransaction(t.deps.database, async (trx) =>
      (
        await sql<{ table: string; rls: boolean; forced: boolean }>`
          select c.relname as "table", c.relrowsecurity as rls, c.relforcerowsecurity as forced
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind = 'r'
            and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'company_id' and not a.attisdropped)`.execute(trx)
      ).rows,
    );
    expect(rows.length).toBeGreaterThan(5);
    const weak = rows.filter((r) => !r.rls || !r.forced).map((r) => r.table);
    expect(weak).toEqual([]);
  });

  it('every table the app role can read has forced row-level security (except the migration log)', async () => {
    const rows = await unsafeSystemTransaction(t.deps.database, async (trx) =>
      (
        await sql<{ table: string; forced: boolean }>`
          select c.relname as "table", c.relforcerowsecurity as forced
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind = 'r' and has_table_privilege('samtale_app', c.oid, 'select')`.execute(trx)
      ).rows,
    );
    expect(rows.filter((r) => !r.forced && r.table !== 'schema_migrations').map((r) => r.table)).toEqual([]);
  });

  it('the app role owns nothing and cannot bypass row-level security', async () => {
    const row = await unsafeSystemTransaction(t.deps.database, async (trx) =>
      (
        await sql<{ bypass: boolean; owned: number }>`
          select r.rolbypassrls as bypass,
            (select count(*)::int from pg_class c where c.relowner = r.oid) as owned
          from pg_roles r where r.rolname = 'samtale_app'`.execute(trx)
      ).rows[0],
    );
    expect(row).toEqual({ bypass: false, owned: 0 });
  });
});

describe('M8 queries through the app role', () => {
  it('a transaction without a company context sees no tenant rows at all', async () => {
    const counts = await withTenant(t.deps.database, {}, async (trx) => ({
      companies: (await trx.selectFrom('companies').selectAll().execute()).length,
      departments: (await trx.selectFrom('departments').selectAll().execute()).length,
      teams: (await trx.selectFrom('teams').selectAll().execute()).length,
      employments: (await trx.selectFrom('employments').selectAll().execute()).length,
      users: (await trx.selectFrom('users').selectAll().execute()).length,
      delegations: (await trx.selectFrom('delegations').selectAll().execute()).length,
      sessions: (await trx.selectFrom('sessions').selectAll().execute()).length,
      audit: (await trx.selectFrom('audit_events').selectAll().execute()).length,
    }));
    expect(counts).toEqual({ companies: 0, departments: 0, teams: 0, employments: 0, users: 0, delegations: 0, sessions: 0, audit: 0 });
  });

  it('a query that forgets its company filter still sees only the current company', async () => {
    const teams = await withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) =>
      trx.selectFrom('teams').select(['id', 'company_id']).execute(),
    );
    expect(teams.length).toBe(2);
    expect(new Set(teams.map((x) => x.company_id))).toEqual(new Set([a.companyId]));
    const users = await withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) =>
      trx.selectFrom('users').select('id').execute(),
    );
    expect(users.map((u) => u.id)).not.toContain(b.employee.userId);
  });

  it('cannot write a row into another company, even with its id', async () => {
    await expect(
      withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) =>
        trx.insertInto('teams').values({ id: crypto.randomUUID(), company_id: b.companyId, department_id: b.departmentId, name: 'Intruder', owner_employment_id: null }).execute(),
      ),
    ).rejects.toThrow();
    const updated = await withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) =>
      trx.updateTable('teams').set({ name: 'Renamed by A' }).where('id', '=', b.teamId).executeTakeFirst(),
    );
    expect(Number(updated.numUpdatedRows)).toBe(0);
    const deleted = await withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) =>
      trx.deleteFrom('employments').where('company_id', '=', b.companyId).executeTakeFirst(),
    );
    expect(Number(deleted.numDeletedRows)).toBe(0);
  });

  it('only the session\'s own company row can be changed, even by someone employed in both', async () => {
    await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.insertInto('employments').values({ id: crypto.randomUUID(), company_id: b.companyId, user_id: a.admin.userId, role: 'employee', team_id: b.teamId, department_id: null, fired_at: null, fired_by: null }).execute(),
    );
    // The policy lets this person see company B (to switch to it) but not change it.
    const seen = await withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) => trx.selectFrom('companies').select('id').where('id', '=', b.companyId).execute());
    expect(seen).toHaveLength(1);
    const both = await withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) =>
      trx.updateTable('companies').set({ name: 'Renamed from A' }).where('id', '=', b.companyId).executeTakeFirst(),
    );
    expect(Number(both.numUpdatedRows)).toBe(0);
    await expect(
      withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) => trx.deleteFrom('companies').where('id', '=', a.companyId).execute()),
    ).rejects.toThrow();
  });

  it('the audit trail is append-only for the app role', async () => {
    await expect(
      withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) => trx.deleteFrom('audit_events').execute()),
    ).rejects.toThrow();
    await expect(
      withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, (trx) => trx.updateTable('audit_events').set({ event_type: 'x' }).execute()),
    ).rejects.toThrow();
  });

  it('the responsible leader is inherited up the department tree', async () => {
    const r = await withTenant(t.deps.database, { companyId: a.companyId, userId: a.admin.userId }, async (trx) =>
      (
        await sql<{ team: string | null; other: string | null }>`select team_responsible_employment(${a.teamId}::uuid) as team, team_responsible_employment(${a.otherTeamId}::uuid) as other`.execute(trx)
      ).rows[0],
    );
    // Both teams sit under the department the leader owns.
    expect(r).toEqual({ team: a.leader.employmentId, other: a.leader.employmentId });
  });
});
