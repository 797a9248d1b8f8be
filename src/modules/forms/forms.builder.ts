/**
 * The form builder's editing state, without JavaScript: the whole form being edited travels in
 * the POST body as flat fields (`s0_title`, `s0_q1_text`, ...). Adding, removing and moving a
 * question or a section is a submit button (`op`) that changes this state and renders it again;
 * only `op=save` stores anything. So nothing typed is lost on any step, and an invalid save shows
 * the same fields with a message next to each problem.
 *
 * Pure functions: parseDraft (body -> draft), applyOp (draft + op -> draft), validateDraft
 * (draft -> a definition checked by form-definition.ts, or errors keyed by field name).
 */
import { randomBytes } from 'node:crypto';
import { ANSWERED_BY, QUESTION_TYPES, formDefinitionSchema, type FormDefinition, type Question } from './form-definition.ts';
import type { FormsKey } from './forms.i18n.ts';

/** Kept short on purpose (long forms are the top complaint about MUS); the schema allows 40 a section. */
export const MAX_QUESTIONS = 60;
export const MAX_SECTIONS = 20;
export const MAX_OPTIONS = 20;
export const BUILDER_KINDS = ['mus', 'onboarding'] as const;
export const FORM_LANGUAGES = ['da', 'en', 'sv'] as const;

export type DraftQuestion = { id: string; type: string; text: string; help: string; by: string; labels: [string, string, string, string, string]; options: string };
export type DraftSection = { id: string; title: string; intro: string; questions: DraftQuestion[] };
export type Draft = { formId: string; baseVersion: string; name: string; kind: string; language: string; sections: DraftSection[] };

const ID_RE = /^[a-z0-9_-]{1,64}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const DEFAULT_LABELS: Record<string, [string, string, string, string, string]> = {
  da: ['Slet ikke', 'I ringe grad', 'Til dels', 'I høj grad', 'I meget høj grad'],
  en: ['Not at all', 'To a small extent', 'Partly', 'To a large extent', 'Fully'],
  sv: ['Inte alls', 'I liten grad', 'Delvis', 'I hög grad', 'I mycket hög grad'],
};

export const newId = (prefix: string) => `${prefix}${randomBytes(5).toString('hex')}`;

export function emptyQuestion(): DraftQuestion {
  return { id: newId('q'), type: 'text', text: '', help: '', by: 'both', labels: ['', '', '', '', ''], options: '' };
}

export function emptyDraft(language = 'da'): Draft {
  return { formId: '', baseVersion: '', name: '', kind: 'mus', language, sections: [{ id: newId('s'), title: '', intro: '', questions: [emptyQuestion()] }] };
}

export function draftFromDefinition(def: FormDefinition, meta: { formId: string; baseVersion: number; name: string; kind: string; language: string }): Draft {
  return {
    formId: meta.formId,
    baseVersion: String(meta.baseVersion),
    name: meta.name,
    kind: meta.kind,
    language: meta.language,
    sections: def.sections.map((s) => ({
      id: s.id,
      title: s.title,
      intro: s.intro ?? '',
      questions: s.questions.map((q) => ({
        id: q.id,
        type: q.type,
        text: q.text,
        help: q.help ?? '',
        by: q.answeredBy,
        labels: q.scaleLabels ? [...q.scaleLabels] : ['', '', '', '', ''],
        options: (q.options ?? []).map((o) => o.label).join('\n'),
      })),
    })),
  };
}

/** Field name helpers, shared with the view so both always agree. */
export const sectionField = (s: number, f: 'id' | 'title' | 'intro') => `s${s}_${f}`;
export const questionField = (s: number, q: number, f: 'id' | 'type' | 'text' | 'help' | 'by' | 'options' | 'l1' | 'l2' | 'l3' | 'l4' | 'l5') => `s${s}_q${q}_${f}`;

const cut = (v: string | undefined, max: number) => (v ?? '').slice(0, max);

