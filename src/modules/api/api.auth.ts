/**
 * Authentication of /v3 requests (issue 10).
 *
 * Design note (M8, M7, P6): a request names its company in the signed JWT payload (or, only where
 * the company enabled legacy mode, in a plaintext `company_id` header). Everything after that
 * runs in that company's tenant context (withTenant), so the token lookup, the allow-list, the
 * replay table and the audit event are all confined to that company by row-level security; no
 * cross-tenant helper is needed. A JWT is accepted when: its header says HS256; its payload has
 * company_id, nbf and exp with 0 < exp - nbf <= 15 s; now lies within [nbf - 5 s, exp + 5 s]
 * (a small allowance for clock skew); its signature matches one of the company's active tokens;
 * the client's address is inside the company's IPv4 allow-list (when it has one); and the same
 * signature has not been accepted before (api_seen_jwts keeps it until exp). Every refusal is
 * 401 with the same message, audited with the reason (never the token or the JWT), and counts
 * against a per-address limit, so guessing is slow and visible. Accepted requests count against
 * a per-token limit.
 */
import type { FastifyRequest } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit } from '../../platform/audit/audit.ts';
import { hitRate, rateExhausted, retryAfterSeconds, type RateRule } from '../../platform/auth/rate-limit.ts';
import { safeEqual, sha256Hex } from '../../platform/auth/tokens.ts';
import { hs256Matches, ipv4InCidr, openToken, parseJwt } from './api.crypto.ts';

export const MAX_JWT_LIFETIME_SECONDS = 15;
export const CLOCK_SKEW_SECONDS = 5;

/** Limits of the API (docs/security.md, rate limits). */
export const API_RATE_RULES = {
  /** Refused API authentications per client address. */
  authFailuresPerIp: { name: 'api-auth-fail-ip', limit: 30, windowMs: 5 * 60_000 },
} as const satisfies Record<string, RateRule>;

export function perTokenRule(limitPerMinute: number): RateRule {
  return { name: 'api-token', limit: limitPerMinute, windowMs: 60_000 };
}

/** An error in the reference API's format. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 422 | 429 | 503,
    message: string,
    readonly errors: { resource: string; field: string; error: string }[] = [],
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export const unauthorized = () => new ApiError(401, 'Invalid or missing credentials');

/** Who is calling: a company's API token. */
export type ApiCaller = { companyId: string; tokenId: string; tokenName: string; ip: string };

