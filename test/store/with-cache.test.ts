import { afterAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/core/index.ts';
import { cacheStage } from '../../src/gateway/cache-stage.ts';
import type { StoreRequest } from '../../src/gateway/gateway-request.ts';
import type { RequestContext } from '../../src/gateway/request-context.ts';
import { cacheKeyOf } from '../../src/gateway/request-hash.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import type { Store } from '../../src/store/store.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { chat, collect, fakeGateway, pipelineOf } from './fake-gateway.ts';
import { dropPrefix, redisStore, uniquePrefix } from './redis-harness.ts';

function setup(opts: Parameters<typeof cacheStage>[1] = {}) {
  const clock = createFakeClock(1_700_000_000_000);
  const store = createMemoryStore({ now: clock.now });
  const upstream = fakeGateway();
  const h = pipelineOf([cacheStage(store, { now: clock.now, ...opts })], upstream, { now: clock.now });
  return { clock, store, upstream, h };
}

const req = (content: string, extra: Partial<StoreRequest> = {}): StoreRequest => ({
  chat: chat(content),
  route: 'default',
  ...extra,
});

describe('request hash', () => {
  it('ignores key order, JSON whitespace, lone text parts and cache markers; not what changes the answer', () => {
    const tool = (params: Record<string, unknown>) => ({ name: 'lookup', parameters: params });
    const a: StoreRequest = {
      route: 'default',
      chat: {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: null, toolCalls: [{ id: 'c1', name: 'lookup', arguments: '{"q": "x", "n": 1}' }] },
        ],
        tools: [tool({ type: 'object', properties: { q: { type: 'string' } }, required: ['q'] })],
        temperature: 0,
      },
    };
    const b: StoreRequest = {
      route: 'default',
      chat: {
        temperature: 0,
        tools: [tool({ required: ['q'], properties: { q: { type: 'string' } }, type: 'object' })],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'hi', cacheControl: { type: 'ephemeral' } }] },
          { role: 'assistant', content: null, toolCalls: [{ id: 'c1', name: 'lookup', arguments: '{"n":1,\n"q":"x"}' }] },
        ],
        metadata: { user: 'someone' },
      },
    };
    expect(cacheKeyOf(a)).toBe(cacheKeyOf(b));
    expect(cacheKeyOf(a)).not.toBe(cacheKeyOf({ ...a, chat: { ...a.chat, temperature: 0.5 } }));
    expect(cacheKeyOf(a)).not.toBe(cacheKeyOf({ ...a, route: 'other' }));
    expect(cacheKeyOf(a)).not.toBe(cacheKeyOf({ ...a, chat: { ...a.chat, maxOutputTokens: 10 } }));
    expect(cacheKeyOf(a)).not.toBe(cacheKeyOf({ ...a, chat: { ...a.chat, responseFormat: { type: 'json_object' } } }));
    expect(cacheKeyOf(a)).not.toBe(cacheKeyOf(a, 'team-b'));
  });
});

