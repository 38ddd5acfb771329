import pg from 'pg';
import { GatewayError } from '../core/index.ts';
import { createRedactor, type Redactor } from '../core/redact-secrets.ts';

/**
 * PostgreSQL connections of the durable usage ledger. This module (and every `postgres-*.ts` beside it)
 * imports `pg`, so only the composition root loads it, with a dynamic import, when config `ledger` is set.
 */

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;
/** What the ledger's modules need of a connection or a pool: one query at a time. */
export type PgQueryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** The URL's password, decoded and as written, for masking; none when the URL has none or does not parse. */
function passwordForms(url: string): string[] {
  try {
    const raw = new URL(url).password;
    if (!raw) return [];
    let decoded = raw;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      // a malformed escape: mask it as written
    }
    return [raw, decoded];
  } catch {
    return [];
  }
}

/**
 * Masks the URL's password (and the URL itself) in any text; credential-shaped text in general too
 * (`createRedactor` masks `scheme://user:password@`). Short passwords are masked by value as well.
 */
export function postgresRedactor(url: string): Redactor {
  const forms = passwordForms(url);
  const general = createRedactor([url, ...forms]);
  return (text) => {
    let out = general(text);
    // createRedactor skips values shorter than 8 characters (they would mask ordinary words); a URL's
    // password is masked whatever its length, but only where it stands as a word of its own.
    for (const f of forms) {
      if (f.length === 0 || f.length >= 8) continue;
      const escaped = f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      out = out.replace(new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`, 'g'), '[REDACTED]');
    }
    return out;
  };
}

/** The URL as it may be logged: user, host, port and database; the password masked. */
export function redactPostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'REDACTED';
    u.search = '';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/** A driver error as the ledger raises it: `unavailable`, retryable, its text redacted, its code kept (23505…). */
export function ledgerUnavailable(operation: string, cause: unknown, redact: Redactor): GatewayError {
  if (cause instanceof GatewayError) return cause;
  const text = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  const err = new GatewayError('unavailable', `durable ledger unavailable (${operation}): ${redact(text)}`, { retryable: true });
  if (typeof code === 'string') Object.assign(err, { pgCode: code });
  return err;
}

export interface PostgresPoolOptions {
  url: string;
  /** Connections at most (the writer uses one at a time; reads and maintenance the others). Default 4. */
  max?: number;
  connectTimeoutMs?: number;
  /** A statement that gets no answer in this time fails (server side and client side). Default 15 s. */
  statementTimeoutMs?: number;
  /** Errors of idle connections (the server went away): redacted text, for a log line. */
  onIdleError?: (message: string) => void;
}

/**
 * A pool over the ledger's URL. Idle connections that break (a restart, a cut network) are dropped and
 * reported through `onIdleError`, never thrown: a pool without an error listener would crash the process.
 */
export function createPostgresPool(opts: PostgresPoolOptions): PgPool {
  const redact = postgresRedactor(opts.url);
  const statementTimeoutMs = opts.statementTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 4,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    // Both: the server ends a runaway statement; the client gives up on a connection that went silent.
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 5_000,
    keepAlive: true,
    application_name: 'switchboard-ledger',
  });
  pool.on('error', (e) => opts.onIdleError?.(redact(e.message)));
  return pool;
}

/**
 * Runs `fn` in a transaction on one connection of the pool. A connection that failed is destroyed, not
 * returned to the pool (after a timeout or a cut it may be half way through a reply).
 */
export async function inTransaction<T>(pool: PgPool, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch((r: Error) => (broken = r));
    if (!broken && isConnectionError(e)) broken = e as Error;
    throw e;
  } finally {
    client.release(broken ?? false);
  }
}

/** Errors after which a connection cannot be trusted: anything but the server's own answer (a socket, timeout or protocol failure). */
export function isConnectionError(e: unknown): boolean {
  return !(e instanceof pg.DatabaseError);
}
