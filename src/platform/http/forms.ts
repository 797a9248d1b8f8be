/** Form parsing with zod, turning issues into messages in the user's language, per field. */
import { z } from 'zod';
import { translator, type Lang } from '../i18n/i18n.ts';
import { common } from '../html/common.i18n.ts';

export type FormResult<T> = { ok: true; data: T } | { ok: false; errors: Record<string, string>; raw: Record<string, string> };

/** Form bodies arrive as strings (or arrays of strings); anything else is reduced to text. */
export function rawForm(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!body || typeof body !== 'object') return out;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (k === '_csrf') continue;
    out[k] = Array.isArray(v) ? String(v[0] ?? '') : typeof v === 'string' ? v : '';
  }
  return out;
}

export function parseForm<S extends z.ZodType>(schema: S, body: unknown, lang: Lang): FormResult<z.infer<S>> {
  const raw = rawForm(body);
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, data: result.data };
  const t = translator(lang, common);
  const errors: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const field = String(issue.path[0] ?? 'form');
    if (errors[field]) continue;
    errors[field] = messageFor(issue, raw[field], t);
  }
  return { ok: false, errors, raw };
}

function messageFor(issue: z.core.$ZodIssue, value: string | undefined, t: ReturnType<typeof translator<keyof (typeof common)['en']>>): string {
  if (issue.code === 'too_small' || ((value ?? '') === '' && issue.code !== 'too_big')) return t('required');
  if (issue.code === 'too_big') return t('tooLong', { max: Number(issue.maximum) });
  if (issue.code === 'invalid_format' && issue.format === 'email') return t('invalidEmail');
  return t('invalidChoice');
}

/** Trimmed text with a length limit; empty is an error unless optional. */
export const text = (max: number) => z.string().trim().min(1).max(max);
export const optionalText = (max: number) => z.string().trim().max(max).default('');
export const optionalId = z
  .string()
  .trim()
  .transform((v) => (v === '' ? null : v))
  .pipe(z.uuid().nullable());
export const email = z.string().trim().toLowerCase().max(254).pipe(z.email());
