/**
 * Redis trouble without touching the shared server: a store pointed at a closed port, and a store behind
 * a loopback TCP proxy we can cut and restore (standing in for Redis going away and coming back).
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheStage } from '../../src/gateway/cache-stage.ts';
import type { StoreRequest } from '../../src/gateway/gateway-request.ts';
import { idempotencyStage } from '../../src/gateway/idempotency-stage.ts';
import { limitsStage } from '../../src/gateway/limits-stage.ts';
import { createRedisStore } from '../../src/store/redis-store.ts';
import type { Store } from '../../src/store/store.ts';
import { chat, collect, fakeGateway, pipelineOf } from './fake-gateway.ts';
import { dropPrefix, uniquePrefix } from './redis-harness.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

function storeAt(port: number, prefix = uniquePrefix('down')): Store {
  // Long timeouts on purpose: if calls waited for a connection instead of failing fast, tests would time out.
  return createRedisStore({
    target: { mode: 'standalone', host: '127.0.0.1', port, db: 0, tls: false },
    prefix,
    connectTimeoutMs: 60_000,
    commandTimeoutMs: 60_000,
  });
}

const quotas = { keys: { web: { limits: { rpm: 1 }, budget: { usd: 0.000001, period: 'day' as const } } } };
const req = (extra: Partial<StoreRequest> = {}): StoreRequest => ({
  chat: chat('hello'),
  principal: { name: 'web', scope: 'client' },
  ...extra,
});

describe('store unreachable', () => {
  const stores: Store[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  it('calls fail fast with unavailable, and readiness reports degraded', async () => {
    const s = storeAt(await closedPort());
    stores.push(s);
    await expect(s.ping()).rejects.toMatchObject({ kind: 'unavailable', message: 'store unavailable (ping)' });
    await expect(s.cache.get('k')).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(s.limits.consume([{ key: 'k', limit: 1, windowMs: 60_000, cost: 1 }], Date.now())).rejects.toMatchObject({ kind: 'unavailable' });
    const ready = await s.readiness();
    expect(ready).toMatchObject({ status: 'degraded', backend: 'redis' });
    expect(ready.detail).not.toMatch(/127\.0\.0\.1|redis:\/\//);
  });

  it('the cache is bypassed, idempotency is skipped, limits and budgets fail open by default', async () => {
    const s = storeAt(await closedPort());
    stores.push(s);
    const upstream = fakeGateway();
    const errors: string[] = [];
    const onStoreError = (op: string) => errors.push(op);
    const h = pipelineOf(
      [idempotencyStage(s, { onStoreError }), limitsStage(s, { quotas, estimateCostUsd: () => 1, onStoreError }), cacheStage(s, { onStoreError })],
      upstream,
    );
    for (let i = 0; i < 3; i++) {
      const r = h.prepare(req({ idempotencyKey: 'k' }));
      const c = await h.complete(r);
      expect(c.cached).toBe(false);
      expect(r.cacheStatus).toBe('BYPASS');
      expect(r.degraded).toEqual(expect.arrayContaining(['idempotency', 'limits', 'budgets', 'cache']));
    }
    const streamed = await collect(h.stream(req()));
    expect(streamed.at(-1)!.type).toBe('done');
    expect(upstream.calls).toBe(4);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('limits and budgets configured to fail closed refuse with unavailable', async () => {
    const s = storeAt(await closedPort());
    stores.push(s);
    const upstream = fakeGateway();
    const limitsClosed = pipelineOf([limitsStage(s, { quotas, failure: { limits: 'closed' } })], upstream);
    await expect(limitsClosed.complete(req())).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringContaining('rate limits') });
    const budgetsClosed = pipelineOf([limitsStage(s, { quotas: { keys: { web: { budget: { usd: 1, period: 'day' } } } }, failure: { budgets: 'closed' } })], upstream);
    await expect(budgetsClosed.complete(req())).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringContaining('budgets') });
    const events = await collect(limitsClosed.stream(req()));
    expect(events).toEqual([expect.objectContaining({ type: 'error', error: expect.objectContaining({ kind: 'unavailable' }) })]);
    expect(upstream.calls).toBe(0);
  });
});

describe('Redis going away and coming back', () => {
  const prefix = uniquePrefix('flap');
  afterAll(async () => {
    await dropPrefix(prefix);
  });

  it('degrades while the connection is cut and recovers by itself', async () => {
    const sockets = new Set<net.Socket>();
    const startProxy = async (port = 0) => {
      const srv = net.createServer((client) => {
        const upstream = net.connect(TEST_REDIS.port, TEST_REDIS.host);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
      return srv;
    };
    let proxy = await startProxy();
    const port = (proxy.address() as net.AddressInfo).port;
    const s = storeAt(port, prefix);
    const waitFor = async (status: 'ready' | 'degraded') => {
      for (let i = 0; i < 300; i++) {
        if ((await s.readiness()).status === status) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`never became ${status}`);
    };
    try {
      await waitFor('ready');
      await s.cache.set('k', 'v', 60_000);
      proxy.close();
      for (const sock of sockets) sock.destroy();
      await waitFor('degraded');
      await expect(s.cache.get('k')).rejects.toMatchObject({ kind: 'unavailable' });
      proxy = await startProxy(port);
      await waitFor('ready');
      expect(await s.cache.get('k')).toBe('v');
    } finally {
      await s.close();
      proxy.close();
      for (const sock of sockets) sock.destroy();
    }
  });
});
