/**
 * The durable ledger as the gateway wires it (wire-durable-ledger.ts), with PostgreSQL made unreachable by a
 * TCP proxy: it starts anyway and migrates once the server is back; it buffers up to bufferCap and every
 * event past it is counted and logged; close() keeps retrying so a shutdown during a short outage loses
 * nothing; no log line carries the URL's password.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/telemetry/logger.ts';
import { wireDurableLedger } from '../../src/wire-durable-ledger.ts';
import { createTestDatabase, type TestDatabase, serverAddress } from '../helpers/test-postgres.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { makeEvent } from '../usage/usage-events.ts';

const PASSWORD = 'Wiring-Secret-Pw-7';
let db: TestDatabase;
let proxy: TcpProxy;

function capture() {
  const lines: any[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, raw: () => JSON.stringify(lines), logger: createLogger({ level: 'debug', destination }) };
}

const rows = async (prefix: string) => (await db.query<{ id: string }>('SELECT id FROM usage_events WHERE id LIKE $1 ORDER BY id', [`${prefix}%`])).map((r) => r.id);

beforeAll(async () => {
  db = await createTestDatabase('durable_wiring');
  proxy = await startTcpProxy(serverAddress(db.url));
});
afterAll(async () => {
  await proxy?.close();
  await db?.drop();
});

describe('the durable ledger through an outage', () => {
  it('starts while PostgreSQL is down, drops past bufferCap (counted and logged), writes the rest once it is back', async () => {
    proxy.cut();
    const log = capture();
    const drops: number[] = [];
    const durable = await wireDurableLedger({
      config: { kind: 'postgres', url: db.urlWithPassword(PASSWORD, proxy.port), flushIntervalMs: 60_000, batchSize: 8, retentionDays: 400, bufferCap: 20 },
      logger: log.logger,
      storeSince: 0,
      onDrop: (n) => drops.push(n),
    });
    expect(log.lines.some((l) => l.msg === 'durable ledger: PostgreSQL unreachable at start; buffering events')).toBe(true);

    for (let i = 0; i < 30; i++) durable.ledger.record(makeEvent({ id: `cap-${String(i).padStart(2, '0')}`, time: Date.now() }));
    await durable.ledger.flush();
    expect(durable.ledger.stats()).toMatchObject({ buffered: 20, dropped: 10, sinkHealthy: false });
    expect(drops.reduce((a, b) => a + b, 0)).toBe(10);
    const dropLine = log.lines.find((l) => l.msg === 'durable ledger: buffer full while PostgreSQL is unreachable; usage events dropped');
    expect(dropLine).toMatchObject({ level: 50, bufferCap: 20 });
    expect(dropLine.dropped).toBeGreaterThan(0);
    expect(log.lines.some((l) => l.msg === 'durable ledger: write failed; events kept for retry')).toBe(true);

    proxy.restore();
    await durable.ledger.flush();
    expect(durable.ledger.stats()).toMatchObject({ buffered: 0, written: 20, sinkHealthy: true });
    // The first 20 recorded are kept (oldest first), the last 10 were the ones dropped.
    expect(await rows('cap-')).toEqual(Array.from({ length: 20 }, (_, i) => `cap-${String(i).padStart(2, '0')}`));
    expect(log.lines.some((l) => l.msg === 'durable ledger: writing again; buffered events are being written')).toBe(true);

    await durable.close();
    expect(log.lines.some((l) => l.msg === 'durable ledger: events dropped while running (buffer full)' && l.dropped === 10)).toBe(true);
    expect(log.raw()).not.toContain(PASSWORD);
  });

  it('a shutdown during an outage keeps retrying and writes everything once PostgreSQL is back', async () => {
    const log = capture();
    const durable = await wireDurableLedger({
      config: { kind: 'postgres', url: db.urlWithPassword(PASSWORD, proxy.port), flushIntervalMs: 60_000, batchSize: 500, retentionDays: 400, bufferCap: 1_000 },
      logger: log.logger,
      storeSince: 0,
      closeTimeoutMs: 10_000,
    });
    proxy.cut();
    for (let i = 0; i < 40; i++) durable.ledger.record(makeEvent({ id: `term-${String(i).padStart(2, '0')}`, time: Date.now() }));
    await durable.ledger.flush();
    expect(durable.ledger.stats()).toMatchObject({ buffered: 40, sinkHealthy: false });
    // Reads do not wait on a ledger that cannot write.
    await durable.flushForRead();
    const closing = durable.close();
    proxy.restore();
    const stats = await closing;
    expect(stats).toMatchObject({ buffered: 0, written: 40, dropped: 0 });
    expect(await rows('term-')).toHaveLength(40);
    expect(log.lines.some((l) => l.msg === 'durable ledger: events not written at shutdown')).toBe(false);
    expect(log.raw()).not.toContain(PASSWORD);
  });
});
