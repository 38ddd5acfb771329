import { describe, expect, it } from 'vitest';
import { pageLedgerEvents } from '../../src/usage/completion-log.ts';
import { MemoryLedgerSink } from '../../src/usage/memory-ledger-sink.ts';
import { queryUsage } from '../../src/usage/query-usage.ts';
import { createUsageLedger } from '../../src/usage/usage-ledger.ts';
import { FlakySink, makeEvent, manualSchedule, T0 } from './usage-events.ts';

const range = { from: new Date(T0 - 3_600_000), to: new Date(T0 + 3_600_000) };
const total = async (sink: MemoryLedgerSink) => (await queryUsage(sink, { filter: range })).totals.requests;

describe('usage ledger writer', () => {
  it('record does no I/O; flush writes one batch', async () => {
    const sink = new MemoryLedgerSink();
    const ledger = createUsageLedger({ sink, schedule: manualSchedule });
    for (let i = 0; i < 5; i++) ledger.record(makeEvent({ id: `e${i}` }));
    expect(sink.writes).toBe(0);
    expect(ledger.stats().buffered).toBe(5);
    await ledger.flush();
    expect(sink.writes).toBe(1);
    expect(ledger.stats()).toMatchObject({ buffered: 0, written: 5, dropped: 0 });
    expect(await total(sink)).toBe(5);
  });

  it('flushes by itself when maxBatch events wait, and writes at most maxBatch per batch', async () => {
    const sink = new MemoryLedgerSink();
    const ledger = createUsageLedger({ sink, schedule: manualSchedule, maxBatch: 3 });
    ledger.record(makeEvent({ id: 'a' }));
    ledger.record(makeEvent({ id: 'b' }));
    expect(sink.writes).toBe(0);
    ledger.record(makeEvent({ id: 'c' }));
    expect(sink.writes).toBe(1);
    for (let i = 0; i < 4; i++) ledger.record(makeEvent({ id: `d${i}` }));
    await ledger.flush();
    expect(ledger.stats().written).toBe(7);
    expect(await total(sink)).toBe(7);
  });

  it('flushes on its interval', async () => {
    const sink = new MemoryLedgerSink();
    let tick: (() => void) | undefined;
    const ledger = createUsageLedger({ sink, flushIntervalMs: 250, schedule: (fn, ms) => ((tick = fn), expect(ms).toBe(250), { cancel: () => (tick = undefined) }) });
    ledger.record(makeEvent());
    tick!();
    await ledger.flush();
    expect(sink.writes).toBe(1);
    await ledger.close();
    expect(tick).toBeUndefined();
  });

  it('buffers while the sink is down, drops past the cap (counted), and catches up on recovery', async () => {
    const sink = new FlakySink();
    const drops: number[] = [];
    const errors: unknown[] = [];
    const ledger = createUsageLedger({ sink, schedule: manualSchedule, bufferCap: 8, maxBatch: 4, onDrop: (n) => drops.push(n), onError: (e) => errors.push(e) });
    sink.down = true;
    for (let i = 0; i < 5; i++) ledger.record(makeEvent({ id: `a${i}` }));
    await ledger.flush();
    expect(ledger.stats()).toMatchObject({ buffered: 5, written: 0, sinkHealthy: false, writeFailures: 1 });
    expect(errors).toHaveLength(1);
    for (let i = 0; i < 7; i++) ledger.record(makeEvent({ id: `b${i}` }));
    expect(ledger.stats()).toMatchObject({ buffered: 8, dropped: 4 });
    expect(drops.reduce((a, b) => a + b, 0)).toBe(4);

    sink.down = false;
    await ledger.flush();
    expect(ledger.stats()).toMatchObject({ buffered: 0, written: 8, dropped: 4, sinkHealthy: true });
    expect(await total(sink.inner)).toBe(8);
    const ids = (await sink.inner.readEvents({ limit: 100 })).map((e) => e.id);
    expect(ids).toEqual(['b2', 'b1', 'b0', 'a4', 'a3', 'a2', 'a1', 'a0']);
  });

  it('a retried batch that had in fact been written is not counted twice', async () => {
    const sink = new FlakySink();
    const ledger = createUsageLedger({ sink, schedule: manualSchedule });
    for (let i = 0; i < 3; i++) ledger.record(makeEvent({ id: `e${i}` }));
    sink.failAfterApplyOnce = true;
    await ledger.flush();
    expect(ledger.stats()).toMatchObject({ buffered: 3, sinkHealthy: false });
    await ledger.flush();
    expect(ledger.stats()).toMatchObject({ buffered: 0, written: 3 });
    expect(await total(sink.inner)).toBe(3);
    expect(await sink.inner.readEvents({ limit: 10 })).toHaveLength(3);
  });

  it('close writes what is left; records after close are dropped and counted', async () => {
    const sink = new MemoryLedgerSink();
    const ledger = createUsageLedger({ sink, schedule: manualSchedule });
    ledger.record(makeEvent());
    const stats = await ledger.close();
    expect(stats).toMatchObject({ written: 1, buffered: 0 });
    ledger.record(makeEvent({ id: 'late' }));
    expect(ledger.stats().dropped).toBe(1);
  });

  it('a throwing onDrop callback does not break recording', () => {
    const ledger = createUsageLedger({ sink: new MemoryLedgerSink(), schedule: manualSchedule, bufferCap: 1, onDrop: () => { throw new Error('boom'); } });
    ledger.record(makeEvent());
    expect(() => ledger.record(makeEvent({ id: 'x' }))).not.toThrow();
    expect(ledger.stats().dropped).toBe(1);
  });
});

