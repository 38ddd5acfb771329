import {
  GRANULARITY_MS,
  UsageEventSchema,
  USAGE_DIMENSIONS,
  type Granularity,
  type LedgerAggregateQuery,
  type LedgerAggregateRow,
  type LedgerArchive,
  type LedgerBatch,
  type LedgerSink,
  type RollupRow,
  type UsageEvent,
} from '../core/index.ts';
import { isConnectionError, ledgerUnavailable, postgresRedactor, type PgPool } from './postgres-connection.ts';
import { LEDGER_TABLE, migrate } from './postgres-migrations.ts';
import { createPartitionManager, dayOf } from './postgres-partitions.ts';
import { createUsageSql } from './postgres-usage-sql.ts';

/**
 * The durable usage ledger on PostgreSQL: one row per usage event in a table partitioned by day.
 * - `write` inserts a batch's events in ONE multi-row statement (`INSERT … SELECT FROM unnest(arrays)`,
 *   so the parameter count does not grow with the batch) with `ON CONFLICT DO NOTHING` on the event's
 *   key: a batch retried after a lost reply adds nothing. Rollup increments are ignored (rollups are
 *   computed by SQL aggregation when read).
 * - `readRollups` / `aggregate`: GROUP BY over the events (postgres-usage-sql.ts).
 * - `readEvents` / `readEventsBefore`: newest first in (event_time, id) order.
 * The schema is migrated and the partitions maintained on first use and again whenever a write fails, so
 * a gateway that starts while PostgreSQL is down buffers and catches up once it is back.
 */

/** Column, its array type for unnest, and its value from an event, in table order. */
const COLUMNS: ReadonlyArray<readonly [string, string, (e: UsageEvent) => unknown]> = [
  ['id', 'text', (e) => e.id],
  ['event_time', 'timestamptz', (e) => new Date(e.time).toISOString()],
  ['key_name', 'text', (e) => e.keyName],
  ['team', 'text', (e) => e.team],
  ['route', 'text', (e) => e.route],
  ['route_version', 'int4', (e) => e.routeVersion],
  ['provider', 'text', (e) => e.provider],
  ['model', 'text', (e) => e.model],
  ['operation', 'text', (e) => e.operation ?? 'chat'],
  ['attempts', 'int4', (e) => e.attempts],
  ['input_tokens', 'int8', (e) => e.tokens.input],
  ['output_tokens', 'int8', (e) => e.tokens.output],
  ['cached_input_tokens', 'int8', (e) => e.tokens.cachedInput],
  ['cache_write_tokens', 'int8', (e) => e.tokens.cacheWrite],
  ['reasoning_tokens', 'int8', (e) => e.tokens.reasoning],
  ['cost_usd', 'float8', (e) => e.costUsd],
  ['price_source', 'text', (e) => e.priceSource],
  ['usage_estimated', 'bool', (e) => e.usageEstimated],
  ['latency_ms', 'float8', (e) => e.latencyMs],
  ['ttft_ms', 'float8', (e) => e.ttftMs],
  ['cache_hit', 'bool', (e) => e.cacheHit],
  ['stream', 'bool', (e) => e.stream],
  ['status', 'text', (e) => e.status],
  ['error_kind', 'text', (e) => e.errorKind],
  ['trace_id', 'text', (e) => e.traceId],
  ['finish_reason', 'text', (e) => e.finishReason ?? null],
];

const COLUMN_LIST = COLUMNS.map(([c]) => c).join(', ');
const INSERT = `INSERT INTO ${LEDGER_TABLE} (${COLUMN_LIST})
SELECT * FROM unnest(${COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')})
ON CONFLICT (id, event_time) DO NOTHING`;

/** A row of the events table as the driver returns it (int8 as strings, timestamptz as Date). */
type EventRow = Record<string, unknown> & { event_time: Date };

/** A row back to the event it was made from. */
export function eventOfRow(r: EventRow): UsageEvent {
  const num = (v: unknown) => Number(v);
  return {
    id: r.id as string,
    time: r.event_time.getTime(),
    keyName: (r.key_name as string | null) ?? null,
    team: (r.team as string | null) ?? null,
    route: r.route as string,
    routeVersion: num(r.route_version),
    provider: (r.provider as string | null) ?? null,
    model: (r.model as string | null) ?? null,
    attempts: num(r.attempts),
    tokens: {
      input: num(r.input_tokens),
      output: num(r.output_tokens),
      cachedInput: num(r.cached_input_tokens),
      cacheWrite: num(r.cache_write_tokens),
      reasoning: num(r.reasoning_tokens),
    },
    costUsd: r.cost_usd === null ? null : num(r.cost_usd),
    priceSource: r.price_source as UsageEvent['priceSource'],
    usageEstimated: r.usage_estimated as boolean,
    latencyMs: num(r.latency_ms),
    ttftMs: r.ttft_ms === null ? null : num(r.ttft_ms),
    cacheHit: r.cache_hit as boolean,
    stream: r.stream as boolean,
    status: r.status as UsageEvent['status'],
    errorKind: (r.error_kind as UsageEvent['errorKind']) ?? null,
    traceId: (r.trace_id as string | null) ?? null,
    finishReason: (r.finish_reason as UsageEvent['finishReason']) ?? null,
    operation: r.operation as NonNullable<UsageEvent['operation']>,
  };
}

