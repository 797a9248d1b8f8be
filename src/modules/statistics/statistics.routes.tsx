/**
 * /statistics (issue 4): completion per department and its CSV export, team and department
 * averages under the anonymity threshold, and scores over the years. Who sees what is decided in
 * statistics.service.ts / statistics.policy.ts; anything out of reach is 404. The CSV export is
 * switched off with the 'exports' module (switches.ts maps *.csv), audited, never cached (the
 * app's no-store on every personal page) and downloaded as an attachment, never e-mailed (M18).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { csvField } from '../audittrail/audittrail.service.ts';
import { statisticsMessages } from './statistics.i18n.ts';
import { exportCompletion, getDepartmentStats, getEmployeeScores, getOverview, getTeamStats, type CompletionRow, type StatsCtx } from './statistics.service.ts';
import { DepartmentPage, OverviewPage, ScoresPage, TeamPage } from './statistics.views.tsx';

function ctxOf(req: FastifyRequest, deps: AppDeps): StatsCtx {
  const actor = req.actor;
  if (actor?.kind !== 'user') throw new NotFoundError();
  return { deps, actor, ip: req.ip };
}

function idParam(req: FastifyRequest): string {
  const parsed = z.uuid().safeParse((req.params as { id?: unknown }).id);
  if (!parsed.success) throw new NotFoundError();
  return parsed.data;
}

/** ?year=YYYY, or undefined for this year; anything else is ignored rather than guessed at. */
function yearParam(req: FastifyRequest): number | undefined {
  const raw = (req.query as Record<string, unknown>).year;
  if (typeof raw !== 'string' || !/^\d{4}$/.test(raw)) return undefined;
  const y = Number(raw);
  return y >= 2000 && y <= 2100 ? y : undefined;
}

export function completionCsv(lang: Parameters<typeof translator>[0], data: { year: number; departments: CompletionRow[]; teams: CompletionRow[] }): string {
  const t = translator(lang, statisticsMessages);
  const header = ['unit', 'name', 'depth', 'employees', `closed_mus_${data.year}`, 'agreements_up_to_date', 'complete', 'share_complete_percent'];
  const line = (unit: string, r: CompletionRow) => [unit, r.name, r.depth, r.employees, r.closedMus, r.agreementsUpToDate, r.complete, r.share].map(csvField).join(',');
  const lines = [...data.departments.map((r) => line(t('colDepartment'), r)), ...data.teams.map((r) => line(t('colTeam'), r))];
  // A byte-order mark lets spreadsheet programs read the UTF-8 (æ, ø, å) correctly.
  return `\uFEFF${[header.join(','), ...lines].join('\r\n')}\r\n`;
}

export function registerStatistics(app: FastifyInstance, deps: AppDeps) {
  app.get('/statistics', async (req, reply) => sendPage(reply, <OverviewPage vc={viewContext(req)} data={await getOverview(ctxOf(req, deps))} />));

  app.get('/statistics/completion.csv', async (req, reply) => {
    const data = await exportCompletion(ctxOf(req, deps));
    const day = deps.clock.now().toISOString().slice(0, 10);
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="samtale-completion-${day}.csv"`)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .send(completionCsv(req.lang, data));
  });

  app.get('/statistics/departments/:id', async (req, reply) =>
    sendPage(reply, <DepartmentPage vc={viewContext(req)} data={await getDepartmentStats(ctxOf(req, deps), idParam(req), yearParam(req))} />),
  );

  app.get('/statistics/teams/:id', async (req, reply) => sendPage(reply, <TeamPage vc={viewContext(req)} data={await getTeamStats(ctxOf(req, deps), idParam(req), yearParam(req))} />));

  app.get('/statistics/employees/:id', async (req, reply) => sendPage(reply, <ScoresPage vc={viewContext(req)} data={await getEmployeeScores(ctxOf(req, deps), idParam(req))} />));

  app.get('/statistics/me', async (req, reply) => {
    const actor = req.actor as UserActor | undefined;
    if (actor?.kind !== 'user') throw new NotFoundError();
    return sendPage(reply, <ScoresPage vc={viewContext(req)} data={await getEmployeeScores(ctxOf(req, deps), actor.employmentId)} />);
  });
}
