import { z } from 'zod';
import { emptyBuckets, quantile } from './latency-histogram.ts';
import { GatewayError, GRANULARITY_MS, type Granularity, type LedgerSink, type RollupCounters, type RollupRow, type UsageDimension } from '../core/index.ts';
import { addCounters } from './rollups.ts';

export const USAGE_GROUP_BY = ['provider', 'model', 'route', 'apiKey', 'team', 'operation'] as const;
export type UsageGroupBy = (typeof USAGE_GROUP_BY)[number];
export const USAGE_INTERVALS = ['minute', 'hour', 'day'] as const;
export type UsageInterval = (typeof USAGE_INTERVALS)[number];

/** `apiKey` filters and groups by the key's configured name (the ledger never holds a key). */
export const UsageFilterSchema = z
  .strictObject({
    from: z.coerce.date(),
    to: z.coerce.date(),
    provider: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    route: z.string().min(1).optional(),
    apiKey: z.string().min(1).optional(),
    team: z.string().min(1).optional(),
    operation: z.enum(['chat', 'embeddings']).optional(),
  })
  .refine((f) => f.to.getTime() > f.from.getTime(), { message: '`to` must be after `from`', path: ['to'] });

export const UsageQuerySchema = z.strictObject({
  filter: UsageFilterSchema,
  groupBy: z.array(z.enum(USAGE_GROUP_BY)).default([]),
  interval: z.enum(USAGE_INTERVALS).default('hour'),
});

export type UsageFilter = z.infer<typeof UsageFilterSchema>;
export type UsageQuery = z.infer<typeof UsageQuerySchema>;
export type UsageQueryInput = z.input<typeof UsageQuerySchema>;

export interface UsageStats {
  requests: number;
  errors: number;
  /** errors / requests; 0 when there were no requests. */
  errorRate: number;
  errorsByKind: Record<string, number>;
  /** All prompt tokens, cached reads and cache writes included (see Usage). */
  inputTokens: number;
  /** All output tokens, reasoning included. */
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  /** Sum over priced requests; see unpricedRequests for those without a price. */
  costUsd: number;
  unpricedRequests: number;
  estimatedRequests: number;
  cacheHits: number;
  cacheHitRate: number;
  latencyMeanMs: number | null;
  /** From the fixed-bucket histogram: within one bucket of the true value. */
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  latencyP99Ms: number | null;
}

export type UsageGroup = Partial<Record<UsageGroupBy, string | null>>;

export interface UsagePoint {
  start: Date;
  stats: UsageStats;
}

export interface UsageSeries {
  group: UsageGroup;
  /** Only intervals with at least one request, in time order. */
  points: UsagePoint[];
  totals: UsageStats;
}

export interface UsageReport {
  from: Date;
  to: Date;
  interval: UsageInterval;
  groupBy: UsageGroupBy[];
  /** One per distinct group (a single series with an empty group when groupBy is empty). */
  series: UsageSeries[];
  totals: UsageStats;
}

/** More points than this in one series is a mistake (a year by the minute), not a dashboard. */
const MAX_POINTS = 10_000;

export const DIMENSION_OF: Record<UsageGroupBy, UsageDimension> = {
  provider: 'provider',
  model: 'model',
  route: 'route',
  apiKey: 'keyName',
  team: 'team',
  operation: 'operation',
};

export const INTERVAL_MS: Record<UsageInterval, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

function parseQuery(input: UsageQueryInput): UsageQuery {
  const r = UsageQuerySchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const param = issue.path.join('.');
    throw new GatewayError('invalid_request', `usage query ${param}: ${issue.message}`, { param });
  }
  const q = r.data;
  if ((q.filter.to.getTime() - q.filter.from.getTime()) / INTERVAL_MS[q.interval] > MAX_POINTS) {
    throw new GatewayError('invalid_request', `usage query spans more than ${MAX_POINTS} ${q.interval}s; use a longer interval`, { param: 'interval' });
  }
  return q;
}

/**
 * Hour rollups answer exactly only for hour-aligned ranges; anything else (and per-minute series)
 * is read from minute rollups, which are kept for a shorter time.
 */
