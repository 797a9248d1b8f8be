/**
 * A company's security settings (issue 3): the minimum password length for new passwords
 * (8..128, read by platform/auth/password-policy.ts) and who must use two-factor (enforced at
 * login by auth.service.ts). Only company admins of the session's company may see or change
 * them; everyone else is answered as not found. Row-level security (companies_tenant) confines
 * the update to the session's company.
 */
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor, UserActor } from '../../platform/auth/actor.ts';
import { withTenant } from '../../platform/db/context.ts';
import type { RequireTwoFactor } from '../../platform/db/schema.ts';
import { audit } from '../../platform/audit/audit.ts';
import { NotFoundError, ValidationError } from '../../platform/errors.ts';

export const REQUIRE_TWO_FACTOR = ['none', 'admins_leaders', 'everyone'] as const satisfies readonly RequireTwoFactor[];
export const MIN_LENGTH_FLOOR = 8;
export const MIN_LENGTH_CEILING = 128;

export type SecuritySettings = { minPasswordLength: number; requireTwoFactor: RequireTwoFactor };

/** Company admins only (M8: the company is the session's; a delegate is not an admin). */
export function mayManageSecuritySettings(actor: Actor | undefined): actor is UserActor {
  return actor?.kind === 'user' && actor.role === 'company_admin';
}

function admin(actor: Actor | undefined): UserActor {
  if (!mayManageSecuritySettings(actor)) throw new NotFoundError();
  return actor;
}

export async function getSecuritySettings(deps: AppDeps, actor: Actor | undefined): Promise<SecuritySettings> {
  const a = admin(actor);
  const row = await withTenant(deps.database, { userId: a.userId, companyId: a.companyId }, (trx) =>
    trx.selectFrom('companies').select(['min_password_length', 'require_two_factor']).where('id', '=', a.companyId).executeTakeFirst(),
  );
  if (!row) throw new NotFoundError();
  return { minPasswordLength: row.min_password_length, requireTwoFactor: row.require_two_factor };
}

export async function updateSecuritySettings(deps: AppDeps, actor: Actor | undefined, input: SecuritySettings, ip: string): Promise<void> {
  const a = admin(actor);
  await withTenant(deps.database, { userId: a.userId, companyId: a.companyId }, async (trx) => {
    const before = await trx
      .selectFrom('companies')
      .select(['min_password_length', 'require_two_factor'])
      .where('id', '=', a.companyId)
      .forUpdate()
      .executeTakeFirst();
    if (!before) throw new NotFoundError();
    await trx
      .updateTable('companies')
      .set({ min_password_length: input.minPasswordLength, require_two_factor: input.requireTwoFactor })
      .where('id', '=', a.companyId)
      .execute();
    await audit(
      trx,
      { companyId: a.companyId, actorUserId: a.userId, ip },
      {
        type: 'company.security_settings_changed',
        objectType: 'company',
        objectId: a.companyId,
        data: {
          minPasswordLengthBefore: before.min_password_length,
          minPasswordLength: input.minPasswordLength,
          requireTwoFactorBefore: before.require_two_factor,
          requireTwoFactor: input.requireTwoFactor,
        },
      },
    );
  });
}

// ---------------------------------------------------------------- statistics threshold (issue 4)

/** Averages are shown only where at least this many answered; the database refuses below 3. */
export const THRESHOLD_FLOOR = 3;
export const THRESHOLD_CEILING = 50;

export async function getStatisticsThreshold(deps: AppDeps, actor: Actor | undefined): Promise<number> {
  const a = admin(actor);
  const row = await withTenant(deps.database, { userId: a.userId, companyId: a.companyId }, (trx) =>
    trx.selectFrom('companies').select('statistics_threshold').where('id', '=', a.companyId).executeTakeFirst(),
  );
  if (!row) throw new NotFoundError();
  return row.statistics_threshold;
}

export async function updateStatisticsThreshold(deps: AppDeps, actor: Actor | undefined, threshold: number, ip: string): Promise<void> {
  const a = admin(actor);
  if (!Number.isInteger(threshold) || threshold < THRESHOLD_FLOOR || threshold > THRESHOLD_CEILING) throw new ValidationError('thresholdInvalid', { statistics_threshold: 'thresholdInvalid' });
  await withTenant(deps.database, { userId: a.userId, companyId: a.companyId }, async (trx) => {
    const before = await trx.selectFrom('companies').select('statistics_threshold').where('id', '=', a.companyId).forUpdate().executeTakeFirst();
    if (!before) throw new NotFoundError();
    if (before.statistics_threshold === threshold) return;
    await trx.updateTable('companies').set({ statistics_threshold: threshold }).where('id', '=', a.companyId).execute();
    await audit(
      trx,
      { companyId: a.companyId, actorUserId: a.userId, ip },
      { type: 'company.statistics_threshold_changed', objectType: 'company', objectId: a.companyId, data: { before: before.statistics_threshold, after: threshold } },
      deps.clock.now(),
    );
  });
}
