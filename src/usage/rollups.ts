import { GRANULARITY_MS, dimsKey, type RollupCounters, type RollupDims, type RollupRow, type UsageEvent } from '../core/index.ts';
import { bucketIndex } from './latency-histogram.ts';

export function dimsOf(e: UsageEvent): RollupDims {
  return { provider: e.provider ?? '', model: e.model ?? '', route: e.route, keyName: e.keyName ?? '', team: e.team ?? '', operation: e.operation ?? 'chat' };
}

/** The counters one event adds. */
export function countersOf(e: UsageEvent): RollupCounters {
  const c: RollupCounters = {
    requests: 1,
    inputTokens: e.tokens.input,
    outputTokens: e.tokens.output,
    cachedInputTokens: e.tokens.cachedInput,
    cacheWriteTokens: e.tokens.cacheWrite,
    reasoningTokens: e.tokens.reasoning,
    latencySumMs: Math.round(e.latencyMs),
    [`lat${bucketIndex(e.latencyMs)}`]: 1,
  };
  if (e.status === 'error') {
    c.errors = 1;
    c[`err:${e.errorKind ?? 'internal'}`] = 1;
  }
  if (e.cacheHit) c.cacheHits = 1;
  if (e.usageEstimated) c.estimated = 1;
  if (e.costUsd !== null) c.costE10 = Math.round(e.costUsd * 1e10);
  else if (e.status === 'ok') c.unpriced = 1;
  return c;
}

export function addCounters(into: RollupCounters, from: RollupCounters): RollupCounters {
  for (const k in from) into[k] = (into[k] ?? 0) + from[k]!;
  return into;
}

/** A batch's rollup increments: per granularity, bucket and dims, summed across the batch's events. */
export function incrementsOf(events: readonly UsageEvent[]): RollupRow[] {
  const rows = new Map<string, RollupRow>();
  for (const e of events) {
    const dims = dimsOf(e);
    const dk = dimsKey(dims);
    const counters = countersOf(e);
    for (const granularity of ['minute', 'hour'] as const) {
      const width = GRANULARITY_MS[granularity];
      const bucketStart = Math.floor(e.time / width) * width;
      const key = `${granularity}:${bucketStart}:${dk}`;
      let row = rows.get(key);
      if (!row) rows.set(key, (row = { granularity, bucketStart, dims, counters: {} }));
      addCounters(row.counters, counters);
    }
  }
  return [...rows.values()];
}
