/**
 * What a new password must be (issue 3, M2; ASVS 6.2.x, NIST SP 800-63B 3.1.1.2).
 *
 * Design note: length is the only strength rule, with no composition rules and no rotation.
 * Customers need the company's minimum (default 12, never below 8), platform staff 16 (M2).
 * Every new password is also refused when it is on the shipped list of common and breached
 * passwords (resources/passwords, about 200,000 entries, compared lower-cased) or contains a
 * name the attacker can guess: the company's or the person's own (parts of 3 letters or more).
 * The password itself is never changed: no trimming, no normalising, up to 1024 characters (so
 * pass phrases and password managers work); lengths count Unicode code points.
 *
 * The list is read once, on first use, into a Set (197,549 entries: about 90 ms and 15 MB of heap).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const DEFAULT_MIN_PASSWORD_LENGTH = 12;
export const FLOOR_MIN_PASSWORD_LENGTH = 8;
export const STAFF_MIN_PASSWORD_LENGTH = 16;
export const MAX_PASSWORD_LENGTH = 1024;

const LIST_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../resources/passwords/common-passwords.txt.gz');

export type PasswordProblem =
  | { code: 'too_short'; min: number }
  | { code: 'too_long'; max: number }
  | { code: 'common' }
  | { code: 'contains_name'; part: string };

let common: Set<string> | undefined;

/** The common-password list, loaded on first use. */
export function commonPasswords(): ReadonlySet<string> {
  if (!common) {
    const text = zlib.gunzipSync(fs.readFileSync(LIST_FILE)).toString('utf8');
    const set = new Set<string>();
    for (const line of text.split('\n')) if (line) set.add(line);
    common = set;
  }
  return common;
}

export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(password.toLowerCase());
}

/**
 * The minimum for a customer account. One login may serve several companies, so the strictest of
 * their minimums applies; nothing goes below the floor of 8.
 */
export function minLengthForCompanies(minimums: readonly number[]): number {
  const strictest = minimums.length > 0 ? Math.max(...minimums) : DEFAULT_MIN_PASSWORD_LENGTH;
  return Math.max(FLOOR_MIN_PASSWORD_LENGTH, strictest);
}

// Legal forms and filler words in company names: refusing every password with "aps" or "and" in
// it would block good pass phrases and protect nothing.
const IGNORED_NAME_PARTS = new Set(['aps', 'ivs', 'amba', 'ltd', 'inc', 'llc', 'gmbh', 'oyj', 'asa', 'the', 'and', 'och', 'og', 'med', 'for', 'group', 'holding']);

/** The guessable parts of names: runs of letters, 3 or more, lower-cased. */
export function nameParts(names: readonly string[]): string[] {
  const parts = new Set<string>();
  for (const name of names) {
    for (const part of name.toLowerCase().split(/[^\p{L}]+/u)) {
      if ([...part].length >= 3 && !IGNORED_NAME_PARTS.has(part)) parts.add(part);
    }
  }
  return [...parts];
}

export type NewPasswordInput = {
  password: string;
  /** The applicable minimum (company or staff); raised to the floor of 8 if lower. */
  minLength: number;
  /** The company's name, the person's name, the local part of their e-mail address. */
  names: readonly string[];
};

/** Why a new password is refused; an empty list means it is accepted. */
export function checkNewPassword(input: NewPasswordInput): PasswordProblem[] {
  const problems: PasswordProblem[] = [];
  const length = [...input.password].length;
  const min = Math.max(FLOOR_MIN_PASSWORD_LENGTH, input.minLength);
  if (length < min) problems.push({ code: 'too_short', min });
  if (length > MAX_PASSWORD_LENGTH) {
    problems.push({ code: 'too_long', max: MAX_PASSWORD_LENGTH });
    // Nothing that long is on the list, and scanning it for names is wasted work.
    return problems;
  }
  if (length > 0 && isCommonPassword(input.password)) problems.push({ code: 'common' });
  const lower = input.password.toLowerCase();
  const part = nameParts(input.names).find((p) => lower.includes(p));
  if (part) problems.push({ code: 'contains_name', part });
  return problems;
}
