import { randomUUID } from 'node:crypto';
import { ApiKeyInputSchema, applyApiKeyUpdate, TeamInputSchema, type ApiKeyRecord, type BudgetEvent, type TeamRecord } from '../core/index.ts';
import { newApiKeyId, newApiKeySecret, hashApiKey, secretPrefix } from './api-key-secret.ts';
import { createCodec } from './codec.ts';
import { createMemoryBudgets } from './memory-budgets.ts';
import { LruCache } from './lru-cache.ts';
import { evaluateWindow, windowStart } from './sliding-window.ts';
import {
  StoredRouteSchema,
  type BreakerRecord,
  type IdempotencyState,
  type InflightOutcome,
  type LatencySample,
  type LimitState,
  type RouteChange,
  type RouteResync,
  type Store,
} from './store.ts';

export interface MemoryStoreOptions {
  /** Epoch ms for TTLs; tests inject a fake clock. */
  now?: () => number;
  compressAboveBytes?: number;
  cacheMaxEntries?: number;
  cacheMaxBytes?: number;
  /** Latency samples kept per target. */
  maxLatencySamples?: number;
}

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/** Wakes everyone waiting on a key; waiters re-read the state themselves. */
class Signals {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves true when notified, false at the timeout or abort. */
  wait(key: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, set);
      const finish = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(onNotify);
        if (set.size === 0) this.waiters.delete(key);
        resolve(notified);
      };
      const onNotify = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(onAbort, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(onNotify);
    });
  }

  notify(key: string): void {
    for (const w of [...(this.waiters.get(key) ?? [])]) w();
  }
}

/**
 * The embedded store: one process, everything in maps. Each operation is one synchronous block, which
 * is what makes the check-and-take of limits and budgets atomic here (Redis gets the same from Lua).
 */
