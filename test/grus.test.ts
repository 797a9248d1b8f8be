/**
 * GRUS (group development dialogues) through the real app and a real database: one group
 * dialogue per team, private preparation hidden from the other members and the leader until the
 * meeting starts (M8), shared notes and agreements, sign-off by every member and the leader, and
 * a member's request for an individual MUS that the leader must create.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createPerson, PASSWORD, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn, type Agent } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { readAgreements, readAnswers, readNotes } from '../src/modules/dialogues/dialogues.repository.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

async function startGrus(agent: Agent, teamId: string) {
  return agent.post('/rounds', { name: 'GRUS 2027', form: 'builtin:grus-da', target: `team:${teamId}`, preparation_deadline: '2027-03-20', meeting_from: '2027-03-21', meeting_to: '2027-04-30' });
}

async function rowsOf(roundId: string) {
  return sys((trx) => trx.selectFrom('dialogues').selectAll().where('round_id', '=', roundId).execute());
}

type Group = { roundId: string; anchor: string; mine: string; theirs: string };

/** A GRUS on the fixture's team: employee and colleague with the leader. */
async function grusFor(f: CompanyFixture, leader: Agent): Promise<Group> {
  const res = await startGrus(leader, f.teamId);
  expect(res.statusCode).toBe(303);
  const roundId = /\/rounds\/([0-9a-f-]{36})/.exec(String(res.headers.location))?.[1] ?? '';
  const rows = await rowsOf(roundId);
  const mine = rows.find((r) => r.employee_employment_id === f.employee.employmentId)?.id ?? '';
  const theirs = rows.find((r) => r.employee_employment_id === f.colleague.employmentId)?.id ?? '';
  return { roundId, anchor: rows[0]?.group_id ?? '', mine, theirs };
}

