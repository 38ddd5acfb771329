import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedisLedgerSink } from '../../src/store/redis-ledger-sink.ts';
import { pageLedgerEvents } from '../../src/usage/completion-log.ts';
import { incrementsOf } from '../../src/usage/rollups.ts';
import { MemoryLedgerSink } from '../../src/usage/memory-ledger-sink.ts';
import { queryUsage, type UsageQueryInput, type UsageReport } from '../../src/usage/query-usage.ts';
import { createUsageLedger } from '../../src/usage/usage-ledger.ts';
import { generateEvents, T0 } from '../usage/usage-events.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';

const PREFIX = `sbtest:${randomUUID()}:`;
const URL = TEST_REDIS.url;
const manual = () => ({ cancel() {} });
/** Series in a fixed order (a report lists groups in the order the sink returned rows). */
const sorted = (r: UsageReport) => ({ ...r, series: [...r.series].sort((x, y) => JSON.stringify(x.group).localeCompare(JSON.stringify(y.group))) });
type Conn = ReturnType<typeof connectRedisLedgerSink>;
let a: Conn;
let b: Conn;

async function ready(c: Conn): Promise<void> {
  if (c.client.status !== 'ready') await new Promise((ok) => c.client.once('ready', ok));
}

beforeAll(async () => {
  a = connectRedisLedgerSink({ url: URL, prefix: PREFIX, now: () => T0 + 86_400_000 });
  b = connectRedisLedgerSink({ url: URL, prefix: PREFIX, now: () => T0 + 86_400_000 });
  await Promise.all([ready(a), ready(b)]);
});
afterAll(async () => {
  if (a?.client.status === 'ready') {
    const keys = await a.client.keys(`${PREFIX}*`);
    if (keys.length > 0) await a.client.del(...keys);
  }
  await Promise.all([a?.close(), b?.close()]);
});

describe('the Redis ledger sink (two instances on one prefix)', () => {
  it('rollups written by two instances answer exactly what one memory sink holding every event answers', async () => {
    const events = generateEvents(600, 7);
    const memory = new MemoryLedgerSink();
    const all = createUsageLedger({ sink: memory, schedule: manual });
    const la = createUsageLedger({ sink: a.sink, schedule: manual, maxBatch: 97 });
    const lb = createUsageLedger({ sink: b.sink, schedule: manual, maxBatch: 131 });
    events.forEach((e, i) => {
      all.record(e);
      (i % 2 === 0 ? la : lb).record(e);
    });
    await Promise.all([all.flush(), la.flush(), lb.flush()]);
    expect(la.stats()).toMatchObject({ buffered: 0, written: 300, sinkHealthy: true });

    const queries: UsageQueryInput[] = [
      { filter: { from: new Date(T0), to: new Date(T0 + 3 * 3_600_000) } },
      { filter: { from: new Date(T0), to: new Date(T0 + 3 * 3_600_000) }, groupBy: ['provider', 'apiKey'], interval: 'hour' },
      { filter: { from: new Date(T0 + 60_000 * 7), to: new Date(T0 + 60_000 * 95), team: 'data' }, groupBy: ['model'], interval: 'minute' },
    ];
    for (const input of queries) {
      expect(sorted(await queryUsage(b.sink, input))).toEqual(sorted(await queryUsage(memory, input)));
    }
    const totals = (await queryUsage(a.sink, queries[0]!)).totals;
    expect(totals.requests).toBe(600);
    expect(totals.inputTokens).toBe(events.reduce((s, e) => s + e.tokens.input, 0));
  });

  it('a retried batch (same id) is applied once', async () => {
    const [e] = generateEvents(1, 99, 1000);
    const event = { ...e!, time: T0 + 5 * 3_600_000 };
    const batch = { id: `batch-${randomUUID()}`, events: [event], increments: incrementsOf([event]) };
    await a.sink.write(batch);
    await b.sink.write(batch);
    const r = await queryUsage(a.sink, { filter: { from: new Date(T0 + 5 * 3_600_000), to: new Date(T0 + 6 * 3_600_000) } });
    expect(r.totals.requests).toBe(1);
  });

  it('pages recent events newest first, across both instances\' writes', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await pageLedgerEvents(a.sink, { first: 250, after });
      seen.push(...page.items.map((e) => e.id));
      if (!page.hasNextPage) break;
      after = page.items.at(-1)!.id;
    }
    expect(seen).toHaveLength(601);
    expect(new Set(seen).size).toBe(601);
    const newest = await b.sink.readEvents({ limit: 1 });
    expect(newest[0]!.id).toBe(seen[0]);
  });

  it('each read is one round trip', async () => {
    const before = a.sink.reads;
    await a.sink.readRollups({ granularity: 'minute', from: T0, to: T0 + 86_400_000 });
    expect(a.sink.reads - before).toBe(1);
  });
});
