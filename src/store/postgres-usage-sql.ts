import {
  ERROR_KINDS,
  USAGE_DIMENSIONS,
  type LedgerAggregateQuery,
  type LedgerAggregateRow,
  type RollupCounters,
  type RollupDims,
  type UsageDimension,
} from '../core/index.ts';
import type { PgQueryable } from './postgres-connection.ts';
import { LEDGER_TABLE } from './postgres-migrations.ts';

/**
 * Usage aggregation over the events table, in SQL: per time bucket and per combination of the dimensions
 * asked for, the same counters the rollups keep (src/usage/rollups.ts `countersOf`), so a report summed
 * from these rows equals one summed from the store's rollups for the same events. The rounding matches
 * too: cost in 1e-10 USD and latency in ms are rounded per event (floor(x + 0.5), as Math.round), then summed.
 */

const COLUMN_OF: Record<UsageDimension, string> = {
  provider: 'provider',
  model: 'model',
  route: 'route',
  keyName: 'key_name',
  team: 'team',
  operation: 'operation',
};

/** A dimension as the rollups hold it: '' for none. */
const dimExpr = (d: UsageDimension) => `coalesce(${COLUMN_OF[d]}, '')`;

/** Scalar counters: [counter name, SQL aggregate]. */
const SCALARS: ReadonlyArray<readonly [string, string]> = [
  ['requests', 'count(*)'],
  ['errors', "count(*) FILTER (WHERE status = 'error')"],
  ['cacheHits', 'count(*) FILTER (WHERE cache_hit)'],
  ['estimated', 'count(*) FILTER (WHERE usage_estimated)'],
  ['unpriced', "count(*) FILTER (WHERE cost_usd IS NULL AND status = 'ok')"],
  ['inputTokens', 'sum(input_tokens)'],
  ['outputTokens', 'sum(output_tokens)'],
  ['cachedInputTokens', 'sum(cached_input_tokens)'],
  ['cacheWriteTokens', 'sum(cache_write_tokens)'],
  ['reasoningTokens', 'sum(reasoning_tokens)'],
  ['costE10', 'sum(floor(cost_usd * 1e10::float8 + 0.5::float8)::bigint)'],
  ['latencySumMs', 'sum(floor(latency_ms + 0.5::float8)::bigint)'],
];

/** Error kinds are a closed set (src/core/gateway-error.ts), so each is a filtered count of its own. */
for (const k of ERROR_KINDS) if (!/^[a-z_]+$/.test(k)) throw new Error(`error kind ${k} cannot be a SQL literal`);

/** `CASE WHEN latency_ms <= 5 THEN 0 WHEN … ELSE n END`: the index of the first bound ≥ the latency (bucketIndex). */
function latencyBucketExpr(bounds: readonly number[]): string {
  for (const b of bounds) if (!Number.isFinite(b)) throw new Error('latency bucket bounds must be finite numbers');
  return `CASE ${bounds.map((b, i) => `WHEN latency_ms <= ${b} THEN ${i}`).join(' ')} ELSE ${bounds.length} END`;
}

export interface UsageSql {
  aggregate(q: LedgerAggregateQuery): Promise<LedgerAggregateRow[]>;
}

/**
 * @param latencyBucketsMs the usage module's histogram bounds (LATENCY_BUCKETS_MS), passed in by the
 *   composition root: the store does not import the usage module, and the buckets must be the same.
 */
export function createUsageSql(db: PgQueryable, latencyBucketsMs: readonly number[]): UsageSql {
  const nLat = latencyBucketsMs.length + 1;
  const selectCounters = [
    ...SCALARS.map(([, sql], i) => `${sql} AS s${i}`),
    ...Array.from({ length: nLat }, (_, i) => `count(*) FILTER (WHERE lat = ${i}) AS l${i}`),
    ...ERROR_KINDS.map((k, i) => `count(*) FILTER (WHERE status = 'error' AND coalesce(error_kind, 'internal') = '${k}') AS e${i}`),
  ].join(',\n  ');
  const latExpr = latencyBucketExpr(latencyBucketsMs);

  return {
    async aggregate(q: LedgerAggregateQuery): Promise<LedgerAggregateRow[]> {
      if (!Number.isInteger(q.bucketMs) || q.bucketMs <= 0) throw new Error('bucketMs must be a positive integer');
      if (q.to <= q.from) return [];
      const values: unknown[] = [new Date(q.from).toISOString(), new Date(q.to).toISOString(), q.bucketMs];
      const conditions = ['event_time >= $1::timestamptz', 'event_time < $2::timestamptz'];
      for (const d of USAGE_DIMENSIONS) {
        const want = q.where[d];
        if (want === undefined) continue;
        values.push(want);
        conditions.push(`${dimExpr(d)} = $${values.length}::text`);
      }
      const groups = USAGE_DIMENSIONS.filter((d) => q.groupBy.includes(d));
      const groupCols = groups.map((d, i) => `${dimExpr(d)} AS g${i}`);
      const sql = `
SELECT (((extract(epoch FROM event_time) * 1000)::bigint) / $3::bigint) * $3::bigint AS b${groupCols.map((c) => `, ${c}`).join('')},
  ${selectCounters}
FROM (SELECT *, ${latExpr} AS lat FROM ${LEDGER_TABLE} WHERE ${conditions.join(' AND ')}) e
GROUP BY ${['1', ...groups.map((_, i) => String(i + 2))].join(', ')}
ORDER BY ${['1', ...groups.map((_, i) => String(i + 2))].join(', ')}`;
      const { rows } = await db.query<Record<string, string | number | null>>(sql, values);
      return rows.map((r) => {
        const dims: RollupDims = { provider: '', model: '', route: '', keyName: '', team: '', operation: '' };
        for (const d of USAGE_DIMENSIONS) dims[d] = q.where[d] ?? '';
        groups.forEach((d, i) => (dims[d] = String(r[`g${i}`] ?? '')));
        const counters: RollupCounters = {};
        const put = (name: string, v: string | number | null | undefined) => {
          const n = Number(v ?? 0);
          if (n !== 0) counters[name] = n;
        };
        SCALARS.forEach(([name], i) => put(name, r[`s${i}`]));
        for (let i = 0; i < nLat; i++) put(`lat${i}`, r[`l${i}`]);
        ERROR_KINDS.forEach((k, i) => put(`err:${k}`, r[`e${i}`]));
        return { bucketStart: Number(r.b), dims, counters };
      });
    },
  };
}
