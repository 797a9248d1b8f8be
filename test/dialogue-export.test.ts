/**
 * The PDF export of a dialogue (issue 4) through the real app and database: only those who may
 * read the dialogue export it (M8), the export shows what the page shows them and no private
 * preparation before its time, it carries the "viewed by" header and is itself recorded there
 * (M14), it is audited and downloaded, never cached (M17, M20), never e-mailed (M18), and the
 * 'exports' module switch turns it and the CSV export off (P7).
 */
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIsolatedTestApp, createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, type CompanyFixture, type DialogueFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { unsafeSetModule } from '../src/platform/modules/switches.ts';
import { pdfSafe } from '../src/modules/dialogues/dialogues.export.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

/** The text drawn in a PDF made by pdfkit: inflate each content stream, join each TJ's strings. */
function pdfText(pdf: Buffer): string {
  const raw = pdf.toString('latin1');
  const out: string[] = [];
  for (const m of raw.matchAll(/stream\r?\n([\s\S]*?)\r?\nendstream/g)) {
    let content: string;
    try {
      content = zlib.inflateSync(Buffer.from(m[1] ?? '', 'latin1')).toString('latin1');
    } catch {
      continue;
    }
    for (const tj of content.matchAll(/\[(.*?)\]\s*TJ/g)) out.push([...(tj[1] ?? '').matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => Buffer.from(h[1] ?? '', 'hex').toString('latin1')).join(''));
  }
  return out.join('\n');
}