type Refusal = { reason: string; companyKnown: boolean };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function authenticateApi(deps: AppDeps, req: FastifyRequest, perMinute: number): Promise<ApiCaller> {
  const key = deps.config.api.tokenKey;
  // Switched off by the operator (P7): 503. Without API_TOKEN_KEY no token can exist, so every
  // credential is simply wrong: 401 like any other refusal.
  if (!deps.config.api.enabled) throw new ApiError(503, 'The API is not available');
  const now = deps.clock.now();
  const ip = req.ip;
  const failRule = API_RATE_RULES.authFailuresPerIp;
  if (await withTenant(deps.database, {}, (trx) => rateExhausted(trx, failRule, ip, now))) {
    throw new ApiError(429, 'Too many refused requests; try again later', [], retryAfterSeconds(failRule, now));
  }

  const jwt = header(req, 'jwt');
  const legacyCompany = header(req, 'company_id') ?? header(req, 'company-id');
  const legacyToken = header(req, 'access_token') ?? header(req, 'access-token');

  let companyId: string | undefined;
  let parts: ReturnType<typeof parseJwt>;
  let refusal: Refusal | undefined;
  let exp = 0;
  if (jwt !== undefined) {
    parts = parseJwt(jwt);
    const p = parts?.payload;
    const cid = p?.company_id;
    if (!parts || parts.header.alg !== 'HS256' || typeof cid !== 'string' || !UUID.test(cid)) {
      refusal = { reason: 'malformed', companyKnown: false };
    } else {
      companyId = cid.toLowerCase();
      const nbf = p?.nbf;
      const e = p?.exp;
      const t = now.getTime() / 1000;
      if (typeof nbf !== 'number' || typeof e !== 'number' || !Number.isFinite(nbf) || !Number.isFinite(e)) refusal = { reason: 'malformed', companyKnown: true };
      else if (e <= nbf || e - nbf > MAX_JWT_LIFETIME_SECONDS) refusal = { reason: 'lifetime', companyKnown: true };
      else if (t < nbf - CLOCK_SKEW_SECONDS) refusal = { reason: 'not_yet_valid', companyKnown: true };
      else if (t > e + CLOCK_SKEW_SECONDS) refusal = { reason: 'expired', companyKnown: true };
      exp = typeof e === 'number' ? e : 0;
    }
  } else if (legacyCompany !== undefined && legacyToken !== undefined) {
    if (!UUID.test(legacyCompany)) refusal = { reason: 'malformed', companyKnown: false };
    else companyId = legacyCompany.toLowerCase();
  } else {
    refusal = { reason: 'missing', companyKnown: false };
  }
  if (!refusal && !key) refusal = { reason: 'not_configured', companyKnown: true };

  const outcome = await withTenant(deps.database, companyId ? { companyId } : {}, async (trx): Promise<ApiCaller | Refusal> => {
    const fail = async (r: Refusal) => {
      await hitRate(trx, failRule, ip, now);
      const exists = companyId ? await trx.selectFrom('companies').select('id').where('id', '=', companyId).executeTakeFirst() : undefined;
      await audit(
        trx,
        { companyId: exists ? companyId! : null, ip, userAgent: header(req, 'user-agent') },
        { type: 'api.auth.refused', objectType: 'company', ...(companyId ? { objectId: companyId } : {}), data: { reason: exists ? r.reason : companyId ? 'unknown_company' : r.reason, path: (req.url.split('?')[0] ?? '').slice(0, 200) } },
        now,
      );
      return r;
    };
    if (refusal) return fail(refusal);
    const company = await trx.selectFrom('companies').select(['id', 'status']).where('id', '=', companyId!).executeTakeFirst();
    if (!company || company.status !== 'active') return fail({ reason: 'unknown_company', companyKnown: false });
    const settings = await trx.selectFrom('api_settings').select(['legacy_headers', 'allowed_cidrs']).executeTakeFirst();
    const cidrs = settings?.allowed_cidrs ?? [];
    if (cidrs.length > 0 && !cidrs.some((c) => ipv4InCidr(ip, c))) return fail({ reason: 'address_not_allowed', companyKnown: true });
    const tokens = await trx.selectFrom('api_tokens').select(['id', 'name', 'token_hash', 'secret_box']).where('revoked_at', 'is', null).execute();
    let match: (typeof tokens)[number] | undefined;
    if (jwt !== undefined) {
      match = tokens.find((tok) => {
        const secret = openToken(key!, company.id, tok.id, tok.secret_box);
        return secret !== undefined && hs256Matches(parts!, secret);
      });
      if (!match) return fail({ reason: 'bad_signature', companyKnown: true });
      // Replay: a signature is accepted once while it could still be valid.
      await trx.deleteFrom('api_seen_jwts').where('expires_at', '<', new Date(now.getTime() - 60_000)).execute();
      const inserted = await trx
        .insertInto('api_seen_jwts')
        .values({ company_id: company.id, signature_hash: sha256Hex(parts!.signature.toString('base64url')), expires_at: new Date((exp + CLOCK_SKEW_SECONDS) * 1000) })
        .onConflict((oc) => oc.doNothing())
        .returning('signature_hash')
        .executeTakeFirst();
      if (!inserted) return fail({ reason: 'replayed', companyKnown: true });
    } else {
      if (!settings?.legacy_headers) return fail({ reason: 'legacy_disabled', companyKnown: true });
      const hash = sha256Hex(legacyToken!);
      match = tokens.find((tok) => safeEqual(tok.token_hash, hash));
      if (!match) return fail({ reason: 'bad_token', companyKnown: true });
    }
    await trx.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', match.id).execute();
    return { companyId: company.id, tokenId: match.id, tokenName: match.name, ip };
  });
  if ('reason' in outcome) throw unauthorized();

  const rule = perTokenRule(perMinute);
  const within = await withTenant(deps.database, { companyId: outcome.companyId }, async (trx) => {
    const ok = await hitRate(trx, rule, outcome.tokenId, now);
    if (!ok && !(await hitRateNoticeGiven(trx, rule, outcome.tokenId, now))) {
      await audit(trx, { companyId: outcome.companyId, ip }, { type: 'api.rate_limited', objectType: 'api_token', objectId: outcome.tokenId, data: { apiTokenName: outcome.tokenName } }, now);
    }
    return ok;
  });
  if (!within) throw new ApiError(429, 'Too many requests for this token; try again later', [], retryAfterSeconds(rule, now));
  return outcome;
}

/** One audit event per token and window is enough: the first refused request writes it. */
async function hitRateNoticeGiven(trx: Tx, rule: RateRule, tokenId: string, now: Date): Promise<boolean> {
  return !(await hitRate(trx, { ...rule, name: `${rule.name}-notice`, limit: 1 }, tokenId, now));
}
