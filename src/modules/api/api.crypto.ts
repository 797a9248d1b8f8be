/**
 * Secrets of the integration API: token generation, the encrypted copy kept for HS256
 * verification, and JWT verification (node:crypto only).
 *
 * Design note (issue 10, docs/security.md "API tokens"): the reference API signs each request with
 * HMAC-SHA256 keyed by the pre-shared token, so the server must hold the token itself to verify;
 * a one-way hash cannot check an HMAC. We therefore keep two things per token: its SHA-256 (to
 * find a token sent as a plaintext legacy header, and to prove a token without decrypting) and
 * the token encrypted with AES-256-GCM under API_TOKEN_KEY, a key that lives in the server's
 * configuration, never in the database. The row's company and id are the GCM associated data, so
 * a ciphertext copied onto another company's row does not decrypt. A database copy alone does not
 * reveal a token; the database together with the server's key does, which is inherent to HS256.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 random bits with a recognisable prefix (so leaked tokens can be spotted by scanners). */
export function newApiToken(): string {
  return `smt_${randomBytes(32).toString('base64url')}`;
}

const aad = (companyId: string, tokenId: string) => Buffer.from(`api-token:${companyId}:${tokenId}`);

export function sealToken(key: Buffer, companyId: string, tokenId: string, token: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(companyId, tokenId));
  const ct = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

/** undefined when the box was not made with this key for this row. */
export function openToken(key: Buffer, companyId: string, tokenId: string, box: string): string | undefined {
  const [v, iv, tag, ct] = box.split('.');
  if (v !== 'v1' || !iv || !tag || ct === undefined) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(aad(companyId, tokenId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

export type JwtParts = { header: Record<string, unknown>; payload: Record<string, unknown>; signingInput: string; signature: Buffer };

/** Splits a compact JWS; undefined for anything malformed. Nothing is trusted yet. */
export function parseJwt(jwt: string): JwtParts | undefined {
  if (jwt.length > 4096) return undefined;
  const parts = jwt.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  if (![h, p, s].every((x) => /^[A-Za-z0-9_-]*$/.test(x))) return undefined;
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as unknown;
    if (!header || typeof header !== 'object' || Array.isArray(header)) return undefined;
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
    return { header: header as Record<string, unknown>, payload: payload as Record<string, unknown>, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
  } catch {
    return undefined;
  }
}

/** Constant-time HS256 check of `jwt` against one candidate key. */
export function hs256Matches(parts: JwtParts, key: string): boolean {
  const expected = createHmac('sha256', key).update(parts.signingInput).digest();
  return parts.signature.length === expected.length && timingSafeEqual(parts.signature, expected);
}

/** Signs a payload (used by tests and the docs' example; the server never signs requests). */
export function signHs256(payload: Record<string, unknown>, key: string): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** IPv4 address inside an IPv4 CIDR (IPv4-mapped IPv6 addresses count as IPv4). */
export function ipv4InCidr(ip: string, cidr: string): boolean {
  const addr = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  const [net, bits] = cidr.split('/');
  const a = ipv4ToInt(addr);
  const n = net ? ipv4ToInt(net) : undefined;
  const prefix = Number(bits ?? '32');
  if (a === undefined || n === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return false;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (a & mask) >>> 0 === (n & mask) >>> 0;
}

export function ipv4ToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

/** A normalised IPv4 CIDR ("10.0.0.0/8"; a bare address becomes /32), or undefined. */
export function normaliseCidr(input: string): string | undefined {
  const [addr, bits] = input.trim().split('/');
  if (!addr || ipv4ToInt(addr) === undefined) return undefined;
  if (bits !== undefined && !/^\d{1,2}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? 32 : Number(bits);
  if (prefix > 32) return undefined;
  return `${addr}/${prefix}`;
}