export function createMemoryStore(opts: MemoryStoreOptions = {}): Store {
  const now = opts.now ?? Date.now;
  const codec = createCodec({ compressAboveBytes: opts.compressAboveBytes ?? 2048 });
  const cache = new LruCache<Buffer>({ maxEntries: opts.cacheMaxEntries ?? 10_000, maxBytes: opts.cacheMaxBytes ?? 64 * 1024 * 1024, now });
  const maxSamples = opts.maxLatencySamples ?? 500;
  const signals = new Signals();

  const locks = new Map<string, Expiring<string>>();
  const results = new Map<string, Expiring<string>>();
  const idem = new Map<string, Expiring<Exclude<IdempotencyState, { state: 'absent' }>>>();
  const keysByHash = new Map<string, ApiKeyRecord>();
  const hashById = new Map<string, string>();
  const counters = new Map<string, Expiring<number>>();
  const teams = new Map<string, TeamRecord>();
  const alertSubscribers = new Set<(e: BudgetEvent) => void>();
  const breakers = new Map<string, BreakerRecord>();
  const latency = new Map<string, LatencySample[]>();
  const routeChanges = new Map<string, RouteChange>();
  const routeSubscribers = new Set<(c: RouteChange | RouteResync) => void>();
  let routeVersion = 0;

  function live<T>(map: Map<string, Expiring<T>>, key: string): T | undefined {
    const e = map.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now()) {
      map.delete(key);
      return undefined;
    }
    return e.value;
  }

  function counter(key: string): number {
    return live(counters, key) ?? 0;
  }

  function ruleCounts(key: string, windowMs: number, nowMs: number) {
    const start = windowStart(nowMs, windowMs);
    const curKey = `${key}:${start}`;
    return { curKey, cur: counter(curKey), prev: counter(`${key}:${start - windowMs}`) };
  }

  function publishRoute(change: RouteChange): number {
    routeChanges.set(change.name, change);
    for (const cb of routeSubscribers) queueMicrotask(() => cb(change));
    return change.version;
  }

  const store: Store = {
    kind: 'memory',
    cache: {
      async get(key) {
        const v = cache.get(key);
        return v === undefined ? undefined : codec.decode(v);
      },
      async set(key, value, ttlMs) {
        const encoded = await codec.encode(value);
        cache.set(key, encoded, encoded.length + key.length, ttlMs);
      },
      async delete(key) {
        cache.delete(key);
      },
    },
    inflight: {
      async lead(key, lockTtlMs) {
        if (live(locks, key) !== undefined) return null;
        const token = randomUUID();
        locks.set(key, { value: token, expiresAt: now() + lockTtlMs });
        return token;
      },
      async resolve(key, token, value, resultTtlMs) {
        results.set(key, { value, expiresAt: now() + resultTtlMs });
        if (live(locks, key) === token) locks.delete(key);
        signals.notify(`if:${key}`);
      },
      async abandon(key, token) {
        if (live(locks, key) === token) locks.delete(key);
        signals.notify(`if:${key}`);
      },
      async wait(key, timeoutMs, signal): Promise<InflightOutcome> {
        // The timeout runs on real time (a timer), lock expiry on the injected clock: with a fake clock a
        // crashed leader's lock expires when the test advances time, and the next check finds it vacant.
        const deadline = performance.now() + timeoutMs;
        const check = (): InflightOutcome | undefined => {
          const value = live(results, key);
          if (value !== undefined) return { kind: 'value', value };
          if (live(locks, key) === undefined) return { kind: 'vacant' };
          return undefined;
        };
        for (;;) {
          const outcome = check();
          if (outcome) return outcome;
          const left = deadline - performance.now();
          if (left <= 0 || signal?.aborted) return { kind: 'timeout' };
          if (!(await signals.wait(`if:${key}`, left, signal))) return check() ?? { kind: 'timeout' };
        }
      },
    },
    idempotency: {
      async begin(key, bodyHash, pendingTtlMs) {
        const existing = live(idem, key);
        if (existing) return existing;
        idem.set(key, { value: { state: 'pending', bodyHash }, expiresAt: now() + pendingTtlMs });
        return { state: 'started' };
      },
      async complete(key, bodyHash, value, ttlMs) {
        idem.set(key, { value: { state: 'done', bodyHash, value }, expiresAt: now() + ttlMs });
        signals.notify(`idem:${key}`);
      },
      async abandon(key) {
        if (live(idem, key)?.state === 'pending') idem.delete(key);
        signals.notify(`idem:${key}`);
      },
      async wait(key, timeoutMs, signal) {
        const current = live(idem, key);
        if (current?.state === 'pending' && timeoutMs > 0 && !signal?.aborted) await signals.wait(`idem:${key}`, timeoutMs, signal);
        return live(idem, key) ?? { state: 'absent' };
      },
    },
    apiKeys: {
      async create(input) {
        const parsed = ApiKeyInputSchema.parse(input);
        const secret = newApiKeySecret();
        const key: ApiKeyRecord = { ...parsed, id: newApiKeyId(), prefix: secretPrefix(secret), createdAt: new Date(now()).toISOString(), revokedAt: null };
        const hash = hashApiKey(secret);
        keysByHash.set(hash, key);
        hashById.set(key.id, hash);
        return { secret, key };
      },
      async revoke(id) {
        const hash = hashById.get(id);
        const key = hash === undefined ? undefined : keysByHash.get(hash);
        if (!hash || !key || key.revokedAt !== null) return false;
        keysByHash.set(hash, { ...key, revokedAt: new Date(now()).toISOString() });
        return true;
      },
      async lookup(secretHash) {
        const key = keysByHash.get(secretHash);
        return key && key.revokedAt === null ? key : undefined;
      },
      async list() {
        return [...keysByHash.values()];
      },
      async update(id, update) {
        const hash = hashById.get(id);
        const key = hash === undefined ? undefined : keysByHash.get(hash);
        if (!hash || !key || key.revokedAt !== null) return undefined;
        const next = applyApiKeyUpdate(key, update);
        keysByHash.set(hash, next);
        return next;
      },
    },
    limits: {
      async consume(rules, nowMs) {
        const evaluated = rules.map((r) => {
          const c = ruleCounts(r.key, r.windowMs, nowMs);
          return { r, c, v: evaluateWindow(c.prev, c.cur, r, nowMs) };
        });
        const allowed = evaluated.every((e) => e.v.allowed);
        const states: LimitState[] = evaluated.map(({ r, c, v }) => {
          if (allowed) counters.set(c.curKey, { value: c.cur + r.cost, expiresAt: now() + 2 * r.windowMs + 1000 });
          // A request denied by another rule took nothing from this one: report this rule as it stands.
          const shown = allowed ? v : evaluateWindow(c.prev, c.cur, { ...r, cost: 0 }, nowMs);
          return { key: r.key, limit: r.limit, remaining: shown.remaining, resetMs: shown.resetMs, retryAfterMs: v.retryAfterMs, allowed: v.allowed };
        });
        return { allowed, rules: states };
      },
      async adjust(rules, nowMs) {
        for (const r of rules) {
          const c = ruleCounts(r.key, r.windowMs, nowMs);
          counters.set(c.curKey, { value: Math.max(0, c.cur + r.delta), expiresAt: now() + 2 * r.windowMs + 1000 });
        }
      },
      async peek(rules, nowMs) {
        return rules.map((r) => {
          const c = ruleCounts(r.key, r.windowMs, nowMs);
          const v = evaluateWindow(c.prev, c.cur, r, nowMs);
          const idle = evaluateWindow(c.prev, c.cur, { ...r, cost: 0 }, nowMs);
          return { key: r.key, limit: r.limit, remaining: idle.remaining, resetMs: idle.resetMs, retryAfterMs: v.retryAfterMs, allowed: v.allowed };
        });
      },
    },
    budgets: createMemoryBudgets(now),
    teams: {
      async upsert(input) {
        const team: TeamRecord = { ...TeamInputSchema.parse(input), updatedAt: new Date(now()).toISOString() };
        teams.set(team.name, team);
        return team;
      },
      async delete(name) {
        return teams.delete(name);
      },
      async list() {
        return [...teams.values()];
      },
    },
    alerts: {
      async publish(event) {
        for (const cb of alertSubscribers) queueMicrotask(() => cb(event));
      },
      subscribe(cb) {
        alertSubscribers.add(cb);
        return () => alertSubscribers.delete(cb);
      },
    },
    routerState: {
      async getBreakers(targets) {
        const out = new Map<string, BreakerRecord>();
        for (const t of targets) {
          const b = breakers.get(t);
          if (b) out.set(t, b);
        }
        return out;
      },
      async setBreaker(target, record) {
        breakers.set(target, { ...record });
      },
      async pushLatency(target, sample) {
        const list = latency.get(target) ?? [];
        list.push({ ...sample });
        list.sort((a, b) => a.atMs - b.atMs);
        if (list.length > maxSamples) list.splice(0, list.length - maxSamples);
        latency.set(target, list);
      },
      async readLatency(target, sinceMs) {
        return (latency.get(target) ?? []).filter((s) => s.atMs >= sinceMs).map((s) => ({ ...s }));
      },
    },
    routes: {
      async upsert(route) {
        const stored = StoredRouteSchema.parse(route);
        return publishRoute({ op: 'upsert', version: ++routeVersion, name: stored.name, route: stored });
      },
      async delete(name) {
        return publishRoute({ op: 'delete', version: ++routeVersion, name });
      },
      async snapshot() {
        return { version: routeVersion, changes: [...routeChanges.values()].sort((a, b) => a.version - b.version) };
      },
      subscribe(cb) {
        routeSubscribers.add(cb);
        return () => routeSubscribers.delete(cb);
      },
    },
    async ping() {},
    async readiness() {
      return { status: 'ready', backend: 'memory' };
    },
    async close() {},
  };
  return store;
}
