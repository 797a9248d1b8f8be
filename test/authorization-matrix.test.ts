/**
 * M8 authorization matrix: every route of the app against every kind of actor. A route without a
 * row here fails the test, so no route can be added without deciding who may use it.
 *
 * allow: the actor gets an answer (2xx, a redirect, or a 409/422 about the input), never 401/403/404.
 * deny:  anonymous is sent to the login (GET) or gets 401; everyone else gets 404 — the same
 *        answer as for an id that does not exist, so nothing leaks. Ids in the URL belong to
 *        company A; the admin of company B is denied all of them (on routes without ids, B's
 *        admin acts in B and must see nothing of A).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, createStaff, type CompanyFixture, type DialogueFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { createAvailableDialogueFile, createAvailableFile } from './helpers/files.ts';
import { createImportFixture } from './helpers/import.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';

type ActorName = 'anonymous' | 'employee' | 'leader' | 'delegate' | 'admin' | 'otherAdmin' | 'staff';
const ACTORS: ActorName[] = ['anonymous', 'employee', 'leader', 'otherAdmin', 'staff', 'delegate', 'admin'];
const USERS: ActorName[] = ['employee', 'leader', 'delegate', 'admin', 'otherAdmin'];
const ORG: ActorName[] = ['delegate', 'admin'];

type Row = { allow: ActorName[] | 'public' };

const MATRIX: Record<string, Row> = {
  'GET /': { allow: 'public' },
  'GET /login': { allow: 'public' },
  'GET /login/second-factor': { allow: 'public' },
  'POST /login/second-factor': { allow: 'public' },
  'POST /login': { allow: 'public' },
  'POST /logout': { allow: 'public' },
  'POST /settings/language': { allow: 'public' },
  'GET /healthz': { allow: 'public' },
  'GET /readyz': { allow: 'public' },
  'GET /assets/:file': { allow: 'public' },
  'GET /v3/openapi.json': { allow: 'public' },
  'GET /dashboard': { allow: USERS },
  'POST /switch-company': { allow: USERS },
  'GET /staff/companies': { allow: ['staff'] },
  // Only with the file mail transport outside production (the test default).
  'GET /staff/dev/mail': { allow: ['staff'] },
  'GET /account/sessions': { allow: [...USERS, 'staff'] },
  'GET /account/two-factor': { allow: [...USERS, 'staff'] },
  'GET /account/password': { allow: [...USERS, 'staff'] },
  'POST /account/password': { allow: [...USERS, 'staff'] },
  'POST /account/two-factor/start': { allow: [...USERS, 'staff'] },
  'POST /account/two-factor/confirm': { allow: [...USERS, 'staff'] },
  // M2: staff can never remove their factor.
  'POST /account/two-factor/remove': { allow: USERS },
  // Passkeys: users and staff manage their own; the service keeps the last required factor.
  'POST /account/two-factor/passkeys/options': { allow: [...USERS, 'staff'] },
  'POST /account/two-factor/passkeys': { allow: [...USERS, 'staff'] },
  'POST /account/two-factor/passkeys/reauth-options': { allow: [...USERS, 'staff'] },
  'POST /account/two-factor/passkeys/remove': { allow: [...USERS, 'staff'] },
  'POST /login/second-factor/passkey-options': { allow: 'public' },
  'GET /assets/simplewebauthn-browser.js': { allow: 'public' },
  'POST /account/sessions/:id/delete': { allow: [] },
  'POST /account/sessions/delete-others': { allow: [...USERS, 'staff'] },
  'GET /org': { allow: ORG },
  'POST /org/departments': { allow: ORG },
  'GET /org/departments/:id': { allow: ORG },
  'POST /org/departments/:id': { allow: ORG },
  'POST /org/departments/:id/delete': { allow: ORG },
  'POST /org/teams': { allow: ORG },
  'GET /org/teams/:id': { allow: ORG },
  'POST /org/teams/:id': { allow: ORG },
  'POST /org/teams/:id/delete': { allow: ORG },
  'GET /org/employees': { allow: ORG },
  'GET /org/employees/new': { allow: ORG },
  'GET /org/import': { allow: ORG },
  'POST /org/import': { allow: ORG },
  'GET /org/import/:id': { allow: ['admin'] },
  'POST /org/import/:id/apply': { allow: ['admin'] },
  'POST /org/import/:id/delete': { allow: ['admin'] },
  'POST /org/employees': { allow: ORG },
  'GET /org/employees/:id': { allow: ORG },
  'POST /org/employees/:id': { allow: ORG },
  'POST /org/employees/:id/fire': { allow: ORG },
  'POST /org/employees/:id/rehire': { allow: ORG },
  'POST /org/employees/:id/unlock': { allow: ['admin'] },
  'POST /org/delegations': { allow: ['admin'] },
  'GET /org/settings/security': { allow: ['admin'] },
  'POST /org/settings/security': { allow: ['admin'] },
  'GET /org/settings/api': { allow: ['admin'] },
  'POST /org/settings/api/tokens': { allow: ['admin'] },
  'POST /org/settings/api/tokens/:id/revoke': { allow: ['admin'] },
  'POST /org/settings/api/settings': { allow: ['admin'] },
  'POST /org/delegations/:id/delete': { allow: ['admin'] },
  'POST /org/employees/:id/invite': { allow: ORG },
  // Links sent by e-mail: the token is the authority (an unknown one gets "the link does not work", 410).
  'GET /password/forgot': { allow: 'public' },
  'POST /password/forgot': { allow: 'public' },
  'GET /password/reset/:token': { allow: 'public' },
  'POST /password/reset/:token': { allow: 'public' },
  'GET /invitation/:token': { allow: 'public' },
  'POST /invitation/:token': { allow: 'public' },
  'GET /unlock/:token': { allow: 'public' },
  'POST /unlock/:token': { allow: 'public' },
  'GET /email-change/:token': { allow: 'public' },
  'POST /email-change/:token': { allow: 'public' },
  'GET /org/audit': { allow: ['admin'] },
  'GET /notifications': { allow: USERS },
  'POST /notifications/read': { allow: USERS },
  'GET /account/reminders': { allow: USERS },
  'POST /account/reminders': { allow: USERS },
  // Only the dialogue's own leader may nudge its employee.
  'POST /dialogues/:id/nudge': { allow: ['leader'] },
  'GET /org/settings/support': { allow: ['admin'] },
  'POST /org/settings/support/consent': { allow: ['admin'] },
  'POST /org/settings/support/withdraw': { allow: ['admin'] },
  'GET /org/settings/support/activity': { allow: ['admin'] },
  // Support inside a company: staff only, and then only with the company's consent (a company
  // without consent is 404, as in test/support-consent.test.ts).
  'POST /staff/companies/:id/enter': { allow: [] },
  'POST /staff/support/leave': { allow: ['staff'] },
  'GET /support': { allow: ['staff'] },
  'GET /support/dialogues': { allow: ['staff'] },
  // Staff without a company entered are sent back to the company list (303), never shown content.
  'GET /support/dialogues/:id': { allow: ['staff'] },
  'GET /org/audit.csv': { allow: ['admin'] },
  'GET /account/email': { allow: [...USERS, 'staff'] },
  'POST /account/email': { allow: [...USERS, 'staff'] },
  // Dialogues (M8): content only for the employee and the leader of the dialogue (a delegate
  // without dialog_access_edp and the company admin get 404); rounds for those who administer them.
  'GET /dialogues': { allow: USERS },
  'GET /dialogues/:id': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/answers': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/submit': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/start': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/finish': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/reopen': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/meeting': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/notes': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/agreements': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/sign': { allow: ['employee', 'leader'] },
  'POST /agreements/:id': { allow: ['employee', 'leader'] },
  // The org delegate holds a department responsibility: the rounds list, for statistics only.
  'GET /rounds': { allow: ['leader', 'delegate', 'admin'] },
  'GET /rounds/new': { allow: ['leader', 'admin'] },
  'POST /rounds': { allow: ['leader', 'admin'] },
  'GET /rounds/:id': { allow: ['admin'] },
  'POST /sickness-reports': { allow: ['leader', 'admin'] },
  'GET /rounds/:id/statistics': { allow: ['admin'] },
  // The secure inbox (issue 7): anyone in the company sends; only company admins download.
  'GET /inbox': { allow: USERS },
  'POST /inbox': { allow: USERS },
  'GET /inbox/files/:id/download': { allow: ['admin'] },
  // Attachments on dialogues and agreements (issue 7): the dialogue's participants only.
  'GET /dialogues/:id/attachments': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/attachments': { allow: ['employee', 'leader'] },
  'POST /agreements/:id/attachments': { allow: ['employee', 'leader'] },
  'GET /attachments/:id/download': { allow: ['employee', 'leader'] },
  // --- rows: dialogues flow (GRUS, MUS requests, signing, archive) ---
  // A GRUS member asks for an individual MUS; the leader creates it (on the fixture's MUS both get a 409).
  'POST /dialogues/:id/request-mus': { allow: ['employee', 'leader'] },
  'POST /dialogues/:id/create-mus': { allow: ['employee', 'leader'] },
  // M15: everyone has an archive page; it lists only dialogues they hold as leader of people who left.
  'GET /archive': { allow: USERS },
  // --- rows: forms builder, statistics, exports ---
  // Forms builder: company admins and `configuration` delegates (the fixture delegate holds
  // manage_organisation_department only). An empty POST re-renders the editor or answers 422.
  'GET /forms': { allow: ['admin'] },
  'GET /forms/edit': { allow: ['admin'] },
  'POST /forms/edit': { allow: ['admin'] },
  'POST /forms/copy': { allow: ['admin'] },
  'POST /org/settings/statistics': { allow: ['admin'] },
  // Statistics: aggregates for admins, department delegates and responsible leaders; one
  // employee's scores for the employee and their responsible leader only.
  'GET /statistics': { allow: ['leader', 'delegate', 'admin'] },
  'GET /statistics/completion.csv': { allow: ['leader', 'delegate', 'admin'] },
  'GET /statistics/departments/:id': { allow: ['leader', 'delegate', 'admin'] },
  'GET /statistics/teams/:id': { allow: ['leader', 'delegate', 'admin'] },
  'GET /statistics/employees/:id': { allow: ['leader'] },
  'GET /statistics/me': { allow: USERS },
  // The PDF export: exactly those who may read the dialogue.
  'GET /dialogues/:id/export.pdf': { allow: ['employee', 'leader'] },
  // --- rows: retention (leaving employees) ---
  // --- rows: company termination and keys ---
  // Company admins only; without the second factor the start is refused (422), nothing changes.
  'GET /org/settings/termination': { allow: ['admin'] },
  'POST /org/settings/termination/start': { allow: ['admin'] },
  'POST /org/settings/termination/cancel': { allow: ['admin'] },
  // --- rows: backups ---
  // --- rows: operations (metrics) ---
};

/** The dialogue made for a fixture company (routes under /dialogues, /rounds, /agreements). */
const dialogueOf = new Map<string, DialogueFixture>();
/** A clean file in a fixture company's inbox (GET /inbox/files/:id/download). */
const inboxFileOf = new Map<string, string>();
/** A pending employee import uploaded by a fixture company's admin (GET /org/import/:id). */
const importOf = new Map<string, string>();
/** A clean attachment on a fixture company's dialogue (GET /attachments/:id/download). */
const attachmentOf = new Map<string, string>();

