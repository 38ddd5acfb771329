import { GatewayError, newId as makeId, type Completion } from '../core/index.ts';
import { claim, type Claim } from '../store/coalesce.ts';
import { CacheConfigSchema, type CacheConfigInput } from '../config/index.ts';
import type { Store } from '../store/store.ts';
import { CacheDirectiveSchema } from './gateway-request.ts';
import type { Stage } from './pipeline.ts';
import type { RequestContext } from './request-context.ts';
import { cacheKeyOf } from './request-hash.ts';
import { parseCompletion, serializeCompletion } from './stored-completion.ts';

export interface CacheStageOptions {
  config?: CacheConfigInput | undefined;
  /** Milliseconds, for the latency of hits (the pipeline's clock). */
  now?: () => number;
  newId?: () => string;
  /** Callers that must not share answers get different partitions (e.g. `team:<team>`). */
  partition?: (ctx: RequestContext) => string | undefined;
  /** A store failure; the cache is bypassed for this request. */
  onStoreError?: (operation: string, error: unknown) => void;
  /** Coalescing lock and result lifetimes; the wait comes from config `coalesceWaitMs`. */
  lockTtlMs?: number;
  resultTtlMs?: number;
}

/** The cache's state for a request that goes upstream: where its answer is stored, and its coalescing claim. */
export interface CacheRun {
  key: string;
  ttlMs: number;
  claim: Claim;
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

const NO_CLAIM: Claim = { role: 'solo', reason: 'store' };

/**
 * Response cache and request coalescing. Applies to deterministic requests (temperature 0) and to
 * requests that opt in with a `cache` directive; BYPASS skips it, REFRESH skips the lookup (and
 * coalescing) but stores the fresh answer, ONLY answers from the cache or fails with `not_found` (param
 * `cache`). Hits are new completions marked `cached: true` with cost 0. Access was decided when the
 * request was resolved, ahead of this stage: a hit never reaches a key that could not have asked for it.
 * The key is made of the request and its resolved target (ResolvedRequest.namedRoute / namedModel).
 */
export function cacheStage(store: Store, opts: CacheStageOptions = {}): Stage {
  const config = CacheConfigSchema.parse(opts.config ?? {});
  const now = opts.now ?? (() => performance.now());
  const newId = opts.newId ?? (() => makeId('cmpl'));
  const lockTtlMs = opts.lockTtlMs ?? config.coalesceWaitMs * 2;
  const resultTtlMs = opts.resultTtlMs ?? 2_000;

  /** undefined: the cache does not apply to this request. */
  function planFor(ctx: RequestContext): { mode: 'DEFAULT' | 'REFRESH' | 'ONLY'; ttlMs: number } | undefined {
    if (!config.enabled) return undefined;
    const req = ctx.request;
    const directive = req.cache === undefined ? undefined : CacheDirectiveSchema.safeParse(req.cache);
    if (directive && !directive.success) {
      throw new GatewayError('invalid_request', `cache: ${directive.error.issues[0]?.message ?? 'invalid'}`, { param: 'cache' });
    }
    const mode = directive?.data.mode ?? 'DEFAULT';
    if (mode === 'BYPASS') return undefined;
    const route = ctx.resolved.namedRoute;
    const routeConfig = route !== undefined ? config.routes[route] : undefined;
    // Sending a directive is opting in; otherwise only a deterministic request (an embeddings request's
    // chat view has temperature 0) is worth answering twice, and only on a route that caches.
    if (!directive && (req.chat.temperature !== 0 || routeConfig?.enabled === false)) return undefined;
    const routeTtl = routeConfig?.ttlSeconds;
    const ttlSeconds = Math.min(directive?.data.ttlSeconds ?? routeTtl ?? config.defaultTtlSeconds, config.maxTtlSeconds);
    return { mode, ttlMs: ttlSeconds * 1000 };
  }

  function storeFailed(ctx: RequestContext, operation: string, e: unknown): void {
    opts.onStoreError?.(operation, e);
    ctx.markDegraded('cache');
  }

  async function lookup(ctx: RequestContext, key: string): Promise<Completion | 'miss' | 'failed'> {
    let raw: string | undefined;
    try {
      raw = await store.cache.get(key);
    } catch (e) {
      storeFailed(ctx, 'cache get', e);
      return 'failed';
    }
    return (raw === undefined ? undefined : parseCompletion(raw)) ?? 'miss';
  }

  async function save(ctx: RequestContext, key: string, c: Completion, ttlMs: number): Promise<void> {
    if (!isCacheableCompletion(c)) return;
    try {
      await store.cache.set(key, serializeCompletion(c, { forOthers: true }), ttlMs);
    } catch (e) {
      storeFailed(ctx, 'cache set', e);
    }
  }

  /** A stored answer served as a new completion: its own id and time, no attempts, nothing to pay. */
  function asHit(stored: Completion, ctx: RequestContext, status: 'HIT' | 'COALESCED'): Completion {
    ctx.cacheStatus = status;
    const latencyMs = Math.round((now() - ctx.startedAt) * 1000) / 1000;
    return {
      ...stored,
      id: newId(),
      cached: true,
      costUsd: 0,
      latencyMs,
      timeToFirstTokenMs: ctx.streamed ? latencyMs : null,
      attempts: [],
      createdAt: new Date(),
      traceId: ctx.traceId,
      principal: ctx.request.principal?.name,
    };
  }

  async function settleClaim(ctx: RequestContext, c: Claim, completion: Completion | undefined): Promise<void> {
    if (c.role !== 'leader') return;
    try {
      if (completion && completion.finishReason !== 'error') await c.share(serializeCompletion(completion, { forOthers: true }));
      else await c.abandon();
    } catch (e) {
      storeFailed(ctx, 'coalesce', e);
    }
  }

  /** Up to the upstream call: a hit, a coalesced answer, or the claim under which to call upstream. */
  async function start(ctx: RequestContext, plan: { mode: 'DEFAULT' | 'REFRESH' | 'ONLY'; ttlMs: number }): Promise<Completion | undefined> {
    const key = cacheKeyOf(ctx.request, opts.partition?.(ctx), ctx.resolved);
    if (plan.mode === 'REFRESH') {
      ctx.cacheStatus = 'REFRESH';
      ctx.cacheRun = { key, ttlMs: plan.ttlMs, claim: NO_CLAIM };
      return undefined;
    }
    const hit = await lookup(ctx, key);
    if (typeof hit === 'object') return asHit(hit, ctx, 'HIT');
    if (plan.mode === 'ONLY') throw new GatewayError('not_found', 'no cached answer for this request (cache mode ONLY)', { param: 'cache' });
    if (hit === 'failed') {
      // The store is down: go upstream at once rather than also fail at coalescing.
      ctx.cacheStatus = 'BYPASS';
      ctx.cacheRun = { key, ttlMs: plan.ttlMs, claim: NO_CLAIM };
      return undefined;
    }
    const c = await claim(store.inflight, key, { lockTtlMs, waitMs: config.coalesceWaitMs, resultTtlMs, signal: ctx.request.signal });
    if (c.role === 'follower') {
      const shared = parseCompletion(c.value);
      if (shared) return asHit(shared, ctx, 'COALESCED');
      // An unreadable shared answer: go upstream alone, and say nothing about the cache.
      ctx.cacheRun = { key, ttlMs: plan.ttlMs, claim: NO_CLAIM };
      return undefined;
    }
    if (c.role === 'leader') {
      // Another leader may have finished and cached between our miss and taking the lock.
      const late = await lookup(ctx, key);
      if (typeof late === 'object') {
        await settleClaim(ctx, c, undefined);
        return asHit(late, ctx, 'HIT');
      }
    }
    ctx.cacheStatus = 'MISS';
    ctx.cacheRun = { key, ttlMs: plan.ttlMs, claim: c };
    return undefined;
  }

  // Stored before the claim is released (and before the answer goes out): a request arriving in between
  // finds the answer one way or the other.
  async function finish(ctx: RequestContext, run: CacheRun, completion: Completion): Promise<void> {
    await save(ctx, run.key, completion, run.ttlMs);
    await settleClaim(ctx, run.claim, completion);
  }

  // Hooks return a promise only when there is work: a request the cache does not apply to awaits nothing here.
  return {
    name: 'cache',
    before(ctx) {
      const plan = planFor(ctx);
      if (plan) return start(ctx, plan);
      ctx.cacheStatus = 'BYPASS';
      return undefined;
    },
    done: (ctx, completion) => (ctx.cacheRun ? finish(ctx, ctx.cacheRun, completion) : undefined),
    // Also when the stream failed or the client went away: waiting followers must not wait for the lock to expire.
    error: (ctx) => (ctx.cacheRun ? settleClaim(ctx, ctx.cacheRun.claim, undefined) : undefined),
  };
}
