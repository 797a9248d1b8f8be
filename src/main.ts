/**
 * The `samtale` command: serve, migrate, company create, staff create, demo, audit verify.
 * One entry point for operators and for `npm start`.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase, type Database } from './platform/db/database.ts';
import { migrate } from './platform/db/migrate.ts';
import { PasswordHasher } from './platform/auth/passwords.ts';
import { systemClock, type AppDeps } from './platform/deps.ts';
import { buildApp } from './app.ts';
import { startJobRunner, type JobRunner } from './platform/jobs/jobs.ts';
import { closeMailTransport } from './platform/mail/transport.ts';
import { httpsRedirectServer } from './platform/http/redirect.ts';
import { demoScaleCommand, seedDemoIfEmpty } from './modules/demo/demo.ts';
import { unsafeCreateCompany, unsafeCreateStaff, unsafeDisableStaff } from './modules/companies/companies.service.ts';
import { ValidationError } from './platform/errors.ts';
import { unsafeVerifyAuditChains } from './platform/audit/verify.ts';
import { cliCommands } from './cli/registry.ts';
import { reapplyTombstones } from './modules/termination/termination.service.ts';
import { startMetricsServer, type MetricsServer } from './platform/metrics/metrics.routes.ts';
import { MODULES, SWITCH_CACHE_MS, unsafeListModules, unsafeSetModule, type ModuleName } from './platform/modules/switches.ts';

const HELP = `samtale <command> [options]

Commands:
  serve                       run the web portal (migrates first; seeds the demo outside production)
  migrate                     apply database migrations and exit
  company create --name N --admin-name N --admin-email E [--language da|en|sv]
                              create a company with its first administrator (password printed once)
  staff create --email E --name N --role operator|support
                              create a platform staff account (password printed once)
  staff disable --email E     switch a staff account off and end its sessions at once
  demo                        create the demo company if the database is empty
  demo --scale [--companies N --employees N --years N --big N | --full]
                              generate a benchmark data set (empty or bench database only; bench/README.md)
  audit verify [--company ID] check the audit trail's hash chains; exit 1 at the first broken link
  module off|on NAME [--reason R]
                              switch a module off or on at run time (uploads, api, sso, exports,
                              email); module list shows them
${cliCommands.map((c) => c.help).join('\n')}

Configuration comes from environment variables; see docs/operations.md.`;

async function openDeps(config: Config): Promise<AppDeps & { database: Database }> {
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    migrationDatabaseUrl: config.migrationDatabaseUrl,
    dataDir: config.dataDir,
    poolSize: config.poolSize,
  });
  return { config, database, clock: systemClock, hasher: new PasswordHasher(config.argon2) };
}

async function main(argv: string[]): Promise<number> {
  const [command, sub] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return 0;
  }
  const config = loadConfig();
  // A registered command is one word ('backup') or two ('company terminate').
  const twoWords = cliCommands.find((c) => c.name === `${command} ${sub ?? ''}`);
  if (twoWords) return twoWords.run(argv.slice(2), { config, openDeps });
  const extra = cliCommands.find((c) => c.name === command);
  if (extra) return extra.run(argv.slice(1), { config, openDeps });
  switch (command) {
    case 'migrate': {
      const deps = await openDeps(config);
      const applied = await migrate(deps.database);
      console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date.');
      for (const line of await reapplyTombstones(deps)) console.log(`Tombstone re-applied: ${line}`);
      await deps.database.close();
      return 0;
    }
    case 'serve':
      return serve(config);
    case 'demo': {
      if (argv.includes('--scale')) return demoScaleCommand(argv.slice(1), config, openDeps);
      const deps = await openDeps(config);
      await migrate(deps.database);
      const creds = await seedDemoIfEmpty(deps);
      printDemo(creds, config);
      await deps.database.close();
      return 0;
    }
    case 'module': {
      const name = argv[2];
      if (sub === 'list') {
        const deps = await openDeps(config);
        try {
          for (const m of await unsafeListModules(deps)) console.log(`${m.off ? 'OFF' : 'on '}  ${m.module}${m.reason ? `  (${m.reason})` : ''}`);
          return 0;
        } finally {
          await deps.database.close();
        }
      }
      if ((sub !== 'off' && sub !== 'on') || !name || !(MODULES as readonly string[]).includes(name)) {
        console.error(`module off|on NAME [--reason TEXT], or module list; NAME is one of ${MODULES.join(', ')}`);
        return 2;
      }
      const { values } = parseArgs({ args: argv.slice(3), options: { reason: { type: 'string' } } });
      const deps = await openDeps(config);
      try {
        await unsafeSetModule(deps, name as ModuleName, sub === 'off', values.reason);
        console.log(`${name} is ${sub === 'off' ? 'switched off' : 'on again'}; every node follows within ${SWITCH_CACHE_MS / 1000} s.`);
        return 0;
      } finally {
        await deps.database.close();
      }
    }
    case 'audit': {
      if (sub !== 'verify') break;
      const { values } = parseArgs({ args: argv.slice(2), options: { company: { type: 'string' } } });
      if (values.company !== undefined && !/^[0-9a-f-]{36}$/i.test(values.company)) {
        console.error('--company must be a company id (uuid)');
        return 2;
      }
      const deps = await openDeps(config);
      try {
        const reports = await unsafeVerifyAuditChains(deps.database, values.company ? { companyId: values.company } : {});
        for (const r of reports) {
          console.log(r.ok ? `ok      ${r.chain}: ${r.rows} rows` : `BROKEN  ${r.chain}: at row ${r.broken?.seq} (${r.broken?.reason}${r.broken?.id ? `, audit id ${r.broken.id}` : ''})`);
        }
        if (reports.length === 0) console.log(values.company ? 'No audit rows for that company.' : 'No audit rows yet.');
        return reports.every((r) => r.ok) ? 0 : 1;
      } finally {
        await deps.database.close();
      }
    }
    case 'company': {
      if (sub !== 'create') break;
      const { values } = parseArgs({
        args: argv.slice(2),
        options: { name: { type: 'string' }, 'admin-name': { type: 'string' }, 'admin-email': { type: 'string' }, language: { type: 'string' } },
      });
      if (!values.name || !values['admin-name'] || !values['admin-email']) {
        console.error('company create needs --name, --admin-name and --admin-email');
        return 2;
      }
      const language = values.language ?? 'da';
      if (language !== 'da' && language !== 'en' && language !== 'sv') {
        console.error('--language must be da, en or sv');
        return 2;
      }
      const deps = await openDeps(config);
      await migrate(deps.database);
      try {
        const r = await unsafeCreateCompany(deps, { name: values.name, adminName: values['admin-name'], adminEmail: values['admin-email'], language });
        console.log(`Company ${r.companyId} created. Administrator ${values['admin-email']} password (shown once): ${r.password}`);
      } catch (err) {
        if (err instanceof ValidationError) {
          console.error('That e-mail address already has an account.');
          return 2;
        }
        throw err;
      } finally {
        await deps.database.close();
      }
      return 0;
    }
    case 'staff': {
      if (sub === 'disable') {
        const { values } = parseArgs({ args: argv.slice(2), options: { email: { type: 'string' } } });
        if (!values.email) {
          console.error('staff disable needs --email');
          return 2;
        }
        const deps = await openDeps(config);
        try {
          if (!(await unsafeDisableStaff(deps, values.email))) {
            console.error('No staff account has that e-mail address.');
            return 2;
          }
          console.log('Staff account disabled; its sessions have ended.');
          return 0;
        } finally {
          await deps.database.close();
        }
      }
      if (sub !== 'create') break;
      const { values } = parseArgs({ args: argv.slice(2), options: { email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } } });
      if (!values.email || !values.name || (values.role !== 'operator' && values.role !== 'support')) {
        console.error('staff create needs --email, --name and --role operator|support');
        return 2;
      }
      const deps = await openDeps(config);
      await migrate(deps.database);
      try {
        const r = await unsafeCreateStaff(deps, { email: values.email, name: values.name, role: values.role });
        console.log(`Staff account ${r.id} created. Password (shown once): ${r.password}`);
      } catch (err) {
        if (err instanceof ValidationError) {
          console.error('That e-mail address already has an account.');
          return 2;
        }
        throw err;
      } finally {
        await deps.database.close();
      }
      return 0;
    }
  }
  console.error(`Unknown command: ${argv.join(' ')}\n\n${HELP}`);
  return 2;
}

function printDemo(creds: Awaited<ReturnType<typeof seedDemoIfEmpty>>, config: Config) {
  if (!creds) return;
  console.log('\nDemo company "Demo A/S" created. These passwords are shown once:');
  for (const c of creds) console.log(`  ${c.role.padEnd(15)} ${c.email.padEnd(30)} ${c.password}`);
  console.log(`They are also in ${config.dataDir}/demo-credentials.json (readable only by you).\n`);
}

async function serve(config: Config): Promise<number> {
  const deps = await openDeps(config);
  await migrate(deps.database);
  // M16: companies purged since the database's backup was taken are purged again before serving.
  for (const line of await reapplyTombstones(deps)) console.log(`Tombstone re-applied: ${line}`);
  printDemo(await seedDemoIfEmpty(deps), config);
  const app = await buildApp(deps);
  let closing = false;
  let jobs: JobRunner | undefined;
  let metricsServer: MetricsServer | undefined;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    // Let a running job (a mail being sent) finish, and start no new one.
    await jobs?.stop();
    await metricsServer?.close();
    closeMailTransport(config);
    // Stop accepting, finish in-flight requests, then close the database.
    await app.close();
    await deps.database.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  const redirect = config.tls && config.httpRedirectPort ? httpsRedirectServer(config.port, config.publicUrl) : undefined;
  if (redirect) app.addHook('onClose', async () => void redirect.close());
  await app.listen({ port: config.port, host: config.host });
  redirect?.listen(config.httpRedirectPort, config.host);
  // Periodic jobs (mail delivery, cleanups); every node runs them, each due run happens once.
  jobs = startJobRunner(deps, { log: app.log });
  // P4: Prometheus scrapes a listener of its own (METRICS_PORT), never the public one without a token.
  if (config.metrics.port) {
    metricsServer = await startMetricsServer(deps, { port: config.metrics.port, host: config.metrics.host });
    console.log(`Metrics for Prometheus on http://${config.metrics.host}:${metricsServer.port}/metrics`);
  }
  console.log(`Samtale is running on ${config.tls ? 'https' : 'http'}://localhost:${config.port} (${deps.database.kind})`);
  return await new Promise<number>(() => {});
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
