/**
 * `samtale retention run [--as-of YYYY-MM-DD] [--dry-run] [--company ID ...]`: runs the retention
 * steps by hand (the same code as the daily `retention.run` job) and prints what it purged, or
 * with --dry-run what it would purge. --as-of judges every deadline as at the end of that day
 * (UTC): drills and tests use it instead of waiting 14 days. --company limits the run to the given
 * companies (drills).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { CliCommand } from './registry.ts';
import { runRetention } from '../modules/retention/runner.ts';

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s));
const uuid = z.string().uuid();

const USAGE = 'usage: samtale retention run [--as-of YYYY-MM-DD] [--dry-run] [--company ID ...]';

export const retentionCommand: CliCommand = {
  name: 'retention run',
  help: `  retention run [--as-of YYYY-MM-DD] [--dry-run] [--company ID ...]
                              purge what the retention schedule says is due (fired employees'
                              personal data after 14 days, their archive after 5 years, companies
                              14 days after termination) and print it; --as-of judges deadlines at
                              the end of that day (UTC), --dry-run changes nothing`,
  async run(args, ctx) {
    let values: { 'as-of'?: string | undefined; 'dry-run'?: boolean | undefined; company?: string[] | undefined };
    try {
      values = parseArgs({
        args,
        options: { 'as-of': { type: 'string' }, 'dry-run': { type: 'boolean' }, company: { type: 'string', multiple: true } },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (err) {
      console.error(`${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    const asOfText = values['as-of'];
    if (asOfText !== undefined && !isoDay.safeParse(asOfText).success) {
      console.error(`--as-of must be a date such as 2027-03-15\n${USAGE}`);
      return 2;
    }
    const companies = values.company;
    if (companies && !companies.every((c) => uuid.safeParse(c).success)) {
      console.error(`--company must be a company id (UUID)\n${USAGE}`);
      return 2;
    }
    const dryRun = values['dry-run'] === true;
    const deps = await ctx.openDeps(ctx.config);
    try {
      const asOf = asOfText ? new Date(`${asOfText}T23:59:59.999Z`) : deps.clock.now();
      console.log(`Retention run as of ${asOf.toISOString()}${dryRun ? ' (dry run: nothing is changed)' : ''}`);
      const report = await runRetention(deps, { asOf, dryRun, log: (line) => console.log(`  ${line}`), onlyCompanyIds: companies });
      for (const s of report.steps) console.log(`${s.name}: ${s.purged} ${dryRun ? 'would be purged' : 'purged'}`);
      return 0;
    } finally {
      await deps.database.close();
    }
  },
};
