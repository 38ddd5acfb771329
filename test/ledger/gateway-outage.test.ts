/**
 * A PostgreSQL outage under a real gateway process: a TCP proxy on loopback between the gateway and the
 * server is cut mid-load and restored (the machine's server keeps running). The gateway answers on, and
 * afterwards every answered request has exactly one row; the log says writes failed and recovered, never
 * with the URL's password. Counts are the test's own (responses received).
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { startGateway, startLoad } from '../helpers/ledger-gateway.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { createTestDatabase, serverAddress, type TestDatabase } from '../helpers/test-postgres.ts';

const PASSWORD = 'Gateway-Secret-Pw-42';

let sim: Simulator;
let db: TestDatabase;
let proxy: TcpProxy;

beforeAll(async () => {
  [sim, db] = await Promise.all([startSimulator({ protocol: 'openai', port: 0 }), createTestDatabase('gateway_outage')]);
  proxy = await startTcpProxy(serverAddress(db.url));
});
afterAll(async () => {
  await proxy?.close();
  await sim?.close();
  await db?.drop();
});

describe('a gateway process through a PostgreSQL outage', () => {
  it('loses none and duplicates none', { timeout: 60_000 }, async () => {
    // At info, the log also says when writes succeed again.
    const gw = await startGateway(sim, db.urlWithPassword(PASSWORD, proxy.port), { flushIntervalMs: 200, logLevel: 'info' });
    try {
      const load = startLoad(gw.url);
      await load.until(150);
      proxy.cut();
      const cutAt = load.answered.length;
      // The gateway answers on through the outage, and reports failed writes (a log line, not a timer).
      await load.until(cutAt + 250);
      while (!gw.output().includes('durable ledger: write failed')) await once(gw.child.stdout!, 'data');
      const duringOutage = load.answered.length - cutAt;
      proxy.restore();
      await load.until(load.answered.length + 150);
      await load.stop();
      const ids = load.answered.map((a) => a.id);
      const present = async () => Number((await db.query('SELECT count(*)::int AS n FROM usage_events WHERE id = ANY($1)', [ids]))[0].n);
      // Catch-up is by the ledger's own retries: wait (bounded) until every answered request has its row.
      for (let i = 0; i < 300 && (await present()) < ids.length; i++) await new Promise((r) => setTimeout(r, 50));
      gw.child.kill('SIGTERM');
      const [code] = await gw.exited;
      expect(code).toBe(0);
      expect(duringOutage).toBeGreaterThanOrEqual(250);
      const rows = await db.query<{ id: string }>('SELECT id FROM usage_events');
      const found = new Set(rows.map((r) => r.id));
      expect(ids.filter((id) => !found.has(id))).toEqual([]);
      // One row per answered request: none twice, none the test did not see answered.
      expect(rows.length).toBe(found.size);
      expect(rows.length).toBe(ids.length);
      const log = gw.output();
      expect(log).toContain('durable ledger: writing again');
      expect(log).not.toContain(PASSWORD);
      expect(log).not.toContain('durable ledger: buffer full');
    } finally {
      gw.child.kill('SIGKILL');
    }
  });
});
