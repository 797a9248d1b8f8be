/**
 * The one place that reads the environment. Everything else receives a typed Config.
 * Bad values stop the process at boot with a message naming the variable.
 */
import path from 'node:path';
import os from 'node:os';
import { isIP } from 'node:net';
import { z } from 'zod';
import { DatabaseUrlError, parseDatabaseUrl } from './platform/db/multi-host.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const durationMinutes = z.coerce.number().int().positive();

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  SAMTALE_DATA_DIR: z.string().min(1).default('./data'),
  // One host, or several for a replicated cluster (M11): postgres://u@db1:5432,db2:5432/samtale
  // (target_session_attrs=read-write is implied); the app follows the writable one.
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .superRefine(checkDatabaseUrl)
    .optional(),
  MIGRATION_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .superRefine(checkDatabaseUrl)
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  PUBLIC_URL: z.string().url().optional(),
  TRUST_PROXY: bool.default(false),
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  // With TLS: also listen on this port with plain HTTP that only redirects to https (M9).
  HTTP_REDIRECT_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  SESSION_IDLE_MINUTES: durationMinutes.default(30),
  SESSION_ABSOLUTE_HOURS: z.coerce.number().int().positive().max(72).default(12),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DEMO_SEED: bool.optional(),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(256 * 1024),
  // M10: platform staff may log in and use staff pages only from these networks.
  STAFF_ALLOWED_CIDRS: z
    .string()
    .default('127.0.0.1/32,::1/128')
    .transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .refine((list) => list.every((c) => parseCidr(c) !== undefined), 'must be a comma-separated list of CIDRs, e.g. 10.0.0.0/8,::1/128'),
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(19456).default(19456),
  ARGON2_ITERATIONS: z.coerce.number().int().min(2).default(2),
  // Mail (src/platform/mail). Without SMTP_URL mails are written as files under <data dir>/mail/.
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^/\s]+(:\d+)?\/?$/, 'must look like smtp://[user:password@]host[:port] or smtps://...')
    .optional(),
  SMTP_FROM: z.string().min(3).max(254).default('Samtale <no-reply@localhost>'),
  // With smtp:// the connection must be upgraded with STARTTLS, or the mail is not sent.
  SMTP_REQUIRE_TLS: bool.default(true),
  // A PEM file with the CA that signed the SMTP server's certificate (private CAs).
  SMTP_CA_FILE: z.string().min(1).optional(),
  MAIL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(10),
  // How often this node looks for due jobs (mail delivery, cleanups).
  JOB_TICK_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  // The secure uploader (issue 7). Limits are shown in the UI.
  UPLOAD_MAX_FILE_MB: z.coerce.number().int().min(1).max(1024).default(25),
  UPLOAD_MAX_COMPANY_MB: z.coerce.number().int().min(1).default(5120),
  UPLOAD_MAX_FILES_PER_REQUEST: z.coerce.number().int().min(1).max(100).default(10),
  UPLOAD_MAX_FILES_PER_DIALOGUE: z.coerce.number().int().min(1).max(1000).default(20),
  // Office files are zip containers: refused when their directory lists more entries or more
  // uncompressed bytes than this (zip bombs), before anything is unpacked.
  UPLOAD_ZIP_MAX_ENTRIES: z.coerce.number().int().min(10).max(100000).default(2000),
  UPLOAD_ZIP_MAX_UNCOMPRESSED_MB: z.coerce.number().int().min(1).max(10240).default(250),
  // ClamAV (P5): clamd's unix socket, or its host and port. Neither set: no scanner, and every
  // upload waits for a scan (never treated as clean).
  CLAMD_SOCKET: z.string().min(1).optional(),
  CLAMD_HOST: z.string().min(1).optional(),
  CLAMD_PORT: z.coerce.number().int().min(1).max(65535).default(3310),
  CLAMD_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(600).default(60),
  // The integration API (/v3, issue 10). API_ENABLED=false answers every /v3/core request with 503 (P7).
  API_ENABLED: bool.default(true),
  // Requests per minute per API token (429 above it).
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(100000).default(600),
  // Backups (M11, src/modules/backup): where encrypted backups go (a separate disk or remote mount).
  // Unset: <data dir>/backups outside production; in production unset means backups are off and the
  // daily job fails loudly every day (log + scheduled_jobs.last_error).
  BACKUP_DIR: z.string().min(1).optional(),
  // 32 random bytes in base64, or a file holding them. Outside production a key file is made under
  // the data dir when neither is set; in production one of them is required when BACKUP_DIR is set.
  BACKUP_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 random bytes in base64 (openssl rand -base64 32)')
    .optional(),
  BACKUP_KEY_FILE: z.string().min(1).optional(),
  // Backups older than this are pruned by the daily job; M11 promises at most 90 days.
  BACKUP_RETENTION_DAYS: z.coerce.number().int().min(1).max(90, 'must be at most 90 (M11: backups are kept at most 90 days)').default(90),
  // Where pg_dump / pg_restore live when they are not on PATH (e.g. /usr/lib/postgresql/15/bin).
  PG_BIN: z.string().min(1).optional(),
  // 32 random bytes, base64: encrypts the stored API tokens (needed to verify HS256 signatures).
  // Without it, API tokens cannot be created and every /v3 request is refused (401).
  API_TOKEN_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 random bytes in base64 (openssl rand -base64 32)')
    .optional(),
  // Prometheus metrics (P4): a separate listener on METRICS_PORT (bound to METRICS_HOST), and/or
  // GET /metrics on the main port when METRICS_TOKEN is set (bearer token). Never public without one.
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters (openssl rand -base64 32)').max(200).optional(),
  // Per-company data keys (issue 6, M16; src/platform/crypto). The master key wraps every data
  // key: 32 random bytes in base64, given inline or in a file (mode 0600). Never in the database.
  SAMTALE_MASTER_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 random bytes in base64 (openssl rand -base64 32)')
    .optional(),
  SAMTALE_MASTER_KEY_FILE: z.string().min(1).optional(),
  // During a master key rotation: the master key being replaced, so keys not yet re-wrapped still open.
  SAMTALE_PREVIOUS_MASTER_KEY_FILE: z.string().min(1).optional(),
  // The key store, separate from the data: a directory, or its own PostgreSQL database (several app nodes).
  SAMTALE_KEY_DIR: z.string().min(1).optional(),
  KEYSTORE_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  // How long a node keeps an unwrapped data key in memory; a destroyed key stops working on every node within this time.
  KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(300).default(60),
});

