/**
 * The PDF export of one dialogue (issue 4; M14, M17, M18, M20).
 *
 * Design note: the export shows exactly what the dialogue page shows the same person, no more:
 * who may export is decided by the dialogue policy (sideOf: the employee, the leader, or a
 * delegate with the dialogue access for the team; anyone else gets 404), the other side's private
 * preparation only once it is visible (othersPreparationVisible), shared answers and notes only
 * from the meeting on. Every export writes a "viewed by" row and an audit event in the same
 * transaction as the read, so the export appears at the top of the dialogue for everyone, and at
 * the top of the PDF itself. The file is built in memory and streamed to the browser as an
 * attachment with no-store; it is never stored, never e-mailed (M18).
 *
 * The standard Helvetica font covers Latin-1 (æ, ø, å, ä, ö) through WinAnsi; any character it
 * cannot draw is replaced with "?" rather than breaking the file.
 */
import PDFDocument from 'pdfkit';
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { withTenant } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { listViewers, recordView, type Viewer } from '../../platform/audit/views.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { defineMessages, formatDate, formatDateTime, translator, type Lang } from '../../platform/i18n/i18n.ts';
import * as forms from '../forms/forms.service.ts';
import { multipleValues, type FormDefinition, type Question } from '../forms/form-definition.ts';
import * as repo from './dialogues.repository.ts';
import { othersPreparationVisible, sideOf, type Side } from './dialogues.policy.ts';

export type ExportCtx = { deps: AppDeps; actor: UserActor; ip: string };

