import { randomUUID } from 'node:crypto';
import { GatewayError, toGatewayError } from '../core/index.ts';
// Types only: the gateway imports usage at run time, never the other way round.
import type { Completion, CompletionEvent } from '../gateway/completion.ts';
import type { AttemptRecord } from '../router/executor.ts';
import type { PriceSource, Pricing } from './pricing.ts';
import type { UsageEvent } from './usage-event.ts';

/** Who asked and for what, as known before the gateway runs. */
export interface UsageRequestContext {
  /** The API key's configured name (the principal), never the key. */
  keyName?: string | undefined;
  team?: string | undefined;
  /** The route or model the client asked for; used for requests that fail before a route is resolved. */
  requested?: string | undefined;
  /** Names the event of a request that failed before the gateway gave it a completion id. */
  requestId?: string | undefined;
}

export interface WithUsageDeps<C extends UsageRequestContext = UsageRequestContext> {
  /**
   * Receives exactly one event per request, with the context the request was run with; must not throw or
   * block (the ledger's record, metrics, the log line).
   */
  record: (event: UsageEvent, ctx: C) => void;
  /** Monotonic ms, for the latency of failed requests (successful ones carry their own). */
  now?: () => number;
  /** Wall clock, epoch ms. */
  wallClock?: () => number;
  /** Names where a Completion's price came from when the Completion does not say (config vs built-in table). */
  pricing?: Pricing;
  newId?: () => string;
}

/** A Completion that may say where its price came from (the gateway adds this when it prices with createPricing). */
type PricedCompletion = Completion & { priceSource?: PriceSource | undefined };

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * Records one UsageEvent per request around the gateway's `complete` and `stream`, whatever the
 * outcome: done, error, or a consumer that stops reading a stream (recorded as `cancelled`).
 * Wiring: `const usage = withUsage({ record })`, then `usage.complete(ctx, () => gateway.complete(req))`
 * and `usage.stream(ctx, gateway.stream(req))`.
 */
export function withUsage<C extends UsageRequestContext = UsageRequestContext>(deps: WithUsageDeps<C>) {
  const now = deps.now ?? (() => performance.now());
  const wallClock = deps.wallClock ?? (() => Date.now());
  const newId = deps.newId ?? (() => `req_${randomUUID().replaceAll('-', '')}`);

  function safeRecord(e: UsageEvent, ctx: C): void {
    try {
      deps.record(e, ctx);
    } catch {
      // Recording is best effort by design; it must never fail the request it describes.
    }
  }

  function priceSourceOf(c: PricedCompletion): PriceSource {
    if (c.priceSource) return c.priceSource;
    if (deps.pricing) return deps.pricing.resolve({ provider: c.provider, model: c.model, upstreamModel: c.upstreamModel }, c.createdAt).source;
    return c.costUsd === null ? 'none' : 'config';
  }

  function fromCompletion(c: PricedCompletion, ctx: UsageRequestContext, stream: boolean): UsageEvent {
    return {
      id: c.id,
      time: c.createdAt.getTime(),
      keyName: ctx.keyName ?? c.principal ?? null,
      team: ctx.team ?? null,
      route: c.route,
      routeVersion: c.routeVersion,
      provider: c.provider,
      model: c.model,
      attempts: Math.max(1, c.attempts.length),
      tokens: {
        input: c.usage.inputTokens,
        output: c.usage.outputTokens,
        cachedInput: c.usage.cachedInputTokens,
        cacheWrite: c.usage.cacheWriteTokens,
        reasoning: c.usage.reasoningTokens,
      },
      costUsd: c.costUsd,
      priceSource: c.costUsd === null ? 'none' : priceSourceOf(c),
      usageEstimated: c.usage.estimated === true,
      latencyMs: c.latencyMs,
      ttftMs: c.timeToFirstTokenMs,
      cacheHit: c.cached,
      stream,
      status: 'ok',
      errorKind: null,
      traceId: c.traceId,
      finishReason: c.finishReason,
    };
  }

  function fromError(
    id: string,
    error: GatewayError,
    attempts: readonly AttemptRecord[],
    where: { route?: string | undefined; routeVersion?: number | undefined; provider?: string | undefined; model?: string | undefined },
    ctx: UsageRequestContext,
    started: number,
    ttftMs: number | null,
    stream: boolean,
  ): UsageEvent {
    const last = attempts[attempts.length - 1];
    return {
      id: id || ctx.requestId || newId(),
      time: wallClock(),
      keyName: ctx.keyName ?? null,
      team: ctx.team ?? null,
      route: where.route ?? ctx.requested ?? '',
      routeVersion: where.routeVersion ?? 0,
      provider: last?.provider ?? where.provider ?? null,
      model: last?.model ?? where.model ?? null,
      attempts: attempts.length,
      tokens: { input: 0, output: 0, cachedInput: 0, cacheWrite: 0, reasoning: 0 },
      costUsd: null,
      priceSource: 'none',
      usageEstimated: false,
      latencyMs: round3(now() - started),
      ttftMs,
      cacheHit: false,
      stream,
      status: 'error',
      errorKind: error.kind,
      traceId: null,
    };
  }

  async function complete(ctx: C, run: () => Promise<Completion>): Promise<Completion> {
    const started = now();
    try {
      const c = await run();
      safeRecord(fromCompletion(c, ctx, false), ctx);
      return c;
    } catch (e) {
      const error = toGatewayError(e);
      const attempts = 'attempts' in error && Array.isArray(error.attempts) ? (error.attempts as AttemptRecord[]) : [];
      safeRecord(fromError('', error, attempts, {}, ctx, started, null, false), ctx);
      throw e;
    }
  }

  /** `tap` sees each event first (before it is recorded): lets a caller observe the stream without a generator layer of its own. */
  async function* stream(ctx: C, events: AsyncIterable<CompletionEvent>, tap?: (ev: CompletionEvent) => void): AsyncGenerator<CompletionEvent> {
    const started = now();
    let where: { id: string; route?: string; routeVersion?: number; provider?: string; model?: string } = { id: '' };
    let ttftMs: number | null = null;
    let ended = false;
    try {
      for await (const ev of events) {
        tap?.(ev);
        switch (ev.type) {
          case 'start':
            where = { id: ev.id, route: ev.route, routeVersion: ev.routeVersion, provider: ev.provider, model: ev.model };
            break;
          case 'switch':
            where = { ...where, provider: ev.to.provider, model: ev.to.model };
            break;
          case 'text-delta':
          case 'tool-call-delta':
            ttftMs ??= round3(now() - started);
            break;
          case 'done':
            ended = true;
            safeRecord(fromCompletion(ev.completion, ctx, true), ctx);
            break;
          case 'error':
            ended = true;
            safeRecord(fromError(ev.id || where.id, ev.error, ev.attempts, where, ctx, started, ttftMs, true), ctx);
            break;
        }
        yield ev;
      }
    } finally {
      if (!ended) {
        // The consumer stopped reading (client went away) or the source broke: still one event.
        safeRecord(fromError(where.id, new GatewayError('cancelled', 'stream not read to its end'), [], where, ctx, started, ttftMs, true), ctx);
      }
    }
  }

  return { complete, stream };
}
