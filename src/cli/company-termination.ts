/**
 * `samtale company terminate --company ID --reason R` and
 * `samtale company cancel-termination --company ID` (issue 6, M16): a platform operator starts or
 * cancels a company's termination. The admins are e-mailed as when an admin does it on the
 * settings page; the purge itself happens 14 days later in the retention run (companies.purge).
 * The operator recorded is the machine user running the command.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { CliCommand } from './registry.ts';
import { migrate } from '../platform/db/migrate.ts';
import { operatorName, unsafeCancelTerminationByOperator, unsafeStartTerminationByOperator } from '../modules/termination/termination.service.ts';

const uuid = z.uuid();

function parse(args: string[], usage: string, withReason: boolean): { company: string; reason: string } | undefined {
  try {
    const { values } = parseArgs({ args, options: { company: { type: 'string' }, ...(withReason ? { reason: { type: 'string' } } : {}) }, strict: true, allowPositionals: false });
    const company = typeof values.company === 'string' ? values.company.toLowerCase() : '';
    const reason = typeof (values as { reason?: unknown }).reason === 'string' ? String((values as { reason?: unknown }).reason) : '';
    if (!uuid.safeParse(company).success) {
      console.error(`--company must be a company id (UUID)\n${usage}`);
      return undefined;
    }
    if (withReason && (reason.trim() === '' || reason.length > 500)) {
      console.error(`--reason is required (at most 500 characters, no personal data)\n${usage}`);
      return undefined;
    }
    return { company, reason };
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    return undefined;
  }
}

const TERMINATE_USAGE = 'usage: samtale company terminate --company ID --reason TEXT';
const CANCEL_USAGE = 'usage: samtale company cancel-termination --company ID';

export const companyTerminateCommand: CliCommand = {
  name: 'company terminate',
  help: `  company terminate --company ID --reason R
                              start a company's termination: 14 days to cancel, then every row,
                              file and its key are purged (the admins are e-mailed)`,
  async run(args, ctx) {
    const a = parse(args, TERMINATE_USAGE, true);
    if (!a) return 2;
    const deps = await ctx.openDeps(ctx.config);
    try {
      await migrate(deps.database);
      const r = await unsafeStartTerminationByOperator(deps, a.company, a.reason, operatorName());
      if (!r.ok) {
        console.error(r.reason === 'no_company' ? 'No company has that id.' : 'That company is already terminating.');
        return 2;
      }
      console.log(`Termination started. Everything of the company is purged after ${r.purgeAfter.toISOString()} unless cancelled; ${r.admins} admin(s) e-mailed.`);
      return 0;
    } finally {
      await deps.database.close();
    }
  },
};

export const companyCancelTerminationCommand: CliCommand = {
  name: 'company cancel-termination',
  help: `  company cancel-termination --company ID
                              cancel a company's termination while its 14 days last`,
  async run(args, ctx) {
    const a = parse(args, CANCEL_USAGE, false);
    if (!a) return 2;
    const deps = await ctx.openDeps(ctx.config);
    try {
      const r = await unsafeCancelTerminationByOperator(deps, a.company, operatorName());
      const text = {
        cancelled: 'Termination cancelled; the admins are e-mailed. Nothing will be purged.',
        none: 'That company is not terminating.',
        too_late: 'Too late: the purge is due and may be under way.',
        no_company: 'No company has that id (purged companies are listed by `samtale keys status`).',
      }[r];
      (r === 'cancelled' ? console.log : console.error)(text);
      return r === 'cancelled' ? 0 : 2;
    } finally {
      await deps.database.close();
    }
  },
};