export const exportMessages = defineMessages({
  da: {
    documentTitle: 'Samtale: {name}',
    generated: 'Eksporteret {at} af {who}. Dokumentet er personligt; del det kun med dem, der har ret til at se samtalen.',
    viewedBy: 'Set af',
    viewedBySupport: 'Samtale support',
    viewedByUnknown: 'Ukendt person',
    times: '({n} gange)',
    role_employee: 'medarbejder',
    role_leader: 'leder',
    role_delegate: 'delegeret',
    role_admin: 'administrator',
    role_support: 'support',
    facts: '{form} · {state} · medarbejder: {employee} · leder: {leader}',
    round: 'Runde: {name}',
    meeting: 'Møde: {at} {place}',
    employeeAnswer: 'Medarbejderen',
    leaderAnswer: 'Lederen',
    sharedAnswer: 'Fælles',
    notVisible: 'Ikke synligt endnu (forberedelsen er privat).',
    noAnswer: '(ikke besvaret)',
    notes: 'Noter fra mødet',
    agreements: 'Aftaler',
    noAgreements: 'Ingen aftaler.',
    agreementLine: 'Ansvarlig: {owner} · Frist: {deadline} · Opfølgning: {followUp} · Status: {status}',
    progress: 'Fremdrift: {text}',
    signatures: 'Underskrifter',
    signedBy: '{side}: {name}, {at}',
    notSigned: '{side}: ikke underskrevet',
    disagreement: 'Medarbejderens bemærkning om uenighed',
    history: 'Forløb',
    transition: '{at}: {state} ({name})',
    yes: 'Ja',
    no: 'Nej',
    none: '–',
    state_invited: 'Inviteret',
    state_preparing: 'Forberedes',
    state_meeting: 'Møde',
    state_signing: 'Til underskrift',
    state_closed: 'Afsluttet',
    status_open: 'Åben',
    status_in_progress: 'I gang',
    status_done: 'Gennemført',
    status_dropped: 'Opgivet',
    owner_employee: 'Medarbejderen',
    owner_leader: 'Lederen',
  },
  en: {
    documentTitle: 'Dialogue: {name}',
    generated: 'Exported {at} by {who}. This document is personal; share it only with those entitled to see the dialogue.',
    viewedBy: 'Viewed by',
    viewedBySupport: 'Samtale support',
    viewedByUnknown: 'Unknown person',
    times: '({n} times)',
    role_employee: 'employee',
    role_leader: 'leader',
    role_delegate: 'delegate',
    role_admin: 'administrator',
    role_support: 'support',
    facts: '{form} · {state} · employee: {employee} · leader: {leader}',
    round: 'Round: {name}',
    meeting: 'Meeting: {at} {place}',
    employeeAnswer: 'The employee',
    leaderAnswer: 'The leader',
    sharedAnswer: 'Together',
    notVisible: 'Not visible yet (preparation is private).',
    noAnswer: '(not answered)',
    notes: 'Notes from the meeting',
    agreements: 'Agreements',
    noAgreements: 'No agreements.',
    agreementLine: 'Owner: {owner} · Deadline: {deadline} · Follow-up: {followUp} · Status: {status}',
    progress: 'Progress: {text}',
    signatures: 'Signatures',
    signedBy: '{side}: {name}, {at}',
    notSigned: '{side}: not signed',
    disagreement: "The employee's comment of disagreement",
    history: 'History',
    transition: '{at}: {state} ({name})',
    yes: 'Yes',
    no: 'No',
    none: '–',
    state_invited: 'Invited',
    state_preparing: 'Preparing',
    state_meeting: 'Meeting',
    state_signing: 'Signing',
    state_closed: 'Closed',
    status_open: 'Open',
    status_in_progress: 'In progress',
    status_done: 'Done',
    status_dropped: 'Dropped',
    owner_employee: 'The employee',
    owner_leader: 'The leader',
  },
  sv: {
    documentTitle: 'Samtal: {name}',
    generated: 'Exporterat {at} av {who}. Dokumentet är personligt; dela det bara med dem som har rätt att se samtalet.',
    viewedBy: 'Sett av',
    viewedBySupport: 'Samtale support',
    viewedByUnknown: 'Okänd person',
    times: '({n} gånger)',
    role_employee: 'medarbetare',
    role_leader: 'chef',
    role_delegate: 'delegerad',
    role_admin: 'administratör',
    role_support: 'support',
    facts: '{form} · {state} · medarbetare: {employee} · chef: {leader}',
    round: 'Omgång: {name}',
    meeting: 'Möte: {at} {place}',
    employeeAnswer: 'Medarbetaren',
    leaderAnswer: 'Chefen',
    sharedAnswer: 'Gemensamt',
    notVisible: 'Inte synligt ännu (förberedelsen är privat).',
    noAnswer: '(inte besvarad)',
    notes: 'Anteckningar från mötet',
    agreements: 'Överenskommelser',
    noAgreements: 'Inga överenskommelser.',
    agreementLine: 'Ansvarig: {owner} · Tidsfrist: {deadline} · Uppföljning: {followUp} · Status: {status}',
    progress: 'Framsteg: {text}',
    signatures: 'Underskrifter',
    signedBy: '{side}: {name}, {at}',
    notSigned: '{side}: inte signerat',
    disagreement: 'Medarbetarens kommentar om oenighet',
    history: 'Förlopp',
    transition: '{at}: {state} ({name})',
    yes: 'Ja',
    no: 'Nej',
    none: '–',
    state_invited: 'Inbjuden',
    state_preparing: 'Förbereds',
    state_meeting: 'Möte',
    state_signing: 'För underskrift',
    state_closed: 'Avslutat',
    status_open: 'Öppen',
    status_in_progress: 'Pågår',
    status_done: 'Klar',
    status_dropped: 'Avbruten',
    owner_employee: 'Medarbetaren',
    owner_leader: 'Chefen',
  },
});

type ExportKey = keyof (typeof exportMessages)['en'];

export type ExportData = {
  dialogue: repo.DialogueRow;
  side: Side;
  form: { name: string; version: number; definition: FormDefinition };
  answers: repo.StoredAnswer[];
  showOther: boolean;
  showShared: boolean;
  notes: string;
  agreements: repo.AgreementRow[];
  disagreement: string | null;
  signatures: Awaited<ReturnType<typeof repo.listSignatures>>;
  transitions: Awaited<ReturnType<typeof repo.listTransitions>>;
  viewers: Viewer[];
  exportedBy: string;
  exportedAt: Date;
};

/**
 * Loads what the actor may see of the dialogue, recording the view (M14) and the export (M20) in
 * the same transaction. Not found for anyone without a side in the dialogue.
 */