describe('M8 GRUS: one group dialogue per team, private preparation until the meeting', () => {
  it('runs a whole GRUS: start, private preparation, meeting, notes, agreements, every signature, locked', async () => {
    const f = await createCompany(t.deps);
    const leader = await loggedIn(t.app, f.leader.email);
    const employee = await loggedIn(t.app, f.employee.email);
    const colleague = await loggedIn(t.app, f.colleague.email);

    // The round form offers the GRUS form.
    expect((await leader.get('/rounds/new')).body).toContain('builtin:grus-da');
    const g = await grusFor(f, leader);
    const rows = await rowsOf(g.roundId);
    // One group: a member row per member, all with the anchor's id as group id, the same leader.
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((r) => r.group_id))).toEqual(new Set([g.anchor]));
    expect(rows.map((r) => r.id)).toContain(g.anchor);
    expect(rows.every((r) => r.leader_employment_id === f.leader.employmentId)).toBe(true);

    // Each member prepares privately.
    expect((await employee.post(`/dialogues/${g.mine}/answers`, { q_went_well: 'Mit private svar om samarbejdet', v_went_well: '0' })).statusCode).toBe(303);
    expect((await colleague.post(`/dialogues/${g.theirs}/answers`, { q_went_well: 'Kollegaens hemmelige svar', v_went_well: '0' })).statusCode).toBe(303);
    expect((await leader.post(`/dialogues/${g.anchor}/answers`, { q_went_well: 'Lederens egen forberedelse', v_went_well: '0' })).statusCode).toBe(303);
    // A member's answers are on their own row; the leader's on the anchor.
    // Free text is sealed at rest (M16): read it opened, row by row.
    const answers = (await Promise.all([g.mine, g.theirs].map(async (id) => (await sys((trx) => readAnswers(trx, id))).map((a) => ({ dialogue_id: id, side: a.side, value: a.value }))))).flat();
    expect(answers).toEqual(
      expect.arrayContaining([
        { dialogue_id: g.mine, side: 'employee', value: 'Mit private svar om samarbejdet' },
        { dialogue_id: g.theirs, side: 'employee', value: 'Kollegaens hemmelige svar' },
        { dialogue_id: g.anchor, side: 'leader', value: 'Lederens egen forberedelse' },
      ]),
    );

    // Nobody sees anyone else's preparation, not even after everyone has handed it in.
    for (const [agent, row] of [
      [employee, g.mine],
      [colleague, g.theirs],
      [leader, g.anchor],
    ] as const) {
      expect((await agent.post(`/dialogues/${row}/submit`)).statusCode).toBe(303);
    }
    const mine = await employee.get(`/dialogues/${g.mine}`);
    expect(mine.statusCode).toBe(200);
    expect(mine.body).toContain('Mit private svar om samarbejdet');
    expect(mine.body).not.toContain('Kollegaens hemmelige svar');
    expect(mine.body).not.toContain('Lederens egen forberedelse');
    expect(mine.body).toContain('har afleveret sin forberedelse');
    // The wish for an individual MUS is a private request to the leader, not a form answer the group would see.
    expect(mine.body).not.toContain('Ønsker du også en individuel MUS?');
    expect(mine.body).toContain('Bed om individuel MUS');
    const led = await leader.get(`/dialogues/${g.theirs}`);
    expect(led.statusCode).toBe(200);
    expect(led.body).not.toContain('Kollegaens hemmelige svar');
    expect(led.body).not.toContain('Mit private svar om samarbejdet');
    // A member cannot open another member's row at all.
    expect((await employee.get(`/dialogues/${g.theirs}`)).statusCode).toBe(404);
    expect((await employee.post(`/dialogues/${g.theirs}/answers`, { q_went_well: 'x', v_went_well: '1' })).statusCode).toBe(404);

    // Only the leader starts the meeting; then everything is visible to the whole group.
    expect((await employee.post(`/dialogues/${g.mine}/start`)).statusCode).toBe(409);
    expect((await leader.post(`/dialogues/${g.anchor}/start`)).statusCode).toBe(303);
    expect(new Set((await rowsOf(g.roundId)).map((r) => r.state))).toEqual(new Set(['meeting']));
    const revealed = await employee.get(`/dialogues/${g.mine}`);
    expect(revealed.body).toContain('Kollegaens hemmelige svar');
    expect(revealed.body).toContain('Lederens egen forberedelse');

    // Shared notes (one set, on the anchor) and agreements owned by a member or the leader.
    expect((await employee.post(`/dialogues/${g.mine}/notes`, { notes: 'Fælles noter fra gruppen', version: '0' })).statusCode).toBe(303);
    expect((await sys((trx) => readNotes(trx, g.anchor))).text).toBe('Fælles noter fra gruppen');
    expect((await employee.post(`/dialogues/${g.mine}/agreements`, { title: 'Kollegaen samler ugeplanen', owner: `member:${f.colleague.employmentId}` })).statusCode).toBe(303);
    expect((await leader.post(`/dialogues/${g.anchor}/agreements`, { title: 'Lederen booker et teamdøgn', owner: 'leader' })).statusCode).toBe(303);
    // An owner outside the group is refused with a message.
    expect((await leader.post(`/dialogues/${g.anchor}/agreements`, { title: 'Forkert ejer', owner: `member:${f.member.employmentId}` })).statusCode).toBe(422);
    const agreements = (await Promise.all([g.mine, g.theirs].map((id) => sys((trx) => readAgreements(trx, id)))))
      .flat()
      .map((a) => ({ dialogue_id: a.dialogue_id, owner: a.owner, employee_employment_id: a.employee_employment_id, title_text: a.title_text }));
    expect(agreements).toEqual(
      expect.arrayContaining([
        { dialogue_id: g.theirs, owner: 'employee', employee_employment_id: f.colleague.employmentId, title_text: 'Kollegaen samler ugeplanen' },
        { dialogue_id: g.anchor, owner: 'leader', employee_employment_id: rows.find((r) => r.id === g.anchor)?.employee_employment_id, title_text: 'Lederen booker et teamdøgn' },
      ]),
    );
    const page = await colleague.get(`/dialogues/${g.theirs}`);
    expect(page.body).toContain('Kollegaen samler ugeplanen');
    expect(page.body).toContain('Lederen booker et teamdøgn');
    expect(page.body).toContain('Fælles noter fra gruppen');

    // Finish; every member and the leader sign; locked only when all have signed.
    expect((await colleague.post(`/dialogues/${g.theirs}/finish`)).statusCode).toBe(409);
    expect((await leader.post(`/dialogues/${g.anchor}/finish`)).statusCode).toBe(303);
    expect((await employee.post(`/dialogues/${g.mine}/sign`, { password: PASSWORD })).statusCode).toBe(303);
    expect((await leader.post(`/dialogues/${g.anchor}/sign`, { password: PASSWORD })).statusCode).toBe(303);
    expect(new Set((await rowsOf(g.roundId)).map((r) => r.state))).toEqual(new Set(['signing']));
    const last = await colleague.post(`/dialogues/${g.theirs}/sign`, { password: PASSWORD, disagreement: 'Jeg ser det anderledes.' });
    expect(last.statusCode).toBe(303);
    expect(String(last.headers.location)).toContain('done=group-closed');
    expect(new Set((await rowsOf(g.roundId)).map((r) => r.state))).toEqual(new Set(['closed']));
    const signatures = await sys((trx) => trx.selectFrom('dialogue_signatures').select(['dialogue_id', 'side', 'employment_id']).where('dialogue_id', 'in', [g.mine, g.theirs]).execute());
    expect(signatures).toHaveLength(4);
    // Locked: nothing more is written.
    expect((await employee.post(`/dialogues/${g.mine}/notes`, { notes: 'for sent', version: '1' })).statusCode).toBe(409);
    const closed = await employee.get(`/dialogues/${g.mine}`);
    expect(closed.body).toContain('Jeg ser det anderledes.');
    // Every member row has its own history of the group's steps.
    const history = await sys((trx) => trx.selectFrom('dialogue_transitions').select(['dialogue_id', 'to_state']).where('dialogue_id', '=', g.theirs).execute());
    expect(history.map((h) => h.to_state)).toEqual(expect.arrayContaining(['invited', 'preparing', 'meeting', 'signing', 'closed']));
    // The leader's overview shows the group once, under its name.
    const overview = await leader.get('/dialogues');
    const links = (overview.body.match(new RegExp(`href="/dialogues/(${g.mine}|${g.theirs})"`, 'g')) ?? []).length;
    expect(links).toBe(1);
    expect(overview.body).toContain('GRUS 2027 – gruppe Team');
  });

  it('skips a team with fewer than two members: a group needs a group', async () => {
    const f = await createCompany(t.deps);
    await sys((trx) => trx.updateTable('employments').set({ fired_at: t.clock.now() }).where('id', '=', f.colleague.employmentId).execute());
    const leader = await loggedIn(t.app, f.leader.email);
    const res = await startGrus(leader, f.teamId);
    expect(res.statusCode).toBe(303);
    expect(String(res.headers.location)).toContain('created=0');
  });

  it('the company admin and a colleague outside the group get 404', async () => {
    const f = await createCompany(t.deps);
    const g = await grusFor(f, await loggedIn(t.app, f.leader.email));
    for (const email of [f.admin.email, f.member.email, f.delegate.email]) {
      const agent = await loggedIn(t.app, email);
      expect((await agent.get(`/dialogues/${g.mine}`)).statusCode, email).toBe(404);
      expect((await agent.post(`/dialogues/${g.mine}/request-mus`, { reason: '' })).statusCode, email).toBe(404);
    }
  });
});

