import { inTransaction, type PgPool } from './postgres-connection.ts';

/**
 * The durable ledger's schema, as versioned migrations. The SQL lives here as strings (not .sql files) so
 * it ships in `dist/` with the compiled code. A migration is never edited once released: a change is a new
 * version. Every statement runs in the current schema (`search_path`), so one database can hold several
 * ledgers (set `options=-c search_path=…` in the URL).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const LEDGER_TABLE = 'usage_events';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'usage events, partitioned by day',
    // One row per request. The primary key must include the partition key (PostgreSQL's rule for unique
    // constraints on partitioned tables); an event's id and time never change, so (id, event_time) is as
    // good as the id alone for `ON CONFLICT DO NOTHING` when a batch is retried.
    sql: `
CREATE TABLE ${LEDGER_TABLE} (
  id text NOT NULL,
  event_time timestamptz NOT NULL,
  key_name text,
  team text,
  route text NOT NULL,
  route_version integer NOT NULL,
  provider text,
  model text,
  operation text NOT NULL DEFAULT 'chat',
  attempts integer NOT NULL,
  input_tokens bigint NOT NULL,
  output_tokens bigint NOT NULL,
  cached_input_tokens bigint NOT NULL,
  cache_write_tokens bigint NOT NULL,
  reasoning_tokens bigint NOT NULL,
  cost_usd double precision,
  price_source text NOT NULL,
  usage_estimated boolean NOT NULL,
  latency_ms double precision NOT NULL,
  ttft_ms double precision,
  cache_hit boolean NOT NULL,
  stream boolean NOT NULL,
  status text NOT NULL,
  error_kind text,
  trace_id text,
  finish_reason text,
  PRIMARY KEY (id, event_time)
) PARTITION BY RANGE (event_time);
CREATE INDEX ${LEDGER_TABLE}_time_id ON ${LEDGER_TABLE} (event_time, id);
`,
  },
];

/** One key for every instance migrating the same database: the advisory lock that serializes them. */
const MIGRATION_LOCK = "hashtext('switchboard.ledger.migrations')";

/**
 * Applies the migrations not yet applied, in one transaction under an advisory lock: instances starting
 * together take turns, and the second finds the work done. `schema_migrations` records each version.
 * Returns the versions this call applied.
 */
export async function migrate(pool: PgPool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return inTransaction(pool, async (client) => {
    // The lock comes first: even CREATE TABLE IF NOT EXISTS races with itself (a duplicate pg_type row).
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