export async function exportDialogue(ctx: ExportCtx, id: string): Promise<ExportData> {
  const now = ctx.deps.clock.now();
  return withTenant(ctx.deps.database, { companyId: ctx.actor.companyId, userId: ctx.actor.userId }, async (trx) => {
    const d = await repo.findDialogue(trx, id);
    if (!d) throw new NotFoundError();
    const side = sideOf({ employmentId: ctx.actor.employmentId, dialogueAccess: await repo.listDialogueAccess(trx, ctx.actor.employmentId) }, d);
    if (side === null) throw new NotFoundError();
    const version = await forms.getVersion(trx, d.form_version_id);
    const other: Side = side === 'employee' ? 'leader' : 'employee';
    const showOther = othersPreparationVisible(d);
    const showShared = d.state !== 'invited' && d.state !== 'preparing';
    const answers = (await repo.readAnswers(trx, d.id)).filter((a) => a.side === side || (a.side === other && showOther) || (a.side === 'shared' && showShared));
    const role = side === 'employee' ? 'employee' : d.leader_employment_id === ctx.actor.employmentId ? 'leader' : 'delegate';
    await recordView(trx, { companyId: ctx.actor.companyId, objectType: 'dialogue', objectId: d.id, viewer: { userId: ctx.actor.userId }, role, at: now });
    await audit(trx, whoFromActor(ctx.actor, ctx.ip), { type: 'dialogues.exported', objectType: 'dialogue', objectId: d.id, data: { format: 'pdf', side, state: d.state } }, now);
    return {
      dialogue: d,
      side,
      form: { name: version.name, version: version.version, definition: version.definition },
      answers,
      showOther,
      showShared,
      notes: showShared ? (await repo.readNotes(trx, d.id)).text : '',
      agreements: await repo.readAgreements(trx, d.id),
      disagreement: await repo.readDisagreement(trx, d.id),
      signatures: await repo.listSignatures(trx, d.id),
      transitions: await repo.listTransitions(trx, d.id),
      viewers: await listViewers(trx, 'dialogue', d.id),
      exportedBy: ctx.actor.name,
      exportedAt: now,
    };
  });
}

// ---------------------------------------------------------------- the document as lines

/** One line of the document: what the PDF draws, in order (also what the tests read). */
export type Line = { kind: 'title' | 'heading' | 'subheading' | 'label' | 'text' | 'small'; text: string };

function answerText(q: Question, value: string | undefined, t: (k: ExportKey) => string): string {
  if (value === undefined || value === '' || value === '[]') return t('noAnswer');
  switch (q.type) {
    case 'scale': {
      const label = q.scaleLabels?.[Number(value) - 1];
      return label ? `${value} – ${label}` : value;
    }
    case 'yes_no':
      return value === 'yes' ? t('yes') : value === 'no' ? t('no') : value;
    case 'single':
      return q.options?.find((o) => o.id === value)?.label ?? value;
    case 'multiple':
      return multipleValues(value)
        .map((v) => q.options?.find((o) => o.id === v)?.label ?? v)
        .join(', ');
    default:
      return value;
  }
}

/** The sides whose answer a question can have, in reading order. */
function sidesOf(q: Question): ('employee' | 'leader' | 'shared')[] {
  switch (q.answeredBy) {
    case 'employee':
      return ['employee'];
    case 'leader':
      return ['leader'];
    case 'both':
      return ['employee', 'leader'];
    case 'meeting':
      return ['shared'];
  }
}

