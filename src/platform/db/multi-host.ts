/**
 * A connection pool over several PostgreSQL servers that always writes to the one that is the
 * primary (M11).
 *
 * Design note: `pg` understands one host per URL. A replicated installation gives the app a
 * libpq-style list instead, `postgres://u@db1:5432,db2:5432/samtale?target_session_attrs=read-write`,
 * and this module does about what libpq would: ask the hosts (all at once), keep the one
 * whose `pg_is_in_recovery()` is false, and open an ordinary `pg.Pool` to it. When a query fails
 * in a way that means "this server is gone or is no longer the primary" (connection lost, admin
 * or crash shutdown, a read-only error, cannot connect now), the pool for that server is dropped,
 * so the next checkout looks for the primary again. A failed query is never repeated here: its
 * transaction may or may not have committed, so the caller gets the error (the user a 503 page
 * asking to try again). Only a checkout, before any of the caller's SQL was sent, is tried once
 * more against a freshly found primary.
 *
 * Which server is primary is decided by the database cluster (Patroni or an operator promoting a
 * standby); the app only follows. Fencing the old primary is the cluster manager's job
 * (docs/operations.md, "Replication and failover").
 */
import pg from 'pg';

export type DbHost = { host: string; port: number };

export type ParsedDatabaseUrl = {
  hosts: DbHost[];
  /** The URL without the host list: scheme, user info, database and query, for one host. */
  forHost(host: DbHost): string;
  targetSessionAttrs: 'read-write' | 'any';
};

const TARGET_ATTRS = new Set(['read-write', 'primary', 'any']);

export class DatabaseUrlError extends Error {}

/**
 * Parses a `postgres://` URL that may list several `host:port` pairs separated by commas
 * (IPv6 in brackets). A host without a port gets 5432. With several hosts, target_session_attrs
 * defaults to read-write (libpq's default, `any`, would let the app land on a standby).
 */
export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  const m = /^(postgres(?:ql)?):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(url);
  if (!m) throw new DatabaseUrlError('must look like postgres://[user[:password]@]host[:port][,host[:port]...]/database[?options]');
  const [, scheme, userInfo, hostList = '', dbPath = '', query = ''] = m;
  if (hostList === '') throw new DatabaseUrlError('names no host');
  const hosts: DbHost[] = [];
  for (const part of hostList.split(',')) {
    const hm = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._%-]+)(?::(\d{1,5}))?$/.exec(part);
    if (!hm?.[1]) throw new DatabaseUrlError(`has an invalid host "${part}"`);
    const port = hm[2] === undefined ? 5432 : Number(hm[2]);
    if (port < 1 || port > 65535) throw new DatabaseUrlError(`has an invalid port in "${part}"`);
    hosts.push({ host: hm[1], port });
  }
  const params = new URLSearchParams(query.slice(1));
  const attrs = params.get('target_session_attrs') ?? (hosts.length > 1 ? 'read-write' : 'any');
  if (!TARGET_ATTRS.has(attrs)) {
    throw new DatabaseUrlError('target_session_attrs must be read-write (or primary): the app writes');
  }
  if (hosts.length > 1 && attrs === 'any') {
    throw new DatabaseUrlError('with several hosts, target_session_attrs must be read-write (or primary)');
  }
  // pg does not know target_session_attrs; it is ours to act on, so it is not passed on.
  params.delete('target_session_attrs');
  const rest = params.toString();
  const prefix = `${scheme}://${userInfo !== undefined ? `${userInfo}@` : ''}`;
  return {
    hosts,
    targetSessionAttrs: attrs === 'any' ? 'any' : 'read-write',
    forHost: (h) => `${prefix}${h.host}:${h.port}${dbPath}${rest ? `?${rest}` : ''}`,
  };
}

/** True when the URL lists more than one host (the multi-host pool is used). */
export function isMultiHostUrl(url: string): boolean {
  try {
    return parseDatabaseUrl(url).hosts.length > 1;
  } catch {
    return false;
  }
}

/** No server in the list accepts writes right now (all down, or a standby not yet promoted). */
export class DatabaseUnavailableError extends Error {
  readonly code = 'SAMTALE_DB_UNAVAILABLE';
}

const FAILOVER_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery)
  '25006', // read_only_sql_transaction: we are talking to a standby
  '08000', '08003', '08006', '08001', '08004', // connection exceptions
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * True for errors that mean the database server is unreachable, going away, or not the primary.
 * The HTTP layer answers these with 503 "try again" instead of 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  if (err instanceof DatabaseUnavailableError) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (FAILOVER_SQLSTATES.has(code) || NETWORK_CODES.has(code))) return true;
  const message = (err as { message?: unknown }).message;
  return (
    typeof message === 'string' &&
    /^(Connection terminated|Client has encountered a connection error|Connection terminated unexpectedly|timeout expired|Query read timeout)/.test(message)
  );
}

