/**
 * Module kill switches (issue 9, P7). Design note: the state lives in PostgreSQL
 * (module_switches), so one `samtale module off uploads` reaches every app node; each node reads
 * it at most once every few seconds (a small cache per process, which holds no user data), so a
 * switch takes effect within SWITCH_CACHE_MS everywhere without a query on every request.
 */
import { sql } from 'kysely';
import type { AppDeps } from '../deps.ts';
import { unsafeSystemTransaction, withTenant } from '../db/context.ts';
import { audit } from '../audit/audit.ts';

export const MODULES = ['uploads', 'api', 'sso', 'exports', 'email'] as const;
export type ModuleName = (typeof MODULES)[number];

export const SWITCH_CACHE_MS = 5_000;

/** Which module a request path belongs to, if any. */
export function moduleOfPath(path: string): ModuleName | undefined {
  if (path.startsWith('/v3/')) return 'api';
  if (path === '/inbox' || path.startsWith('/inbox/') || path.startsWith('/org/import') || path.startsWith('/attachments/') || /^\/(dialogues|agreements)\/[^/]+\/attachments/.test(path)) return 'uploads';
  // Exports (M20): every CSV and PDF download, e.g. /org/audit.csv, /statistics/completion.csv,
  // /dialogues/:id/export.pdf.
  if (path.endsWith('.csv') || path.endsWith('.pdf')) return 'exports';
  return undefined;
}

const caches = new WeakMap<AppDeps, { at: number; off: Set<string> }>();

/** The modules switched off now (cached per process for SWITCH_CACHE_MS). */
export async function modulesOff(deps: AppDeps): Promise<Set<string>> {
  const cached = caches.get(deps);
  const now = Date.now();
  if (cached && now - cached.at < SWITCH_CACHE_MS) return cached.off;
  const rows = await withTenant(deps.database, {}, (trx) => trx.selectFrom('module_switches').select('module').where('off', '=', true).execute());
  const off = new Set(rows.map((r) => r.module));
  caches.set(deps, { at: now, off });
  return off;
}

/** Forgets the cached state (the CLI runs in its own process; tests switch and look at once). */
export function forgetSwitches(deps: AppDeps): void {
  caches.delete(deps);
}

/** `samtale module off|on NAME`: switches a module, audited on the platform's chain. */
export async function unsafeSetModule(deps: AppDeps, module: ModuleName, off: boolean, reason: string | undefined): Promise<void> {
  await unsafeSystemTransaction(deps.database, async (trx) => {
    await sql`insert into module_switches (module, off, reason, changed_at) values (${module}, ${off}, ${reason ?? null}, ${deps.clock.now()})
      on conflict (module) do update set off = excluded.off, reason = excluded.reason, changed_at = excluded.changed_at`.execute(trx);
    await audit(trx, { companyId: null }, { type: off ? 'platform.module_off' : 'platform.module_on', objectType: 'module', objectId: module, data: { reason: reason ?? null } });
  });
  forgetSwitches(deps);
}

export async function unsafeListModules(deps: AppDeps): Promise<{ module: ModuleName; off: boolean; reason: string | null; changedAt: Date | null }[]> {
  const rows = await unsafeSystemTransaction(deps.database, (trx) => trx.selectFrom('module_switches').selectAll().execute());
  return MODULES.map((m) => {
    const r = rows.find((x) => x.module === m);
    return { module: m, off: r?.off ?? false, reason: r?.reason ?? null, changedAt: r ? new Date(r.changed_at) : null };
  });
}