function granularityFor(q: UsageQuery): Granularity {
  const h = GRANULARITY_MS.hour;
  return q.interval !== 'minute' && q.filter.from.getTime() % h === 0 && q.filter.to.getTime() % h === 0 ? 'hour' : 'minute';
}

function stats(c: RollupCounters): UsageStats {
  const n = (k: string) => c[k] ?? 0;
  const requests = n('requests');
  const errors = n('errors');
  const buckets = emptyBuckets();
  for (let i = 0; i < buckets.length; i++) buckets[i] = n(`lat${i}`);
  const errorsByKind: Record<string, number> = {};
  for (const k in c) if (k.startsWith('err:')) errorsByKind[k.slice(4)] = c[k]!;
  const input = n('inputTokens');
  const output = n('outputTokens');
  return {
    requests,
    errors,
    errorRate: requests ? errors / requests : 0,
    errorsByKind,
    inputTokens: input,
    outputTokens: output,
    cachedInputTokens: n('cachedInputTokens'),
    cacheWriteTokens: n('cacheWriteTokens'),
    reasoningTokens: n('reasoningTokens'),
    totalTokens: input + output,
    costUsd: n('costE10') / 1e10,
    unpricedRequests: n('unpriced'),
    estimatedRequests: n('estimated'),
    cacheHits: n('cacheHits'),
    cacheHitRate: requests ? n('cacheHits') / requests : 0,
    latencyMeanMs: requests ? n('latencySumMs') / requests : null,
    latencyP50Ms: quantile(buckets, 0.5),
    latencyP95Ms: quantile(buckets, 0.95),
    latencyP99Ms: quantile(buckets, 0.99),
  };
}

function matches(row: RollupRow, q: UsageQuery, granularity: Granularity): boolean {
  if (row.granularity !== granularity) return false;
  if (row.bucketStart < q.filter.from.getTime() || row.bucketStart >= q.filter.to.getTime()) return false;
  for (const g of USAGE_GROUP_BY) {
    const want = q.filter[g];
    if (want !== undefined && row.dims[DIMENSION_OF[g]] !== want) return false;
  }
  return true;
}

function report(rows: readonly RollupRow[], q: UsageQuery, granularity: Granularity): UsageReport {
  const width = INTERVAL_MS[q.interval];
  const series = new Map<string, { group: UsageGroup; points: Map<number, RollupCounters>; totals: RollupCounters }>();
  const totals: RollupCounters = {};
  for (const row of rows) {
    if (!matches(row, q, granularity)) continue;
    const group: UsageGroup = {};
    for (const g of q.groupBy) group[g] = row.dims[DIMENSION_OF[g]] || null;
    const gk = JSON.stringify(q.groupBy.map((g) => group[g]));
    let s = series.get(gk);
    if (!s) series.set(gk, (s = { group, points: new Map(), totals: {} }));
    const start = Math.floor(row.bucketStart / width) * width;
    const point = s.points.get(start) ?? {};
    s.points.set(start, addCounters(point, row.counters));
    addCounters(s.totals, row.counters);
    addCounters(totals, row.counters);
  }
  return {
    from: q.filter.from,
    to: q.filter.to,
    interval: q.interval,
    groupBy: q.groupBy,
    series: [...series.values()].map((s) => ({
      group: s.group,
      points: [...s.points.entries()].sort((a, b) => a[0] - b[0]).map(([start, c]) => ({ start: new Date(start), stats: stats(c) })),
      totals: stats(s.totals),
    })),
    totals: stats(totals),
  };
}

/**
 * Where usage older than the store's rollups keep is read: the durable ledger (config `ledger`), which
 * aggregates its own events (src/usage/usage-archive.ts). A query whose range starts before `hotSince`
 * of its granularity is answered by the archive, whole; a recent one by the store, as without an archive.
 */
export interface UsageArchive {
  /** Epoch ms from which the store's rollups of this granularity are complete (now minus their retention). */
  hotSince(granularity: Granularity): number;
  /**
   * Rows that `report` reads as it reads the store's: at `granularity`, bucketStart in [from, to), only
   * events the filter lets through, summed per point of the query's interval and per group.
   */
  rollups(q: UsageQuery, granularity: Granularity): Promise<RollupRow[]>;
}