async function get(agent: Agent, url: string) {
  return t.app.inject({ method: 'GET', url, remoteAddress: agent.ip, headers: { host: 'samtale.test', cookie: [...agent.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
}

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

async function answer(f: CompanyFixture, d: DialogueFixture, side: 'employee' | 'leader' | 'shared', questionId: string, value: string) {
  const by = side === 'employee' ? f.employee.employmentId : f.leader.employmentId;
  await sys((trx) => trx.insertInto('dialogue_answers').values({ company_id: f.companyId, dialogue_id: d.dialogueId, question_id: questionId, side, value, version: 1, updated_by: by }).execute());
}

describe('M14 M20 dialogue PDF export', () => {
  let f: CompanyFixture;
  let d: DialogueFixture;
  beforeAll(async () => {
    f = await createCompany(t.deps);
    d = await createDialogue(t.deps, f);
    await answer(f, d, 'employee', 'proud', 'Jeg er stolt af kundeprojektet i Århus');
    await answer(f, d, 'employee', 'wellbeing', '4');
    await answer(f, d, 'leader', 'proud', 'Lederens private forberedelse');
  });

  it('gives the employee a PDF of what they may see, as a no-store attachment, recorded and audited', async () => {
    const employee = await loggedIn(t.app, f.employee.email);
    const res = await get(employee, `/dialogues/${d.dialogueId}/export.pdf`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(String(res.headers['content-disposition'])).toMatch(/^attachment; filename="samtale-dialogue-\d{4}-\d{2}-\d{2}\.pdf"$/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const text = pdfText(res.rawPayload);
    expect(text).toContain('Set af');
    expect(text).toContain(f.employee.name);
    expect(text).toContain('Jeg er stolt af kundeprojektet i Århus');
    expect(text).toContain('Jeg trives i mit arbejde.');
    expect(text).toContain('I høj grad');
    expect(text).toContain('Kursus i projektledelse');
    // The leader's preparation is private until both have submitted or the meeting starts.
    expect(text).not.toContain('Lederens private forberedelse');
    expect(text).toContain('Ikke synligt endnu');

    const views = await sys((trx) => trx.selectFrom('document_views').select(['viewer_user_id', 'viewer_role']).where('object_type', '=', 'dialogue').where('object_id', '=', d.dialogueId).execute());
    expect(views).toContainEqual({ viewer_user_id: f.employee.userId, viewer_role: 'employee' });
    const events = await sys((trx) => trx.selectFrom('audit_events').select(['event_type', 'actor_user_id', 'data']).where('company_id', '=', f.companyId).where('event_type', '=', 'dialogues.exported').execute());
    expect(events).toHaveLength(1);
    expect(events[0]?.actor_user_id).toBe(f.employee.userId);
    expect(JSON.stringify(events[0]?.data)).not.toContain('stolt');
  });

  it('shows both sides, notes and the earlier export in "viewed by" once the meeting has started', async () => {
    await sys((trx) => trx.updateTable('dialogues').set({ state: 'meeting', notes_text: 'Vi aftalte et kursus i foråret.' }).where('id', '=', d.dialogueId).execute());
    const leader = await loggedIn(t.app, f.leader.email);
    const res = await get(leader, `/dialogues/${d.dialogueId}/export.pdf`);
    expect(res.statusCode).toBe(200);
    const text = pdfText(res.rawPayload);
    expect(text).toContain('Lederens private forberedelse');
    expect(text).toContain('Jeg er stolt af kundeprojektet i Århus');
    expect(text).toContain('Vi aftalte et kursus i foråret.');
    // The viewed-by header lists the employee's earlier export and this one.
    const header = text.slice(text.indexOf('Set af'), text.indexOf('MUS'));
    expect(header).toContain(`${f.employee.name} (medarbejder)`);
    expect(header).toContain(`${f.leader.name} (leder)`);
  });

  it('is not found for anyone who may not read the dialogue, and sends anonymous visitors to the login', async () => {
    for (const who of [f.admin, f.colleague, f.delegate, f.member]) {
      const a = await loggedIn(t.app, who.email);
      const res = await get(a, `/dialogues/${d.dialogueId}/export.pdf`);
      expect(res.statusCode, who.email).toBe(404);
      expect(res.headers['content-type']).not.toContain('pdf');
    }
    const other = await createCompany(t.deps);
    const otherAdmin = await loggedIn(t.app, other.admin.email);
    expect((await get(otherAdmin, `/dialogues/${d.dialogueId}/export.pdf`)).statusCode).toBe(404);
    const anon = new Agent(t.app);
    const res = await anon.get(`/dialogues/${d.dialogueId}/export.pdf`);
    expect(res.statusCode).toBe(303);
    expect(String(res.headers.location)).toContain('/login');
    const views = await sys((trx) => trx.selectFrom('document_views').select('viewer_user_id').where('object_id', '=', d.dialogueId).execute());
    expect(views.map((v) => v.viewer_user_id)).not.toContain(f.admin.userId);
  });

  it('M18 never e-mails an export', async () => {
    const companyMail = () => sys((trx) => trx.selectFrom('mail_outbox').select(['id', 'template']).where('company_id', '=', f.companyId).execute());
    const before = await companyMail();
    const employee = await loggedIn(t.app, f.employee.email);
    const leader = await loggedIn(t.app, f.leader.email);
    expect((await get(employee, `/dialogues/${d.dialogueId}/export.pdf`)).statusCode).toBe(200);
    expect((await get(leader, `/dialogues/${d.dialogueId}/export.pdf`)).statusCode).toBe(200);
    // Logging in may queue a login notice; an export queues nothing at all.
    const after = await companyMail();
    const added = after.filter((m) => !before.some((b) => b.id === m.id));
    expect(added.filter((m) => m.template !== 'new_device_login')).toEqual([]);
  });

  it('draws text outside Latin-1 as "?" instead of failing', async () => {
    expect(pdfSafe('Zażółć – ok 😀 æøå')).toBe('Za?ó?? – ok ? æøå');
    await answer(f, d, 'shared', 'collab', 'Samarbejde 😀 med Łódź');
    const employee = await loggedIn(t.app, f.employee.email);
    const res = await get(employee, `/dialogues/${d.dialogueId}/export.pdf`);
    expect(res.statusCode).toBe(200);
  });
});

describe('P7 M20 the exports module switch', () => {
  it('turns off the PDF and the CSV exports, and back on', async () => {
    const iso = await createIsolatedTestApp();
    try {
      const f = await createCompany(iso.deps);
      const d = await createDialogue(iso.deps, f);
      const employee = await loggedIn(iso.app, f.employee.email);
      const admin = await loggedIn(iso.app, f.admin.email);
      const fetch = (a: Agent, url: string) => iso.app.inject({ method: 'GET', url, remoteAddress: a.ip, headers: { host: 'samtale.test', cookie: [...a.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
      expect((await fetch(employee, `/dialogues/${d.dialogueId}/export.pdf`)).statusCode).toBe(200);
      await unsafeSetModule(iso.deps, 'exports', true, 'test');
      expect((await fetch(employee, `/dialogues/${d.dialogueId}/export.pdf`)).statusCode).toBe(503);
      expect((await fetch(admin, '/statistics/completion.csv')).statusCode).toBe(503);
      await unsafeSetModule(iso.deps, 'exports', false, undefined);
      expect((await fetch(employee, `/dialogues/${d.dialogueId}/export.pdf`)).statusCode).toBe(200);
      expect((await fetch(admin, '/statistics/completion.csv')).statusCode).toBe(200);
    } finally {
      await iso.close();
    }
  });
});
