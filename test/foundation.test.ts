import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createStaff, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';

let t: TestApp;
let a: CompanyFixture;

beforeAll(async () => {
  t = await createTestApp();
  a = await createCompany(t.deps);
});
afterAll(async () => t?.close());

describe('login, dashboard and logout', () => {
  it('logs in with e-mail and password, shows the dashboard and logs out', async () => {
    const agent = await loggedIn(t.app, a.employee.email);
    const dash = await agent.get('/dashboard');
    expect(dash.statusCode).toBe(200);
    expect(dash.body).toContain(a.employee.name);
    expect(dash.body).toContain(a.leader.name); // responsible leader inherited from the department
    const out = await agent.post('/logout');
    expect(out.statusCode).toBe(303);
    const after = await agent.get('/dashboard');
    expect(after.statusCode).toBe(303);
    expect(after.headers.location).toContain('/login');
  });

  it('refuses a wrong password with the same message as an unknown e-mail (M6)', async () => {
    const wrong = await new Agent(t.app).login(a.employee.email, 'not the password at all');
    const unknown = await new Agent(t.app).login(`nobody-${Date.now()}@x.example`, 'whatever it is');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    const msg = (b: string) => /<div class="error-summary"[\s\S]*?<\/div>/.exec(b)?.[0];
    expect(msg(wrong.body)).toBeDefined();
    expect(msg(wrong.body)).toBe(msg(unknown.body));
  });

  it('lets platform staff see the company list but not company pages (M8)', async () => {
    const staff = await createStaff(t.deps);
    const agent = await loggedIn(t.app, staff.email);
    const list = await agent.get('/staff/companies');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain(a.name);
    expect((await agent.get('/dashboard')).statusCode).toBe(404);
  });
});

describe('the menu fits the role', () => {
  it('shows Organisation to admins and organisation delegates only', async () => {
    const nav = (body: string) => /<nav[\s\S]*?<\/nav>/.exec(body)?.[0] ?? '';
    const admin = await loggedIn(t.app, a.admin.email);
    const delegate = await loggedIn(t.app, a.delegate.email);
    const employee = await loggedIn(t.app, a.employee.email);
    expect(nav((await admin.get('/dashboard')).body)).toContain('href="/org"');
    expect(nav((await delegate.get('/dashboard')).body)).toContain('href="/org"');
    expect(nav((await employee.get('/dashboard')).body)).not.toContain('href="/org"');
  });
});
