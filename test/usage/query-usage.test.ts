import DataLoader from 'dataloader';
import { beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/core/index.ts';
import { bucketIndex } from '../../src/usage/latency-histogram.ts';
import { MemoryLedgerSink } from '../../src/usage/memory-ledger-sink.ts';
import {
  queryUsage,
  queryUsageBatch,
  scopeUsageFilter,
  usageQueryKey,
  type UsageQueryInput,
  type UsageReport,
  type UsageStats,
} from '../../src/usage/query-usage.ts';
import { createUsageLedger } from '../../src/usage/usage-ledger.ts';
import type { UsageEvent } from '../../src/core/index.ts';
import { expectedTotals, generateEvents, makeEvent, manualSchedule, PROVIDERS, T0, trueQuantile } from './usage-events.ts';

const HOUR = 3_600_000;
const whole = { from: new Date(T0), to: new Date(T0 + 3 * HOUR) };

function expectTotals(stats: UsageStats, events: readonly UsageEvent[]) {
  const want = expectedTotals(events);
  expect({
    requests: stats.requests,
    errors: stats.errors,
    inputTokens: stats.inputTokens,
    outputTokens: stats.outputTokens,
    cachedInputTokens: stats.cachedInputTokens,
    cacheWriteTokens: stats.cacheWriteTokens,
    reasoningTokens: stats.reasoningTokens,
    costUsd: stats.costUsd,
    unpricedRequests: stats.unpricedRequests,
    estimatedRequests: stats.estimatedRequests,
    cacheHits: stats.cacheHits,
    errorRate: stats.errorRate,
    cacheHitRate: stats.cacheHitRate,
  }).toEqual(want);
}

function expectPercentiles(stats: UsageStats, events: readonly UsageEvent[]) {
  for (const [q, got] of [[0.5, stats.latencyP50Ms], [0.95, stats.latencyP95Ms], [0.99, stats.latencyP99Ms]] as const) {
    const truth = trueQuantile(events, q);
    expect(got).not.toBeNull();
    // Interpolation inside the bucket that holds the true rank keeps the estimate in the truth's own
    // bucket: stricter than the "within one bucket" the issue asks for.
    expect(bucketIndex(got!), `p${q * 100}: ${got} vs true ${truth}`).toBe(bucketIndex(truth));
  }
}

async function load(events: readonly UsageEvent[], sink = new MemoryLedgerSink()) {
  const ledger = createUsageLedger({ sink, schedule: manualSchedule, maxBatch: 97 });
  for (const e of events) ledger.record(e);
  await ledger.flush();
  return sink;
}

describe('queryUsage over a known set of events', () => {
  const events = generateEvents(1500, 7);
  let sink: MemoryLedgerSink;
  beforeAll(async () => {
    sink = await load(events);
  });

  it('totals equal the events exactly; percentiles within one bucket', async () => {
    const r = await queryUsage(sink, { filter: whole, interval: 'hour' });
    expectTotals(r.totals, events);
    expectPercentiles(r.totals, events);
    expect(r.totals.errorsByKind).toEqual(
      events.filter((e) => e.errorKind).reduce<Record<string, number>>((m, e) => ((m[e.errorKind!] = (m[e.errorKind!] ?? 0) + 1), m), {}),
    );
  });

  it('filters and groups: each group equals its own events; groups sum to the filtered total', async () => {
    const r = await queryUsage(sink, { filter: { ...whole, provider: 'sim-openai' }, groupBy: ['model', 'apiKey'], interval: 'hour' });
    const openai = events.filter((e) => e.provider === 'sim-openai');
    expectTotals(r.totals, openai);
    expect(r.series.length).toBe(new Set(openai.map((e) => `${e.model}|${e.keyName}`)).size);
    for (const s of r.series) {
      const mine = openai.filter((e) => e.model === s.group.model && e.keyName === s.group.apiKey);
      expectTotals(s.totals, mine);
      expect(s.points.reduce((n, p) => n + p.stats.requests, 0)).toBe(mine.length);
    }
    const team = await queryUsage(sink, { filter: { ...whole, team: 'data', route: 'cheap' } });
    expectTotals(team.totals, events.filter((e) => e.team === 'data' && e.route === 'cheap'));
  });

  it('series points per interval, in time order, each equal to its events', async () => {
    const r = await queryUsage(sink, { filter: whole, interval: 'hour' });
    expect(r.series).toHaveLength(1);
    const points = r.series[0]!.points;
    expect(points.map((p) => p.start.getTime())).toEqual([T0, T0 + HOUR, T0 + 2 * HOUR]);
    points.forEach((p, i) => expectTotals(p.stats, events.filter((e) => e.time >= T0 + i * HOUR && e.time < T0 + (i + 1) * HOUR)));
    const byMinute = await queryUsage(sink, { filter: { from: new Date(T0), to: new Date(T0 + HOUR) }, interval: 'minute' });
    expect(byMinute.series[0]!.points.length).toBeGreaterThan(50);
    expect(byMinute.totals.requests).toBe(events.filter((e) => e.time < T0 + HOUR).length);
  });

  it('an unaligned range is answered from minute rollups, exact to the minute', async () => {
    const from = T0 + 17 * 60_000;
    const to = T0 + HOUR + 43 * 60_000;
    const r = await queryUsage(sink, { filter: { from: new Date(from), to: new Date(to) }, interval: 'day' });
    expectTotals(r.totals, events.filter((e) => e.time >= from && e.time < to));
    expect(r.series[0]!.points).toHaveLength(1);
  });

  it('groups with no team report null, not an empty string', async () => {
    const r = await queryUsage(sink, { filter: whole, groupBy: ['team'] });
    expect(r.series.map((s) => s.group.team).sort()).toEqual(['data', 'frontend', null]);
  });
});

describe('two instances sharing one sink', () => {
  it('sum exactly to the whole', async () => {
    const events = generateEvents(800, 11);
    const shared = new MemoryLedgerSink();
    const a = createUsageLedger({ sink: shared, schedule: manualSchedule, maxBatch: 50 });
    const b = createUsageLedger({ sink: shared, schedule: manualSchedule, maxBatch: 64 });
    events.forEach((e, i) => (i % 3 === 0 ? a : b).record(e));
    await Promise.all([a.flush(), b.flush()]);
    const r = await queryUsage(shared, { filter: whole, groupBy: ['provider'] });
    expectTotals(r.totals, events);
    expectPercentiles(r.totals, events);
    for (const s of r.series) expectTotals(s.totals, events.filter((e) => e.provider === s.group.provider));
  });
});

describe('batch reads for DataLoader', () => {
  it('20 providers\' usage in ONE sink read', async () => {
    const providers = Array.from({ length: 20 }, (_, i) => `p${i}`);
    const events = providers.flatMap((p, i) => Array.from({ length: i + 1 }, (_, j) => makeEvent({ id: `${p}-${j}`, provider: p, time: T0 + j * 60_000 })));
    const sink = await load(events);
    sink.reads = 0;
    const loader = new DataLoader<UsageQueryInput, UsageReport, string>(
      (keys) => queryUsageBatch(sink, keys),
      { cacheKeyFn: usageQueryKey },
    );
    const reports = await Promise.all(providers.map((provider) => loader.load({ filter: { ...whole, provider } })));
    expect(sink.reads).toBe(1);
    reports.forEach((r, i) => expectTotals(r.totals, events.filter((e) => e.provider === providers[i])));
  });

  it('queries with different ranges and intervals still read once; a bad one fails alone', async () => {
    const events = generateEvents(300, 3);
    const sink = await load(events);
    sink.reads = 0;
    const results = await queryUsageBatch(sink, [
      { filter: { ...whole, provider: PROVIDERS[0] }, interval: 'hour' },
      { filter: { from: new Date(T0 + 5 * 60_000), to: new Date(T0 + HOUR) }, interval: 'minute' },
      { filter: { from: new Date(T0 + HOUR), to: new Date(T0) } },
    ]);
    expect(sink.reads).toBe(1);
    expectTotals((results[0] as UsageReport).totals, events.filter((e) => e.provider === PROVIDERS[0]));
    expectTotals((results[1] as UsageReport).totals, events.filter((e) => e.time >= T0 + 5 * 60_000 && e.time < T0 + HOUR));
    expect(results[2]).toBeInstanceOf(GatewayError);
    expect(results[2]).toMatchObject({ kind: 'invalid_request', param: 'filter.to' });
  });
});

describe('input and access', () => {
  const sink = new MemoryLedgerSink();

  it('bad input is an invalid_request naming the field', async () => {
    await expect(queryUsage(sink, { filter: { from: 'yesterday' as unknown as Date, to: new Date() } })).rejects.toMatchObject({ kind: 'invalid_request', param: 'filter.from' });
    await expect(queryUsage(sink, { filter: whole, groupBy: ['region' as 'team'] })).rejects.toMatchObject({ param: 'groupBy.0' });
    await expect(queryUsage(sink, { filter: { from: new Date(T0), to: new Date(T0 + 30 * 86_400_000) }, interval: 'minute' })).rejects.toMatchObject({ param: 'interval' });
  });

  it('a client key sees only its own usage', () => {
    const client = { name: 'web', scope: 'client' as const };
    expect(scopeUsageFilter({ ...whole }, client)).toMatchObject({ apiKey: 'web' });
    expect(() => scopeUsageFilter({ ...whole, apiKey: 'batch' }, client)).toThrow(GatewayError);
    expect(scopeUsageFilter({ ...whole, apiKey: 'batch' }, { name: 'ops', scope: 'admin' })).toMatchObject({ apiKey: 'batch' });
  });
});