describe('GRUS when a member leaves', () => {
  it('goes on for the rest of the group and closes without the leaver’s signature', async () => {
    const f = await createCompany(t.deps);
    const third = await createPerson(t.deps, f, { label: 'tredje', role: 'employee', teamId: f.teamId });
    const leader = await loggedIn(t.app, f.leader.email);
    const g = await grusFor(f, leader);
    const rows = await rowsOf(g.roundId);
    expect(rows).toHaveLength(3);
    // The anchor's member leaves: the group is not read-only for that.
    const leaver = rows.find((r) => r.id === g.anchor)?.employee_employment_id ?? '';
    await sys((trx) => trx.updateTable('employments').set({ fired_at: t.clock.now() }).where('id', '=', leaver).execute());
    expect((await leader.post(`/dialogues/${g.anchor}/start`)).statusCode).toBe(303);
    expect((await leader.post(`/dialogues/${g.anchor}/finish`)).statusCode).toBe(303);
    const stayers = rows.filter((r) => r.employee_employment_id !== leaver);
    const people = [f.employee, f.colleague, third].filter((p) => p.employmentId !== leaver);
    for (const p of people) {
      const row = stayers.find((r) => r.employee_employment_id === p.employmentId);
      expect((await (await loggedIn(t.app, p.email)).post(`/dialogues/${row?.id}/sign`, { password: PASSWORD })).statusCode).toBe(303);
    }
    const last = await leader.post(`/dialogues/${g.anchor}/sign`, { password: PASSWORD });
    expect(String(last.headers.location)).toContain('done=group-closed');
    expect(new Set((await rowsOf(g.roundId)).map((r) => r.state))).toEqual(new Set(['closed']));
  });
});

