import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { ApiKeyInputSchema, ApiKeyRecordSchema, applyApiKeyUpdate, BudgetEventSchema, type ApiKeyRecord, type BudgetEvent } from '../core/index.ts';
import { hashApiKey, newApiKeyId, newApiKeySecret, secretPrefix } from './api-key-secret.ts';
import { createCodec } from './codec.ts';
import { createRedisCommands } from './redis-commands.ts';
import { connectRedis } from './redis-connection.ts';
import { createRedisLimits } from './redis-limits.ts';
import { createRedisTeams } from './redis-teams.ts';
import { createRedisRouterState } from './redis-router-state.ts';
import type { RedisTarget } from './redis-url.ts';
import { storeUnavailable } from './store-error.ts';
import { StoredRouteSchema, type IdempotencyState, type InflightOutcome, type RouteChange, type RouteResync, type Store } from './store.ts';

export interface RedisStoreOptions {
  target: RedisTarget;
  /** Prepended to every key and to the pub/sub channel; must not contain `{` or `}` (hash tags). */
  prefix: string;
  compressAboveBytes?: number;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** How long router-state reads are served locally. */
  localCacheMs?: number;
  /** How often waiters re-check, in case a pub/sub message was lost (e.g. across a reconnect). */
  pollMs?: number;
  onError?: (message: string) => void;
  /** Epoch ms for record timestamps (createdAt); rate limits and budgets take the caller's time. */
  now?: () => number;
}

const EventSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('if'), k: z.string() }),
  z.object({ t: z.literal('idem'), k: z.string() }),
  z.object({ t: z.literal('route'), version: z.number(), change: z.record(z.string(), z.unknown()) }),
  /** An instance has applied route change `v`. */
  z.object({ t: z.literal('ack'), v: z.number() }),
  z.object({ t: z.literal('budget'), event: BudgetEventSchema }),
]);

/** How often an API key update re-reads the record when another update changed it in between. */
const API_KEY_UPDATE_TRIES = 8;

/** How long a route change waits for every instance to say it applied the change (an instance gone quiet must not hang the mutation). */
const ROUTE_ACK_WAIT_MS = 1_000;

const RouteChangePayloadSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('upsert'), name: z.string(), route: StoredRouteSchema }),
  z.object({ op: z.literal('delete'), name: z.string() }),
]);

function toChange(version: number, payload: unknown): RouteChange {
  const p = RouteChangePayloadSchema.parse(payload);
  return p.op === 'upsert' ? { op: 'upsert', version, name: p.name, route: p.route } : { op: 'delete', version, name: p.name };
}