describe('memory sink', () => {
  it('keeps a bounded event stream, newest first, paged with before', async () => {
    const sink = new MemoryLedgerSink({ maxEvents: 3 });
    const ledger = createUsageLedger({ sink, schedule: manualSchedule });
    for (let i = 0; i < 5; i++) ledger.record(makeEvent({ id: `e${i}` }));
    await ledger.flush();
    expect((await sink.readEvents({ limit: 10 })).map((e) => e.id)).toEqual(['e4', 'e3', 'e2']);
    expect((await sink.readEvents({ limit: 1, before: 'e4' })).map((e) => e.id)).toEqual(['e3']);
    // Rollups are not bounded by the stream: all five are counted.
    expect(await total(sink)).toBe(5);
  });

  it('expires minute rollups past their retention but keeps hour rollups', async () => {
    const sink = new MemoryLedgerSink({ retentionMs: { minute: 3_600_000 } });
    const ledger = createUsageLedger({ sink, schedule: manualSchedule });
    ledger.record(makeEvent({ id: 'old', time: T0 }));
    ledger.record(makeEvent({ id: 'new', time: T0 + 3 * 3_600_000 }));
    await ledger.flush();
    expect(await sink.readRollups({ granularity: 'minute', from: T0, to: T0 + 60_000 })).toHaveLength(0);
    expect(await sink.readRollups({ granularity: 'hour', from: T0, to: T0 + 3_600_000 })).toHaveLength(1);
  });
});

describe('recent requests from the ledger', () => {
  it('pages newest first, filtered to one key, across several reads', async () => {
    const sink = new MemoryLedgerSink();
    const ledger = createUsageLedger({ sink, schedule: manualSchedule });
    for (let i = 0; i < 300; i++) ledger.record(makeEvent({ id: `e${i}`, keyName: i % 10 === 0 ? 'web' : 'batch' }));
    await ledger.flush();

    const all = await pageLedgerEvents(sink, { first: 3 });
    expect(all.items.map((e) => e.id)).toEqual(['e299', 'e298', 'e297']);
    expect(all.hasNextPage).toBe(true);
    const next = await pageLedgerEvents(sink, { first: 3, after: 'e297' });
    expect(next.items.map((e) => e.id)).toEqual(['e296', 'e295', 'e294']);

    sink.reads = 0;
    const mine = await pageLedgerEvents(sink, { first: 15, filter: (e) => e.keyName === 'web' });
    expect(mine.items.map((e) => e.id)).toEqual(Array.from({ length: 15 }, (_, i) => `e${290 - i * 10}`));
    expect(mine.hasNextPage).toBe(true);
    expect(sink.reads).toBe(2);
    const rest = await pageLedgerEvents(sink, { first: 100, after: 'e150', filter: (e) => e.keyName === 'web' });
    expect(rest.items).toHaveLength(15);
    expect(rest.hasNextPage).toBe(false);
    // A bounded scan: nothing found within maxScan is an empty page, not a full-stream read.
    expect(await pageLedgerEvents(sink, { first: 1, filter: () => false, maxScan: 100 })).toEqual({ items: [], hasNextPage: false });
  });
});