/**
 * The integration API (/v3/...) is authenticated by a signed API token, not by a session, so the
 * session actors of this matrix do not apply to it: its routes are left out here on purpose, and
 * test/api-auth.test.ts and test/api.test.ts prove their authorization (M8: a token reaches only
 * its own company; every refusal is 401 JSON). Only the public description /v3/openapi.json stays.
 */
function isTokenApi(url: string): boolean {
  return url.startsWith('/v3/') && url !== '/v3/openapi.json';
}

function fillParams(url: string, f: CompanyFixture & { otherSessionId?: string; apiTokenId?: string }): string {
  return url.replace(/:(\w+)/g, (_whole, _name: string) => {
    if (url.startsWith('/org/settings/api/tokens/')) return f.apiTokenId ?? 'missing';
    if (url.startsWith('/assets/')) return 'app.css';
    if (url.includes('/:token')) return 'A'.repeat(43);
    // Someone else's session: nobody may end it, so everyone gets 404.
    if (url.startsWith('/account/sessions/')) return f.otherSessionId ?? 'missing';
    if (url.includes('/departments/')) return f.leafDepartmentId;
    if (url.includes('/teams/')) return f.otherTeamId;
    if (url.startsWith('/staff/companies/')) return f.companyId;
    if (url.startsWith('/support/dialogues/')) return '00000000-0000-4000-8000-000000000000';
    if (url.includes('/employees/')) return f.member.employmentId;
    if (url.includes('/delegations/')) return f.delegationId;
    const d = dialogueOf.get(f.companyId);
    if (d && url.startsWith('/dialogues/')) return d.dialogueId;
    if (d && url.startsWith('/rounds/')) return d.roundId;
    if (d && url.startsWith('/agreements/')) return d.agreementId;
    if (url.startsWith('/inbox/files/')) return inboxFileOf.get(f.companyId) ?? 'missing';
    if (url.startsWith('/org/import/')) return importOf.get(f.companyId) ?? 'missing';
    if (url.startsWith('/attachments/')) return attachmentOf.get(f.companyId) ?? 'missing';
    throw new Error(`no id for ${url}`);
  });
}