/** Rows a reader could not parse (written by an incompatible version) are skipped, not fatal to the page. */
const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

function parsedEvents(rows: EventRow[]): UsageEvent[] {
  const out: UsageEvent[] = [];
  for (const r of rows) {
    const p = UsageEventSchema.safeParse(eventOfRow(r));
    if (p.success) out.push(p.data);
  }
  return out;
}

export interface PostgresLedgerOptions {
  pool: PgPool;
  /** The connection URL, only to mask its password in error messages. */
  url: string;
  /** Partitions older than this many days are dropped. */
  retentionDays: number;
  /** The usage module's latency histogram bounds (LATENCY_BUCKETS_MS), for rollups computed in SQL. */
  latencyBucketsMs: readonly number[];
  /** Epoch ms (partitions ahead, retention); tests inject a clock. */
  now?: () => number;
  /** Partitions created ahead of today (default 2). */
  aheadDays?: number;
  /** How often writes also run partition maintenance (default 1 h). */
  maintenanceEveryMs?: number;
  /** A failed maintenance run (redacted text), for a log line; writes go on. */
  onMaintenanceError?: (message: string) => void;
}

export interface PostgresLedger extends LedgerSink, LedgerArchive {
  /** Migrates and maintains partitions; resolves once the ledger can be written. Retried after a failure. */
  ready(): Promise<void>;
  /** Creates partitions ahead and drops expired ones now. */
  maintain(): Promise<{ created: string[]; dropped: string[] }>;
  /** Events in [from, to) in (time, id) order, read with a server-side cursor `fetchSize` rows at a time. */
  exportEvents(q: { from: number; to: number; fetchSize?: number }): AsyncGenerator<UsageEvent>;
  /** Statements the writer ran (one per batch write), for tests asserting one statement per batch. */
  readonly inserts: number;
}

