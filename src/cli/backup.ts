/**
 * `samtale backup create|list|verify|restore|prune` (M11). The logic is in src/modules/backup.
 * Exit codes: 0 done, 1 failed (verify found a problem, wrong key, tampered file, target not
 * empty), 2 bad usage.
 */
import { parseArgs } from 'node:util';
import type { CliCommand, CliContext } from './registry.ts';
import { BackupError, createBackup, listBackups, pruneBackups, restoreBackup, verifyBackup } from '../modules/backup/backup.service.ts';
import { unsafeRecordBackupEvent } from '../modules/backup/backup.job.ts';
import { unsafeAfterRestore } from '../modules/backup/backup.restore.ts';
import { formatBytes } from '../modules/backup/backup.progress.ts';

const OFFLINE_NOTE =
  'On the embedded database (no DATABASE_URL) the running server makes the daily backup itself. This command opens the database directory, which must not be open in a running server: stop the server and pass --offline.';

async function run(args: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  const { config } = ctx;
  const embedded = !config.databaseUrl;
  try {
    switch (sub) {
      case 'create': {
        const { values } = parseArgs({ args: rest, options: { offline: { type: 'boolean' } } });
        if (embedded && !values.offline) {
          console.error(OFFLINE_NOTE);
          return 2;
        }
        const deps = await ctx.openDeps(config);
        try {
          const made = await createBackup(deps, { progress: process.stderr });
          // A database that was never migrated has no audit trail (nor anything else) to write to.
          if (made.manifest.schemaVersion) await unsafeRecordBackupEvent(deps, 'platform.backup_created', { name: made.manifest.name, bytes: made.manifest.bytes });
          else console.error('Note: this database has no Samtale schema yet (never migrated); the backup holds an empty database.');
          const tables = Object.values(made.manifest.tables);
          console.log(`Backup ${made.manifest.name} written: ${made.path} (${formatBytes(made.manifest.bytes)}, ${tables.length} tables, ${tables.reduce((n, t) => n + t.rows, 0)} rows, schema ${made.manifest.schemaVersion ?? '-'})`);
          return 0;
        } finally {
          await deps.database.close();
        }
      }
      case 'list': {
        const list = listBackups(config);
        if (list.length === 0) {
          console.log(`No backups in ${config.backup.dir}.`);
          return 0;
        }
        console.log(['name'.padEnd(36), 'created (UTC)'.padEnd(20), 'size'.padStart(10), 'kind'.padEnd(8), 'schema'.padEnd(26), 'verified'].join('  '));
        for (const b of list) {
          const v = b.verified ? `${b.verified.ok ? 'ok' : 'FAILED'} ${b.verified.at.slice(0, 16).replace('T', ' ')}` : 'no';
          console.log(
            [b.manifest.name.padEnd(36), b.manifest.createdAt.slice(0, 19).replace('T', ' ').padEnd(20), formatBytes(b.manifest.bytes).padStart(10), b.manifest.databaseKind.padEnd(8), (b.manifest.schemaVersion ?? '-').padEnd(26), v].join('  '),
          );
        }
        return 0;
      }
      case 'verify': {
        const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
        if (positionals.length > 1) return usage();
        const r = await verifyBackup(config, positionals[0], { progress: process.stderr });
        if (r.ok) {
          console.log(`OK      ${r.manifest.name}: restored into a scratch database; ${Object.keys(r.manifest.tables).length} tables match the manifest's row counts and checksums.`);
          return 0;
        }
        console.log(`FAILED  ${r.manifest.name}:`);
        for (const p of r.problems) console.log(`  - ${p}`);
        return 1;
      }
      case 'restore': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { force: { type: 'boolean' }, offline: { type: 'boolean' } } });
        if (positionals.length !== 1) return usage();
        if (embedded && !values.offline) {
          console.error(OFFLINE_NOTE);
          return 2;
        }
        const r = await restoreBackup(config, positionals[0]!, { force: values.force ?? false, progress: process.stderr });
        if (r.keptAside) console.log(`The previous data is kept aside as ${r.keptAside}; remove it once the restored data is checked.`);
        if (!r.ok) {
          console.log(`Restored ${r.manifest.name}, but it does not match its manifest:`);
          for (const p of r.problems) console.log(`  - ${p}`);
          return 1;
        }
        console.log(`Restored ${r.manifest.name} (made ${r.manifest.createdAt}); row counts and checksums match the manifest.`);
        const deps = await ctx.openDeps(config);
        try {
          const after = await unsafeAfterRestore(deps, r.manifest);
          if (after.migrations.length) console.log(`Migrations applied after the restore: ${after.migrations.join(', ')}`);
          // Companies purged since the backup was taken are purged again (their tombstones).
          for (const line of after.repurged) console.log(`Purged again: ${line}`);
          if (after.repurged.length === 0) console.log('No purged company was back in the restored data.');
        } finally {
          await deps.database.close();
        }
        return 0;
      }
      case 'prune': {
        const removed = pruneBackups(config, new Date());
        console.log(removed.length ? `Removed ${removed.length} backups older than ${config.backup.retentionDays} days: ${removed.join(', ')}` : `No backups older than ${config.backup.retentionDays} days.`);
        return 0;
      }
      default:
        return usage();
    }
  } catch (err) {
    if (err instanceof BackupError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
}

function usage(): number {
  console.error('backup create [--offline] | backup list | backup verify [FILE] | backup restore FILE [--force] [--offline] | backup prune');
  return 2;
}

export const backupCommand: CliCommand = {
  name: 'backup',
  help: `  backup create [--offline]   write an encrypted backup to BACKUP_DIR (M11; --offline: embedded
                              database only, with the server stopped)
  backup list                 the backups in BACKUP_DIR: time, size, kind, schema, verified
  backup verify [FILE]        restore the newest (or FILE) into a scratch database and compare it
                              with its manifest; exit 1 on any difference
  backup restore FILE [--force] [--offline]
                              restore into the configured database (app stopped); a non-empty
                              database needs --force, and its data is kept aside, not deleted
  backup prune                remove backups older than BACKUP_RETENTION_DAYS (the daily job does this)`,
  run,
};