/** The draft from a posted body. Unknown fields are ignored; sizes are capped before anything else. */
export function parseDraft(form: Record<string, string>): Draft {
  const sections = new Map<number, { id: string; title: string; intro: string; questions: Map<number, Record<string, string>> }>();
  const sectionOf = (i: number) => {
    let s = sections.get(i);
    if (!s) {
      s = { id: '', title: '', intro: '', questions: new Map() };
      sections.set(i, s);
    }
    return s;
  };
  for (const [key, value] of Object.entries(form)) {
    const sm = /^s(\d{1,2})_(id|title|intro)$/.exec(key);
    if (sm) {
      const i = Number(sm[1]);
      if (i >= MAX_SECTIONS + 1) continue;
      const s = sectionOf(i);
      const field = sm[2] as 'id' | 'title' | 'intro';
      s[field] = cut(value, field === 'intro' ? 2100 : 400);
      continue;
    }
    const qm = /^s(\d{1,2})_q(\d{1,2})_(id|type|text|help|by|options|l[1-5])$/.exec(key);
    if (qm) {
      const i = Number(qm[1]);
      const j = Number(qm[2]);
      if (i >= MAX_SECTIONS + 1 || j >= MAX_QUESTIONS + 1) continue;
      const s = sectionOf(i);
      const q = s.questions.get(j) ?? {};
      q[qm[3] as string] = cut(value, qm[3] === 'options' ? 8000 : 2100);
      s.questions.set(j, q);
    }
  }
  const ordered = [...sections.entries()].sort((a, b) => a[0] - b[0]);
  return {
    formId: UUID_RE.test(form.formId ?? '') ? (form.formId as string) : '',
    baseVersion: /^\d{1,6}$/.test(form.baseVersion ?? '') ? (form.baseVersion as string) : '',
    name: cut(form.name, 300),
    kind: cut(form.kind, 20),
    language: cut(form.language, 5),
    sections: ordered.map(([, s]) => ({
      id: s.id,
      title: s.title,
      intro: s.intro,
      questions: [...s.questions.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([, q]) => ({
          id: q.id ?? '',
          type: q.type ?? 'text',
          text: q.text ?? '',
          help: q.help ?? '',
          by: q.by ?? 'both',
          labels: [q.l1 ?? '', q.l2 ?? '', q.l3 ?? '', q.l4 ?? '', q.l5 ?? ''],
          options: q.options ?? '',
        })),
    })),
  };
}

export type Op =
  | { kind: 'save' }
  | { kind: 'refresh' }
  | { kind: 'addSection' }
  | { kind: 'addQuestion'; s: number }
  | { kind: 'removeQuestion' | 'upQuestion' | 'downQuestion'; s: number; q: number }
  | { kind: 'removeSection' | 'upSection' | 'downSection'; s: number };

export function parseOp(raw: string | undefined): Op | undefined {
  const v = raw ?? '';
  if (v === 'save') return { kind: 'save' };
  if (v === 'refresh') return { kind: 'refresh' };
  if (v === 'add-section') return { kind: 'addSection' };
  let m = /^add-question:(\d{1,2})$/.exec(v);
  if (m) return { kind: 'addQuestion', s: Number(m[1]) };
  m = /^(remove|up|down)-question:(\d{1,2}):(\d{1,2})$/.exec(v);
  if (m) return { kind: `${m[1] as 'remove' | 'up' | 'down'}Question`, s: Number(m[2]), q: Number(m[3]) };
  m = /^(remove|up|down)-section:(\d{1,2})$/.exec(v);
  if (m) return { kind: `${m[1] as 'remove' | 'up' | 'down'}Section`, s: Number(m[2]) };
  return undefined;
}

export const questionCount = (d: Draft) => d.sections.reduce((n, s) => n + s.questions.length, 0);

function swap<T>(list: T[], i: number, j: number) {
  const a = list[i];
  const b = list[j];
  if (a === undefined || b === undefined) return;
  list[i] = b;
  list[j] = a;
}

/**
 * Applies an editing step. Returns the message key when the step is refused (a limit reached);
 * the draft is then unchanged. Scale questions without labels get the form language's defaults.
 */
export function applyOp(d: Draft, op: Op): FormsKey | undefined {
  const sec = 's' in op ? d.sections[op.s] : undefined;
  switch (op.kind) {
    case 'save':
    case 'refresh':
      break;
    case 'addSection':
      if (d.sections.length >= MAX_SECTIONS) return 'errTooManySections';
      if (questionCount(d) >= MAX_QUESTIONS) return 'errTooManyQuestions';
      d.sections.push({ id: newId('s'), title: '', intro: '', questions: [emptyQuestion()] });
      break;
    case 'addQuestion':
      if (!sec) return undefined;
      if (questionCount(d) >= MAX_QUESTIONS) return 'errTooManyQuestions';
      sec.questions.push(emptyQuestion());
      break;
    case 'removeQuestion':
      sec?.questions.splice(op.q, 1);
      break;
    case 'upQuestion':
      if (sec && op.q > 0) swap(sec.questions, op.q, op.q - 1);
      break;
    case 'downQuestion':
      if (sec) swap(sec.questions, op.q, op.q + 1);
      break;
    case 'removeSection':
      if (sec) d.sections.splice(op.s, 1);
      break;
    case 'upSection':
      if (op.s > 0) swap(d.sections, op.s, op.s - 1);
      break;
    case 'downSection':
      swap(d.sections, op.s, op.s + 1);
      break;
  }
  const defaults = DEFAULT_LABELS[d.language] ?? DEFAULT_LABELS.da;
  for (const s of d.sections)
    for (const q of s.questions) {
      if (q.type === 'scale' && q.labels.every((l) => l.trim() === '') && defaults) q.labels = [...defaults];
      if (q.type === 'agreements') q.by = 'meeting';
    }
  return undefined;
}

