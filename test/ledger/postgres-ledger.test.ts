/**
 * The durable ledger's PostgreSQL writer against the real server: batches, dedup of a retried batch,
 * day partitions (ahead, on demand, dropped by retention on an injected clock), migrations that are
 * idempotent and safe when instances start together, and no password in any error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerBatch, UsageEvent } from '../../src/core/index.ts';
import { parseConfig, ConfigError } from '../../src/config/index.ts';
import { createPostgresPool, type PgPool } from '../../src/store/postgres-connection.ts';
import { createPostgresLedger, type PostgresLedger } from '../../src/store/postgres-ledger-sink.ts';
import { migrate, MIGRATIONS } from '../../src/store/postgres-migrations.ts';
import { DAY_MS, partitionName } from '../../src/store/postgres-partitions.ts';
import { LATENCY_BUCKETS_MS } from '../../src/usage/latency-histogram.ts';
import { incrementsOf } from '../../src/usage/rollups.ts';
import { createUsageLedger } from '../../src/usage/usage-ledger.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-postgres.ts';
import { generateEvents, makeEvent, manualSchedule } from '../usage/usage-events.ts';

let db: TestDatabase;
const pools: PgPool[] = [];
const pool = (url = db.url) => {
  const p = createPostgresPool({ url, max: 3, connectTimeoutMs: 2_000 });
  pools.push(p);
  return p;
};

/** A clock the test moves: partitions and retention follow it, not the wall clock. */
let clock = Date.UTC(2026, 6, 1, 12, 0, 0);
const now = () => clock;

function ledgerOn(p: PgPool, over: Partial<Parameters<typeof createPostgresLedger>[0]> = {}): PostgresLedger {
  return createPostgresLedger({ pool: p, url: db.url, retentionDays: 30, latencyBucketsMs: LATENCY_BUCKETS_MS, now, ...over });
}

const batchOf = (id: string, events: UsageEvent[]): LedgerBatch => ({ id, events, increments: incrementsOf(events) });
const count = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM usage_events'))[0]!.n);

beforeAll(async () => {
  db = await createTestDatabase('pg_ledger');
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await db?.drop();
});

