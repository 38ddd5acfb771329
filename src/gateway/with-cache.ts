import { randomUUID } from 'node:crypto';
import { GatewayError } from '../core/index.ts';
import { claim, type Claim } from '../store/coalesce.ts';
import { CacheConfigSchema, type CacheConfigInput } from '../store/store-config.ts';
import type { Store } from '../store/store.ts';
import type { Completion, CompletionEvent } from './completion.ts';
import { CacheDirectiveSchema, markDegraded, parseCompletion, replayAsStream, serializeCompletion, type Handlers, type StoreRequest } from './handlers.ts';
import { cacheKeyOf } from './request-hash.ts';

export interface WithCacheOptions<R extends StoreRequest> {
  config?: CacheConfigInput | undefined;
  /** Milliseconds, for the latency of hits. */
  now?: () => number;
  newId?: () => string;
  /**
   * Throws (e.g. `forbidden`) when the caller may not use the request's route or model. Runs before a
   * hit is served: a cached answer must not reach a key that could not have asked for it.
   */
  authorize?: (req: R) => void;
  /** Callers that must not share answers get different partitions (e.g. `req.principal?.team`). */
  partition?: (req: R) => string | undefined;
  /** A store failure; the cache is bypassed for this request. */
  onStoreError?: (operation: string, error: unknown) => void;
  /** Coalescing lock and result lifetimes; the wait comes from config `coalesceWaitMs`. */
  lockTtlMs?: number;
  resultTtlMs?: number;
}

/**
 * Decision: only `stop` and `tool_calls` answers are cached. `length` is a truncated output and
 * `content_filter` an answer with content removed; `error` is not an answer. A request that fails throws
 * or ends its stream with an error event and is never cached either. Identical in-flight requests still
 * share a `length` answer (it is what the same request gets), they just do not persist it.
 */
export function isCacheableCompletion(c: Completion): boolean {
  return c.finishReason === 'stop' || c.finishReason === 'tool_calls';
}

function shareable(c: Completion): boolean {
  return c.finishReason !== 'error';
}

/**
 * Response cache and request coalescing around the gateway. Applies to deterministic requests
 * (temperature 0) and to requests that opt in with a `cache` directive; BYPASS skips it, REFRESH skips
 * the lookup (and coalescing) but stores the fresh answer, ONLY answers from the cache or fails with
 * `not_found` (param `cache`). Hits are new completions marked `cached: true` with cost 0.
 */
