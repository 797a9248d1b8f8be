import type { Config } from '../config.ts';
import type { PasswordHasher } from './auth/passwords.ts';
import type { Database } from './db/database.ts';

export type Clock = { now(): Date };
export const systemClock: Clock = { now: () => new Date() };

/** Everything a module needs, injected once through buildApp (tests pass fakes such as a clock). */
export type AppDeps = {
  config: Config;
  database: Database;
  clock: Clock;
  hasher: PasswordHasher;
};
