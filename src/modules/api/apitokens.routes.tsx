/**
 * /org/settings/api: a company admin's API tokens and API settings. Everyone else gets 404 from
 * the service. A new token is rendered in the response to the POST (never redirected to, never
 * put in a URL), so it is shown exactly once; the page is no-store like every private page (M17).
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { rawForm } from '../../platform/http/forms.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { ValidationError } from '../../platform/errors.ts';
import { apiTokenMessages, type ApiTokenKey } from './apitokens.i18n.ts';
import { createApiToken, getApiSettings, revokeApiToken, updateApiSettings } from './apitokens.service.ts';
import { ApiSettingsPage } from './apitokens.views.tsx';
import { normaliseCidr } from './api.crypto.ts';

const PAGE = '/org/settings/api';

export function parseCidrList(text: string): string[] | undefined {
  const items = text.split(/[\s,]+/).filter(Boolean);
  if (items.length > 100) return undefined;
  const out: string[] = [];
  for (const item of items) {
    const c = normaliseCidr(item);
    if (!c) return undefined;
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

export function registerApiTokens(app: FastifyInstance, deps: AppDeps) {
  app.get(PAGE, async (req, reply) => {
    const settings = await getApiSettings(deps, req.actor);
    const vc = viewContext(req);
    const t = translator(vc.lang, apiTokenMessages);
    const done = (req.query as Record<string, unknown>).done;
    const flash = done === 'saved' ? t('saved') : done === 'revoked' ? t('tokenRevoked') : undefined;
    return sendPage(reply, <ApiSettingsPage vc={vc} settings={settings} flash={flash} />);
  });

  app.post(`${PAGE}/tokens`, async (req, reply) => {
    await getApiSettings(deps, req.actor);
    const form = rawForm(req.body);
    const name = (form.name ?? '').slice(0, 200);
    const vc = viewContext(req);
    const t = translator(vc.lang, apiTokenMessages);
    try {
      const created = await createApiToken(deps, req.actor, name, req.ip);
      const settings = await getApiSettings(deps, req.actor);
      return sendPage(reply, <ApiSettingsPage vc={vc} settings={settings} newToken={{ name: name.trim(), token: created.token }} />);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const settings = await getApiSettings(deps, req.actor);
      return sendPage(reply, <ApiSettingsPage vc={vc} settings={settings} errors={{ name: t(error.code as ApiTokenKey) }} values={{ name }} />, 422);
    }
  });

  app.post(`${PAGE}/tokens/:id/revoke`, async (req, reply) => {
    await revokeApiToken(deps, req.actor, (req.params as { id: string }).id, req.ip);
    return reply.redirect(`${PAGE}?done=revoked`, 303);
  });

  app.post(`${PAGE}/settings`, async (req, reply) => {
    await getApiSettings(deps, req.actor);
    const form = rawForm(req.body);
    const text = (form.allowed_cidrs ?? '').slice(0, 4000);
    const legacy = form.legacy_headers === 'on';
    const cidrs = parseCidrList(text);
    if (!cidrs) {
      const vc = viewContext(req);
      const settings = await getApiSettings(deps, req.actor);
      const t = translator(vc.lang, apiTokenMessages);
      return sendPage(reply, <ApiSettingsPage vc={vc} settings={settings} errors={{ allowed_cidrs: t('cidrsInvalid') }} values={{ allowed_cidrs: text, legacy_headers: legacy }} />, 422);
    }
    await updateApiSettings(deps, req.actor, { legacyHeaders: legacy, allowedCidrs: cidrs }, req.ip);
    return reply.redirect(`${PAGE}?done=saved`, 303);
  });
}