let t: TestApp;
let other: CompanyFixture;
let staffEmail: string;

beforeAll(async () => {
  t = await createTestApp();
  other = await createCompany(t.deps);
  staffEmail = (await createStaff(t.deps)).email;
});
afterAll(async () => t?.close());

describe('M8 authorization matrix', () => {
  it('has a row for every route, and no row for a route that does not exist', () => {
    const routes = t.app.samtaleRoutes.filter((r) => !isTokenApi(r.url)).map((r) => `${r.method} ${r.url}`);
    const missing = routes.filter((r) => !(r in MATRIX));
    expect(missing).toEqual([]);
    expect(Object.keys(MATRIX).filter((k) => !routes.includes(k))).toEqual([]);
  });

  it('public routes are public and no other route is', () => {
    for (const r of t.app.samtaleRoutes.filter((x) => !isTokenApi(x.url))) {
      expect({ route: `${r.method} ${r.url}`, public: r.public }).toEqual({ route: `${r.method} ${r.url}`, public: MATRIX[`${r.method} ${r.url}`]?.allow === 'public' });
    }
  });

  for (const [key, row] of Object.entries(MATRIX)) {
    it(`${key}`, async () => {
      const [method, url] = key.split(' ') as ['GET' | 'POST', string];
      const hasId = url.includes('/:');
      let f = await fixtureFor(url);
      for (const actor of ACTORS) {
        // Allowed POSTs really change things: each allowed actor gets a fresh company of its own.
        const allowed = row.allow === 'public' || row.allow.includes(actor) || (actor === 'otherAdmin' && !hasId && row.allow.includes('admin'));
        if (method === 'POST' && allowed) f = await fixtureFor(url);
        const path = fillParams(url, f);
        const agent = await agentFor(actor, f);
        const res = method === 'GET' ? await agent.get(path) : await agent.post(path, {});
        const status = res.statusCode;
        const label = `${actor} ${method} ${path} -> ${status}`;
        expect(status, label).toBeLessThan(500);
        if (row.allow === 'public') {
          expect(status, label).not.toBe(404);
          continue;
        }
        if (allowed) {
          // The admin of another company acting on a route without ids acts in their own company.
          expect([401, 403, 404], label).not.toContain(status);
          if (actor === 'otherAdmin') for (const p of [f.member, f.employee, f.colleague]) expect(res.body, label).not.toContain(p.email);
        } else if (actor === 'anonymous') {
          if (method === 'GET') {
            expect(status, label).toBe(303);
            expect(String(res.headers.location), label).toContain('/login');
          } else {
            expect(status, label).toBe(401);
          }
        } else {
          expect(status, label).toBe(404);
          for (const p of [f.member, f.employee, f.colleague]) expect(res.body, label).not.toContain(p.email);
        }
      }
    });
  }
});

