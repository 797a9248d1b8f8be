/**
 * GET/POST /org/settings/security: a company admin's security settings for their own company.
 * Anyone else (employees, leaders, delegates, staff) gets 404 from the service. Invalid input
 * re-renders the form with the typed values and a message per field (422); success redirects.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { rawForm } from '../../platform/http/forms.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import type { RequireTwoFactor } from '../../platform/db/schema.ts';
import { companySettingsMessages } from './companysettings.i18n.ts';
import {
  getSecuritySettings,
  getStatisticsThreshold,
  MIN_LENGTH_CEILING,
  MIN_LENGTH_FLOOR,
  REQUIRE_TWO_FACTOR,
  THRESHOLD_CEILING,
  THRESHOLD_FLOOR,
  updateSecuritySettings,
  updateStatisticsThreshold,
  type SecuritySettings,
} from './companysettings.service.ts';
import { SecuritySettingsPage, type SecurityFormValues } from './companysettings.views.tsx';

const PAGE = '/org/settings/security';
const STATISTICS = '/org/settings/statistics';

/** 3..50 as plain decimal digits, or null. */
export function parseThreshold(raw: string | undefined): number | null {
  const v = (raw ?? '').trim();
  if (!/^\d{1,2}$/.test(v)) return null;
  const n = Number(v);
  return n >= THRESHOLD_FLOOR && n <= THRESHOLD_CEILING ? n : null;
}

/** Strict parsing: only plain decimal integers within the bounds; the values are kept as typed. */
export function parseSecurityForm(form: Record<string, string>): { ok: true; data: SecuritySettings } | { ok: false; errors: Record<'min_password_length' | 'require_two_factor', 'minLengthInvalid' | 'twoFactorInvalid'> | Record<string, never> } {
  const errors: Record<string, 'minLengthInvalid' | 'twoFactorInvalid'> = {};
  const raw = (form.min_password_length ?? '').trim();
  const n = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < MIN_LENGTH_FLOOR || n > MIN_LENGTH_CEILING) errors.min_password_length = 'minLengthInvalid';
  const tf = form.require_two_factor ?? '';
  if (!(REQUIRE_TWO_FACTOR as readonly string[]).includes(tf)) errors.require_two_factor = 'twoFactorInvalid';
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, data: { minPasswordLength: n, requireTwoFactor: tf as RequireTwoFactor } };
}

export function registerCompanySettings(app: FastifyInstance, deps: AppDeps) {
  app.get(PAGE, async (req, reply) => {
    const s = await getSecuritySettings(deps, req.actor);
    const vc = viewContext(req);
    const done = (req.query as Record<string, unknown>).done;
    const t = translator(vc.lang, companySettingsMessages);
    const flash = done === 'saved' ? t('saved') : done === 'threshold' ? t('thresholdSaved') : undefined;
    const values: SecurityFormValues = { min_password_length: String(s.minPasswordLength), require_two_factor: s.requireTwoFactor };
    const threshold = String(await getStatisticsThreshold(deps, req.actor));
    return sendPage(reply, <SecuritySettingsPage vc={vc} values={values} flash={flash} threshold={threshold} />);
  });

  app.post(PAGE, async (req: FastifyRequest, reply) => {
    // Authorization first: a non-admin learns nothing about validation (404 either way).
    await getSecuritySettings(deps, req.actor);
    const form = rawForm(req.body);
    const parsed = parseSecurityForm(form);
    if (!parsed.ok) {
      const vc = viewContext(req);
      const t = translator(vc.lang, companySettingsMessages);
      const errors = Object.fromEntries(Object.entries(parsed.errors).map(([field, key]) => [field, t(key)]));
      const values: SecurityFormValues = { min_password_length: (form.min_password_length ?? '').slice(0, 20), require_two_factor: form.require_two_factor ?? '' };
      const threshold = String(await getStatisticsThreshold(deps, req.actor));
      return sendPage(reply, <SecuritySettingsPage vc={vc} values={values} errors={errors} threshold={threshold} />, 422);
    }
    await updateSecuritySettings(deps, req.actor, parsed.data, req.ip);
    return reply.redirect(`${PAGE}?done=saved`, 303);
  });

  app.post(STATISTICS, async (req: FastifyRequest, reply) => {
    // Authorization first (404 for everyone but the company's admins), then the input.
    const current = await getSecuritySettings(deps, req.actor);
    const form = rawForm(req.body);
    const threshold = parseThreshold(form.statistics_threshold);
    if (threshold === null) {
      const vc = viewContext(req);
      const t = translator(vc.lang, companySettingsMessages);
      const values: SecurityFormValues = { min_password_length: String(current.minPasswordLength), require_two_factor: current.requireTwoFactor };
      return sendPage(
        reply,
        <SecuritySettingsPage vc={vc} values={values} threshold={(form.statistics_threshold ?? '').slice(0, 20)} thresholdError={t('thresholdInvalid')} />,
        422,
      );
    }
    await updateStatisticsThreshold(deps, req.actor, threshold, req.ip);
    return reply.redirect(`${PAGE}?done=threshold`, 303);
  });
}
