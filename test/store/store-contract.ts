/**
 * The store contract: every backend must pass this suite (memory.test.ts, redis.test.ts). "Instances"
 * are `harness.peer(store)`: for Redis a second connection over the same key prefix (another gateway
 * process), for memory the same store (memory is one process by definition).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RouteConfigSchema } from '../../src/config/index.ts';
import { hashApiKey } from '../../src/store/api-key-secret.ts';
import type { BudgetLine, RouteChange, RouteResync, Store } from '../../src/store/store.ts';

export interface StoreHarness {
  /** A fresh, empty store. */
  create(): Promise<Store>;
  /** Another instance over the same data. */
  peer(store: Store): Promise<Store>;
  /** Lets backend TTLs pass (fake clock for memory; real time for Redis). */
  advance(ms: number): Promise<void>;
}

// Rate-limit and budget times are the caller's: a window-aligned epoch keeps the arithmetic readable.
const T0 = 1_700_000_040_000 - (1_700_000_040_000 % 60_000);
const DAY_END = T0 + 86_400_000;

const route = (name: string, maxAttempts = 2) =>
  RouteConfigSchema.parse({ name, targets: [{ provider: 'p', model: 'm' }], maxAttempts });

export function runStoreContract(name: string, h: StoreHarness): void {
  describe(`store contract: ${name}`, () => {
    const open: Store[] = [];
    const make = async () => {
      const s = await h.create();
      open.push(s);
      return s;
    };
    const peer = async (s: Store) => {
      const p = await h.peer(s);
      if (p !== s) open.push(p);
      return p;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    describe('cache', () => {
      it('stores, reads, deletes; small, large (compressed) and non-ASCII values round-trip', async () => {
        const s = await make();
        expect(await s.cache.get('nope')).toBeUndefined();
        const large = JSON.stringify({ text: 'the quick brown fox jumps over the lazy dog '.repeat(5000), emoji: 'héllo ✓ 😀' });
        await s.cache.set('a', 'small ✓', 60_000);
        await s.cache.set('b', large, 60_000);
        expect(await s.cache.get('a')).toBe('small ✓');
        expect(await (await peer(s)).cache.get('b')).toBe(large);
        await s.cache.delete('a');
        expect(await s.cache.get('a')).toBeUndefined();
      });

      it('forgets values after their TTL', async () => {
        const s = await make();
        await s.cache.set('short', 'x', 40);
        await s.cache.set('long', 'y', 60_000);
        await h.advance(120);
        expect(await s.cache.get('short')).toBeUndefined();
        expect(await s.cache.get('long')).toBe('y');
      });
    });

    describe('in-flight coalescing primitives', () => {
      it('one leader per key; a waiting follower on another instance gets the shared value', async () => {
        const a = await make();
        const b = await peer(a);
        const token = await a.inflight.lead('k', 10_000);
        expect(token).toEqual(expect.any(String));
        expect(await b.inflight.lead('k', 10_000)).toBeNull();
        expect(await a.inflight.lead('other', 10_000)).toEqual(expect.any(String));
        const waiting = b.inflight.wait('k', 10_000);
        await a.inflight.resolve('k', token!, 'the answer', 10_000);
        expect(await waiting).toEqual({ kind: 'value', value: 'the answer' });
        // A follower arriving after the leader finished still reads the result.
        expect(await b.inflight.wait('k', 10_000)).toEqual({ kind: 'value', value: 'the answer' });
      });

      it('a leader that abandons leaves the key vacant, and a new leader can take it', async () => {
        const a = await make();
        const b = await peer(a);
        const token = (await a.inflight.lead('k', 10_000))!;
        const waiting = b.inflight.wait('k', 10_000);
        await a.inflight.abandon('k', token);
        expect(await waiting).toEqual({ kind: 'vacant' });
        expect(await b.inflight.lead('k', 10_000)).toEqual(expect.any(String));
      });

      it('a crashed leader blocks nobody past its lock TTL; a wait times out while the lock is held', async () => {
        const a = await make();
        const b = await peer(a);
        await a.inflight.lead('k', 60);
        expect(await b.inflight.wait('k', 10)).toEqual({ kind: 'timeout' });
        await h.advance(150);
        expect(await b.inflight.wait('k', 10)).toEqual({ kind: 'vacant' });
        expect(await b.inflight.lead('k', 10_000)).toEqual(expect.any(String));
      });

      it('only the lock owner releases it', async () => {
        const a = await make();
        const token = (await a.inflight.lead('k', 10_000))!;
        await a.inflight.abandon('k', 'not-the-token');
        expect(await a.inflight.lead('k', 10_000)).toBeNull();
        await a.inflight.abandon('k', token);
        expect(await a.inflight.lead('k', 10_000)).toEqual(expect.any(String));
      });
    });

    describe('idempotency records', () => {
      it('claims once, reports pending with the body hash, then done with the value', async () => {
        const a = await make();
        const b = await peer(a);
        expect(await a.idempotency.begin('k', 'h1', 60_000)).toEqual({ state: 'started' });
        expect(await b.idempotency.begin('k', 'h2', 60_000)).toEqual({ state: 'pending', bodyHash: 'h1' });
        const waiting = b.idempotency.wait('k', 10_000);
        await a.idempotency.complete('k', 'h1', '{"id":"c1"}', 60_000);
        expect(await waiting).toEqual({ state: 'done', bodyHash: 'h1', value: '{"id":"c1"}' });
        expect(await b.idempotency.begin('k', 'h1', 60_000)).toEqual({ state: 'done', bodyHash: 'h1', value: '{"id":"c1"}' });
        // A late abandon never loses a finished record.
        await b.idempotency.abandon('k');
        expect((await a.idempotency.begin('k', 'h1', 60_000)).state).toBe('done');
      });

      it('an abandoned key can be used again; a pending one expires', async () => {
        const a = await make();
        await a.idempotency.begin('k', 'h', 60_000);
        const waiting = a.idempotency.wait('k', 10_000);
        await a.idempotency.abandon('k');
        expect(await waiting).toEqual({ state: 'absent' });
        expect(await a.idempotency.begin('k', 'h', 60)).toEqual({ state: 'started' });
        await h.advance(150);
        expect(await a.idempotency.begin('k', 'other', 60_000)).toEqual({ state: 'started' });
      });
    });

    describe('API keys', () => {
      it('returns the secret once, finds the key by its hash, revokes it', async () => {
        const a = await make();
        const b = await peer(a);
        const { secret, key } = await a.apiKeys.create({ name: 'web', scope: 'client', routes: ['default'], models: [], team: 'web', user: 'u1' });
        expect(secret.length).toBeGreaterThanOrEqual(32);
        expect(JSON.stringify(key)).not.toContain(secret);
        expect(key).toMatchObject({ name: 'web', scope: 'client', routes: ['default'], models: [], team: 'web', user: 'u1', revokedAt: null });
        expect(await b.apiKeys.lookup(hashApiKey(secret))).toEqual(key);
        expect(await b.apiKeys.lookup(hashApiKey(`${secret}x`))).toBeUndefined();
        const other = await a.apiKeys.create({ name: 'ops', scope: 'admin' });
        expect(other.key.scope).toBe('admin');
        expect(other.secret).not.toBe(secret);
        expect(await b.apiKeys.revoke(key.id)).toBe(true);
        expect(await a.apiKeys.revoke(key.id)).toBe(false);
        expect(await a.apiKeys.revoke('key_unknown')).toBe(false);
        expect(await a.apiKeys.lookup(hashApiKey(secret))).toBeUndefined();
        expect(await a.apiKeys.lookup(hashApiKey(other.secret))).toEqual(other.key);
        const listed = await a.apiKeys.list();
        expect(listed.map((k) => k.name).sort()).toEqual(['ops', 'web']);
        expect(listed.find((k) => k.id === key.id)!.revokedAt).toEqual(expect.any(String));
      });

      it('rejects a key without a name', async () => {
        const a = await make();
        await expect(a.apiKeys.create({ name: '' })).rejects.toThrow();
      });
    });

    describe('rate limits', () => {
      const rpm = (limit: number, key = 'key:web:rpm') => ({ key, limit, windowMs: 60_000, cost: 1 });

      it('admits the limit, then denies with retry-after; a denied request takes nothing from any rule', async () => {
        const a = await make();
        for (let i = 0; i < 3; i++) expect((await a.limits.consume([rpm(3), rpm(100, 'team:t:rpm')], T0)).allowed).toBe(true);
        const denied = await a.limits.consume([rpm(3), rpm(100, 'team:t:rpm')], T0 + 1000);
        expect(denied.allowed).toBe(false);
        expect(denied.rules[0]).toMatchObject({ key: 'key:web:rpm', allowed: false, remaining: 0 });
        expect(denied.rules[0]!.retryAfterMs).toBeGreaterThan(0);
        expect(denied.rules[1]).toMatchObject({ allowed: true, remaining: 97 });
        expect((await a.limits.peek([rpm(100, 'team:t:rpm')], T0 + 1000))[0]!.remaining).toBe(97);
      });

      it('slides: the previous window counts by its overlap, and retry-after is exact', async () => {
        const a = await make();
        for (let i = 0; i < 10; i++) await a.limits.consume([rpm(10)], T0);
        const denied = await a.limits.consume([rpm(10)], T0);
        // 10 used, need used <= 9: reached 6 s into the next window (10 × (1 − 0.1) = 9).
        expect(denied.rules[0]!.retryAfterMs).toBe(66_000);
        expect(denied.rules[0]!.resetMs).toBe(120_000);
        expect((await a.limits.consume([rpm(10)], T0 + 65_999)).allowed).toBe(false);
        const ok = await a.limits.consume([rpm(10)], T0 + 66_000);
        expect(ok.allowed).toBe(true);
        expect(ok.rules[0]!.remaining).toBe(0);
        // Half-way through the next window the old window weighs 5: 5 − 1 taken = 4 left.
        const half = await a.limits.peek([rpm(10)], T0 + 90_000);
        expect(half[0]!.remaining).toBe(4);
      });

      it('adjust corrects a consumed amount; a cost above the limit is never admitted', async () => {
        const a = await make();
        const tpm = { key: 'key:web:tpm', limit: 1000, windowMs: 60_000, cost: 800 };
        expect((await a.limits.consume([tpm], T0)).rules[0]!.remaining).toBe(200);
        expect((await a.limits.consume([tpm], T0)).allowed).toBe(false);
        await a.limits.adjust([{ key: 'key:web:tpm', windowMs: 60_000, delta: -700 }], T0);
        expect((await a.limits.consume([tpm], T0)).rules[0]!.remaining).toBe(100);
        const huge = await a.limits.consume([{ ...tpm, key: 'x:tpm', cost: 5000 }], T0);
        expect(huge.allowed).toBe(false);
        expect(huge.rules[0]!.retryAfterMs).toBe(60_000);
      });

      it('100 concurrent requests from several instances against 60 RPM: exactly 60 admitted', async () => {
        const a = await make();
        const instances = [a, await peer(a), await peer(a)];
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => instances[i % 3]!.limits.consume([rpm(60)], T0 + i)));
        expect(results.filter((r) => r.allowed)).toHaveLength(60);
      });
    });

    describe('budgets', () => {
      const line = (id: string, limitUsd: number, softThreshold?: number): BudgetLine => ({ id, limitUsd, periodEndMs: DAY_END, softThreshold });

      it('reserves within the limit, refuses beyond it, settles and releases', async () => {
        const a = await make();
        const l = line('key:web:day', 1);
        const r1 = await a.budgets.reserve([l], 0.6, 60_000, T0);
        expect(r1.ok).toBe(true);
        const r2 = await a.budgets.reserve([l], 0.6, 60_000, T0);
        expect(r2).toMatchObject({ ok: false, blockedBy: 'key:web:day' });
        if (!r1.ok) throw new Error('unreachable');
        await a.budgets.settle(r1.reservation, 0.25, T0);
        expect(await a.budgets.status([l], T0)).toEqual([{ id: 'key:web:day', limitUsd: 1, spentUsd: 0.25, reservedUsd: 0 }]);
        const r3 = await a.budgets.reserve([l], 0.7, 60_000, T0);
        expect(r3.ok).toBe(true);
        if (!r3.ok) throw new Error('unreachable');
        await a.budgets.release(r3.reservation, T0);
        // Settling twice must not release twice.
        await a.budgets.release(r3.reservation, T0);
        expect((await a.budgets.status([l], T0))[0]).toMatchObject({ spentUsd: 0.25, reservedUsd: 0 });
      });

      it('is all-or-nothing across lines and flags the soft threshold', async () => {
        const a = await make();
        const key = line('key:web:day', 10, 0.5);
        const team = line('team:t:day', 1, 0.5);
        expect(await a.budgets.reserve([key, team], 0.4, 60_000, T0)).toMatchObject({ ok: true, soft: false });
        expect(await a.budgets.reserve([key, team], 0.4, 60_000, T0)).toMatchObject({ ok: true, soft: true });
        expect(await a.budgets.reserve([key, team], 0.4, 60_000, T0)).toMatchObject({ ok: false, blockedBy: 'team:t:day' });
        const [k] = await a.budgets.status([key], T0);
        expect(k!.reservedUsd).toBeCloseTo(0.8, 9);
      });

      it('a reservation never settled (its instance died) stops counting after its TTL', async () => {
        const a = await make();
        const l = line('key:web:day', 1);
        expect((await a.budgets.reserve([l], 1, 1_000, T0)).ok).toBe(true);
        expect((await a.budgets.reserve([l], 0.5, 1_000, T0 + 500)).ok).toBe(false);
        expect((await a.budgets.reserve([l], 0.5, 1_000, T0 + 1_001)).ok).toBe(true);
      });

      it('100 concurrent reservations from several instances against $0.10 overspend by at most one reservation', async () => {
        const a = await make();
        const instances = [a, await peer(a), await peer(a)];
        const l = line('key:web:day', 0.1);
        const amount = 0.003;
        const results = await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const s = instances[i % 3]!;
            const r = await s.budgets.reserve([l], amount, 60_000, T0);
            if (r.ok) await s.budgets.settle(r.reservation, amount, T0);
            return r.ok;
          }),
        );
        const [state] = await a.budgets.status([l], T0);
        expect(results.filter(Boolean)).toHaveLength(33);
        expect(state!.spentUsd).toBeLessThanOrEqual(0.1 + amount);
        expect(state!.spentUsd).toBeCloseTo(0.099, 9);
        expect(state!.reservedUsd).toBe(0);
      });
    });

    describe('shared router state', () => {
      it('breaker records and latency samples written by one instance are read by another', async () => {
        const a = await make();
        const b = await peer(a);
        const rec = { state: 'open' as const, consecutiveFailures: 5, openedAtMs: T0, retryAtMs: T0 + 30_000, updatedAtMs: T0 };
        await a.routerState.setBreaker('openai/gpt', rec);
        const got = await b.routerState.getBreakers(['openai/gpt', 'anthropic/claude']);
        expect(got.get('openai/gpt')).toEqual(rec);
        expect(got.has('anthropic/claude')).toBe(false);
        for (let i = 0; i < 5; i++) await a.routerState.pushLatency('openai/gpt', { atMs: T0 + i * 1000, latencyMs: 100 + i, ok: i !== 2 });
        const samples = await b.routerState.readLatency('openai/gpt', T0 + 2000);
        expect(samples).toEqual([
          { atMs: T0 + 2000, latencyMs: 102, ok: false },
          { atMs: T0 + 3000, latencyMs: 103, ok: true },
          { atMs: T0 + 4000, latencyMs: 104, ok: true },
        ]);
      });
    });

    describe('route changes', () => {
      it('versions every change, keeps a snapshot, and tells every instance', async () => {
        const a = await make();
        const b = await peer(a);
        const seen: (RouteChange | RouteResync)[] = [];
        const two = new Promise<void>((resolve) => {
          b.routes.subscribe((c) => {
            seen.push(c);
            if (seen.filter((x) => x.op !== 'resync').length === 2) resolve();
          });
        });
        // Give a fresh Redis subscriber its SUBSCRIBE before publishing.
        await h.advance(50);
        const v1 = await a.routes.upsert(route('chat', 3));
        const v2 = await a.routes.delete('old');
        expect(v2).toBeGreaterThan(v1);
        await two;
        expect(seen.filter((c) => c.op !== 'resync')).toEqual([
          { op: 'upsert', version: v1, name: 'chat', route: route('chat', 3) },
          { op: 'delete', version: v2, name: 'old' },
        ]);
        const v3 = await b.routes.upsert(route('chat', 4));
        const snap = await a.routes.snapshot();
        expect(snap.version).toBe(v3);
        expect(snap.changes).toEqual([
          { op: 'delete', version: v2, name: 'old' },
          { op: 'upsert', version: v3, name: 'chat', route: route('chat', 4) },
        ]);
      });
    });

    describe('health', () => {
      it('pings and reports ready', async () => {
        const a = await make();
        await a.ping();
        expect(await a.readiness()).toMatchObject({ status: 'ready', backend: a.kind });
      });
    });
  });
}
