import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createStaff, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { unsafeDisableStaff } from '../src/modules/companies/companies.service.ts';

let t: TestApp;
let f: CompanyFixture;
beforeAll(async () => {
  t = await createTestApp();
  f = await createCompany(t.deps);
});
afterAll(async () => t?.close());

describe('your sessions', () => {
  it('lists your sessions, ends one, and ends all others', async () => {
    const a = await loggedIn(t.app, f.employee.email);
    const b = await loggedIn(t.app, f.employee.email);
    const c = await loggedIn(t.app, f.employee.email);
    const page = await a.get('/account/sessions');
    expect(page.statusCode).toBe(200);
    const ids = [...page.body.matchAll(/\/account\/sessions\/([0-9a-f-]{36})\/delete/g)].map((m) => m[1]);
    expect(ids).toHaveLength(2);
    expect((await a.post(`/account/sessions/${ids[0]}/delete`)).statusCode).toBe(303);
    const alive = [(await b.get('/dashboard')).statusCode, (await c.get('/dashboard')).statusCode].sort();
    expect(alive).toEqual([200, 303]);
    expect((await a.post('/account/sessions/delete-others')).statusCode).toBe(303);
    expect((await b.get('/dashboard')).statusCode).toBe(303);
    expect((await c.get('/dashboard')).statusCode).toBe(303);
    expect((await a.get('/dashboard')).statusCode).toBe(200);
  });

  it('cannot see or end a colleague\'s session (404)', async () => {
    const mine = await loggedIn(t.app, f.employee.email);
    const theirs = await loggedIn(t.app, f.colleague.email);
    const theirPage = await theirs.get('/account/sessions');
    expect(theirPage.body).not.toContain(f.employee.email);
    const other = await loggedIn(t.app, f.colleague.email);
    const otherIds = [...(await other.get('/account/sessions')).body.matchAll(/\/account\/sessions\/([0-9a-f-]{36})\/delete/g)].map((m) => m[1]);
    expect(otherIds.length).toBeGreaterThan(0);
    expect((await mine.post(`/account/sessions/${otherIds[0]}/delete`)).statusCode).toBe(404);
    expect((await mine.post('/account/sessions/not-a-uuid/delete')).statusCode).toBe(404);
    expect((await theirs.get('/dashboard')).statusCode).toBe(200);
  });
});

describe('disabling a staff account', () => {
  it('M2: `staff disable` ends every session of the account at once and refuses its next login', async () => {
    const staff = await createStaff(t.deps);
    const a = await loggedIn(t.app, staff.email);
    expect((await a.get('/staff/companies')).statusCode).toBe(200);
    expect(await unsafeDisableStaff(t.deps, staff.email.toUpperCase())).toBe(true);
    expect((await a.get('/staff/companies')).statusCode).toBe(303);
    expect((await new Agent(t.app).login(staff.email)).statusCode).toBe(401);
    expect(await unsafeDisableStaff(t.deps, 'nobody@test.example')).toBe(false);
  });
});
