/**
 * The pieces behind shared routing state, two "instances" in one process over one real Redis: breakers
 * and latency windows, route changes, runtime API keys with their local cache.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, RouteConfigSchema, type RouteConfig } from '../../src/config/index.ts';
import { routeChangeOf, shareRoutes } from '../../src/gateway/route-sync.ts';
import { createSharedRouterState, type SharedRouterState } from '../../src/gateway/shared-router-state.ts';
import { RouteTable } from '../../src/router/route-table.ts';
import { createAuthenticator } from '../../src/server/authenticator.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createRedisStore } from '../../src/store/redis-store.ts';
import type { Store } from '../../src/store/store.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { dropPrefix, eventually, uniquePrefix } from './cluster.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';

const router = parseConfig({ providers: [{ id: 'p', protocol: 'openai', apiKey: 'k', models: [{ id: 'm' }] }] }, {}).router;
const route = (name: string, model: string): RouteConfig => RouteConfigSchema.parse({ name, targets: [{ provider: 'p', model }] });

describe('shared router state over Redis', () => {
  const prefix = uniquePrefix('rs');
  const stores: Store[] = [];
  const states: SharedRouterState[] = [];
  const open = () => {
    const s = createRedisStore({ target: { mode: 'standalone', host: TEST_REDIS.host, port: TEST_REDIS.port, db: 0, tls: false }, prefix, localCacheMs: 0 });
    stores.push(s);
    return s;
  };
  afterAll(async () => {
    for (const s of states) s.close();
    await Promise.all(stores.map((s) => s.close()));
    await dropPrefix(prefix);
  });

  it('a circuit opened on one instance is skipped by the other; latency samples are merged', async () => {
    const [a, b] = [open(), open()];
    await eventually(() => Promise.all([a.ping(), b.ping()]).then(() => true, () => undefined), 5_000, 'redis');
    const clock = () => performance.now();
    const sa = createSharedRouterState({ router, state: a.routerState, now: clock, refreshMs: 60_000 });
    const sb = createSharedRouterState({ router, state: b.routerState, now: clock, refreshMs: 60_000 });
    states.push(sa, sb);
    expect(sb.breakers.peek('p/m', clock()).state).toBe('closed');
    await sa.breakers.report('p/m', 'broken', clock(), { reason: 'bad key' });
    await eventually(async () => ((await a.routerState.getBreakers(['p/m'])).get('p/m')?.state === 'open' ? true : undefined), 2_000, 'write');
    await sb.refresh();
    expect(sb.breakers.peek('p/m', clock())).toMatchObject({ state: 'open', reason: 'opened by another instance' });
    expect(await sb.breakers.acquire('p/m', clock())).toBe(false);

    for (let i = 0; i < 20; i++) sa.latency.record('p/m', 800, clock());
    expect(sb.latency.p95('p/m', clock())).toBeUndefined();
    await eventually(async () => ((await a.routerState.readLatency('p/m', 0)).length === 20 ? true : undefined), 2_000, 'samples');
    await sb.refresh();
    expect(sb.latency.p95('p/m', clock())).toBeGreaterThanOrEqual(800);
    expect(sb.latency.stats(['p/m'], clock()).count).toBe(20);
  });

  it('route changes reach every table, by version; a resync reloads the snapshot', async () => {
    const [a, b] = [open(), open()];
    await eventually(() => Promise.all([a.ping(), b.ping()]).then(() => true, () => undefined), 5_000, 'redis');
    const ta = new RouteTable([route('default', 'm')]);
    const tb = new RouteTable([route('default', 'm')]);
    const errors: string[] = [];
    const offA = await shareRoutes(ta, a.routes, (op) => errors.push(op));
    const offB = await shareRoutes(tb, b.routes, (op) => errors.push(op));
    try {
      const changed = await ta.commitUpsert(route('default', 'm2'));
      expect(changed.version).toBeGreaterThan(1);
      await eventually(async () => (tb.get('default')?.route.targets[0]!.model === 'm2' ? true : undefined), 2_000, 'the change on b');
      expect(tb.get('default')!.version).toBe(changed.version);
      expect(await tb.commitDelete('default')).toBe(true);
      await eventually(async () => (ta.get('default') === undefined ? true : undefined), 2_000, 'the delete on a');
      // An old message arriving late changes nothing.
      expect(ta.apply({ op: 'upsert', version: 1, name: 'default', route: route('default', 'old') })).toBe(false);
      const fresh = new RouteTable([route('default', 'm')]);
      fresh.reset((await a.routes.snapshot()).changes.map(routeChangeOf));
      expect(fresh.get('default')).toBeUndefined();
      expect(errors).toEqual([]);
    } finally {
      offA();
      offB();
    }
  });
});

describe('route changes another version wrote', () => {
  it('a stored route the config schema rejects is reported and skipped; the other changes apply', async () => {
    const store = createMemoryStore();
    // Written as another instance (or version) might: the store keeps named JSON, the table's owner validates.
    await store.routes.upsert({ name: 'future', targets: 'some-new-shape' });
    await store.routes.upsert(route('known', 'm'));
    const table = new RouteTable([route('default', 'm')]);
    const errors: string[] = [];
    const off = await shareRoutes(table, store.routes, (op) => errors.push(op));
    try {
      expect(table.get('known')?.route.targets[0]!.model).toBe('m');
      expect(table.get('future')).toBeUndefined();
      expect(errors).toEqual(['route change']);
      await store.routes.upsert({ name: 'later', strategy: 'no-such-strategy', targets: [] });
      await table.commitUpsert(route('default', 'm2'));
      await eventually(async () => (table.get('default')?.route.targets[0]!.model === 'm2' ? true : undefined), 2_000, 'the good change');
      expect(table.get('later')).toBeUndefined();
      expect(errors).toEqual(['route change', 'route change']);
    } finally {
      off();
      await store.close();
    }
  });
});

describe('runtime API keys', () => {
  it('config keys first, then the store by hash; a revocation elsewhere is seen once the TTL has passed', async () => {
    const clock = createFakeClock(1_000);
    const store = createMemoryStore();
    const auth = createAuthenticator([{ key: 'config-key-0123456789', name: 'ops', scope: 'admin' }], { store: store.apiKeys, keyCacheTtlMs: 1_000, now: clock.now });
    try {
      expect(auth.authenticate('Bearer config-key-0123456789')).toMatchObject({ name: 'ops', scope: 'admin' });
      const { secret, key } = await store.apiKeys.create({ name: 'late', team: 'web', routes: ['default'] });
      // Created on another instance: unknown to the synchronous path until looked up once.
      expect(() => auth.authenticate(`Bearer ${secret}`)).toThrow('invalid API key');
      expect(await auth.resolve(`Bearer ${secret}`)).toMatchObject({ name: 'late', scope: 'client', team: 'web', routes: ['default'] });
      expect(auth.authenticate(`Bearer ${secret}`)).toMatchObject({ name: 'late' });
      await store.apiKeys.revoke(key.id);
      // Within the TTL the local copy answers (the store is not asked on every request) …
      expect(await auth.resolve(`Bearer ${secret}`)).toMatchObject({ name: 'late' });
      clock.advance(1_000);
      // … after it, the store is asked again and the key is refused.
      await expect(auth.resolve(`Bearer ${secret}`)).rejects.toMatchObject({ kind: 'auth' });
      expect(() => auth.authenticate(`Bearer ${secret}`)).toThrow('invalid API key');
      await expect(auth.resolve('Bearer nope-nope-nope-nope')).rejects.toMatchObject({ kind: 'auth', message: 'invalid API key' });
      await expect(auth.resolve(undefined)).rejects.toMatchObject({ kind: 'auth', message: expect.stringContaining('missing API key') });
    } finally {
      auth.close();
    }
  });

  it('a key created or revoked on this instance takes effect here at once', async () => {
    const store = createMemoryStore();
    const auth = createAuthenticator([{ key: 'config-key-0123456789', name: 'ops', scope: 'admin' }], { store: store.apiKeys, keyCacheTtlMs: 60_000 });
    try {
      const { secret, key } = await store.apiKeys.create({ name: 'here', scope: 'admin' });
      auth.remember(secret, key);
      expect(auth.authenticate(`Bearer ${secret}`)).toMatchObject({ name: 'here', scope: 'admin' });
      auth.forget(key.id);
      expect(() => auth.authenticate(`Bearer ${secret}`)).toThrow('invalid API key');
    } finally {
      auth.close();
    }
  });
});