function fromArchive(q: UsageQuery, granularity: Granularity, archive: UsageArchive | undefined): archive is UsageArchive {
  return archive !== undefined && q.filter.from.getTime() < archive.hotSince(granularity);
}

/**
 * Usage over [from, to) from the ledger's rollups, by event end time, to the minute (or hour for
 * hour-aligned ranges). Totals are exact sums; percentiles come from the merged histogram. Events
 * still waiting in a ledger's buffer are not visible until flushed. With an archive, a range older than
 * the store's rollups keep is read from it.
 */
export async function queryUsage(sink: LedgerSink, input: UsageQueryInput, archive?: UsageArchive): Promise<UsageReport> {
  const q = parseQuery(input);
  const granularity = granularityFor(q);
  const rows = fromArchive(q, granularity, archive)
    ? await archive.rollups(q, granularity)
    : await sink.readRollups({ granularity, from: q.filter.from.getTime(), to: q.filter.to.getTime() });
  return report(rows, q, granularity);
}

/**
 * Many usage queries (one per provider, model or route of a GraphQL response) answered from ONE sink
 * read: the rows of the union of their ranges, at the finest granularity any of them needs. Shaped as
 * a DataLoader batch function; an invalid query yields its error in its slot.
 */
export async function queryUsageBatch(sink: LedgerSink, inputs: readonly UsageQueryInput[], archive?: UsageArchive): Promise<(UsageReport | GatewayError)[]> {
  const parsed = inputs.map((i) => {
    try {
      return parseQuery(i);
    } catch (e) {
      return e as GatewayError;
    }
  });
  // Queries reaching back past the store's rollups: one archive read each, in parallel; a failure is its own slot's error.
  const archived = new Map<UsageQuery, UsageReport | GatewayError>();
  await Promise.all(
    parsed.map(async (q) => {
      if (q instanceof GatewayError || !fromArchive(q, granularityFor(q), archive)) return;
      const g = granularityFor(q);
      archived.set(q, await archive.rollups(q, g).then(
        (rows) => report(rows, q, g),
        (e: unknown) => (e instanceof GatewayError ? e : new GatewayError('unavailable', 'usage archive unavailable', { cause: e })),
      ));
    }),
  );
  const valid = parsed.filter((q): q is UsageQuery => !(q instanceof GatewayError) && !archived.has(q));
  if (valid.length === 0) return parsed.map((q) => (q instanceof GatewayError ? q : archived.get(q)!));
  const granularity = valid.some((q) => granularityFor(q) === 'minute') ? 'minute' : 'hour';
  const from = Math.min(...valid.map((q) => q.filter.from.getTime()));
  const to = Math.max(...valid.map((q) => q.filter.to.getTime()));
  const rows = await sink.readRollups({ granularity, from, to });
  return parsed.map((q) => (q instanceof GatewayError ? q : (archived.get(q) ?? report(rows, q, granularity))));
}

/** A DataLoader cache key for a usage query (structurally equal queries share one result). */
export function usageQueryKey(input: UsageQueryInput): string {
  const f = input.filter;
  const ms = (d: unknown) => new Date(d as string | number | Date).getTime();
  return JSON.stringify([
    ms(f.from), ms(f.to), f.provider, f.model, f.route, f.apiKey, f.team,
    input.groupBy ?? [], input.interval ?? 'hour',
  ]);
}

/**
 * A client key sees only its own usage: its filter is pinned to its own key name, and asking for
 * another key's usage is refused rather than silently answered with its own.
 */
export function scopeUsageFilter<F extends object>(
  filter: F & { apiKey?: string | undefined },
  principal: { name: string; scope: 'admin' | 'client' } | undefined,
): F & { apiKey?: string | undefined } {
  if (!principal || principal.scope === 'admin') return filter;
  if (filter.apiKey !== undefined && filter.apiKey !== principal.name) {
    throw new GatewayError('forbidden', `key "${principal.name}" may only read its own usage`, { param: 'filter.apiKey' });
  }
  return { ...filter, apiKey: principal.name };
}