describe('migrations', () => {
  it('two instances migrating at once: both succeed, each version applied once; a later run applies nothing', async () => {
    const [a, b] = await Promise.all([migrate(pool()), migrate(pool())]);
    expect([...a, ...b].sort()).toEqual(MIGRATIONS.map((m) => m.version));
    const rows = await db.query('SELECT version, name FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrate(pool())).toEqual([]);
    // The table is partitioned by its event time.
    const [part] = await db.query("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'usage_events'::regclass");
    expect(part?.partstrat).toBe('r');
  });

  it('a new migration is applied once, in order, and recorded; a failing one rolls back whole', async () => {
    const extra = [...MIGRATIONS, { version: 2, name: 'probe', sql: 'CREATE TABLE ledger_probe (x int)' }];
    const results = await Promise.all([migrate(pool(), extra), migrate(pool(), extra), migrate(pool(), extra)]);
    expect(results.flat()).toEqual([2]);
    const broken = [...extra, { version: 3, name: 'broken', sql: 'CREATE TABLE ledger_probe3 (x int); SELECT no_such_function()' }];
    await expect(migrate(pool(), broken)).rejects.toThrow();
    expect(await db.query("SELECT 1 FROM pg_class WHERE relname = 'ledger_probe3'")).toHaveLength(0);
    expect((await db.query('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version)).toEqual([1, 2]);
    await db.query('DROP TABLE ledger_probe');
    await db.query('DELETE FROM schema_migrations WHERE version = 2');
  });
});

describe('writes', () => {
  it('writes every event of every batch, one INSERT per batch, and reads them back as written', async () => {
    const sink = ledgerOn(pool());
    const events = generateEvents(1_200, 7, 6 * 3_600_000);
    const ledger = createUsageLedger({ sink, schedule: manualSchedule, maxBatch: 500 });
    const before = await count();
    for (const e of events) ledger.record(e);
    await ledger.flush();
    expect(ledger.stats()).toMatchObject({ written: 1_200, buffered: 0, dropped: 0 });
    expect(sink.inserts).toBe(3);
    expect((await count()) - before).toBe(1_200);
    // Newest first in (time, id) order, every field as it was recorded.
    const newest = await sink.readEvents({ limit: 5 });
    const expected = [...events].sort((x, y) => y.time - x.time || (y.id < x.id ? -1 : 1)).slice(0, 5);
    expect(newest).toEqual(expected.map((e) => ({ ...e, operation: e.operation ?? 'chat', finishReason: e.finishReason ?? null })));
    const page2 = await sink.readEvents({ limit: 3, before: newest[4]!.id });
    expect(page2.map((e) => e.id)).toEqual([...events].sort((x, y) => y.time - x.time || (y.id < x.id ? -1 : 1)).slice(5, 8).map((e) => e.id));
    expect(await sink.readEvents({ limit: 3, before: 'no-such-id' })).toEqual([]);
  });

  it('a batch written twice (a retry after a lost reply) adds its events once', async () => {
    const sink = ledgerOn(pool());
    const events = [1, 2, 3].map((i) => makeEvent({ id: `dup-${i}`, time: clock - i * 1_000 }));
    const before = await count();
    await sink.write(batchOf('b1', events));
    await sink.write(batchOf('b1', events));
    // The same events in another batch (the ledger re-batched them): still once.
    await sink.write(batchOf('b2', [events[0]!, makeEvent({ id: 'dup-4', time: clock })]));
    expect((await count()) - before).toBe(4);
    const ids = await db.query("SELECT id, count(*)::int AS n FROM usage_events WHERE id LIKE 'dup-%' GROUP BY id ORDER BY id");
    expect(ids).toEqual([1, 2, 3, 4].map((i) => ({ id: `dup-${i}`, n: 1 })));
  });

  it('through the ledger: a write whose reply is lost is retried with the same events, and nothing is doubled', async () => {
    const sink = ledgerOn(pool());
    let loseReply = true;
    const lossy = {
      ...sink,
      write: async (b: LedgerBatch) => {
        await sink.write(b);
        if (loseReply) {
          loseReply = false;
          throw new Error('connection reset after the INSERT committed');
        }
      },
    };
    const ledger = createUsageLedger({ sink: lossy, schedule: manualSchedule, maxBatch: 100 });
    const before = await count();
    for (let i = 0; i < 50; i++) ledger.record(makeEvent({ id: `lost-${i}`, time: clock - i }));
    await ledger.flush();
    expect(ledger.stats()).toMatchObject({ buffered: 50, writeFailures: 1 });
    await ledger.flush();
    expect(ledger.stats()).toMatchObject({ buffered: 0, written: 50 });
    expect((await count()) - before).toBe(50);
  });
});

describe('partitions', () => {
  const partitions = async () =>
    (await db.query("SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_events'::regclass ORDER BY 1")).map(
      (r) => r.name as string,
    );
  const day = (ms: number) => Math.floor(ms / DAY_MS);

  it('are made ahead (today + 2) and on demand for the days a batch holds; old ones are dropped by retention', async () => {
    clock = Date.UTC(2026, 8, 10, 9, 0, 0);
    const sink = ledgerOn(pool(), { retentionDays: 30 });
    await sink.maintain();
    const today = day(clock);
    const names = await partitions();
    for (const d of [today, today + 1, today + 2]) expect(names).toContain(partitionName(d));
    expect(names).not.toContain(partitionName(today + 3));

    // An event from 20 days back: its day's partition is created for it.
    const old = makeEvent({ id: 'old-20d', time: clock - 20 * DAY_MS });
    const older = makeEvent({ id: 'old-29d', time: clock - 29 * DAY_MS });
    await sink.write(batchOf('old', [old, older]));
    expect(await partitions()).toContain(partitionName(day(old.time)));
    expect(await db.query("SELECT id FROM usage_events WHERE id LIKE 'old-%' ORDER BY id")).toEqual([{ id: 'old-20d' }, { id: 'old-29d' }]);

    // Five days later the 29-day-old day is past the 30-day retention: dropped with its rows; the 20-day one stays.
    clock += 5 * DAY_MS;
    const { dropped, created } = await sink.maintain();
    expect(dropped).toContain(partitionName(day(older.time)));
    expect(dropped).not.toContain(partitionName(day(old.time)));
    expect(created).toContain(partitionName(day(clock) + 2));
    expect(await db.query("SELECT id FROM usage_events WHERE id LIKE 'old-%'")).toEqual([{ id: 'old-20d' }]);
    for (const name of await partitions()) {
      const d = day(Date.UTC(Number(name.slice(-8, -4)), Number(name.slice(-4, -2)) - 1, Number(name.slice(-2))));
      expect((d + 1) * DAY_MS).toBeGreaterThan(clock - 30 * DAY_MS);
    }
  });

  it('a partition another instance dropped is made again when a write needs it', async () => {
    clock = Date.UTC(2026, 8, 20, 9, 0, 0);
    const a = ledgerOn(pool());
    const e1 = makeEvent({ id: 'gone-1', time: clock - 3 * DAY_MS });
    await a.write(batchOf('g1', [e1]));
    await db.query(`DROP TABLE ${partitionName(day(e1.time))}`);
    await a.write(batchOf('g2', [makeEvent({ id: 'gone-2', time: e1.time + 1 })]));
    expect(await db.query("SELECT id FROM usage_events WHERE id LIKE 'gone-%'")).toEqual([{ id: 'gone-2' }]);
  });
});

describe('secrets', () => {
  it('an unreachable server: the error names the ledger, never the password', async () => {
    const url = db.urlWithPassword('hunter2-Secret-pw', 1);
    const sink = createPostgresLedger({ pool: pool(url), url, retentionDays: 30, latencyBucketsMs: LATENCY_BUCKETS_MS, now });
    const err = await sink.write(batchOf('x', [makeEvent()])).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/durable ledger unavailable/);
    expect(err?.message).not.toContain('hunter2-Secret-pw');
    expect(err?.message).not.toContain('hunter2');
  });

  it('config: `ledger` validated with messages naming the field, the URL never echoed', () => {
    const base = { providers: [{ id: 'p', protocol: 'openai', baseUrl: 'http://127.0.0.1:9/v1', models: [{ id: 'm' }] }] };
    const ok = parseConfig({ ...base, ledger: { kind: 'postgres', url: 'postgres://u:pw@h/db' } }, {});
    expect(ok.ledger).toEqual({ kind: 'postgres', url: 'postgres://u:pw@h/db', flushIntervalMs: 1_000, batchSize: 500, retentionDays: 400, bufferCap: 50_000 });
    expect(parseConfig(base, {}).ledger).toBeUndefined();
    const bad = (ledger: unknown) => {
      try {
        parseConfig({ ...base, ledger }, {});
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    const urlError = bad({ kind: 'postgres', url: 'mysql://root:TopSecretPw1@h/db' });
    expect(urlError).toContain('ledger.url');
    expect(urlError).not.toContain('TopSecretPw1');
    expect(bad({ kind: 'postgres', url: 'postgres://h/db', flushIntervalMs: 0 })).toMatch(/ledger\.flushIntervalMs.*at least 10/);
    expect(bad({ kind: 'postgres', url: 'postgres://h/db', batchSize: 1.5 })).toMatch(/ledger\.batchSize.*whole number/);
    expect(bad({ kind: 'postgres', url: 'postgres://h/db', retentionDays: 'x' })).toMatch(/ledger\.retentionDays/);
    expect(bad({ kind: 'mongo', url: 'postgres://h/db' })).toMatch(/ledger\.kind/);
    expect(bad({ kind: 'postgres', url: 'postgres://h/db', extra: 1 })).toMatch(/ledger\.extra: unknown key/);
  });
});
