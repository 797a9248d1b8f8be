/**
 * The shape of a form version's definition, stored as JSON in form_versions.definition and
 * validated with zod both when written and when read back (a version is immutable, but a stored
 * row is still parsed before use, so a bad row fails loudly instead of rendering half a form).
 */
import { z } from 'zod';

export const QUESTION_TYPES = ['text', 'scale', 'yes_no', 'single', 'multiple', 'agreements'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

/** Who answers: each side privately, both sides privately, or together in the meeting. */
export const ANSWERED_BY = ['employee', 'leader', 'both', 'meeting'] as const;
export type AnsweredBy = (typeof ANSWERED_BY)[number];

const id = z.string().regex(/^[a-z0-9_-]{1,64}$/);
const label = z.string().min(1).max(300);

export const questionSchema = z
  .object({
    id,
    type: z.enum(QUESTION_TYPES),
    text: z.string().min(1).max(1000),
    help: z.string().max(2000).optional(),
    answeredBy: z.enum(ANSWERED_BY),
    /** Scale 1-5: the label of each step, lowest first. */
    scaleLabels: z.tuple([label, label, label, label, label]).optional(),
    options: z.array(z.object({ id, label })).min(2).max(20).optional(),
  })
  .superRefine((q, ctx) => {
    if (q.type === 'scale' && !q.scaleLabels) ctx.addIssue({ code: 'custom', message: 'a scale needs five labels' });
    if ((q.type === 'single' || q.type === 'multiple') && !q.options) ctx.addIssue({ code: 'custom', message: 'a choice needs options' });
    if (q.type === 'agreements' && q.answeredBy !== 'meeting') ctx.addIssue({ code: 'custom', message: 'agreements are written in the meeting' });
  });
export type Question = z.infer<typeof questionSchema>;

export const sectionSchema = z.object({
  id,
  title: z.string().min(1).max(300),
  intro: z.string().max(2000).optional(),
  questions: z.array(questionSchema).min(1).max(40),
});
export type Section = z.infer<typeof sectionSchema>;

export const formDefinitionSchema = z
  .object({ sections: z.array(sectionSchema).min(1).max(20) })
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    for (const s of d.sections)
      for (const q of s.questions) {
        if (seen.has(q.id)) ctx.addIssue({ code: 'custom', message: `question id ${q.id} is used twice` });
        seen.add(q.id);
      }
  });
export type FormDefinition = z.infer<typeof formDefinitionSchema>;

export function allQuestions(d: FormDefinition): Question[] {
  return d.sections.flatMap((s) => s.questions);
}

export function findQuestion(d: FormDefinition, questionId: string): Question | undefined {
  return allQuestions(d).find((q) => q.id === questionId);
}

/** The side whose private preparation a question belongs to, as seen by `side`. */
export function answersPrivately(q: Question, side: 'employee' | 'leader'): boolean {
  return q.answeredBy === side || q.answeredBy === 'both';
}

/**
 * Checks and normalises one answer to a question. Returns the stored text, or null when the
 * value does not fit the question (an unknown option, a scale outside 1-5).
 */
export function normaliseAnswer(q: Question, raw: string | string[]): string | null {
  const values = Array.isArray(raw) ? raw : [raw];
  const first = (values[0] ?? '').trim();
  switch (q.type) {
    case 'text':
      return first.length <= 20000 ? first : null;
    case 'scale':
      return first === '' || /^[1-5]$/.test(first) ? first : null;
    case 'yes_no':
      return first === '' || first === 'yes' || first === 'no' ? first : null;
    case 'single':
      return first === '' || q.options?.some((o) => o.id === first) ? first : null;
    case 'multiple': {
      const chosen = values.map((v) => v.trim()).filter((v) => v !== '');
      if (!chosen.every((v) => q.options?.some((o) => o.id === v))) return null;
      return JSON.stringify([...new Set(chosen)]);
    }
    case 'agreements':
      return null;
  }
}

export function multipleValues(stored: string | undefined): string[] {
  if (!stored) return [];
  try {
    const parsed: unknown = JSON.parse(stored);
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