async function fixtureFor(url: string): Promise<CompanyFixture & { otherSessionId?: string }> {
  const f: CompanyFixture & { otherSessionId?: string } = await createCompany(t.deps);
  if (url.startsWith('/account/sessions/:')) {
    await loggedIn(t.app, f.colleague.email);
    const s = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('sessions').select('id').where('user_id', '=', f.colleague.userId).executeTakeFirstOrThrow());
    f.otherSessionId = s.id;
  }
  if (url.startsWith('/org/settings/api/tokens/:')) {
    const id = randomUUID();
    await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.insertInto('api_tokens').values({ id, company_id: f.companyId, name: 'HR', token_hash: id.replace(/-/g, '').padEnd(64, '0'), secret_box: 'v1.x.y.z' }).execute(),
    );
    (f as { apiTokenId?: string }).apiTokenId = id;
  }
  if (/^\/(dialogues|rounds|agreements)\/:/.test(url)) dialogueOf.set(f.companyId, await createDialogue(t.deps, f));
  if (url.startsWith('/inbox/files/')) inboxFileOf.set(f.companyId, await createAvailableFile(t.deps, f));
  if (url.startsWith('/org/import/')) importOf.set(f.companyId, await createImportFixture(t.deps, f));
  if (url.startsWith('/attachments/')) attachmentOf.set(f.companyId, await createAvailableDialogueFile(t.deps, f, (await createDialogue(t.deps, f)).dialogueId));
  return f;
}

async function agentFor(actor: ActorName, f: CompanyFixture): Promise<Agent> {
  switch (actor) {
    case 'anonymous': {
      const a = new Agent(t.app);
      await a.get('/login');
      return a;
    }
    // Fresh sessions every time: an allowed POST /logout must not spoil the next row.
    case 'otherAdmin':
      return loggedIn(t.app, other.admin.email);
    case 'staff':
      return loggedIn(t.app, staffEmail);
    default:
      return loggedIn(t.app, f[actor].email);
  }
}
