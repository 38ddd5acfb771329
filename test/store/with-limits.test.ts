import { afterAll, describe, expect, it } from 'vitest';
import { cacheStage } from '../../src/gateway/cache-stage.ts';
import type { StoreRequest } from '../../src/gateway/gateway-request.ts';
import { limitsStage, rateLimitHeaders, type LimitsStageOptions } from '../../src/gateway/limits-stage.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import type { Store } from '../../src/store/store.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { chat, collect, fakeGateway, pipelineOf, resolvedOf, type FakeReply } from './fake-gateway.ts';
import { dropPrefix, redisStore, uniquePrefix } from './redis-harness.ts';

const START = Date.UTC(2025, 5, 1, 12, 0, 0);
const web = { name: 'web', scope: 'client' as const, team: 'shop' };
const req = (extra: Partial<StoreRequest> = {}): StoreRequest => ({
  chat: chat('hello', { temperature: 1, maxOutputTokens: 100 }),
  principal: web,
  ...extra,
});

function setup(opts: LimitsStageOptions, reply: (n: number) => FakeReply = () => ({})) {
  const clock = createFakeClock(START);
  const store = createMemoryStore({ now: clock.now });
  const upstream = fakeGateway((_, n) => reply(n));
  const h = pipelineOf([limitsStage(store, { now: clock.now, ...opts })], upstream);
  return { clock, store, upstream, h };
}

describe('limits stage: rate limits', () => {
  it('admits the RPM limit, then 429 rate_limited with retry-after and x-ratelimit info', async () => {
    const { h, upstream, clock } = setup({ quotas: { keys: { web: { limits: { rpm: 3 } } } } });
    for (let i = 0; i < 3; i++) await h.complete(req());
    const r = h.prepare(req());
    const denied = h.complete(r);
    await expect(denied).rejects.toMatchObject({ kind: 'rate_limited' });
    const err = await denied.catch((e) => e);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(upstream.calls).toBe(3);
    expect(rateLimitHeaders(r.rateLimits!)).toEqual({
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': expect.stringMatching(/^\d+s$/),
    });
    clock.advance(err.retryAfterMs);
    await h.complete(req());
    expect(upstream.calls).toBe(4);
  });

  it('a team limit is shared by its keys; streams get a terminal error event instead of a throw', async () => {
    const { h } = setup({ quotas: { teams: { shop: { limits: { rpm: 2 } } } } });
    await h.complete(req());
    await h.complete(req({ principal: { ...web, name: 'web2' } }));
    const events = await collect(h.stream(req({ principal: { ...web, name: 'web3' } })));
    expect(events).toEqual([expect.objectContaining({ type: 'error', error: expect.objectContaining({ kind: 'rate_limited' }) })]);
    await h.complete(req({ principal: { name: 'loner', scope: 'client' } }));
  });

  it('TPM takes the estimate up front and is corrected to the real usage afterwards', async () => {
    // Estimate: ~6 input tokens + 100 max output; real usage 10 + 5.
    const { h, store, clock } = setup({ quotas: { keys: { web: { limits: { tpm: 250 } } } } });
    const r = h.prepare(req());
    await h.complete(r);
    expect(r.rateLimits![0]!.remaining).toBeLessThan(150);
    const [after] = await store.limits.peek([{ key: 'key:web:tpm', limit: 250, windowMs: 60_000, cost: 0 }], clock.now());
    expect(after!.remaining).toBe(235);
  });
});

