import { newId as makeId, type AttemptRecord, type Completion, type GatewayError, type UsageEvent } from '../core/index.ts';
import type { PriceSource, Pricing } from './pricing.ts';

/** Who asked and for what: the request as the API layer handed it over (fields the gateway's requests have). */
export interface UsageRequest {
  /** The API key's configured name and team (the principal), never the key. */
  principal?: { name: string; team?: string | undefined } | undefined;
  /** The route or model the client asked for; used for requests that fail before a route is resolved. */
  model?: string | undefined;
  route?: string | undefined;
  /** Names the event of a request that failed before the gateway gave it a completion id. */
  requestId?: string | undefined;
  /** Present on an embeddings request (its failures are counted under that operation). */
  embeddings?: unknown;
}

/** A request that failed: its error event, where it had got to, and its timing. */
export interface UsageFailure {
  /** The completion id when the gateway had given one ('' before). */
  id: string;
  error: GatewayError;
  attempts: readonly AttemptRecord[];
  /** A stream's start event and the target it switched to last, if it got that far. */
  start?: { id: string; route: string; routeVersion: number; provider: string; model: string } | undefined;
  target?: { provider: string; model: string } | undefined;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  traceId: string | null;
}

export interface UsageRecorderDeps {
  /** Wall clock, epoch ms, for the time of failed requests (answered ones carry their own). */
  wallClock?: () => number;
  /** Names where a Completion's price came from when the Completion does not say (config vs built-in table). */
  pricing?: Pricing | undefined;
  newId?: () => string;
}

/** A Completion that may say where its price came from (the gateway adds this when it prices with createPricing). */
type PricedCompletion = Completion & { priceSource?: PriceSource | undefined };

/**
 * The usage ledger's one event per request, made from how the request ended: its completion, or its
 * error (a stream its consumer stopped reading ends as `cancelled`). The pipeline's observability stage
 * calls it exactly once per request.
 */
export function createUsageRecorder(deps: UsageRecorderDeps = {}) {
  const wallClock = deps.wallClock ?? (() => Date.now());
  const newId = deps.newId ?? (() => makeId('req'));

  function priceSourceOf(c: PricedCompletion): PriceSource {
    if (c.priceSource) return c.priceSource;
    if (deps.pricing) return deps.pricing.resolve({ provider: c.provider, model: c.model, upstreamModel: c.upstreamModel }, c.createdAt).source;
    return c.costUsd === null ? 'none' : 'config';
  }

  function completed(c: PricedCompletion, req: UsageRequest, stream: boolean): UsageEvent {
    return {
      id: c.id,
      time: c.createdAt.getTime(),
      keyName: req.principal?.name ?? c.principal ?? null,
      team: req.principal?.team ?? null,
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
      ...(c.embeddings && { operation: 'embeddings' as const }),
    };
  }

  function failed(f: UsageFailure, req: UsageRequest): UsageEvent {
    const last = f.attempts[f.attempts.length - 1];
    return {
      id: f.id || f.start?.id || req.requestId || newId(),
      time: wallClock(),
      keyName: req.principal?.name ?? null,
      team: req.principal?.team ?? null,
      route: f.start?.route ?? req.model ?? req.route ?? '',
      routeVersion: f.start?.routeVersion ?? 0,
      provider: last?.provider ?? f.target?.provider ?? f.start?.provider ?? null,
      model: last?.model ?? f.target?.model ?? f.start?.model ?? null,
      attempts: f.attempts.length,
      tokens: { input: 0, output: 0, cachedInput: 0, cacheWrite: 0, reasoning: 0 },
      costUsd: null,
      priceSource: 'none',
      usageEstimated: false,
      latencyMs: f.latencyMs,
      ttftMs: f.ttftMs,
      cacheHit: false,
      stream: f.stream,
      status: 'error',
      errorKind: f.error.kind,
      traceId: f.traceId,
      ...(req.embeddings !== undefined && { operation: 'embeddings' as const }),
    };
  }

  return { completed, failed };
}

export type UsageRecorder = ReturnType<typeof createUsageRecorder>;
