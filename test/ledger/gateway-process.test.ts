/**
 * The durable ledger in a real gateway process (`switchboard start`, as deployed) under load from the
 * test, over an OpenAI simulator, writing to PostgreSQL:
 * - SIGTERM mid-load: every request the gateway answered has its row; none twice;
 * - SIGKILL mid-load: what is lost is at most what the gateway answered in its last flush interval (plus
 *   the write in flight at the kill).
 * Counts are the test's own (responses received); time is used only to say which responses fell in the
 * last intervals before the kill. The PostgreSQL outage is gateway-outage.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { startGateway, startLoad } from '../helpers/ledger-gateway.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-postgres.ts';

const FLUSH_MS = 250;

let sim: Simulator;
let db: TestDatabase;

beforeAll(async () => {
  [sim, db] = await Promise.all([startSimulator({ protocol: 'openai', port: 0 }), createTestDatabase('gateway_process')]);
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

async function rowsFor(ids: string[]): Promise<{ found: Set<string>; total: number; distinct: number }> {
  const rows = await db.query<{ id: string }>('SELECT id FROM usage_events WHERE id = ANY($1)', [ids]);
  const [{ total, distinct }] = await db.query('SELECT count(*)::int AS total, count(DISTINCT id)::int AS distinct FROM usage_events');
  return { found: new Set(rows.map((r) => r.id)), total, distinct };
}

describe('a gateway process writing the durable ledger', () => {
  it('SIGTERM mid-load loses no usage event', { timeout: 60_000 }, async () => {
    const gw = await startGateway(sim, db.url, { flushIntervalMs: FLUSH_MS });
    const load = startLoad(gw.url);
    await load.until(300);
    gw.child.kill('SIGTERM');
    const [code] = await gw.exited;
    await load.stop();
    expect(code).toBe(0);
    const ids = load.answered.map((a) => a.id);
    const { found, total, distinct } = await rowsFor(ids);
    expect(ids.filter((id) => !found.has(id))).toEqual([]);
    expect(total).toBe(distinct);
    // Every row is a request the gateway handled; a few may have been answered as the test stopped reading.
    expect(total).toBeGreaterThanOrEqual(ids.length);
    await db.query('TRUNCATE usage_events');
  });

  it('SIGKILL mid-load loses at most the events answered in the last flush interval', { timeout: 60_000 }, async () => {
    const gw = await startGateway(sim, db.url, { flushIntervalMs: FLUSH_MS });
    const load = startLoad(gw.url);
    await load.until(500);
    const killedAt = performance.now();
    gw.child.kill('SIGKILL');
    await gw.exited;
    await load.stop();
    const ids = load.answered.map((a) => a.id);
    const { found, total, distinct } = await rowsFor(ids);
    const lost = load.answered.filter((a) => !found.has(a.id));
    // What the gateway answered in its last flush interval, by the test's count of responses. The bound is
    // one interval plus the write in flight at the kill; a second interval of margin absorbs timer and
    // event-loop delays of a loaded machine, and still catches a lost older batch.
    const window = killedAt - 2 * FLUSH_MS;
    expect(lost.length).toBeLessThanOrEqual(load.answered.filter((a) => a.at >= window).length);
    // Everything answered before that was written.
    expect(lost.filter((a) => a.at < window)).toEqual([]);
    expect(found.size).toBeGreaterThan(0);
    expect(total).toBe(distinct);
    await db.query('TRUNCATE usage_events');
  });
});