export function documentLines(data: ExportData, lang: Lang): Line[] {
  const t = translator(lang, exportMessages);
  const d = data.dialogue;
  const when = (x: Date) => formatDateTime(lang, x);
  const day = (x: string | Date | null) => (x === null ? t('none') : formatDate(lang, typeof x === 'string' ? new Date(`${x}T12:00:00Z`) : x));
  const lines: Line[] = [];
  const push = (kind: Line['kind'], text: string) => lines.push({ kind, text });

  push('title', t('documentTitle', { name: d.employee_name }));
  push('small', t('generated', { at: when(data.exportedAt), who: data.exportedBy }));
  // M14: who has viewed the dialogue (this export included), at the top.
  push('heading', t('viewedBy'));
  for (const v of data.viewers) {
    const who = v.support ? t('viewedBySupport') : (v.name ?? t('viewedByUnknown'));
    const role = v.support ? '' : ` (${t(`role_${v.role}` as ExportKey)})`;
    push('small', `${who}${role} – ${when(v.lastViewedAt)}${v.count > 1 ? ` ${t('times', { n: v.count })}` : ''}`);
  }

  push('heading', data.form.name);
  push('text', t('facts', { form: `${data.form.name} v${data.form.version}`, state: t(`state_${d.state}` as ExportKey), employee: d.employee_name, leader: d.leader_name }));
  if (d.round_name) push('text', t('round', { name: d.round_name }));
  if (d.meeting_at) push('text', t('meeting', { at: when(new Date(d.meeting_at)), place: d.meeting_place ?? '' }).trim());

  const answerOf = (qid: string, side: string) => data.answers.find((a) => a.question_id === qid && a.side === side)?.value;
  const sideLabel = { employee: t('employeeAnswer'), leader: t('leaderAnswer'), shared: t('sharedAnswer') };
  for (const s of data.form.definition.sections) {
    push('heading', s.title);
    if (s.intro) push('small', s.intro);
    for (const q of s.questions) {
      push('subheading', q.text);
      if (q.type === 'agreements') continue;
      for (const side of sidesOf(q)) {
        const visible = side === data.side || (side === 'shared' ? data.showShared : data.showOther);
        push('label', sideLabel[side]);
        push('text', visible ? answerText(q, answerOf(q.id, side), t) : t('notVisible'));
      }
    }
  }

  if (data.showShared) {
    push('heading', t('notes'));
    push('text', data.notes.trim() === '' ? t('none') : data.notes);
  }

  push('heading', t('agreements'));
  if (data.agreements.length === 0) push('text', t('noAgreements'));
  for (const a of data.agreements) {
    push('subheading', a.title_text);
    if (a.description_text) push('text', a.description_text);
    push('small', t('agreementLine', { owner: t(`owner_${a.owner}` as ExportKey), deadline: day(a.deadline), followUp: day(a.follow_up), status: t(`status_${a.status}` as ExportKey) }));
    if (a.progress_text) push('text', t('progress', { text: a.progress_text }));
  }

  push('heading', t('signatures'));
  for (const side of ['employee', 'leader'] as const) {
    const s = data.signatures.find((x) => x.side === side);
    const label = side === 'employee' ? t('employeeAnswer') : t('leaderAnswer');
    push('text', s ? t('signedBy', { side: label, name: s.name, at: when(new Date(s.signed_at)) }) : t('notSigned', { side: label }));
  }
  if (data.disagreement) {
    push('subheading', t('disagreement'));
    push('text', data.disagreement);
  }

  push('heading', t('history'));
  for (const x of data.transitions) push('small', t('transition', { at: when(new Date(x.created_at)), state: t(`state_${x.to_state}` as ExportKey), name: x.actor_name }));
  return lines;
}

// ---------------------------------------------------------------- the PDF

const WIN_ANSI_EXTRA = '€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ';

/** Keeps what Helvetica's WinAnsi encoding can draw; anything else becomes "?". */
export function pdfSafe(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '\n' || ch === '\t' || (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xff) || WIN_ANSI_EXTRA.includes(ch)) out += ch;
    else if (c === 0x0d) continue;
    else out += '?';
  }
  return out;
}

const STYLE: Record<Line['kind'], { font: string; size: number; gap: number }> = {
  title: { font: 'Helvetica-Bold', size: 18, gap: 6 },
  heading: { font: 'Helvetica-Bold', size: 13, gap: 4 },
  subheading: { font: 'Helvetica-Bold', size: 10.5, gap: 2 },
  label: { font: 'Helvetica-Oblique', size: 9, gap: 0 },
  text: { font: 'Helvetica', size: 10.5, gap: 3 },
  small: { font: 'Helvetica', size: 8.5, gap: 1 },
};

export function renderPdf(lines: readonly Line[], meta: { title: string; lang: Lang }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({ size: 'A4', margin: 50, info: { Title: pdfSafe(meta.title), Creator: 'Samtale' }, lang: meta.lang });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    for (const line of lines) {
      const s = STYLE[line.kind];
      if (line.kind === 'heading') doc.moveDown(0.6);
      doc.font(s.font).fontSize(s.size).fillColor(line.kind === 'small' || line.kind === 'label' ? '#444444' : '#000000');
      doc.text(pdfSafe(line.text), { width: doc.page.width - 100 });
      if (s.gap) doc.moveDown(s.gap / 10);
    }
    doc.end();
  });
}
