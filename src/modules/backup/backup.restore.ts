/**
 * What follows a restore (M11, M16), before any app node serves requests again: newer migrations
 * (the backup may be older than the code), then the tombstones of companies purged since the
 * backup was taken (kept in the key store, outside the data backups) are applied again, so a
 * deleted company never comes back. `samtale serve` re-applies them at start as well.
 */
import type { AppDeps } from '../../platform/deps.ts';
import { migrate } from '../../platform/db/migrate.ts';
import { reapplyTombstones } from '../termination/termination.service.ts';
import { unsafeRecordBackupEvent } from './backup.job.ts';
import type { Manifest } from './backup.service.ts';

export async function unsafeAfterRestore(deps: AppDeps, manifest: Pick<Manifest, 'name' | 'createdAt'>): Promise<{ migrations: string[]; repurged: string[] }> {
  const migrations = await migrate(deps.database);
  const repurged = await reapplyTombstones(deps);
  await unsafeRecordBackupEvent(deps, 'platform.backup_restored', { name: manifest.name, created_at: manifest.createdAt, repurged: repurged.length });
  return { migrations, repurged };
}
