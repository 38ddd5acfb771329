/**
 * Reads from the durable ledger: a usage report answered by PostgreSQL's aggregation equals the one the
 * store's rollups give for the same events (every grouping, filter, interval, aligned or not); queries are
 * routed to PostgreSQL only when they reach back past the store's rollups; `completions` pages on past the
 * end of the store's bounded stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError, type UsageEvent } from '../../src/core/index.ts';
import { createPostgresPool, type PgPool } from '../../src/store/postgres-connection.ts';
import { createPostgresLedger, type PostgresLedger } from '../../src/store/postgres-ledger-sink.ts';
import { pageLedgerEvents } from '../../src/usage/completion-log.ts';
import { LATENCY_BUCKETS_MS } from '../../src/usage/latency-histogram.ts';
import { MemoryLedgerSink } from '../../src/usage/memory-ledger-sink.ts';
import { queryUsage, queryUsageBatch, type UsageQueryInput, type UsageReport } from '../../src/usage/query-usage.ts';
import { createUsageArchive, withArchivedEvents } from '../../src/usage/usage-archive.ts';
import { createUsageLedger } from '../../src/usage/usage-ledger.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-postgres.ts';
import { expectedTotals, generateEvents, makeEvent, manualSchedule, T0 } from '../usage/usage-events.ts';

let db: TestDatabase;
let pool: PgPool;
let pg: PostgresLedger;
const store = new MemoryLedgerSink({ maxEvents: 100_000 });
// 3 000 events over 30 hours from T0: several days' worth of hours, many minutes, errors, unpriced, cache hits.
const events = generateEvents(3_000, 11, 30 * 3_600_000).concat(
  // Embeddings, no-provider failures and an exact-bound latency, for the dimensions rollups treat specially.
  makeEvent({ id: 'emb-1', time: T0 + 90_000, operation: 'embeddings', latencyMs: 100, tokens: { input: 7, output: 0, cachedInput: 0, cacheWrite: 0, reasoning: 0 } }),
  makeEvent({ id: 'noprov-1', time: T0 + 95_500, provider: null, model: null, keyName: null, team: null, status: 'error', errorKind: 'invalid_request', costUsd: null, priceSource: 'none', latencyMs: 2.5 }),
  makeEvent({ id: 'half-1', time: T0 + 120_000, latencyMs: 0.5, costUsd: 0.00000000005 }),
);

/** An archive that answers every query (its store "keeps nothing"), to compare the two paths on one query. */
const always = () => createUsageArchive({ ledger: pg, hotSince: () => Number.POSITIVE_INFINITY });

/** Series in a fixed order: the store's order is its rows', PostgreSQL's the ORDER BY's; neither is promised. */
function normalized(r: UsageReport) {
  return { ...r, series: [...r.series].sort((a, b) => JSON.stringify(a.group).localeCompare(JSON.stringify(b.group))) };
}

