/**
 * The store contract on a real Redis Cluster (three masters, slots split evenly, a password), through the
 * `redis-cluster://` URL a user writes in config. Every multi-key script and MULTI must stay on one slot
 * (hash tags), or the cluster answers CROSSSLOT. No failover here (see redis-cluster-failover.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectRedisLedgerSink } from '../../src/store/redis-ledger-sink.ts';
import type { Store } from '../../src/store/store.ts';
import { MemoryLedgerSink } from '../../src/usage/memory-ledger-sink.ts';
import { queryUsage } from '../../src/usage/query-usage.ts';
import { createUsageLedger } from '../../src/usage/usage-ledger.ts';
import { generateEvents, T0 } from '../usage/usage-events.ts';
import { command, startCluster, until, type ClusterTopology } from '../helpers/redis-topologies.ts';
import { runStoreContract } from './store-contract.ts';
import { storeFromUrl, uniqueTopologyPrefix, urlHarness, waitReady } from './topology-harness.ts';

// A test opens up to three stores, each of which may wait for its client's ready check (see waitReady).
vi.setConfig({ testTimeout: 60_000 });

const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
let topo: ClusterTopology;

beforeAll(async () => {
  topo = await startCluster({ password: PASSWORD, debugCommand: true });
}, 30_000);
afterAll(async () => {
  await topo?.stop();
});

runStoreContract('redis cluster', urlHarness({ url: () => topo.url, password: PASSWORD, dataPorts: () => topo.masters.map((m) => m.port) }));

describe('redis cluster specifics', () => {
  const numsub = async (port: number, channel: string) => Number(((await command(port, PASSWORD, 'PUBSUB', 'NUMSUB', channel)) as [string, number])[1]);

  it('a route change returns only once every instance has applied it, also those listening on another node', async () => {
    const prefix = uniqueTopologyPrefix('route-ack');
    const channel = `${prefix}events`;
    // PUBLISH runs on the node serving the {routes} slot; instances subscribe to a node of their own choosing.
    const owner = await topo.ownerOf(`${prefix}{routes}:data`);
    const others = topo.masters.filter((m) => m !== owner);
    const stores: Store[] = [];
    try {
      let stalled: number | undefined;
      while (stalled === undefined) {
        if (stores.length >= 12) throw new Error('no instance subscribed to a node other than the publisher');
        const s = storeFromUrl(topo.url, prefix);
        stores.push(s);
        await waitReady(s);
        let total = 0;
        await until('the new instance to subscribe', 10_000, async () => {
          total = 0;
          for (const m of topo.masters) total += await numsub(m.port, channel);
          return total >= stores.length ? true : undefined;
        });
        for (const m of others) if (stores.length >= 3 && (await numsub(m.port, channel)) > 0) stalled = m.port;
      }
      const applied = stores.map(() => [] as number[]);
      stores.forEach((o, i) => o.routes.subscribe((c) => c.op !== 'resync' && applied[i]!.push(c.version)));
      const sleeper = topo.connect(stalled);
      try {
        await sleeper.ping();
        // Stall one node: the change reaches its subscribers half a second late (well within the 1 s ack wait).
        const slept = sleeper.call('DEBUG', 'SLEEP', '0.5');
        const version = await stores[0]!.routes.upsert({ name: 'r', targets: [{ provider: 'p', model: 'm' }] } as never);
        // Not "eventually": at the moment the mutation returns.
        for (const seen of applied) expect(seen).toContain(version);
        await slept;
      } finally {
        sleeper.disconnect();
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('the usage ledger (its scripts build rollup keys on the {ledger} slot) answers what a memory sink answers', async () => {
    const prefix = uniqueTopologyPrefix('ledger');
    const conn = connectRedisLedgerSink({ url: topo.url, prefix, now: () => T0 + 86_400_000 });
    try {
      await until('the ledger connection', 10_000, async () => (conn.client.status === 'ready' ? true : undefined));
      const events = generateEvents(300, 11);
      const memory = new MemoryLedgerSink();
      const schedule = () => ({ cancel() {} });
      const onCluster = createUsageLedger({ sink: conn.sink, schedule, maxBatch: 97 });
      const inMemory = createUsageLedger({ sink: memory, schedule });
      for (const e of events) {
        onCluster.record(e);
        inMemory.record(e);
      }
      await Promise.all([onCluster.flush(), inMemory.flush()]);
      expect(onCluster.stats()).toMatchObject({ buffered: 0, written: 300, sinkHealthy: true });
      const input = { filter: { from: new Date(T0), to: new Date(T0 + 3 * 3_600_000) }, groupBy: ['provider' as const], interval: 'hour' as const };
      const sorted = (r: Awaited<ReturnType<typeof queryUsage>>) => [...r.series].sort((x, y) => JSON.stringify(x.group).localeCompare(JSON.stringify(y.group)));
      const [got, want] = [await queryUsage(conn.sink, input), await queryUsage(memory, input)];
      expect(got.totals).toEqual(want.totals);
      expect(sorted(got)).toEqual(sorted(want));
      expect((await conn.sink.readEvents({ limit: 5 })).map((e) => e.id)).toEqual((await memory.readEvents({ limit: 5 })).map((e) => e.id));
    } finally {
      await conn.close();
    }
  });
});
