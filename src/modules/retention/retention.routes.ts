/**
 * The retention module has no pages of its own (the purge date shows on the employee pages in
 * src/modules/org; the archive is the dialogue module's). It registers the daily job.
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../platform/deps.ts';
import { registerJob } from '../../platform/jobs/jobs.ts';
import { retentionJob } from './runner.ts';

export function registerRetention(_app: FastifyInstance, _deps: AppDeps): void {
  registerJob(retentionJob());
}