export function createPostgresLedger(opts: PostgresLedgerOptions): PostgresLedger {
  const { pool } = opts;
  const now = opts.now ?? Date.now;
  const redact = postgresRedactor(opts.url);
  const maintenanceEveryMs = opts.maintenanceEveryMs ?? 3_600_000;
  const partitions = createPartitionManager({ pool, now, retentionDays: opts.retentionDays, aheadDays: opts.aheadDays });
  const usageSql = createUsageSql(pool, opts.latencyBucketsMs);
  let readying: Promise<void> | undefined;
  let lastMaintenance = -Infinity;
  let inserts = 0;

  const fail = (operation: string) => (e: unknown): never => {
    throw ledgerUnavailable(operation, e, redact);
  };

  async function maintain() {
    const out = await partitions.maintain();
    lastMaintenance = now();
    return out;
  }

  /** Maintenance that must not hold up the events: on failure it is tried again in a minute (writes make the partitions they need). */
  async function maintainSoftly(): Promise<void> {
    await maintain().catch((e: unknown) => {
      lastMaintenance = now() - maintenanceEveryMs + 60_000;
      opts.onMaintenanceError?.(ledgerUnavailable('partition maintenance', e, redact).message);
    });
  }

  function ready(): Promise<void> {
    readying ??= (async () => {
      await migrate(pool);
      await maintainSoftly();
    })().catch((e: unknown) => {
      readying = undefined;
      return fail('migrate')(e);
    });
    return readying;
  }

  async function insert(events: readonly UsageEvent[]): Promise<void> {
    const columns = COLUMNS.map(([, , get]) => events.map(get));
    inserts++;
    await pool.query(INSERT, columns);
  }

  async function readEventsBefore(q: { limit: number; before?: { time: number; id: string } | undefined }): Promise<UsageEvent[]> {
    const limit = Math.max(0, Math.floor(q.limit));
    const where = q.before ? 'WHERE (event_time, id) < ($2::timestamptz, $3::text)' : '';
    const values = q.before ? [limit, new Date(q.before.time).toISOString(), q.before.id] : [limit];
    const { rows } = await pool
      .query<EventRow>(`SELECT ${COLUMN_LIST} FROM ${LEDGER_TABLE} ${where} ORDER BY event_time DESC, id DESC LIMIT $1`, values)
      .catch(fail('read events'));
    return parsedEvents(rows);
  }

  return {
    get inserts() {
      return inserts;
    },
    ready,
    maintain: () => ready().then(maintain),

    async write(batch: LedgerBatch): Promise<void> {
      if (batch.events.length === 0) return;
      await ready();
      try {
        if (now() - lastMaintenance >= maintenanceEveryMs || dayOf(now()) !== dayOf(lastMaintenance)) await maintainSoftly();
        await partitions.ensure(batch.events.map((e) => dayOf(e.time)));
        await insert(batch.events);
      } catch (e) {
        // 23514 "no partition of relation found for row": another instance dropped a partition this one
        // thought it had. Ask again once. Anything else: the ledger retries the batch later.
        if ((e as { code?: string }).code === '23514') {
          partitions.forget();
          await partitions.ensure(batch.events.map((ev) => dayOf(ev.time))).catch(fail('write'));
          await insert(batch.events).catch(fail('write'));
          return;
        }
        // The schema may be gone (a restored database): migrate again on the next write.
        if ((e as { code?: string }).code === '42P01') readying = undefined;
        fail('write')(e);
      }
    },

    async readRollups(q: { granularity: Granularity; from: number; to: number }): Promise<RollupRow[]> {
      const g = GRANULARITY_MS[q.granularity];
      // Rows of buckets starting in [from, to): events from the first whole bucket at or after `from`.
      const ceil = (t: number) => Math.ceil(t / g) * g;
      const rows = await usageSql
        .aggregate({ from: ceil(q.from), to: ceil(q.to), bucketMs: g, where: {}, groupBy: USAGE_DIMENSIONS })
        .catch(fail('read rollups'));
      return rows.map((r) => ({ granularity: q.granularity, ...r }));
    },

    aggregate(q: LedgerAggregateQuery): Promise<LedgerAggregateRow[]> {
      return usageSql.aggregate(q).catch(fail('aggregate'));
    },

    async readEvents(q: { limit: number; before?: string | undefined }): Promise<UsageEvent[]> {
      const limit = Math.max(0, Math.floor(q.limit));
      if (q.before === undefined) return readEventsBefore({ limit });
      // An id the ledger does not hold answers nothing (as the Redis stream does).
      const { rows } = await pool
        .query<EventRow>(
          `SELECT ${COLUMN_LIST} FROM ${LEDGER_TABLE}
           WHERE (event_time, id) < (SELECT event_time, id FROM ${LEDGER_TABLE} WHERE id = $2 LIMIT 1)
           ORDER BY event_time DESC, id DESC LIMIT $1`,
          [limit, q.before],
        )
        .catch(fail('read events'));
      return parsedEvents(rows);
    },

    readEventsBefore,

    async eventTime(id: string): Promise<number | undefined> {
      const { rows } = await pool
        .query<{ event_time: Date }>(`SELECT event_time FROM ${LEDGER_TABLE} WHERE id = $1 LIMIT 1`, [id])
        .catch(fail('read events'));
      return rows[0]?.event_time.getTime();
    },

    async *exportEvents(q: { from: number; to: number; fetchSize?: number }): AsyncGenerator<UsageEvent> {
      const fetchSize = Math.max(1, Math.floor(q.fetchSize ?? 1_000));
      const client = await pool.connect().catch(fail('export'));
      let finished = false;
      let failure: unknown;
      try {
        // One snapshot for the whole export, however long the reader takes.
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await client.query(
          `DECLARE usage_export NO SCROLL CURSOR FOR SELECT ${COLUMN_LIST} FROM ${LEDGER_TABLE}
           WHERE event_time >= $1::timestamptz AND event_time < $2::timestamptz ORDER BY event_time, id`,
          [new Date(q.from).toISOString(), new Date(q.to).toISOString()],
        );
        for (;;) {
          const { rows } = await client.query<EventRow>(`FETCH FORWARD ${fetchSize} FROM usage_export`);
          for (const r of rows) yield eventOfRow(r);
          if (rows.length < fetchSize) break;
        }
        await client.query('COMMIT');
        finished = true;
      } catch (e) {
        failure = e;
        fail('export')(e);
      } finally {
        // Ended early (the reader stopped) or failed: end the transaction; a connection that cannot is dropped.
        if (!finished) await client.query('ROLLBACK').catch((e: unknown) => (failure = e));
        client.release(failure !== undefined && isConnectionError(failure) ? toError(failure) : false);
      }
    },
  };
}