type Entry = { host: DbHost; pool: pg.Pool; dropped: boolean };

export type MultiHostPoolOptions = {
  max: number;
  /** Per host, for a connection attempt (a dead host that drops packets must not stall a request). */
  connectTimeoutMs?: number;
  /** After a search found no primary, further checkouts fail at once for this long. */
  retryAfterMs?: number;
  onSwitch?: (host: DbHost | undefined, reason: string) => void;
};

type PooledClient = { query(text: string, params?: unknown[]): Promise<pg.QueryResult>; release(err?: unknown): void };

/**
 * Shaped like the part of `pg.Pool` that Kysely's PostgresDialect uses: `connect()` and `end()`.
 */
export class MultiHostPool {
  readonly #url: ParsedDatabaseUrl;
  readonly #opts: Required<Omit<MultiHostPoolOptions, 'onSwitch'>> & Pick<MultiHostPoolOptions, 'onSwitch'>;
  #current: Entry | undefined;
  #searching: Promise<Entry> | undefined;
  #failedAt = 0;
  #lastFailure: DatabaseUnavailableError | undefined;
  #ended = false;
  readonly #verified = new WeakSet<pg.PoolClient>();
  readonly #wrapped = new WeakMap<pg.PoolClient, PooledClient>();

  constructor(url: string, opts: MultiHostPoolOptions) {
    this.#url = parseDatabaseUrl(url);
    this.#opts = { connectTimeoutMs: 5000, retryAfterMs: 250, ...opts };
  }

  /** Connection numbers of the pool of the server in use (zeros while none is known), for /metrics. */
  stats(): { total: number; idle: number; waiting: number; max: number } {
    const pool = this.#current?.pool;
    return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0, max: this.#opts.max };
  }

  /** The server currently used, for logs and tests. */
  get currentHost(): DbHost | undefined {
    return this.#current?.host;
  }

  async connect(): Promise<PooledClient> {
    if (this.#ended) throw new Error('the database pool has been closed');
    let lastError: unknown;
    // Twice at most: the second time against a primary found anew. Nothing of the caller's has
    // been sent yet, so trying again cannot repeat a write.
    for (let attempt = 0; attempt < 2; attempt++) {
      const entry = this.#current ?? (await this.#find());
      let client: pg.PoolClient;
      try {
        client = await entry.pool.connect();
      } catch (err) {
        // Waiting too long for a free connection (the pool is busy) says nothing about the server.
        if (!isDatabaseUnavailable(err)) throw err;
        lastError = err;
        this.#drop(entry, 'connect failed');
        continue;
      }
      if (!this.#verified.has(client)) {
        // A new physical connection: make sure the server is still the primary.
        try {
          const r = await client.query<{ standby: boolean }>('select pg_is_in_recovery() as standby');
          if (r.rows[0]?.standby && this.#url.targetSessionAttrs === 'read-write') {
            client.release(true);
            this.#drop(entry, 'server is a standby');
            lastError = new DatabaseUnavailableError(`${entry.host.host}:${entry.host.port} is a standby`);
            continue;
          }
        } catch (err) {
          client.release(true);
          lastError = err;
          this.#drop(entry, 'check failed');
          continue;
        }
        this.#verified.add(client);
      }
      return this.#wrap(client, entry);
    }
    throw lastError instanceof DatabaseUnavailableError ? lastError : new DatabaseUnavailableError(`no writable database server: ${describe(lastError)}`);
  }

  async end(): Promise<void> {
    this.#ended = true;
    const entry = this.#current;
    this.#current = undefined;
    if (entry && !entry.dropped) {
      entry.dropped = true;
      await entry.pool.end();
    }
  }

  #wrap(client: pg.PoolClient, entry: Entry): PooledClient {
    // Kysely keys its connection objects by the client it is given: one wrapper per client.
    const known = this.#wrapped.get(client);
    if (known) return known;
    let broken = false;
    // pg emits 'error' on a checked-out client whose server goes away between two queries (inside
    // a transaction, say); without a listener that would end the process.
    client.on('error', (err) => {
      broken = true;
      this.#drop(entry, describe(err));
    });
    const wrapper: PooledClient = {
      query: async (text, params) => {
        try {
          return await client.query(text, params);
        } catch (err) {
          if (isDatabaseUnavailable(err)) {
            broken = true;
            this.#drop(entry, describe(err));
          }
          throw err;
        }
      },
      release: (err?: unknown) => {
        const destroy = Boolean(err) || broken;
        if (destroy) this.#wrapped.delete(client);
        client.release(destroy);
      },
    };
    this.#wrapped.set(client, wrapper);
    return wrapper;
  }