describe('GRUS and archive pages escape what people typed', () => {
  it('renders hostile names, answers, agreements and reasons as text', async () => {
    const f = await createCompany(t.deps);
    const hostileName = '<script>alert("navn")</script>';
    const hostileText = '"><img src=x onerror=alert(1)>';
    await sys((trx) => trx.updateTable('users').set({ name: hostileName }).where('id', '=', f.colleague.userId).execute());
    const leader = await loggedIn(t.app, f.leader.email);
    const colleague = await loggedIn(t.app, f.colleague.email);
    const g = await grusFor(f, leader);
    await colleague.post(`/dialogues/${g.theirs}/answers`, { q_went_well: hostileText, v_went_well: '0' });
    await colleague.post(`/dialogues/${g.theirs}/request-mus`, { reason: hostileText });
    await leader.post(`/dialogues/${g.anchor}/start`);
    await leader.post(`/dialogues/${g.anchor}/agreements`, { title: hostileText, owner: `member:${f.colleague.employmentId}` });
    for (const body of [(await leader.get(`/dialogues/${g.anchor}`)).body, (await leader.get('/dialogues')).body, (await leader.get('/dashboard')).body]) {
      expect(body).not.toContain(hostileName);
      expect(body).not.toContain('<img src=x');
    }
    expect((await leader.get(`/dialogues/${g.anchor}`)).body).toContain('&lt;script');
    // The archive page, once the colleague has left.
    await sys((trx) => trx.updateTable('employments').set({ fired_at: t.clock.now() }).where('id', '=', f.colleague.employmentId).execute());
    const archive = await leader.get('/archive');
    expect(archive.body).toContain('&lt;script');
    expect(archive.body).not.toContain(hostileName);
  });
});

