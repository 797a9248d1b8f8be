/**
 * Commands of the `samtale` CLI that live in their own files (retention, backup, keys, ...).
 * Each file exports one `CliCommand`; list it in `cliCommands` below and `src/main.ts` shows its
 * help and runs it. A command opens the database itself through `openDeps` and closes it.
 */
import type { Config } from '../config.ts';
import type { AppDeps } from '../platform/deps.ts';
import { keysCommand } from './keys.ts';
import { companyCancelTerminationCommand, companyTerminateCommand } from './company-termination.ts';
import { backupCommand } from './backup.ts';
import { retentionCommand } from './retention.ts';

export type CliContext = {
  config: Config;
  openDeps(config: Config): Promise<AppDeps>;
};

export type CliCommand = {
  /** The command word, e.g. 'backup', or two words, e.g. 'company terminate' (then `run` gets the rest). */
  name: string;
  /** Lines for `samtale --help`, already indented like the rest of the help. */
  help: string;
  /** argv without the command word; returns the exit code (2 for bad usage). */
  run(args: string[], ctx: CliContext): Promise<number>;
};

export const cliCommands: CliCommand[] = [
  keysCommand,
  companyTerminateCommand,
  companyCancelTerminationCommand,
  retentionCommand,
  backupCommand,
];
