/**
 * The PostgreSQL the durable-ledger tests run against: TEST_PG_URL, or the machine's server on loopback
 * (trust auth). Each test file works in a database of its own, created and dropped here, so files run in
 * parallel without seeing each other's rows or locks.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  name: string;
  url: string;
  /** A URL with this password in it (trust auth ignores it), for tests that check it is never shown. */
  urlWithPassword(password: string, port?: number): string;
  query<R extends pg.QueryResultRow = any>(sql: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

/** A connection for CREATE/DROP DATABASE: to TEST_PG_URL's database, or `postgres` when that one does not exist. */
async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  let c = new pg.Client({ connectionString: TEST_PG_URL });
  try {
    await c.connect();
  } catch (e) {
    if ((e as { code?: string }).code !== '3D000') throw e;
    const u = new URL(TEST_PG_URL);
    u.pathname = '/postgres';
    c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
  }
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `sbtest_${label.replace(/[^a-z0-9]/gi, '_')}_${process.pid}_${randomBytes(3).toString('hex')}`.toLowerCase().slice(0, 63);
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(TEST_PG_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  return {
    name,
    url,
    urlWithPassword(password, port) {
      const w = new URL(url);
      w.password = password;
      if (port !== undefined) {
        // A port means a TCP listener on loopback (a test's proxy), even when the server itself is reached by socket.
        w.hostname = '127.0.0.1';
        w.port = String(port);
        w.searchParams.delete('host');
      }
      return w.toString();
    },
    async query(sql, values) {
      return (await pool.query(sql, values)).rows;
    },
    async drop() {
      await pool.end().catch(() => undefined);
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Where a proxy in front of the test server connects: its TCP address, or its Unix socket (`?host=/dir`). */
export function serverAddress(url: string): { host: string; port: number } | { path: string } {
  const u = new URL(url);
  const port = Number(u.port || 5432);
  const socketDir = u.searchParams.get('host');
  return socketDir?.startsWith('/') ? { path: `${socketDir}/.s.PGSQL.${port}` } : { host: u.hostname, port };
}