  #drop(entry: Entry, reason: string) {
    if (entry.dropped) return;
    entry.dropped = true;
    if (this.#current === entry) {
      this.#current = undefined;
      this.#opts.onSwitch?.(undefined, `left ${entry.host.host}:${entry.host.port}: ${reason}`);
    }
    // Idle connections close now; checked-out ones close when released.
    entry.pool.end().catch(() => undefined);
  }

  #find(): Promise<Entry> {
    if (this.#searching) return this.#searching;
    if (this.#lastFailure && Date.now() - this.#failedAt < this.#opts.retryAfterMs) return Promise.reject(this.#lastFailure);
    this.#searching = this.#search().finally(() => {
      this.#searching = undefined;
    });
    return this.#searching;
  }

  /**
   * Asks every host at once and takes the first that says it is the primary: a host that drops
   * packets then costs nothing while another answers (libpq tries them one after the other).
   * With fencing (docs/operations.md) at most one server is writable at a time.
   */
  async #search(): Promise<Entry> {
    const reasons: string[] = [];
    const probe = async (host: DbHost): Promise<DbHost> => {
      const client = new pg.Client({ connectionString: this.#url.forHost(host), connectionTimeoutMillis: this.#opts.connectTimeoutMs });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const r = await client.query<{ standby: boolean }>('select pg_is_in_recovery() as standby');
        if (r.rows[0]?.standby && this.#url.targetSessionAttrs === 'read-write') throw new Error('is a standby');
        return host;
      } catch (err) {
        reasons.push(`${host.host}:${host.port}: ${describe(err)}`);
        throw err;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    let host: DbHost;
    try {
      host = await Promise.any(this.#url.hosts.map(probe));
    } catch {
      this.#failedAt = Date.now();
      this.#lastFailure = new DatabaseUnavailableError(`no writable database server (${reasons.join('; ')})`);
      throw this.#lastFailure;
    }
    if (this.#ended) throw new Error('the database pool has been closed');
    const pool = new pg.Pool({ connectionString: this.#url.forHost(host), max: this.#opts.max, connectionTimeoutMillis: this.#opts.connectTimeoutMs, keepAlive: true });
    const entry: Entry = { host, pool, dropped: false };
    // A broken idle connection must not crash the process; it also means the server may be gone.
    pool.on('error', (err) => {
      if (isDatabaseUnavailable(err)) this.#drop(entry, describe(err));
    });
    this.#current = entry;
    this.#lastFailure = undefined;
    this.#opts.onSwitch?.(host, 'primary found');
    return entry;
  }
}

/** One connected client on the primary (migrations and operator tooling). */
export async function connectToPrimary(url: string, connectTimeoutMs = 5000): Promise<pg.Client> {
  const parsed = parseDatabaseUrl(url);
  const reasons: string[] = [];
  for (const host of parsed.hosts) {
    const client = new pg.Client({ connectionString: parsed.forHost(host), connectionTimeoutMillis: connectTimeoutMs });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const r = await client.query<{ standby: boolean }>('select pg_is_in_recovery() as standby');
      if (!r.rows[0]?.standby || parsed.targetSessionAttrs === 'any') return client;
      reasons.push(`${host.host}:${host.port} is a standby`);
    } catch (err) {
      reasons.push(`${host.host}:${host.port}: ${describe(err)}`);
    }
    await client.end().catch(() => undefined);
  }
  throw new DatabaseUnavailableError(`no writable database server (${reasons.join('; ')})`);
}

/**
 * The single-host URL of the server that is primary now, for tools that take one server (a
 * URL parser that knows one host). libpq tools such as pg_dump also accept the multi-host URL.
 */
export async function resolvePrimaryUrl(url: string, connectTimeoutMs = 5000): Promise<string> {
  const parsed = parseDatabaseUrl(url);
  if (parsed.hosts.length === 1) return url;
  const client = await connectToPrimary(url, connectTimeoutMs);
  try {
    const host = parsed.hosts.find((h) => h.host === client.host && h.port === client.port) ?? parsed.hosts[0]!;
    return parsed.forHost(host);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return (err as { code?: string }).code ? `${(err as { code?: string }).code} ${err.message}` : err.message;
  return String(err);
}