describe('cache stage', () => {
  it('answers a repeated deterministic request from the cache: cached, cost 0, a new id, no upstream call', async () => {
    const { h, upstream } = setup();
    const r1 = h.prepare(req('hello'));
    const first = await h.complete(r1);
    expect(r1.cacheStatus).toBe('MISS');
    const r2 = h.prepare(req('hello'));
    const second = await h.complete(r2);
    expect(upstream.calls).toBe(1);
    expect(r2.cacheStatus).toBe('HIT');
    expect(second).toMatchObject({ cached: true, costUsd: 0, attempts: [], message: first.message, usage: first.usage });
    expect(second.id).not.toBe(first.id);
    expect(first.cached).toBe(false);
  });

  it('caches only deterministic requests unless the request opts in', async () => {
    const { h, upstream } = setup();
    await h.complete(req('warm', { chat: chat('warm', { temperature: 0.7 }) }));
    await h.complete(req('warm', { chat: chat('warm', { temperature: 0.7 }) }));
    expect(upstream.calls).toBe(2);
    const optIn = () => req('warm', { chat: chat('warm', { temperature: 0.7 }), cache: { mode: 'DEFAULT' } });
    await h.complete(optIn());
    const r = optIn();
    expect((await h.complete(r)).cached).toBe(true);
    expect(upstream.calls).toBe(3);
  });

  it('BYPASS, REFRESH and ONLY', async () => {
    const { h, upstream } = setup();
    await h.complete(req('q'));
    const bypass = h.prepare(req('q', { cache: { mode: 'BYPASS' } }));
    expect((await h.complete(bypass)).cached).toBe(false);
    expect(bypass.cacheStatus).toBe('BYPASS');
    const refresh = req('q', { cache: { mode: 'REFRESH' } });
    const fresh = await h.complete(refresh);
    expect(fresh.cached).toBe(false);
    expect(upstream.calls).toBe(3);
    // REFRESH stored its answer: the next hit is the refreshed one.
    expect((await h.complete(req('q'))).message.content).toBe(fresh.message.content);
    expect((await h.complete(req('q', { cache: { mode: 'ONLY' } }))).cached).toBe(true);
    const miss = h.complete(req('never asked', { cache: { mode: 'ONLY' } }));
    await expect(miss).rejects.toMatchObject({ kind: 'not_found', param: 'cache' });
    expect(upstream.calls).toBe(3);
    await expect(h.complete(req('q', { cache: { mode: 'SOMETIMES' as 'ONLY' } }))).rejects.toMatchObject({ kind: 'invalid_request', param: 'cache' });
  });

  it('expires by per-request ttlSeconds, else the route TTL, else the default', async () => {
    const { h, upstream, clock } = setup({ config: { defaultTtlSeconds: 3600, routes: { short: { ttlSeconds: 10 } } } });
    await h.complete(req('a', { cache: { mode: 'DEFAULT', ttlSeconds: 5 } }));
    await h.complete(req('b', { route: 'short' }));
    await h.complete(req('c'));
    clock.advance(6_000);
    expect((await h.complete(req('a'))).cached).toBe(false);
    expect((await h.complete(req('b', { route: 'short' }))).cached).toBe(true);
    clock.advance(5_000);
    expect((await h.complete(req('b', { route: 'short' }))).cached).toBe(false);
    expect((await h.complete(req('c'))).cached).toBe(true);
    expect(upstream.calls).toBe(5);
  });

  it('never caches errors or truncated answers', async () => {
    const clock = createFakeClock(0);
    const store = createMemoryStore({ now: clock.now });
    const upstream = fakeGateway((r) => (r.chat.messages[0]!.content === 'long' ? { finishReason: 'length' } : { fail: r.chat.messages[0]!.content === 'fail' }));
    const h = pipelineOf([cacheStage(store)], upstream);
    await expect(h.complete(req('fail'))).rejects.toThrow('upstream failed');
    await expect(h.complete(req('fail'))).rejects.toThrow('upstream failed');
    await h.complete(req('long'));
    expect((await h.complete(req('long'))).cached).toBe(false);
    await collect(h.stream(req('fail')));
    expect(upstream.calls).toBe(5);
    const cut = fakeGateway(() => ({ failMidStream: true }));
    const hc = pipelineOf([cacheStage(store)], cut);
    const events = await collect(hc.stream(req('cut')));
    expect(events.at(-1)!.type).toBe('error');
    await collect(hc.stream(req('cut')));
    expect(cut.calls).toBe(2);
  });

  it('replays a cached answer to a streaming request as a stream', async () => {
    const { h, upstream } = setup();
    const live = await collect(h.stream(req('stream me')));
    expect(live.map((e) => e.type)).toEqual(['start', 'text-delta', 'text-delta', 'done']);
    const r = h.prepare(req('stream me'));
    const replay = await collect(h.stream(r));
    expect(upstream.calls).toBe(1);
    expect(r.cacheStatus).toBe('HIT');
    expect(replay.map((e) => e.type)).toEqual(['start', 'text-delta', 'done']);
    const done = replay.at(-1) as Extract<(typeof replay)[number], { type: 'done' }>;
    const liveDone = live.at(-1) as typeof done;
    expect(done.completion).toMatchObject({ cached: true, costUsd: 0, message: liveDone.completion.message });
    expect((replay[0] as { id: string }).id).toBe(done.completion.id);
    expect(replay[1]).toEqual({ type: 'text-delta', text: liveDone.completion.message.content });
    // A non-streamed answer is served to a stream too, and the other way round.
    await h.complete(req('plain'));
    expect((await collect(h.stream(req('plain')))).at(-1)).toMatchObject({ type: 'done', completion: { cached: true } });
    expect((await h.complete(req('stream me'))).cached).toBe(true);
    expect(upstream.calls).toBe(2);
  });

  it('runs after the request was resolved, so a hit never skips the access decision; keeps partitions apart', async () => {
    const { store, upstream } = setup();
    const h = pipelineOf([cacheStage(store, { partition: (ctx) => ctx.request.principal?.team })], upstream, {
      authorize: (r) => {
        if (r.principal?.name === 'intruder') throw new GatewayError('forbidden', 'no');
      },
    });
    await h.complete(req('secret plan', { principal: { name: 'a', scope: 'client', team: 't1' } }));
    await expect(h.complete(req('secret plan', { principal: { name: 'intruder', scope: 'client', team: 't1' } }))).rejects.toMatchObject({ kind: 'forbidden' });
    expect((await h.complete(req('secret plan', { principal: { name: 'b', scope: 'client', team: 't2' } }))).cached).toBe(false);
    expect((await h.complete(req('secret plan', { principal: { name: 'c', scope: 'client', team: 't1' } }))).cached).toBe(true);
    expect(upstream.calls).toBe(2);
  });

  it('coalesces 50 identical concurrent requests into one upstream call', async () => {
    const { h, upstream } = setup();
    upstream.hold();
    const metas: RequestContext[] = [];
    const all = Array.from({ length: 50 }, (_, i) => {
      const r = h.prepare(req('same'));
      metas.push(r);
      return i % 2 === 0 ? h.complete(r) : collect(h.stream(r));
    });
    await new Promise((r) => setTimeout(r, 30));
    upstream.release();
    const results = await Promise.all(all);
    expect(upstream.calls).toBe(1);
    expect(metas.filter((m) => m.cacheStatus === 'MISS')).toHaveLength(1);
    expect(metas.filter((m) => m.cacheStatus === 'COALESCED')).toHaveLength(49);
    for (const r of results) {
      const c = Array.isArray(r) ? (r.at(-1) as { completion: { message: unknown } }).completion : r;
      expect(c.message).toEqual({ role: 'assistant', content: 'answer to "same"', toolCalls: [] });
    }
  });

  it('a crashed leader does not block followers: they go upstream after the wait', async () => {
    const { store, upstream, clock } = setup();
    const h = pipelineOf([cacheStage(store, { now: clock.now, config: { coalesceWaitMs: 20 } })], upstream, { now: clock.now });
    // Another instance took the lead for this request and died.
    const r = req('orphan');
    const crashed = await store.inflight.lead(cacheKeyOf(r), 60_000);
    expect(crashed).not.toBeNull();
    expect((await h.complete(r)).message.content).toBe('answer to "orphan"');
    expect(upstream.calls).toBe(1);
    // Once its lock expired, the next request leads again (and shares) instead of waiting at all.
    clock.advance(61_000);
    const again = req('orphan', { cache: { mode: 'REFRESH' } });
    await h.complete(again);
    expect(upstream.calls).toBe(2);
  });
});

