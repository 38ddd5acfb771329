import type { UsageDimension, UsageEvent } from './usage-event.ts';

/**
 * The usage ledger's storage contract: the ledger (src/usage/) writes batches and reads them back, a
 * backend (the memory sink in usage, the Redis sink in the store) keeps them. Both sides read it here.
 */

/** Rollup granularities and their bucket widths. */
export const GRANULARITY_MS = { minute: 60_000, hour: 3_600_000 } as const;
export type Granularity = keyof typeof GRANULARITY_MS;

/**
 * How long the store's sinks keep rollups of each granularity by default (minutes 48 h, hours 90 days);
 * older ranges are answered by the durable ledger when one is configured (config `ledger`).
 */
export const ROLLUP_RETENTION_MS: Readonly<Record<Granularity, number>> = { minute: 48 * 3_600_000, hour: 90 * 86_400_000 };

/**
 * One combination of dimension values. Rollups are kept per combination (not per single dimension) so
 * any filter and any grouping is an exact sum of rows; the number of combinations is what traffic
 * actually uses (keys × routes × models served), not the product of every possible value.
 * '' stands for "none" (no provider reached, no team). `operation` is `chat` or `embeddings`.
 */
export type RollupDims = Record<UsageDimension, string>;

/**
 * Counters of one rollup row; every value is an integer so stores can add them with plain integer
 * increments (Redis HINCRBY) and sums are exact. Names:
 * requests, errors, cacheHits, unpriced, estimated, inputTokens, outputTokens, cachedInputTokens,
 * cacheWriteTokens, reasoningTokens, costE10 (cost in units of 1e-10 USD), latencySumMs,
 * `lat<i>` (latency histogram bucket i, see LATENCY_BUCKETS_MS), `err:<kind>` (errors by kind).
 */
export type RollupCounters = Record<string, number>;

export interface RollupRow {
  granularity: Granularity;
  /** Epoch ms of the bucket's start (a multiple of the granularity). */
  bucketStart: number;
  dims: RollupDims;
  counters: RollupCounters;
}

export interface LedgerBatch {
  /** Unique per batch and unchanged when a failed batch is retried, so a sink can drop a duplicate write. */
  id: string;
  events: readonly UsageEvent[];
  /** Increments for both granularities, already summed per (granularity, bucket, dims) within the batch. */
  increments: readonly RollupRow[];
}

/**
 * Where the ledger keeps events and rollups: the memory sink in process, the Redis store across
 * instances. Exactly three operations, each one round trip:
 * - `write`: append the batch's events to a bounded stream (oldest trimmed first; Redis XADD MAXLEN ~)
 *   and add every increment to its rollup counters (Redis HINCRBY on a hash per bucket, with a TTL per
 *   granularity). All or nothing (Redis MULTI or a script), and a batch id already applied is ignored,
 *   so retrying after a failure never counts twice. Rejects when the store is unreachable.
 * - `readRollups`: every row of one granularity whose bucketStart is in [from, to).
 * - `readEvents`: recent events, newest first (serves `completions`).
 */
export interface LedgerSink {
  write(batch: LedgerBatch): Promise<void>;
  readRollups(q: { granularity: Granularity; from: number; to: number }): Promise<RollupRow[]>;
  readEvents(q: { limit: number; before?: string | undefined }): Promise<UsageEvent[]>;
}

/**
 * Stable key of a dims combination (field order fixed), for maps and hash fields. A chat row's key has
 * five fields, as before operations were a dimension, so rollups already stored keep adding up.
 */
export function dimsKey(d: RollupDims): string {
  return d.operation === 'chat'
    ? JSON.stringify([d.provider, d.model, d.route, d.keyName, d.team])
    : JSON.stringify([d.provider, d.model, d.route, d.keyName, d.team, d.operation]);
}

export function parseDimsKey(key: string): RollupDims {
  const [provider = '', model = '', route = '', keyName = '', team = '', operation = 'chat'] = JSON.parse(key) as string[];
  return { provider, model, route, keyName, team, operation };
}

/**
 * An aggregation a durable ledger computes itself over its events (PostgreSQL: one GROUP BY), for ranges
 * older than the store's rollups keep. Rows carry the same counters as rollup rows, so the usage queries
 * sum them with the same code.
 */
export interface LedgerAggregateQuery {
  /** Events whose time is in [from, to) (epoch ms). */
  from: number;
  to: number;
  /** Rows are summed per bucket of this width (aligned to multiples of it since the epoch). */
  bucketMs: number;
  /** Only events with these dimension values ('' stands for none, as in RollupDims). */
  where: Partial<RollupDims>;
  /** Dimensions rows are kept apart by; the others are summed over and come back as ''. */
  groupBy: readonly UsageDimension[];
}

export interface LedgerAggregateRow {
  bucketStart: number;
  dims: RollupDims;
  counters: RollupCounters;
}

/** A durable ledger's reads beyond LedgerSink's: aggregations over any range, and events by position. */
export interface LedgerArchive {
  aggregate(q: LedgerAggregateQuery): Promise<LedgerAggregateRow[]>;
  /** Events older than `before` in (time, id) order, newest first; from the newest when `before` is undefined. */
  readEventsBefore(q: { limit: number; before?: { time: number; id: string } | undefined }): Promise<UsageEvent[]>;
  /** The time of the event with this id, if the ledger holds it. */
  eventTime(id: string): Promise<number | undefined>;
}
