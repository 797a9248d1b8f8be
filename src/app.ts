/**
 * buildApp(deps): the web application as a list of feature registrations. Tests build it with
 * their own deps (database snapshot, clock); `samtale serve` builds it with the real ones.
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from './platform/deps.ts';
import { buildHttp } from './platform/http/server.ts';
import { registerHealth } from './modules/health/health.routes.ts';
import { registerMetrics } from './platform/metrics/metrics.routes.ts';
import { registerAuth } from './modules/auth/auth.routes.tsx';
import { registerDashboard } from './modules/dashboard/dashboard.routes.tsx';
import { registerOrg } from './modules/org/org.routes.tsx';
import { registerDialogues } from './modules/dialogues/dialogues.routes.tsx';
import { registerDialogueAttachments } from './modules/dialogues/dialogues.attachments.routes.tsx';
import { registerStaff } from './modules/staff/staff.routes.tsx';
import { registerDevMail } from './modules/devmail/devmail.routes.tsx';
import { registerAccount } from './modules/account/account.routes.tsx';
import { registerTwoFactor } from './modules/twofactor/twofactor.routes.tsx';
import { registerCompanySettings } from './modules/companysettings/companysettings.routes.tsx';
import { registerRecovery } from './modules/recovery/recovery.routes.tsx';
import { registerFiles } from './modules/files/files.routes.tsx';
import { registerImport } from './modules/import/import.routes.tsx';
import { registerApi } from './modules/api/api.routes.ts';
import { registerAuditTrail } from './modules/audittrail/audittrail.routes.tsx';
import { registerSupport } from './modules/support/support.routes.tsx';
import { registerReminders } from './modules/reminders/reminders.routes.tsx';
import { registerForms } from './modules/forms/forms.routes.tsx';
import { registerStatistics } from './modules/statistics/statistics.routes.tsx';
import { registerDialogueExport } from './modules/dialogues/dialogues.export.routes.tsx';
import { registerBackup } from './modules/backup/backup.job.ts';
import { registerRetention } from './modules/retention/retention.routes.ts';
import { registerTermination } from './modules/termination/termination.routes.tsx';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = await buildHttp(deps);
  registerTermination(app, deps);
  registerHealth(app, deps);
  registerMetrics(app, deps);
  registerAuth(app, deps);
  registerDashboard(app, deps);
  registerOrg(app, deps);
  registerDialogues(app, deps);
  registerDialogueAttachments(app, deps);
  registerStaff(app, deps);
  registerDevMail(app, deps);
  registerAccount(app, deps);
  registerTwoFactor(app, deps);
  registerCompanySettings(app, deps);
  registerRecovery(app, deps);
  registerFiles(app, deps);
  registerImport(app, deps);
  registerApi(app, deps);
  registerAuditTrail(app, deps);
  registerSupport(app, deps);
  registerReminders(app, deps);
  registerForms(app, deps);
  registerStatistics(app, deps);
  registerDialogueExport(app, deps);
  registerBackup(app, deps);
  registerRetention(app, deps);
  return app;
}
