/**
 * Time-based one-time passwords (RFC 6238) and recovery codes.
 *
 * Design note (M2, M6; ASVS 6.5.x): SHA-1, 6 digits, 30-second steps, as every authenticator app
 * expects. A code is accepted for the current step and one step either side (clock drift), and
 * only for a step later than the last one accepted, so a code cannot be used twice (the caller
 * stores the returned step with a compare-and-set). Secrets are 160 random bits (RFC 4226's
 * recommendation). Recovery codes carry 80 random bits each; only their SHA-256 is stored. The
 * secret and codes are never logged or audited.
 *
 * At rest (issue 6) a secret is sealed with the PLATFORM data key from the key store (AES-256-GCM,
 * bound to its totp_factors row): identities are not per company (one login can work for several
 * companies, and staff belong to none), so no company key fits, and a company purge must not
 * lock out people who also work elsewhere. A database copy alone therefore holds no usable
 * secret. Secrets stored before (plain base32) are still read.
 */
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { sha256Hex } from './tokens.ts';
import { openText, PLATFORM, sealText } from '../crypto/envelope.ts';

export const TOTP_PERIOD = 30;
export const TOTP_DIGITS = 6;
export const TOTP_WINDOW = 1;
export const ISSUER = 'Samtale';
export const RECOVERY_CODE_COUNT = 10;

function totp(secretBase32: string, digits = TOTP_DIGITS): TOTP {
  return new TOTP({ issuer: ISSUER, algorithm: 'SHA1', digits, period: TOTP_PERIOD, secret: Secret.fromBase32(secretBase32) });
}

/** A new secret, base32 (what the QR code and the typed-out secret carry). */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The stored form of a factor's secret (totp_factors.secret). */
export function sealTotpSecret(factorId: string, secretBase32: string): Promise<string> {
  return sealText(PLATFORM, 'totp_factors', factorId, secretBase32);
}

/** The secret of a stored factor; plain base32 written before sealing is returned as it is. */
export function openTotpSecret(factorId: string, stored: string): Promise<string> {
  return openText(PLATFORM, 'totp_factors', factorId, stored);
}

/** The otpauth:// URI for the QR code. The label names the account so the app can tell them apart. */
export function totpUri(secretBase32: string, accountLabel: string): string {
  const t = new TOTP({ issuer: ISSUER, label: accountLabel, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD, secret: Secret.fromBase32(secretBase32) });
  return t.toString();
}

/** The secret in groups of four, for typing into an app by hand. */
export function groupedSecret(secretBase32: string): string {
  return secretBase32.replace(/=+$/, '').match(/.{1,4}/g)?.join(' ') ?? '';
}

export function totpStep(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD);
}

/** The code for a moment (for authenticators and tests; the server only ever checks codes). */
export function totpCode(secretBase32: string, at: Date, digits = TOTP_DIGITS): string {
  return totp(secretBase32, digits).generate({ timestamp: at.getTime() });
}

/**
 * Checks a code. Returns the step it belongs to when it is valid and later than `lastUsedStep`,
 * else undefined. The caller must store the step (only if it is still greater) before trusting it.
 */
export function checkTotp(secretBase32: string, code: string, now: Date, lastUsedStep: number | null): number | undefined {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return undefined;
  const delta = totp(secretBase32).validate({ token, timestamp: now.getTime(), window: TOTP_WINDOW });
  if (delta === null) return undefined;
  const step = totpStep(now) + delta;
  if (lastUsedStep !== null && step <= lastUsedStep) return undefined;
  return step;
}

// Crockford's base32, lower case: 32 symbols (5 bits each), no i, l, o, u to misread.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Ten fresh recovery codes like `k7m2-q9xa-3hzt-p4wd` (16 symbols, 80 bits). */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  const codes: string[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = randomBytes(16);
    let s = '';
    for (const b of bytes) s += ALPHABET[b % 32] ?? 'a';
    codes.push(s.match(/.{4}/g)?.join('-') ?? s);
  }
  return codes;
}

/** Spaces, dashes and case do not matter when a recovery code is typed. */
export function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]+/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
}

export function hashRecoveryCode(code: string): string {
  return sha256Hex(`samtale-recovery:${normalizeRecoveryCode(code)}`);
}

/** Whether the typed text looks like a TOTP code (else it is tried as a recovery code). */
export function looksLikeTotp(code: string): boolean {
  return /^\d{6}$/.test(code.replace(/\s+/g, ''));
}