export type DraftErrors = Record<string, FormsKey>;

/**
 * Checks the draft field by field and builds the definition. `previous` (the newest stored
 * version) lets a choice keep its option id while its label stays the same, so answers given to
 * an older version still name the right option.
 */
export function validateDraft(d: Draft, previous?: FormDefinition): { ok: true; definition: FormDefinition; name: string; kind: string; language: string } | { ok: false; errors: DraftErrors } {
  const errors: DraftErrors = {};
  const name = d.name.trim();
  if (name === '') errors.name = 'errRequired';
  else if (name.length > 200) errors.name = 'errTooLong';
  if (!(BUILDER_KINDS as readonly string[]).includes(d.kind)) errors.kind = 'errChoose';
  if (!(FORM_LANGUAGES as readonly string[]).includes(d.language)) errors.language = 'errChoose';
  if (d.sections.length === 0) errors.sections = 'errNoSections';
  if (d.sections.length > MAX_SECTIONS) errors.sections = 'errTooManySections';
  if (questionCount(d) > MAX_QUESTIONS) errors.sections = 'errTooManyQuestions';

  const previousQuestions = new Map<string, Question>((previous?.sections ?? []).flatMap((s) => s.questions.map((q) => [q.id, q] as const)));
  const seen = new Set<string>();
  const uniqueId = (candidate: string, prefix: string) => {
    let id = ID_RE.test(candidate) && !seen.has(candidate) ? candidate : newId(prefix);
    while (seen.has(id)) id = newId(prefix);
    seen.add(id);
    return id;
  };

  const sections = d.sections.map((s, si) => {
    const title = s.title.trim();
    if (title === '') errors[sectionField(si, 'title')] = 'errRequired';
    else if (title.length > 300) errors[sectionField(si, 'title')] = 'errTooLong';
    const intro = s.intro.trim();
    if (intro.length > 2000) errors[sectionField(si, 'intro')] = 'errTooLong';
    if (s.questions.length === 0) errors[sectionField(si, 'title')] ??= 'errNoQuestions';
    const questions = s.questions.map((q, qi) => {
      const f = (x: Parameters<typeof questionField>[2]) => questionField(si, qi, x);
      const text = q.text.trim();
      if (text === '') errors[f('text')] = 'errRequired';
      else if (text.length > 1000) errors[f('text')] = 'errTooLong';
      const help = q.help.trim();
      if (help.length > 2000) errors[f('help')] = 'errTooLong';
      const type = (QUESTION_TYPES as readonly string[]).includes(q.type) ? (q.type as Question['type']) : undefined;
      if (!type) errors[f('type')] = 'errChoose';
      const by = (ANSWERED_BY as readonly string[]).includes(q.by) ? (q.by as Question['answeredBy']) : undefined;
      if (!by) errors[f('by')] = 'errChoose';
      if (type === 'agreements' && by !== 'meeting') errors[f('by')] = 'errAgreementsInMeeting';
      const id = uniqueId(q.id, 'q');
      const out: Question = { id, type: type ?? 'text', text, answeredBy: by ?? 'both', ...(help ? { help } : {}) };
      if (type === 'scale') {
        const labels = q.labels.map((l) => l.trim());
        const bad = labels.findIndex((l) => l === '' || l.length > 300);
        if (bad >= 0) errors[f(`l${bad + 1}` as 'l1')] = 'errScaleLabels';
        out.scaleLabels = labels as [string, string, string, string, string];
      }
      if (type === 'single' || type === 'multiple') {
        const labels = q.options.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
        if (labels.length < 2 || labels.length > MAX_OPTIONS) errors[f('options')] = 'errOptions';
        else if (labels.some((l) => l.length > 300)) errors[f('options')] = 'errTooLong';
        else if (new Set(labels.map((l) => l.toLowerCase())).size !== labels.length) errors[f('options')] = 'errOptionsTwice';
        const before = previousQuestions.get(id)?.options ?? [];
        const used = new Set<string>();
        out.options = labels.map((label) => {
          const kept = before.find((o) => o.label === label && !used.has(o.id));
          let oid = kept?.id ?? newId('o');
          while (used.has(oid)) oid = newId('o');
          used.add(oid);
          return { id: oid, label };
        });
      }
      return out;
    });
    return { id: uniqueId(s.id, 's'), title, ...(intro ? { intro } : {}), questions };
  });

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  // The stored schema is the last word (it is what every reader parses); the checks above only
  // make its refusals readable, field by field, in the user's language.
  const parsed = formDefinitionSchema.safeParse({ sections });
  if (!parsed.success) return { ok: false, errors: { sections: 'errInvalid' } };
  return { ok: true, definition: parsed.data, name, kind: d.kind, language: d.language };
}
