/**
 * Every page rendered with hostile strings in every field the database can hold: the renderer
 * must escape them all (stored XSS). Visits every GET page of the app as each actor allowed there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, createStaff, type CompanyFixture, type DialogueFixture } from './helpers/factories.ts';
import { loggedIn, type Agent } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';

const HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(2)>', "'><svg onload=alert(3)>", '{{7*7}}&amp;'];
const hostile = (i: number) => `${HOSTILE[i % HOSTILE.length]} x${i}`;

let t: TestApp;
let f: CompanyFixture;
let staffEmail: string;
let dialogue: DialogueFixture;

beforeAll(async () => {
  t = await createTestApp();
  f = await createCompany(t.deps);
  staffEmail = (await createStaff(t.deps)).email;
  let i = 0;
  await unsafeSystemTransaction(t.deps.database, async (trx) => {
    await trx.updateTable('companies').set({ name: hostile(i++) }).where('id', '=', f.companyId).execute();
    for (const id of [f.rootDepartmentId, f.departmentId, f.subDepartmentId, f.leafDepartmentId]) {
      await trx.updateTable('departments').set({ name: hostile(i++) }).where('id', '=', id).execute();
    }
    for (const id of [f.teamId, f.otherTeamId]) await trx.updateTable('teams').set({ name: hostile(i++) }).where('id', '=', id).execute();
    for (const p of [f.admin, f.leader, f.employee, f.colleague, f.delegate, f.member]) {
      await trx.updateTable('users').set({ name: hostile(i++) }).where('id', '=', p.userId).execute();
      await trx.updateTable('employments').set({ title: hostile(i++) }).where('id', '=', p.employmentId).execute();
    }
  });
  // A closed dialogue with hostile text in everything people type.
  dialogue = await createDialogue(t.deps, f);
  await unsafeSystemTransaction(t.deps.database, async (trx) => {
    const d = dialogue.dialogueId;
    await trx.updateTable('dialogue_rounds').set({ name: hostile(i++) }).where('id', '=', dialogue.roundId).execute();
    await trx.updateTable('dialogues').set({ state: 'closed', notes_text: hostile(i++), disagreement_text: hostile(i++), meeting_place: hostile(i++), meeting_at: new Date('2027-03-02T10:00:00Z') }).where('id', '=', d).execute();
    for (const [question_id, side] of [['proud', 'employee'], ['proud', 'leader'], ['meeting_summary', 'shared']] as const) {
      await trx.insertInto('dialogue_answers').values({ company_id: f.companyId, dialogue_id: d, question_id, side, value: hostile(i++), version: 1, updated_by: f.employee.employmentId }).execute();
    }
    await trx.updateTable('agreements').set({ title_text: hostile(i++), description_text: hostile(i++), progress_text: hostile(i++) }).where('id', '=', dialogue.agreementId).execute();
  });
});
afterAll(async () => t?.close());

function assertEscaped(body: string, where: string) {
  for (const raw of ['<script>alert(1)</script>', '<img src=x onerror=alert(2)>', '<svg onload=alert(3)>']) {
    expect(body, where).not.toContain(raw);
  }
}

describe('hostile strings are escaped on every page', () => {
  it('as every actor, on every GET page', async () => {
    const pages = t.app.samtaleRoutes.filter((r) => r.method === 'GET' && !r.url.startsWith('/assets') && !r.url.endsWith('z'));
    const ids: Record<string, string> = { departments: f.subDepartmentId, teams: f.otherTeamId, employees: f.member.employmentId, dialogues: dialogue.dialogueId, rounds: dialogue.roundId };
    const agents: [string, Agent][] = [];
    for (const who of ['admin', 'leader', 'employee', 'delegate'] as const) agents.push([who, await loggedIn(t.app, f[who].email)]);
    agents.push(['staff', await loggedIn(t.app, staffEmail)]);
    let sawEscaped = false;
    let visited = 0;
    for (const [who, agent] of agents) {
      for (const r of pages) {
        const url = r.url.replace(/\/(\w+)\/:\w+/, (_m, coll: string) => `/${coll}/${ids[coll] ?? 'x'}`);
        const res = await agent.get(url);
        expect(res.statusCode, `${who} ${url}`).toBeLessThan(500);
        if (res.statusCode === 200) visited++;
        // Only HTML is rendered by a browser: other answers (JSON, CSV downloads) carry nosniff,
        // and downloads are attachments.
        const type = String(res.headers['content-type'] ?? '');
        if (!type.startsWith('text/html')) {
          expect(res.headers['x-content-type-options'], `${who} ${url}`).toBe('nosniff');
          if (type.startsWith('text/csv')) expect(String(res.headers['content-disposition']), `${who} ${url}`).toMatch(/^attachment;/);
          continue;
        }
        assertEscaped(res.body, `${who} ${url}`);
        if (res.body.includes('&lt;script>alert(1)&lt;/script>')) sawEscaped = true;
      }
    }
    // The hostile text was really on the pages (escaped), not just absent.
    expect(sawEscaped).toBe(true);
    expect(visited).toBeGreaterThan(3);
  }, 120_000);
});