export function withCache<R extends StoreRequest>(store: Store, opts: WithCacheOptions<R> = {}) {
  const config = CacheConfigSchema.parse(opts.config ?? {});
  const now = opts.now ?? (() => performance.now());
  const newId = opts.newId ?? (() => `cmpl_${randomUUID().replaceAll('-', '')}`);
  const lockTtlMs = opts.lockTtlMs ?? config.coalesceWaitMs * 2;
  const resultTtlMs = opts.resultTtlMs ?? 2_000;

  type Plan =
    | { use: false }
    | { use: true; key: string; mode: 'DEFAULT' | 'REFRESH' | 'ONLY'; ttlMs: number };

  function planFor(req: R): Plan {
    if (!config.enabled) return { use: false };
    const directive = req.cache === undefined ? undefined : CacheDirectiveSchema.safeParse(req.cache);
    if (directive && !directive.success) {
      throw new GatewayError('invalid_request', `cache: ${directive.error.issues[0]?.message ?? 'invalid'}`, { param: 'cache' });
    }
    const mode = directive?.data.mode ?? 'DEFAULT';
    if (mode === 'BYPASS') return { use: false };
    // Sending a directive is opting in; otherwise only a deterministic request is worth answering twice.
    if (!directive && req.chat.temperature !== 0) return { use: false };
    const routeTtl = req.route !== undefined ? config.routes[req.route]?.ttlSeconds : undefined;
    const ttlSeconds = Math.min(directive?.data.ttlSeconds ?? routeTtl ?? config.defaultTtlSeconds, config.maxTtlSeconds);
    opts.authorize?.(req);
    return { use: true, key: cacheKeyOf(req, opts.partition?.(req)), mode, ttlMs: ttlSeconds * 1000 };
  }

  function setMeta(req: R, cache: NonNullable<NonNullable<R['meta']>['cache']>): void {
    if (req.meta) req.meta.cache = cache;
  }

  function storeFailed(req: R, operation: string, e: unknown): void {
    opts.onStoreError?.(operation, e);
    markDegraded(req, 'cache');
  }

  async function lookup(req: R, key: string): Promise<Completion | 'miss' | 'failed'> {
    let raw: string | undefined;
    try {
      raw = await store.cache.get(key);
    } catch (e) {
      storeFailed(req, 'cache get', e);
      return 'failed';
    }
    return (raw === undefined ? undefined : parseCompletion(raw)) ?? 'miss';
  }

  async function save(req: R, key: string, c: Completion, ttlMs: number): Promise<void> {
    if (!isCacheableCompletion(c)) return;
    try {
      await store.cache.set(key, serializeCompletion(c, { forOthers: true }), ttlMs);
    } catch (e) {
      storeFailed(req, 'cache set', e);
    }
  }

  /** A stored answer served as a new completion: its own id and time, no attempts, nothing to pay. */
  function asHit(stored: Completion, req: R, started: number, streamed: boolean): Completion {
    const latencyMs = Math.round((now() - started) * 1000) / 1000;
    return {
      ...stored,
      id: newId(),
      cached: true,
      costUsd: 0,
      latencyMs,
      timeToFirstTokenMs: streamed ? latencyMs : null,
      attempts: [],
      createdAt: new Date(),
      traceId: null,
      principal: req.principal?.name,
    };
  }

  async function settleClaim(c: Claim, req: R, completion: Completion | undefined): Promise<void> {
    if (c.role !== 'leader') return;
    try {
      if (completion && shareable(completion)) await c.share(serializeCompletion(completion, { forOthers: true }));
      else await c.abandon();
    } catch (e) {
      storeFailed(req, 'coalesce', e);
    }
  }

  /** Up to the upstream call: a hit, a coalesced answer, or the claim under which to call upstream. */
  async function before(req: R, plan: Extract<Plan, { use: true }>, started: number, streamed: boolean): Promise<{ hit: Completion } | { claim: Claim }> {
    if (plan.mode === 'REFRESH') {
      setMeta(req, 'REFRESH');
      return { claim: { role: 'solo', reason: 'store' } };
    }
    const hit = await lookup(req, plan.key);
    if (typeof hit === 'object') {
      setMeta(req, 'HIT');
      return { hit: asHit(hit, req, started, streamed) };
    }
    if (plan.mode === 'ONLY') throw new GatewayError('not_found', 'no cached answer for this request (cache mode ONLY)', { param: 'cache' });
    if (hit === 'failed') {
      // The store is down: go upstream at once rather than also fail at coalescing.
      setMeta(req, 'BYPASS');
      return { claim: { role: 'solo', reason: 'store' } };
    }
    const c = await claim(store.inflight, plan.key, { lockTtlMs, waitMs: config.coalesceWaitMs, resultTtlMs, signal: req.signal });
    if (c.role === 'follower') {
      const shared = parseCompletion(c.value);
      if (shared) {
        setMeta(req, 'COALESCED');
        return { hit: asHit(shared, req, started, streamed) };
      }
      return { claim: { role: 'solo', reason: 'store' } };
    }
    if (c.role === 'leader') {
      // Another leader may have finished and cached between our miss and taking the lock.
      const late = await lookup(req, plan.key);
      if (typeof late === 'object') {
        await settleClaim(c, req, undefined);
        setMeta(req, 'HIT');
        return { hit: asHit(late, req, started, streamed) };
      }
    }
    setMeta(req, 'MISS');
    return { claim: c };
  }

  return (next: Handlers<R>): Handlers<R> => ({
    async complete(req) {
      const started = now();
      const plan = planFor(req);
      if (!plan.use) {
        setMeta(req, 'BYPASS');
        return next.complete(req);
      }
      const got = await before(req, plan, started, false);
      if ('hit' in got) return got.hit;
      let completion: Completion;
      try {
        completion = await next.complete(req);
      } catch (e) {
        await settleClaim(got.claim, req, undefined);
        throw e;
      }
      // Cached before the lock is released: a request arriving in between finds the answer one way or the other.
      await save(req, plan.key, completion, plan.ttlMs);
      await settleClaim(got.claim, req, completion);
      return completion;
    },

    stream(req): AsyncIterable<CompletionEvent> {
      const started = now();
      let plan: Plan;
      try {
        plan = planFor(req);
      } catch (e) {
        return failedStream(e);
      }
      if (!plan.use) {
        // Not cacheable: the inner stream is handed through, without a generator layer (microtasks per event) of ours.
        setMeta(req, 'BYPASS');
        return next.stream(req);
      }
      return cachedStream(req, plan, started, next);
    },
  });

  async function* failedStream(e: unknown): AsyncGenerator<CompletionEvent> {
    const error = e instanceof GatewayError ? e : new GatewayError('internal', String(e), { cause: e });
    yield { type: 'error', id: newId(), error, partialText: '', attempts: [] };
  }

  async function* cachedStream(req: R, plan: Extract<Plan, { use: true }>, started: number, next: Handlers<R>): AsyncGenerator<CompletionEvent> {
    let got: { hit: Completion } | { claim: Claim };
    try {
      got = await before(req, plan, started, true);
    } catch (e) {
      yield* failedStream(e);
      return;
    }
    if ('hit' in got) {
      yield* replayAsStream(got.hit);
      return;
    }
    try {
      for await (const ev of next.stream(req)) {
        if (ev.type === 'done') {
          // Stored before the done event goes out: a client that stops reading at `done` ends this generator.
          await save(req, plan.key, ev.completion, plan.ttlMs);
          await settleClaim(got.claim, req, ev.completion);
        }
        yield ev;
      }
    } finally {
      // Also when the stream failed or the client went away: waiting followers must not wait for the lock to expire.
      await settleClaim(got.claim, req, undefined);
    }
  }
}
