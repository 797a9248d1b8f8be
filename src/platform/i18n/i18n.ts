/**
 * Messages live next to the feature that shows them (`<feature>.i18n.ts`), defined once per
 * language. The type makes a key missing in any language a compile error.
 */
export const LANGUAGES = ['da', 'en', 'sv'] as const;
export type Lang = (typeof LANGUAGES)[number];
export const DEFAULT_LANG: Lang = 'da';

export const LOCALES: Record<Lang, string> = { da: 'da-DK', en: 'en-GB', sv: 'sv-SE' };

export type Catalog<K extends string> = Record<Lang, Record<K, string>>;

export function defineMessages<K extends string>(catalog: { da: Record<K, string>; en: Record<K, string>; sv: Record<K, string> }): Catalog<K> {
  return catalog;
}

export type Translate<K extends string> = (key: K, params?: Record<string, string | number>) => string;

export function translator<K extends string>(lang: Lang, catalog: Catalog<K>): Translate<K> {
  const messages = catalog[lang];
  return (key, params) => {
    const text = messages[key];
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
  };
}

export function isLang(value: unknown): value is Lang {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

/** Picks the best language from an Accept-Language header; Danish when nothing fits. */
export function langFromAcceptLanguage(header: string | undefined): Lang {
  if (!header) return DEFAULT_LANG;
  const ranked = header
    .split(',')
    .map((part) => {
      const [tag = '', ...rest] = part.trim().split(';');
      const q = rest.find((p) => p.trim().startsWith('q='));
      return { tag: tag.toLowerCase(), q: q ? Number(q.trim().slice(2)) || 0 : 1 };
    })
    .sort((a, b) => b.q - a.q);
  for (const { tag } of ranked) {
    const base = tag.split('-')[0];
    if (base === 'nb' || base === 'nn' || base === 'no') return 'da';
    if (isLang(base)) return base;
  }
  return DEFAULT_LANG;
}

export function formatDateTime(lang: Lang, value: Date, timeZone = 'Europe/Copenhagen'): string {
  return new Intl.DateTimeFormat(LOCALES[lang], { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(value);
}

export function formatDate(lang: Lang, value: Date, timeZone = 'Europe/Copenhagen'): string {
  return new Intl.DateTimeFormat(LOCALES[lang], { dateStyle: 'long', timeZone }).format(value);
}

export function formatNumber(lang: Lang, value: number): string {
  return new Intl.NumberFormat(LOCALES[lang]).format(value);
}