describe('cache stage on Redis', () => {
  const prefixes: string[] = [];
  const stores: Store[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(prefixes.map(dropPrefix));
  });

  it('coalesces 50 identical concurrent requests across 3 instances into one upstream call', async () => {
    const prefix = uniquePrefix('coalesce');
    prefixes.push(prefix);
    const upstream = fakeGateway();
    const instances = [0, 1, 2].map(() => {
      const s = redisStore(prefix, { pollMs: 50 });
      stores.push(s);
      return pipelineOf([cacheStage(s)], upstream);
    });
    for (const s of stores) for (let i = 0; i < 100 && (await s.readiness()).status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
    upstream.hold();
    const all = Array.from({ length: 50 }, (_, i) => instances[i % 3]!.complete(req('same everywhere')));
    await new Promise((r) => setTimeout(r, 100));
    upstream.release();
    const results = await Promise.all(all);
    expect(upstream.calls).toBe(1);
    expect(results.filter((c) => c.cached)).toHaveLength(49);
    expect(new Set(results.map((c) => c.message.content))).toEqual(new Set(['answer to "same everywhere"']));
    // And the answer is now cached for every instance.
    expect((await instances[2]!.complete(req('same everywhere'))).cached).toBe(true);
    expect(upstream.calls).toBe(1);
  });
});