/** The Redis backend. Keys: `<prefix>…`; see redis-scripts.ts for the multi-key scripts' hash tags. */
export function createRedisStore(opts: RedisStoreOptions): Store {
  const { prefix } = opts;
  if (/[{}]/.test(prefix)) throw new Error('store prefix must not contain { or }');
  const now = opts.now ?? Date.now;
  const pollMs = opts.pollMs ?? 250;
  const codec = createCodec({ compressAboveBytes: opts.compressAboveBytes ?? 2048 });
  const { client, subscriber } = connectRedis(opts.target, {
    connectTimeoutMs: opts.connectTimeoutMs ?? 2_000,
    commandTimeoutMs: opts.commandTimeoutMs ?? 1_000,
    onError: opts.onError,
  });
  const cmd = createRedisCommands(client);
  const channel = `${prefix}events`;
  const k = {
    cache: (key: string) => `${prefix}c:${key}`,
    lock: (key: string) => `${prefix}{if:${key}}:lock`,
    result: (key: string) => `${prefix}{if:${key}}:res`,
    idem: (key: string) => `${prefix}idem:${key}`,
    keysByHash: `${prefix}{keys}:byhash`,
    keysById: `${prefix}{keys}:byid`,
    keysRevoked: `${prefix}{keys}:revoked`,
    routes: `${prefix}{routes}:data`,
    routesVersion: `${prefix}{routes}:version`,
    teams: `${prefix}{teams}:data`,
  };

  // ── pub/sub: one channel per prefix; waiters register locally by key ──────────────────────────────
  const waiters = new Map<string, Set<() => void>>();
  const routeSubscribers = new Set<(c: RouteChange | RouteResync) => void>();
  const alertSubscribers = new Set<(e: BudgetEvent) => void>();
  let everReady = false;
  subscriber.subscribe(channel).catch(() => {
    // Retried by ioredis's auto-resubscribe once connected; waiters poll meanwhile.
  });
  subscriber.on('ready', () => {
    if (everReady) for (const cb of routeSubscribers) cb({ op: 'resync' });
    everReady = true;
  });
  subscriber.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    let ev: z.infer<typeof EventSchema>;
    try {
      ev = EventSchema.parse(JSON.parse(message));
    } catch {
      return;
    }
    if (ev.t === 'route') {
      let change: RouteChange;
      try {
        change = toChange(ev.version, ev.change);
      } catch {
        return;
      }
      for (const cb of routeSubscribers) cb(change);
      // Applied (the callbacks are synchronous): the instance that made the change is waiting to hear it.
      void cmd.call('publish', () => client.publish(channel, JSON.stringify({ t: 'ack', v: change.version }))).catch(() => undefined);
      return;
    }
    if (ev.t === 'budget') {
      for (const cb of alertSubscribers) cb(ev.event);
      return;
    }
    if (ev.t === 'ack') {
      const n = (acks.get(ev.v) ?? 0) + 1;
      acks.set(ev.v, n);
      ackWaiters.get(ev.v)?.(n);
      // Acks of changes nobody here waits for: keep the last few (one may arrive before its waiter).
      if (acks.size > 64) acks.delete(acks.keys().next().value!);
      return;
    }
    for (const w of [...(waiters.get(`${ev.t}:${ev.k}`) ?? [])]) w();
  });

  // ── route changes: the mutation returns once every instance that heard it has applied it ───────────
  const acks = new Map<number, number>();
  const ackWaiters = new Map<number, (count: number) => void>();

  /**
   * Runs a route change and waits until each instance subscribed when it was published (PUBLISH's receiver
   * count, this one included) has applied it, at most ROUTE_ACK_WAIT_MS: so a client's next request, to any
   * instance, runs on the new version. An instance that was disconnected reloads a snapshot when it is back.
   */
  async function changeRoute(name: string, payload: string): Promise<number> {
    const [v, receivers] = (await cmd.run('ROUTE_CHANGE', [k.routes, k.routesVersion], [name, payload, channel])) as [number, number];
    const version = Number(v);
    const want = await listeners(Number(receivers));
    if ((acks.get(version) ?? 0) < want) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          ackWaiters.delete(version);
          resolve();
        };
        const timer = setTimeout(done, ROUTE_ACK_WAIT_MS);
        timer.unref();
        ackWaiters.set(version, (count) => {
          if (count >= want) done();
        });
      });
    }
    acks.delete(version);
    return version;
  }

  /**
   * On a Cluster, PUBLISH counts only the subscribers of the node it ran on, while the message reaches every
   * node's (instances subscribe to a node of their own): there, wait for the channel's subscribers summed over
   * every node. Not atomic with the publish, so one that subscribed in between costs at most ROUTE_ACK_WAIT_MS.
   */
  async function listeners(local: number): Promise<number> {
    if (opts.target.mode !== 'cluster') return local;
    const numsub = (n: Redis) => n.pubsub('NUMSUB', channel).then((r) => Number((r as [string, number])[1]), () => 0);
    const count = Promise.all((client as Cluster).nodes('all').map(numsub)).then((c) => c.reduce((a, b) => a + b, 0));
    let timer: NodeJS.Timeout | undefined;
    const total = await Promise.race([count, new Promise<number>((r) => (timer = setTimeout(r, ROUTE_ACK_WAIT_MS, local)))]);
    clearTimeout(timer);
    return Math.max(local, total);
  }

  function notify(t: 'if' | 'idem', key: string): Promise<unknown> {
    return cmd.call('publish', () => client.publish(channel, JSON.stringify({ t, k: key })));
  }

  /** Resolves true when notified, false after `ms` (the caller then re-checks: polling covers lost messages). */
  function nextSignal(name: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const set = waiters.get(name) ?? new Set();
      waiters.set(name, set);
      const finish = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(onNotify);
        if (set.size === 0) waiters.delete(name);
        resolve(notified);
      };
      const onNotify = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(onAbort, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(onNotify);
    });
  }

  async function waitLoop<T>(name: string, timeoutMs: number, signal: AbortSignal | undefined, check: () => Promise<T | undefined>, onTimeout: () => T): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const got = await check();
      if (got !== undefined) return got;
      const left = deadline - performance.now();
      if (left <= 0 || signal?.aborted) return onTimeout();
      await nextSignal(name, Math.min(left, pollMs), signal);
    }
  }

  async function readIdempotency(key: string): Promise<IdempotencyState> {
    const [s, h, v] = await cmd.call('idempotency', () => client.hmgetBuffer(k.idem(key), 's', 'h', 'v'));
    if (!s || !h) return { state: 'absent' };
    if (s.toString() === 'done' && v) return { state: 'done', bodyHash: h.toString(), value: await codec.decode(v) };
    return { state: 'pending', bodyHash: h.toString() };
  }

  function parseKey(json: string, revokedAt: string | null): ApiKeyRecord {
    return ApiKeyRecordSchema.parse({ ...JSON.parse(json), revokedAt });
  }

  const store: Store = {
    kind: 'redis',
    cache: {
      async get(key) {
        const v = await cmd.call('cache get', () => client.getBuffer(k.cache(key)));
        return v ? codec.decode(v) : undefined;
      },
      async set(key, value, ttlMs) {
        const encoded = await codec.encode(value);
        await cmd.call('cache set', () => client.set(k.cache(key), encoded, 'PX', Math.max(1, Math.round(ttlMs))));
      },
      async delete(key) {
        await cmd.call('cache delete', () => client.del(k.cache(key)));
      },
    },
    inflight: {
      async lead(key, lockTtlMs) {
        const token = randomUUID();
        const ok = await cmd.call('inflight lead', () => client.set(k.lock(key), token, 'PX', Math.max(1, Math.round(lockTtlMs)), 'NX'));
        return ok === 'OK' ? token : null;
      },
      async resolve(key, token, value, resultTtlMs) {
        await cmd.run('INFLIGHT_RESOLVE', [k.lock(key), k.result(key)], [token, value, Math.max(1, Math.round(resultTtlMs))]);
        await notify('if', key);
      },
      async abandon(key, token) {
        await cmd.run('INFLIGHT_ABANDON', [k.lock(key)], [token]);
        await notify('if', key);
      },
      wait(key, timeoutMs, signal) {
        return waitLoop<InflightOutcome>(
          `if:${key}`,
          timeoutMs,
          signal,
          async () => {
            const [res, lock] = await cmd.call('inflight wait', () => Promise.all([client.get(k.result(key)), client.exists(k.lock(key))]));
            if (res !== null) return { kind: 'value', value: res };
            if (lock === 0) return { kind: 'vacant' };
            return undefined;
          },
          () => ({ kind: 'timeout' }),
        );
      },
    },
    idempotency: {
      async begin(key, bodyHash, pendingTtlMs) {
        const r = (await cmd.runBuffer('IDEMPOTENCY_BEGIN', [k.idem(key)], [bodyHash, Math.max(1, Math.round(pendingTtlMs))])) as (Buffer | null)[];
        if (r.length === 0) return { state: 'started' };
        const [s, h, v] = r;
        if (s?.toString() === 'done' && h && v) return { state: 'done', bodyHash: h.toString(), value: await codec.decode(v) };
        return { state: 'pending', bodyHash: h?.toString() ?? '' };
      },
      async complete(key, bodyHash, value, ttlMs) {
        const encoded = await codec.encode(value);
        await cmd.call('idempotency complete', () =>
          client.multi().hset(k.idem(key), 's', 'done', 'h', bodyHash, 'v', encoded).pexpire(k.idem(key), Math.max(1, Math.round(ttlMs))).exec(),
        );
        await notify('idem', key);
      },
      async abandon(key) {
        await cmd.run('IDEMPOTENCY_ABANDON', [k.idem(key)], []);
        await notify('idem', key);
      },
      wait(key, timeoutMs, signal) {
        let last: IdempotencyState = { state: 'absent' };
        return waitLoop<IdempotencyState>(
          `idem:${key}`,
          timeoutMs,
          signal,
          async () => {
            last = await readIdempotency(key);
            return last.state === 'pending' ? undefined : last;
          },
          () => last,
        );
      },
    },
    apiKeys: {
      async create(input) {
        const parsed = ApiKeyInputSchema.parse(input);
        const secret = newApiKeySecret();
        const key: ApiKeyRecord = { ...parsed, id: newApiKeyId(), prefix: secretPrefix(secret), createdAt: new Date(now()).toISOString(), revokedAt: null };
        const hash = hashApiKey(secret);
        await cmd.call('api key create', () => client.multi().hset(k.keysByHash, hash, JSON.stringify(key)).hset(k.keysById, key.id, hash).exec());
        return { secret, key };
      },
      async revoke(id) {
        return (await cmd.run('API_KEY_REVOKE', [k.keysById, k.keysRevoked], [id, new Date(now()).toISOString()])) === 1;
      },
      async lookup(secretHash) {
        const [json, revoked] = await cmd.call('api key lookup', () =>
          Promise.all([client.hget(k.keysByHash, secretHash), client.hget(k.keysRevoked, secretHash)]),
        );
        if (json === null || revoked !== null) return undefined;
        return parseKey(json, null);
      },
      async list() {
        const [all, revoked] = await cmd.call('api key list', () => Promise.all([client.hgetall(k.keysByHash), client.hgetall(k.keysRevoked)]));
        return Object.entries(all).map(([hash, json]) => parseKey(json, revoked[hash] ?? null));
      },
      async update(id, update) {
        for (let i = 0; i < API_KEY_UPDATE_TRIES; i++) {
          const hash = await cmd.call('api key update', () => client.hget(k.keysById, id));
          if (hash === null) return undefined;
          const [json, revoked] = await cmd.call('api key update', () => Promise.all([client.hget(k.keysByHash, hash), client.hget(k.keysRevoked, hash)]));
          if (json === null || revoked !== null) return undefined;
          const next = applyApiKeyUpdate(parseKey(json, null), update);
          const r = Number(await cmd.run('API_KEY_UPDATE', [k.keysById, k.keysByHash, k.keysRevoked], [id, json, JSON.stringify(next)]));
          if (r === 1) return next;
          if (r === 0) return undefined;
        }
        throw storeUnavailable('api key update', new Error('the key kept changing while it was updated'));
      },
    },
    teams: createRedisTeams({ client, cmd, key: k.teams, now }),
    alerts: {
      async publish(event) {
        await cmd.call('publish', () => client.publish(channel, JSON.stringify({ t: 'budget', event })));
      },
      subscribe(cb) {
        alertSubscribers.add(cb);
        return () => alertSubscribers.delete(cb);
      },
    },
    ...createRedisLimits({ client, cmd, prefix }),
    routerState: createRedisRouterState({ client, cmd, prefix, localCacheMs: opts.localCacheMs ?? 1_000 }),
    routes: {
      async upsert(route) {
        const stored = StoredRouteSchema.parse(route);
        return changeRoute(stored.name, JSON.stringify({ op: 'upsert', name: stored.name, route: stored }));
      },
      async delete(name) {
        return changeRoute(name, JSON.stringify({ op: 'delete', name }));
      },
      async snapshot() {
        const [all, version] = await cmd.call('routes snapshot', () => Promise.all([client.hgetall(k.routes), client.get(k.routesVersion)]));
        const changes = Object.values(all).map((v) => {
          const bar = v.indexOf('|');
          return toChange(Number(v.slice(0, bar)), JSON.parse(v.slice(bar + 1)));
        });
        return { version: Number(version ?? 0), changes: changes.sort((a, b) => a.version - b.version) };
      },
      subscribe(cb) {
        routeSubscribers.add(cb);
        return () => routeSubscribers.delete(cb);
      },
    },
    async ping() {
      await cmd.call('ping', () => client.ping());
    },
    async readiness() {
      if (client.status !== 'ready') return { status: 'degraded', backend: 'redis', detail: `redis connection ${client.status}` };
      try {
        await client.ping();
        return { status: 'ready', backend: 'redis' };
      } catch (e) {
        return { status: 'degraded', backend: 'redis', detail: storeUnavailable('ping', e).message };
      }
    },
    async close() {
      routeSubscribers.clear();
      alertSubscribers.clear();
      // QUIT only over a live connection: queued on a dead one (the subscriber's offline queue) it never returns.
      await Promise.allSettled(
        [client, subscriber].map(async (c) => {
          if (c.status === 'ready') await Promise.race([c.quit(), new Promise((r) => setTimeout(r, 1_000).unref())]);
          c.disconnect();
        }),
      );
    },
  };
  return store;
}
