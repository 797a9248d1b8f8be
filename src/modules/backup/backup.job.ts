/**
 * The daily backup (M11): `backup.daily` makes a backup and prunes the ones older than
 * BACKUP_RETENTION_DAYS. The job runner (src/platform/jobs/jobs.ts) runs each due run on one node
 * only. Without BACKUP_DIR in production the run fails every day with BACKUP_OFF, which the job
 * runner logs and keeps in scheduled_jobs.last_error.
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { registerJob, type JobDefinition } from '../../platform/jobs/jobs.ts';
import { unsafeSystemTransaction } from '../../platform/db/context.ts';
import { audit } from '../../platform/audit/audit.ts';
import { BackupError, createBackup, pruneBackups } from './backup.service.ts';

export const backupJob: JobDefinition = {
  name: 'backup.daily',
  intervalSeconds: 24 * 3600,
  // A large database takes a while to dump; no other node may start a second run meanwhile.
  leaseSeconds: 6 * 3600,
  async run(deps: AppDeps) {
    if (!deps.config.backup.dir) throw new BackupError('BACKUP_OFF', 'BACKUP_DIR is not set');
    const made = await createBackup(deps);
    await unsafeRecordBackupEvent(deps, 'platform.backup_created', { name: made.manifest.name, bytes: made.manifest.bytes });
    const pruned = pruneBackups(deps.config, deps.clock.now());
    if (pruned.length) await unsafeRecordBackupEvent(deps, 'platform.backups_pruned', { count: pruned.length });
    return { name: made.manifest.name, bytes: made.manifest.bytes, pruned };
  },
};

/** A platform-level audit event (no company) for backup work done by the system. */
export async function unsafeRecordBackupEvent(
  deps: Pick<AppDeps, 'database'>,
  type: 'platform.backup_created' | 'platform.backups_pruned' | 'platform.backup_restored',
  data: Record<string, string | number | boolean | null>,
): Promise<void> {
  await unsafeSystemTransaction(deps.database, (trx) => audit(trx, { companyId: null }, { type, objectType: 'backup', data }));
}

export function registerBackup(_app: FastifyInstance, _deps: AppDeps): void {
  registerJob(backupJob);
}