beforeAll(async () => {
  db = await createTestDatabase('usage_archive');
  pool = createPostgresPool({ url: db.url, max: 3 });
  pg = createPostgresLedger({ pool, url: db.url, retentionDays: 36_500, latencyBucketsMs: LATENCY_BUCKETS_MS, now: () => T0 });
  await pg.ready();
  // The same events through both ledgers, as the gateway's recorder tees them.
  const hot = createUsageLedger({ sink: store, schedule: manualSchedule, maxBatch: 700 });
  const durable = createUsageLedger({ sink: pg, schedule: manualSchedule, maxBatch: 700 });
  for (const e of events) {
    hot.record(e);
    durable.record(e);
  }
  await Promise.all([hot.flush(), durable.flush()]);
  expect(durable.stats()).toMatchObject({ written: events.length, buffered: 0 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const H = 3_600_000;
const QUERIES: Array<[string, UsageQueryInput]> = [
  ['whole span by the hour, hour-aligned (hour rollups)', { filter: { from: new Date(T0 - H), to: new Date(T0 + 31 * H) } }],
  ['by the day, grouped by provider and model', { filter: { from: new Date(T0 - 10 * H), to: new Date(T0 + 38 * H) }, groupBy: ['provider', 'model'], interval: 'day' }],
  ['not aligned: minute rollups, by the hour, grouped by key and team', { filter: { from: new Date(T0 + 17 * 60_000 + 12_345), to: new Date(T0 + 7 * H + 59_999) }, groupBy: ['apiKey', 'team'] }],
  ['by the minute over two hours, filtered by route and provider', { filter: { from: new Date(T0 + H), to: new Date(T0 + 3 * H), route: 'cheap', provider: 'sim-openai' }, interval: 'minute' }],
  ['a day cut by the range, by the day, grouped by operation and route', { filter: { from: new Date(T0 + 90 * 60_000 + 30_000), to: new Date(T0 + 26 * H + 30_000) }, groupBy: ['operation', 'route'], interval: 'day' }],
  ['filtered by key, team and model', { filter: { from: new Date(T0), to: new Date(T0 + 30 * H), apiKey: 'batch', team: 'data', model: 'gpt-4o-mini' }, groupBy: ['route'] }],
  ['embeddings only', { filter: { from: new Date(T0), to: new Date(T0 + H), operation: 'embeddings' }, interval: 'minute' }],
  ['every dimension grouped', { filter: { from: new Date(T0), to: new Date(T0 + 4 * H) }, groupBy: ['provider', 'model', 'route', 'apiKey', 'team', 'operation'] }],
  ['nothing in range', { filter: { from: new Date(T0 + 100 * H), to: new Date(T0 + 101 * H) } }],
];

describe('usage from PostgreSQL equals usage from the store for the same events', () => {
  for (const [name, input] of QUERIES) {
    it(name, async () => {
      const fromStore = await queryUsage(store, input);
      const fromPg = await queryUsage(store, input, always());
      expect(normalized(fromPg)).toEqual(normalized(fromStore));
      // The PostgreSQL ledger is a LedgerSink as well: its rollups (GROUP BY per bucket) give the same report.
      expect(normalized(await queryUsage(pg, input))).toEqual(normalized(fromStore));
    });
  }

  it('and equals totals summed straight from the events', async () => {
    const r = await queryUsage(store, { filter: { from: new Date(T0 - H), to: new Date(T0 + 31 * H) } }, always());
    const want = expectedTotals(events);
    expect(r.totals).toMatchObject({ ...want, costUsd: expect.closeTo(want.costUsd, 12) });
    expect(r.totals.requests).toBe(events.length);
  });
});

describe('which ledger answers', () => {
  it('a range older than the store keeps goes to PostgreSQL, a recent one to the store, one batch', async () => {
    // The store here holds nothing; PostgreSQL holds everything: who answered shows in the counts.
    const empty = new MemoryLedgerSink();
    const archive = createUsageArchive({ ledger: pg, hotSince: (g) => (g === 'minute' ? T0 + 10 * H : T0 + 20 * H) });
    const [old, recent, oldHourly, recentHourly, invalid] = await queryUsageBatch(
      empty,
      [
        { filter: { from: new Date(T0 + 9 * H + 60_001), to: new Date(T0 + 11 * H) } }, // minute rollups, starts before T0+10h
        { filter: { from: new Date(T0 + 10 * H + 60_001), to: new Date(T0 + 11 * H) } }, // minute rollups, within
        { filter: { from: new Date(T0 + 19 * H), to: new Date(T0 + 21 * H) } }, // hour rollups, starts before T0+20h
        { filter: { from: new Date(T0 + 20 * H), to: new Date(T0 + 21 * H) } },
        { filter: { from: new Date(T0 + 2 * H), to: new Date(T0 + H) } },
      ],
      archive,
    );
    const n = (r: unknown) => (r as UsageReport).totals.requests;
    const inRange = (from: number, to: number) => events.filter((e) => e.time >= from && e.time < to).length;
    expect(n(old)).toBe(inRange(T0 + 9 * H + 120_000, T0 + 11 * H));
    expect(n(old)).toBeGreaterThan(0);
    expect(n(recent)).toBe(0);
    expect(n(oldHourly)).toBe(inRange(T0 + 19 * H, T0 + 21 * H));
    expect(n(recentHourly)).toBe(0);
    expect(invalid).toBeInstanceOf(GatewayError);
    expect(empty.reads).toBe(1);
  });

  it('an archive that fails answers its own queries with an error; the store still answers the others', async () => {
    const archive = createUsageArchive({
      ledger: { aggregate: () => Promise.reject(new GatewayError('unavailable', 'durable ledger unavailable (aggregate): ECONNREFUSED')) },
      hotSince: () => T0 + 10 * H,
    });
    const [old, recent] = await queryUsageBatch(store, [{ filter: { from: new Date(T0), to: new Date(T0 + H) } }, { filter: { from: new Date(T0 + 11 * H), to: new Date(T0 + 12 * H) } }], archive);
    expect(old).toBeInstanceOf(GatewayError);
    expect((old as GatewayError).kind).toBe('unavailable');
    expect((recent as UsageReport).totals.requests).toBe(events.filter((e) => e.time >= T0 + 11 * H && e.time < T0 + 12 * H).length);
  });
});

describe('completions past the end of the store stream', () => {
  it('pages newest first through the store, then PostgreSQL, every event once', async () => {
    // The store stream keeps the newest 25 events only.
    const newestFirst = [...events].sort((a, b) => b.time - a.time || (b.id < a.id ? -1 : 1));
    const short = new MemoryLedgerSink({ maxEvents: 25 });
    await short.write({ id: 'recent', events: [...newestFirst.slice(0, 25)].reverse(), increments: [] });
    const source = withArchivedEvents(short, pg);
    const seen: UsageEvent[] = [];
    let after: string | undefined;
    for (let page = 0; page < 20; page++) {
      const { items, hasNextPage } = await pageLedgerEvents(source, { first: 7, after });
      seen.push(...items);
      if (!hasNextPage) break;
      after = items.at(-1)!.id;
    }
    expect(seen.map((e) => e.id)).toEqual(newestFirst.slice(0, seen.length).map((e) => e.id));
    expect(seen.length).toBe(7 * 20);
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    // With a filter (a client key's own requests), deep pages come from PostgreSQL too.
    const mine = await pageLedgerEvents(source, { first: 40, filter: (e) => e.keyName === 'ops' });
    expect(mine.items.map((e) => e.id)).toEqual(newestFirst.filter((e) => e.keyName === 'ops').slice(0, 40).map((e) => e.id));
  });

  it('an empty store (a memory store after a restart) pages from PostgreSQL from the newest', async () => {
    const source = withArchivedEvents(new MemoryLedgerSink(), pg);
    const first = await source.readEvents({ limit: 3 });
    const newest = [...events].sort((a, b) => b.time - a.time || (b.id < a.id ? -1 : 1));
    expect(first.map((e) => e.id)).toEqual(newest.slice(0, 3).map((e) => e.id));
    expect((await source.readEvents({ limit: 2, before: first[2]!.id })).map((e) => e.id)).toEqual(newest.slice(3, 5).map((e) => e.id));
    expect(await source.readEvents({ limit: 2, before: 'unknown-id' })).toEqual([]);
  });
});