describe('GRUS: a member asks for an individual MUS, the leader must create it', () => {
  it('records the request, shows the leader a task until the MUS exists, then creates it', async () => {
    const f = await createCompany(t.deps);
    const leader = await loggedIn(t.app, f.leader.email);
    const colleague = await loggedIn(t.app, f.colleague.email);
    const employee = await loggedIn(t.app, f.employee.email);
    const g = await grusFor(f, leader);

    const asked = await colleague.post(`/dialogues/${g.theirs}/request-mus`, { reason: 'Jeg vil gerne tale om min udvikling alene' });
    expect(asked.statusCode).toBe(303);
    expect((await colleague.get(String(asked.headers.location))).body).toContain('Dit ønske om en individuel MUS er sendt til lederen.');
    // Once: a second request while one is open is refused with a message.
    const again = await colleague.post(`/dialogues/${g.theirs}/request-mus`, { reason: '' });
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain('Du har allerede bedt om en individuel MUS');
    // The other member does not see the request.
    expect((await employee.get(`/dialogues/${g.mine}`)).body).not.toContain('Jeg vil gerne tale om min udvikling alene');

    // The leader's task: on the overview, on the dashboard and on the group page.
    const overview = await leader.get('/dialogues');
    expect(overview.body).toContain('Opgaver: individuelle MUS, du skal oprette');
    expect(overview.body).toContain(f.colleague.name);
    expect((await leader.get('/dashboard')).body).toContain(`${f.colleague.name} har bedt om en individuel MUS`);
    const groupPage = await leader.get(`/dialogues/${g.anchor}`);
    expect(groupPage.body).toContain('Jeg vil gerne tale om min udvikling alene');
    // And an in-app notification linking to the member's dialogue (never the reason).
    const notes = await leader.get('/notifications');
    expect(notes.body).toContain(`href="/dialogues/${g.theirs}`);
    expect(notes.body).not.toContain('udvikling alene');
    // A member cannot create it; the leader can.
    expect((await colleague.post(`/dialogues/${g.theirs}/create-mus`)).statusCode).toBe(409);
    const created = await leader.post(`/dialogues/${g.theirs}/create-mus`);
    expect(created.statusCode).toBe(303);
    const musId = /\/dialogues\/([0-9a-f-]{36})/.exec(String(created.headers.location))?.[1] ?? '';
    const mus = await sys((trx) =>
      trx.selectFrom('dialogues as g').innerJoin('form_versions as v', 'v.id', 'g.form_version_id').innerJoin('forms as fo', 'fo.id', 'v.form_id').select(['g.employee_employment_id', 'g.leader_employment_id', 'g.round_id', 'g.group_id', 'g.state', 'fo.kind']).where('g.id', '=', musId).executeTakeFirstOrThrow(),
    );
    expect(mus).toEqual({ employee_employment_id: f.colleague.employmentId, leader_employment_id: f.leader.employmentId, round_id: null, group_id: null, state: 'invited', kind: 'mus' });
    expect((await colleague.get(`/dialogues/${musId}`)).statusCode).toBe(200);
    // The task is gone; a second creation finds no request.
    expect((await leader.get('/dialogues')).body).not.toContain('Opgaver: individuelle MUS, du skal oprette');
    expect((await leader.post(`/dialogues/${g.theirs}/create-mus`)).statusCode).toBe(409);
    const events = await sys((trx) => trx.selectFrom('audit_events').select(['event_type', 'data']).where('company_id', '=', f.companyId).where('event_type', 'like', 'dialogues.mus_request.%').execute());
    expect(events.map((e) => e.event_type).sort()).toEqual(['dialogues.mus_request.created', 'dialogues.mus_request.fulfilled']);
    // The reason is never in the audit trail.
    expect(JSON.stringify(events)).not.toContain('udvikling alene');
  });

  it('is refused on an individual MUS (only GRUS members ask)', async () => {
    const f = await createCompany(t.deps);
    const leader = await loggedIn(t.app, f.leader.email);
    const res = await leader.post('/rounds', { name: 'MUS 2027', form: 'builtin:mus-da', target: `team:${f.teamId}`, preparation_deadline: '2027-03-20', meeting_from: '2027-03-21', meeting_to: '2027-04-30' });
    const roundId = /\/rounds\/([0-9a-f-]{36})/.exec(String(res.headers.location))?.[1] ?? '';
    const row = (await rowsOf(roundId)).find((r) => r.employee_employment_id === f.employee.employmentId);
    const employee = await loggedIn(t.app, f.employee.email);
    const refused = await employee.post(`/dialogues/${row?.id}/request-mus`, { reason: '' });
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toContain('gruppeudviklingssamtale');
  });
});