function checkDatabaseUrl(value: string, ctx: z.RefinementCtx) {
  try {
    parseDatabaseUrl(value);
  } catch (err) {
    if (!(err instanceof DatabaseUrlError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, bits] = cidr.split('/');
  if (!address || bits === undefined || !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  const family = isIP(address) === 4 ? 'ipv4' : isIP(address) === 6 ? 'ipv6' : undefined;
  if (!family || prefix > (family === 'ipv4' ? 32 : 128)) return undefined;
  return { address, prefix, family };
}

export type Config = {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  migrationDatabaseUrl: string | undefined;
  poolSize: number;
  publicUrl: string | undefined;
  trustProxy: boolean;
  tls: { certFile: string; keyFile: string } | undefined;
  httpRedirectPort: number | undefined;
  session: { idleMinutes: number; absoluteHours: number };
  logLevel: string;
  demoSeed: boolean;
  bodyLimit: number;
  argon2: { memoryCost: number; timeCost: number };
  staffAllowedCidrs: string[];
  mail: {
    /** 'file' when no SMTP_URL is set: .eml files under <dataDir>/mail/ and the dev mail page. */
    transport: 'smtp' | 'file';
    smtpUrl: string | undefined;
    from: string;
    requireTls: boolean;
    caFile: string | undefined;
    maxAttempts: number;
  };
  jobs: { tickSeconds: number };
  uploads: {
    maxFileBytes: number;
    maxCompanyBytes: number;
    maxFilesPerRequest: number;
    /** Attachments on one dialogue (its agreements included), infected ones not counted. */
    maxFilesPerDialogue: number;
    zipMaxEntries: number;
    zipMaxUncompressedBytes: number;
  };
  /** 'none' when neither CLAMD_SOCKET nor CLAMD_HOST is set: uploads wait for a scan. */
  scanner:
    | { kind: 'none' }
    | { kind: 'clamd'; socket: string; timeoutMs: number }
    | { kind: 'clamd'; host: string; port: number; timeoutMs: number };
  api: { enabled: boolean; tokenKey: Buffer | undefined; ratePerMinute: number };
  /** M11. dir undefined: backups are off (production without BACKUP_DIR). */
  backup: { dir: string | undefined; key: Buffer | undefined; keyFile: string | undefined; retentionDays: number; pgBin: string | undefined };
  /** P4: where Prometheus may scrape (src/platform/metrics). */
  metrics: { port: number | undefined; host: string; token: string | undefined };
  /** Issue 6 (M16): the master key and the key store (src/platform/crypto). */
  keys: {
    /** The master key given inline (SAMTALE_MASTER_KEY). */
    masterKey: Buffer | undefined;
    /**
     * The master key file; outside production a missing one is generated here (mode 0600). In
     * production without SAMTALE_MASTER_KEY(_FILE) it is undefined and the app refuses to start
     * (ConfigError from the keyring, before anything is served).
     */
    masterKeyFile: string | undefined;
    previousMasterKeyFile: string | undefined;
    /** The key-store directory (used unless databaseUrl is set). */
    dir: string;
    databaseUrl: string | undefined;
    cacheSeconds: number;
  };
};

export class ConfigError extends Error {}

/**
 * Where the keys live. Development: a generated master key file and the key directory under the
 * data dir. Tests: one directory per machine user under the temp dir, shared by every test app
 * and test process of a run (test files share one PostgreSQL database, and a job in one file may
 * read another file's rows), unless the test sets SAMTALE_KEY_DIR / SAMTALE_MASTER_KEY_FILE.
 */
function keysConfig(c: z.infer<typeof schema>): Config['keys'] {
  const dataDir = path.resolve(c.SAMTALE_DATA_DIR);
  const home = c.NODE_ENV === 'test' ? path.join(os.tmpdir(), `samtale-test-keys-${os.userInfo().uid}`) : dataDir;
  const dir = c.SAMTALE_KEY_DIR ? path.resolve(c.SAMTALE_KEY_DIR) : path.join(home, 'keys');
  const masterKey = c.SAMTALE_MASTER_KEY ? Buffer.from(c.SAMTALE_MASTER_KEY, 'base64') : undefined;
  // Production never gets a default: the keyring refuses to start without one (src/platform/crypto/keyring.ts).
  const masterKeyFile = c.SAMTALE_MASTER_KEY_FILE
    ? path.resolve(c.SAMTALE_MASTER_KEY_FILE)
    : masterKey || c.NODE_ENV === 'production'
      ? undefined
      : path.join(home, 'master.key');
  return {
    masterKey,
    masterKeyFile,
    previousMasterKeyFile: c.SAMTALE_PREVIOUS_MASTER_KEY_FILE ? path.resolve(c.SAMTALE_PREVIOUS_MASTER_KEY_FILE) : undefined,
    dir,
    databaseUrl: c.KEYSTORE_DATABASE_URL,
    cacheSeconds: c.KEY_CACHE_SECONDS,
  };
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  if ((c.TLS_CERT_FILE && !c.TLS_KEY_FILE) || (!c.TLS_CERT_FILE && c.TLS_KEY_FILE)) {
    throw new ConfigError('Invalid configuration:\n  TLS_CERT_FILE and TLS_KEY_FILE must be given together');
  }
  const tls = c.TLS_CERT_FILE && c.TLS_KEY_FILE ? { certFile: c.TLS_CERT_FILE, keyFile: c.TLS_KEY_FILE } : undefined;
  if (c.NODE_ENV === 'production' && !tls && !c.TRUST_PROXY) {
    // M9: production never serves plain HTTP to users.
    throw new ConfigError(
      'Invalid configuration:\n  production needs TLS_CERT_FILE/TLS_KEY_FILE, or TRUST_PROXY=true behind a TLS proxy',
    );
  }
  if (c.NODE_ENV === 'production' && !c.PUBLIC_URL?.startsWith('https://')) {
    // The public https origin: cookies keep Secure behind a proxy, e-mailed links point to it, and
    // passkeys are bound to its host name.
    throw new ConfigError('Invalid configuration:\n  production needs PUBLIC_URL=https://... (links in e-mails, passkeys, cookies)');
  }
  if (c.NODE_ENV === 'production' && !c.SMTP_URL) {
    // Invitations, resets and lockout notices must reach people; files on the server would not.
    throw new ConfigError('Invalid configuration:\n  production needs SMTP_URL (invitations, password resets and security notices go by e-mail)');
  }
  if (c.CLAMD_SOCKET && c.CLAMD_HOST) {
    throw new ConfigError('Invalid configuration:\n  set CLAMD_SOCKET or CLAMD_HOST, not both');
  }
  if (c.NODE_ENV === 'production' && c.CLAMD_HOST && !isLoopbackHost(c.CLAMD_HOST)) {
    // P3: clamd's protocol has no encryption; files with personal data must not cross a network
    // in clear. Run clamd on the app node (or reach it through a local TLS tunnel's port).
    throw new ConfigError('Invalid configuration:\n  CLAMD_HOST must be the local machine (127.0.0.1, ::1 or localhost); use CLAMD_SOCKET or a local TLS tunnel to reach a remote clamd');
  }
  if (c.METRICS_PORT && !c.METRICS_TOKEN && !isLoopbackHost(c.METRICS_HOST)) {
    // P4: metrics name routes and counts; off the local machine they need the bearer token.
    throw new ConfigError('Invalid configuration:\n  METRICS_HOST other than the local machine needs METRICS_TOKEN');
  }
  if (c.BACKUP_KEY && c.BACKUP_KEY_FILE) {
    throw new ConfigError('Invalid configuration:\n  set BACKUP_KEY or BACKUP_KEY_FILE, not both');
  }
  if (c.NODE_ENV === 'production' && c.BACKUP_DIR && !c.BACKUP_KEY && !c.BACKUP_KEY_FILE) {
    // M11: a production backup is never written with a key that lives next to the data.
    throw new ConfigError('Invalid configuration:\n  BACKUP_DIR needs BACKUP_KEY or BACKUP_KEY_FILE in production (kept apart from the backups)');
  }
  if (c.SAMTALE_MASTER_KEY && c.SAMTALE_MASTER_KEY_FILE) {
    throw new ConfigError('Invalid configuration:\n  set SAMTALE_MASTER_KEY or SAMTALE_MASTER_KEY_FILE, not both');
  }
  if (c.NODE_ENV === 'production' && c.DEMO_SEED) {
    throw new ConfigError('Invalid configuration:\n  DEMO_SEED is not allowed in production');
  }
  return {
    env: c.NODE_ENV,
    port: c.PORT,
    host: c.HOST,
    dataDir: path.resolve(c.SAMTALE_DATA_DIR),
    databaseUrl: c.DATABASE_URL,
    migrationDatabaseUrl: c.MIGRATION_DATABASE_URL,
    poolSize: c.DATABASE_POOL_SIZE,
    publicUrl: c.PUBLIC_URL,
    trustProxy: c.TRUST_PROXY,
    tls,
    httpRedirectPort: c.HTTP_REDIRECT_PORT,
    session: { idleMinutes: c.SESSION_IDLE_MINUTES, absoluteHours: c.SESSION_ABSOLUTE_HOURS },
    logLevel: c.LOG_LEVEL,
    demoSeed: c.DEMO_SEED ?? c.NODE_ENV !== 'production',
    bodyLimit: c.BODY_LIMIT_BYTES,
    argon2: { memoryCost: c.ARGON2_MEMORY_KIB, timeCost: c.ARGON2_ITERATIONS },
    staffAllowedCidrs: c.STAFF_ALLOWED_CIDRS,
    mail: {
      transport: c.SMTP_URL ? 'smtp' : 'file',
      smtpUrl: c.SMTP_URL,
      from: c.SMTP_FROM,
      requireTls: c.SMTP_REQUIRE_TLS,
      caFile: c.SMTP_CA_FILE,
      maxAttempts: c.MAIL_MAX_ATTEMPTS,
    },
    jobs: { tickSeconds: c.JOB_TICK_SECONDS },
    uploads: {
      maxFileBytes: c.UPLOAD_MAX_FILE_MB * 1024 * 1024,
      maxCompanyBytes: c.UPLOAD_MAX_COMPANY_MB * 1024 * 1024,
      maxFilesPerRequest: c.UPLOAD_MAX_FILES_PER_REQUEST,
      maxFilesPerDialogue: c.UPLOAD_MAX_FILES_PER_DIALOGUE,
      zipMaxEntries: c.UPLOAD_ZIP_MAX_ENTRIES,
      zipMaxUncompressedBytes: c.UPLOAD_ZIP_MAX_UNCOMPRESSED_MB * 1024 * 1024,
    },
    scanner: c.CLAMD_SOCKET
      ? { kind: 'clamd', socket: c.CLAMD_SOCKET, timeoutMs: c.CLAMD_TIMEOUT_SECONDS * 1000 }
      : c.CLAMD_HOST
        ? { kind: 'clamd', host: c.CLAMD_HOST, port: c.CLAMD_PORT, timeoutMs: c.CLAMD_TIMEOUT_SECONDS * 1000 }
        : { kind: 'none' },
    keys: keysConfig(c),
    api: { enabled: c.API_ENABLED, ratePerMinute: c.API_RATE_LIMIT_PER_MINUTE, tokenKey: c.API_TOKEN_KEY ? Buffer.from(c.API_TOKEN_KEY, 'base64') : undefined },
    backup: {
      dir: c.BACKUP_DIR ? path.resolve(c.BACKUP_DIR) : c.NODE_ENV === 'production' ? undefined : path.join(path.resolve(c.SAMTALE_DATA_DIR), 'backups'),
      key: c.BACKUP_KEY ? Buffer.from(c.BACKUP_KEY, 'base64') : undefined,
      keyFile: c.BACKUP_KEY_FILE ? path.resolve(c.BACKUP_KEY_FILE) : undefined,
      retentionDays: c.BACKUP_RETENTION_DAYS,
      pgBin: c.PG_BIN,
    },
    metrics: { port: c.METRICS_PORT, host: c.METRICS_HOST, token: c.METRICS_TOKEN },
  };
}
