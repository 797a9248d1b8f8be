/**
 * Reading an employee list (issue 7): CSV or XLSX to rows of text, the column mapping, and the
 * CPR rule. Pure functions, no database.
 *
 * Design note (CPR): Samtale never asks for or stores CPR numbers (Danish) or personnummer
 * (Swedish). A file is refused whole, before any row is shown or stored elsewhere, when a column
 * header names such a number or any cell, in any sheet, holds something shaped like one: six
 * digits that form a valid date (DDMMYY for CPR, YYMMDD for personnummer, also YYYYMMDD)
 * followed by four digits, with or without a separator, not inside a longer run of digits.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import readXlsxFile from 'read-excel-file/node';

export const MAX_ROWS = 2000;

export type Column = 'name' | 'email' | 'title' | 'team' | 'leader' | 'language';

/** Header spellings in da, en and sv, compared lower-cased with everything but letters removed. */
const HEADERS: Record<Column, string[]> = {
  name: ['name', 'navn', 'namn', 'fullname', 'fuldtnavn', 'fulltnamn'],
  email: ['email', 'mail', 'epost', 'emailadresse', 'emailaddress', 'epostadress', 'mailadresse'],
  title: ['title', 'titel', 'jobtitle', 'jobtitel', 'stilling', 'stillingsbetegnelse', 'befattning'],
  team: ['team', 'teamid', 'teamnavn', 'teamname', 'teamnamn', 'hold'],
  leader: ['leader', 'leder', 'ledare', 'chef', 'isleader', 'leaderflag'],
  language: ['language', 'sprog', 'sprak', 'språk'],
};

const normalise = (h: string) => h.toLowerCase().normalize('NFKD').replace(/[^a-zæøåäö]/g, '');

export function columnOf(header: string): Column | undefined {
  const n = normalise(header);
  for (const [col, names] of Object.entries(HEADERS) as [Column, string[]][]) if (names.includes(n)) return col;
  return undefined;
}

/** A header naming a CPR number or a personnummer (or another national id). */
export function isCprHeader(header: string): boolean {
  const n = normalise(header);
  return /cpr|personnum|personnr|persnr|fødselsnummer|fodselsnummer|socialsecurity|personalidentity|nationalid/.test(n) || n === 'ssn' || n === 'pnr';
}

function validDate(day: number, month: number, year: number | null): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const days = [31, year === null || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  return day <= days;
}

/** Whether a text holds something shaped like a Danish CPR number or a Swedish personnummer. */
export function looksLikeCpr(value: string): boolean {
  const pattern = /(?<!\d)(\d{6}|\d{8})[-+ ]?(\d{4})(?!\d)/g;
  for (const m of value.matchAll(pattern)) {
    const d = m[1] ?? '';
    if (d.length === 6) {
      const [a, b, c] = [Number(d.slice(0, 2)), Number(d.slice(2, 4)), Number(d.slice(4, 6))];
      // CPR: DDMMYY (any century: 29 February passes when some century makes it a leap year).
      if (validDate(a, b, c % 4 === 0 ? 2000 + c : 2001)) return true;
      // Personnummer: YYMMDD, and samordningsnummer with the day plus 60.
      if (validDate(c > 60 ? c - 60 : c, b, a % 4 === 0 ? 2000 + a : 2001)) return true;
    } else {
      const [y, mo, day] = [Number(d.slice(0, 4)), Number(d.slice(4, 6)), Number(d.slice(6, 8))];
      if (y >= 1850 && y <= 2100 && validDate(day > 60 ? day - 60 : day, mo, y)) return true;
    }
  }
  return false;
}

export type Sheet = string[][];

export type ReadResult = { ok: true; sheets: Sheet[] } | { ok: false; reason: 'unreadable' };

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString().slice(0, 10);
  if (typeof value === 'number') return Number.isInteger(value) ? value.toFixed(0) : String(value);
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  return '';
}

/** UTF-8 (with or without a byte order mark), else Windows-1252 as older Excel versions save CSV. */
function decodeText(content: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(content);
  } catch {
    return new TextDecoder('windows-1252').decode(content);
  }
}

function delimiterOf(text: string): string {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  const count = (c: string) => first.split(c).length - 1;
  const candidates = [';', ',', '\t'].sort((a, b) => count(b) - count(a));
  return candidates[0] ?? ',';
}

export async function readSheets(kind: 'csv' | 'xlsx', content: Buffer): Promise<ReadResult> {
  try {
    if (kind === 'csv') {
      const text = decodeText(content);
      const rows = parseCsv(text, { delimiter: delimiterOf(text), relax_column_count: true, skip_empty_lines: true, bom: true, trim: true }) as string[][];
      return { ok: true, sheets: [rows] };
    }
    // A Buffer, never a string: read-excel-file takes a string as a path on disk.
    const sheets = await readXlsxFile(content);
    return { ok: true, sheets: sheets.map((s) => s.data.map((row) => row.map(cellText))) };
  } catch {
    return { ok: false, reason: 'unreadable' };
  }
}

/** The whole file is refused when any sheet's header or any cell looks like a CPR number. */
export function containsCpr(sheets: Sheet[]): boolean {
  return sheets.some((rows) => {
    const header = rows.find((row) => row.some((cell) => cell !== ''));
    return (header ?? []).some(isCprHeader) || rows.some((row) => row.some(looksLikeCpr));
  });
}
