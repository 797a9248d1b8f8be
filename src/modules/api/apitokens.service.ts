/**
 * The company admin's side of the integration API: named API tokens (shown once, kept as a hash
 * plus an encrypted copy, revocable, several at a time), the IPv4 allow-list and the legacy
 * plaintext-header switch. Only company admins of the session's company reach any of it; for
 * everyone else it does not exist (404). Every change is audited in its own transaction; the
 * token itself never reaches the audit trail or the logs.
 */
import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor, UserActor } from '../../platform/auth/actor.ts';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import { audit } from '../../platform/audit/audit.ts';
import { sha256Hex } from '../../platform/auth/tokens.ts';
import { NotFoundError, ValidationError } from '../../platform/errors.ts';
import { newApiToken, sealToken } from './api.crypto.ts';

export const MAX_ACTIVE_TOKENS = 10;

function admin(actor: Actor | undefined): UserActor {
  if (actor?.kind !== 'user' || actor.role !== 'company_admin') throw new NotFoundError();
  return actor;
}

const tx = <T>(deps: AppDeps, a: UserActor, fn: (trx: Tx) => Promise<T>) => withTenant(deps.database, { companyId: a.companyId, userId: a.userId }, fn);
const who = (a: UserActor, ip: string) => ({ companyId: a.companyId, actorUserId: a.userId, ip });

export type ApiSettingsView = {
  companyId: string;
  configured: boolean;
  enabled: boolean;
  legacyHeaders: boolean;
  allowedCidrs: string[];
  tokens: { id: string; name: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null }[];
};

export async function readApiSettings(trx: Tx) {
  const row = await trx.selectFrom('api_settings').select(['legacy_headers', 'allowed_cidrs']).executeTakeFirst();
  return { legacyHeaders: row?.legacy_headers ?? false, allowedCidrs: row?.allowed_cidrs ?? [] };
}

export async function getApiSettings(deps: AppDeps, actor: Actor | undefined): Promise<ApiSettingsView> {
  const a = admin(actor);
  return tx(deps, a, async (trx) => {
    const s = await readApiSettings(trx);
    const tokens = await trx
      .selectFrom('api_tokens')
      .select(['id', 'name', 'created_at', 'last_used_at', 'revoked_at'])
      .orderBy('revoked_at', (o) => o.desc().nullsFirst())
      .orderBy('created_at', 'desc')
      .execute();
    return { companyId: a.companyId, configured: deps.config.api.tokenKey !== undefined, enabled: deps.config.api.enabled, ...s, tokens };
  });
}

/** Returns the token in clear: the only time it exists outside the client. */
export async function createApiToken(deps: AppDeps, actor: Actor | undefined, name: string, ip: string): Promise<{ id: string; token: string }> {
  const a = admin(actor);
  const key = deps.config.api.tokenKey;
  if (!key) throw new ValidationError('notConfigured', { name: 'notConfigured' });
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 100) throw new ValidationError('nameInvalid', { name: 'nameInvalid' });
  const id = randomUUID();
  const token = newApiToken();
  try {
    await tx(deps, a, async (trx) => {
      const active = await trx.selectFrom('api_tokens').select((eb) => eb.fn.countAll<number>().as('n')).where('revoked_at', 'is', null).executeTakeFirstOrThrow();
      if (Number(active.n) >= MAX_ACTIVE_TOKENS) throw new ValidationError('tooMany', { name: 'tooMany' });
      await trx
        .insertInto('api_tokens')
        .values({ id, company_id: a.companyId, name: trimmed, token_hash: sha256Hex(token), secret_box: sealToken(key, a.companyId, id, token), created_by: a.employmentId })
        .execute();
      await audit(trx, who(a, ip), { type: 'api.token.created', objectType: 'api_token', objectId: id, data: { name: trimmed } }, deps.clock.now());
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === '23505') throw new ValidationError('nameTaken', { name: 'nameTaken' });
    throw error;
  }
  return { id, token };
}

export async function revokeApiToken(deps: AppDeps, actor: Actor | undefined, id: string, ip: string): Promise<void> {
  const a = admin(actor);
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new NotFoundError();
  await tx(deps, a, async (trx) => {
    const row = await trx.selectFrom('api_tokens').select(['id', 'name', 'revoked_at']).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!row) throw new NotFoundError();
    if (row.revoked_at) return;
    await trx.updateTable('api_tokens').set({ revoked_at: deps.clock.now() }).where('id', '=', id).execute();
    await audit(trx, who(a, ip), { type: 'api.token.revoked', objectType: 'api_token', objectId: id, data: { name: row.name } }, deps.clock.now());
  });
}

export type ApiSettingsInput = { legacyHeaders: boolean; allowedCidrs: string[] };

export async function updateApiSettings(deps: AppDeps, actor: Actor | undefined, input: ApiSettingsInput, ip: string): Promise<void> {
  const a = admin(actor);
  await tx(deps, a, async (trx) => {
    const before = await readApiSettings(trx);
    const now = deps.clock.now();
    await trx
      .insertInto('api_settings')
      .values({ company_id: a.companyId, legacy_headers: input.legacyHeaders, allowed_cidrs: input.allowedCidrs, updated_at: now })
      .onConflict((oc) => oc.column('company_id').doUpdateSet({ legacy_headers: input.legacyHeaders, allowed_cidrs: input.allowedCidrs, updated_at: now }))
      .execute();
    await audit(
      trx,
      who(a, ip),
      {
        type: 'api.settings_changed',
        objectType: 'company',
        objectId: a.companyId,
        data: {
          legacyHeadersBefore: before.legacyHeaders,
          legacyHeaders: input.legacyHeaders,
          allowedCidrsBefore: before.allowedCidrs.join(','),
          allowedCidrs: input.allowedCidrs.join(','),
        },
      },
      now,
    );
  });
}