describe('limits stage: budgets', () => {
  const budget = (usd: number, extra = {}) => ({ quotas: { keys: { web: { budget: { usd, period: 'day' as const, ...extra } } } }, estimateCostUsd: () => 0.01 });

  it('reserves the estimate, settles the real cost, refuses past the limit until the next period', async () => {
    const { h, store, clock } = setup(budget(0.02), () => ({ costUsd: 0.004 }));
    const line = { id: 'key:web:day:2025-06-01', limitUsd: 0.02, periodEndMs: Date.UTC(2025, 5, 2) };
    for (let i = 0; i < 3; i++) await h.complete(req());
    expect((await store.budgets.status([line], clock.now()))[0]).toMatchObject({ reservedUsd: 0 });
    expect((await store.budgets.status([line], clock.now()))[0]!.spentUsd).toBeCloseTo(0.012, 9);
    // 0.012 spent + 0.01 estimate > 0.02.
    const denied = h.complete(req());
    await expect(denied).rejects.toMatchObject({ kind: 'budget_exceeded' });
    expect((await denied.catch((e) => e)).retryAfterMs).toBe(Date.UTC(2025, 5, 2) - clock.now());
    clock.advance(12 * 3600_000);
    await h.complete(req());
  });

  it('releases the reservation when the call fails before any output', async () => {
    const { h, store, clock } = setup(budget(1), () => ({ fail: true }));
    await expect(h.complete(req())).rejects.toThrow('upstream failed');
    await collect(h.stream(req()));
    const [s] = await store.budgets.status([{ id: 'key:web:day:2025-06-01', limitUsd: 1, periodEndMs: Date.UTC(2025, 5, 2) }], clock.now());
    expect(s).toMatchObject({ spentUsd: 0, reservedUsd: 0 });
  });

  it('a cache hit costs nothing; the soft threshold can move a request elsewhere', async () => {
    const clock = createFakeClock(START);
    const store = createMemoryStore({ now: clock.now });
    const upstream = fakeGateway(() => ({ costUsd: 0.05 }));
    const limits = limitsStage(store, {
      now: clock.now,
      quotas: { keys: { web: { budget: { usd: 0.1, period: 'month', softThreshold: 0.5 } } } },
      estimateCostUsd: () => 0.05,
      onSoftBudget: (ctx) => resolvedOf({ ...ctx.request, route: 'cheap' }),
    });
    const h = pipelineOf([limits, cacheStage(store)], upstream);
    const first = h.prepare(req({ chat: chat('same', { temperature: 0 }) }));
    expect((await h.complete(first)).route).toBe('cheap');
    expect(first.budget!.soft).toBe(true);
    const hit = await h.complete(req({ chat: chat('same', { temperature: 0 }), route: 'cheap' }));
    expect(hit.cached).toBe(true);
    const [s] = await store.budgets.status([{ id: 'key:web:month:2025-06', limitUsd: 0.1, periodEndMs: Date.UTC(2025, 6, 1) }], clock.now());
    expect(s!.spentUsd).toBeCloseTo(0.05, 9);
    expect(upstream.calls).toBe(1);
  });

  it('100 concurrent requests against $0.10 overspend by at most one reservation', async () => {
    const { h, store, clock, upstream } = setup({ ...budget(0.1), estimateCostUsd: () => 0.003 }, () => ({ costUsd: 0.003 }));
    upstream.hold();
    const all = Array.from({ length: 100 }, () => h.complete(req()).then(() => true, () => false));
    await new Promise((r) => setTimeout(r, 10));
    upstream.release();
    const ok = (await Promise.all(all)).filter(Boolean).length;
    const [s] = await store.budgets.status([{ id: 'key:web:day:2025-06-01', limitUsd: 0.1, periodEndMs: Date.UTC(2025, 5, 2) }], clock.now());
    expect(ok).toBe(33);
    expect(s!.spentUsd).toBeLessThanOrEqual(0.1 + 0.003);
  });
});

describe('limits stage on Redis, 3 instances', () => {
  const prefixes: string[] = [];
  const stores: Store[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(prefixes.map(dropPrefix));
  });

  async function instances(opts: LimitsStageOptions, reply: () => FakeReply = () => ({})) {
    const prefix = uniquePrefix('limits');
    prefixes.push(prefix);
    const upstream = fakeGateway(reply);
    const clock = createFakeClock(START);
    const hs = [];
    for (let i = 0; i < 3; i++) {
      const s = redisStore(prefix);
      stores.push(s);
      for (let j = 0; j < 100 && (await s.readiness()).status !== 'ready'; j++) await new Promise((r) => setTimeout(r, 20));
      hs.push(pipelineOf([limitsStage(s, { now: clock.now, ...opts })], upstream));
    }
    return { hs, upstream, store: stores.at(-1)!, clock };
  }

  it('a 60 RPM key limit admits exactly 60 of 100 concurrent requests', async () => {
    const { hs, upstream } = await instances({ quotas: { keys: { web: { limits: { rpm: 60 } } } } });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => hs[i % 3]!.complete(req()).then(() => 'ok', (e) => e.kind)));
    expect(results.filter((r) => r === 'ok')).toHaveLength(60);
    expect(results.filter((r) => r === 'rate_limited')).toHaveLength(40);
    expect(upstream.calls).toBe(60);
  });

  it('100 concurrent requests against a $0.10 budget overspend by at most one reservation', async () => {
    const { hs, store, clock } = await instances(
      { quotas: { keys: { web: { budget: { usd: 0.1, period: 'day' } } } }, estimateCostUsd: () => 0.003 },
      () => ({ costUsd: 0.003 }),
    );
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => hs[i % 3]!.complete(req()).then(() => true, () => false)));
    const [s] = await store.budgets.status([{ id: 'key:web:day:2025-06-01', limitUsd: 0.1, periodEndMs: Date.UTC(2025, 5, 2) }], clock.now());
    expect(results.filter(Boolean)).toHaveLength(33);
    expect(s!.spentUsd).toBeLessThanOrEqual(0.1 + 0.003);
    expect(s!.reservedUsd).toBe(0);
  });
});
