import { z } from 'zod';
import type { BudgetLineState, LimitState } from '../store/store.ts';
import type { Completion, CompletionEvent, GatewayRequest } from './completion.ts';

/**
 * The shape the store-backed wrappers (with-cache, with-idempotency, with-limits) take and return, so they
 * compose around the gateway service: `withIdempotency(store)(withLimits(store, o)(withCache(store, o)(gateway)))`.
 */
export interface Handlers<R extends GatewayRequest = StoreRequest> {
  complete(req: R): Promise<Completion>;
  stream(req: R): AsyncIterable<CompletionEvent>;
}

export const CACHE_MODES = ['DEFAULT', 'BYPASS', 'REFRESH', 'ONLY'] as const;

export const CacheDirectiveSchema = z.strictObject({
  mode: z.enum(CACHE_MODES).default('DEFAULT'),
  ttlSeconds: z.number().int().positive().optional(),
});
export type CacheDirective = z.input<typeof CacheDirectiveSchema>;

/** What the wrappers found out about one request, for response headers and the usage ledger. */
export interface RequestMeta {
  /** HIT and COALESCED made no upstream call. */
  cache?: 'HIT' | 'MISS' | 'BYPASS' | 'REFRESH' | 'COALESCED' | undefined;
  /** The completion is a stored one: do not bill or log it again. */
  idempotentReplay?: boolean | undefined;
  rateLimits?: LimitState[] | undefined;
  budget?: { soft: boolean; lines: BudgetLineState[] } | undefined;
  /** Features that ran without the store (it was unreachable) under their failure policy. */
  degraded?: string[] | undefined;
}

/** A gateway request plus the per-request controls of the store features. */
export interface StoreRequest extends GatewayRequest {
  /** GraphQL `cache: {mode, ttlSeconds}` / REST `x-switchboard-cache`. */
  cache?: CacheDirective | undefined;
  /** GraphQL `idempotencyKey` / REST `Idempotency-Key`. */
  idempotencyKey?: string | undefined;
  /** Filled in by the wrappers when the API layer passes an object. */
  meta?: RequestMeta | undefined;
}

export function markDegraded(req: StoreRequest, feature: string): void {
  if (!req.meta) return;
  req.meta.degraded = [...(req.meta.degraded ?? []), feature];
}

/** Replays a finished completion as the events a live stream would have produced. */
export async function* replayAsStream(c: Completion): AsyncGenerator<CompletionEvent> {
  yield { type: 'start', id: c.id, route: c.route, routeVersion: c.routeVersion, provider: c.provider, model: c.model };
  if (c.message.content) yield { type: 'text-delta', text: c.message.content };
  for (const [index, call] of c.message.toolCalls.entries()) {
    yield { type: 'tool-call-delta', index, id: call.id, name: call.name, argumentsDelta: call.arguments };
  }
  yield { type: 'done', completion: c };
}

const StoredCompletionSchema = z
  .object({
    id: z.string(),
    route: z.string(),
    routeVersion: z.number(),
    provider: z.string(),
    model: z.string(),
    upstreamModel: z.string(),
    message: z.object({
      role: z.literal('assistant'),
      content: z.string().nullable(),
      toolCalls: z.array(z.object({ id: z.string(), name: z.string(), arguments: z.string() })),
    }),
    finishReason: z.enum(['stop', 'length', 'tool_calls', 'content_filter', 'error', 'other']),
    usage: z.object({
      inputTokens: z.number(),
      outputTokens: z.number(),
      cachedInputTokens: z.number(),
      cacheWriteTokens: z.number(),
      reasoningTokens: z.number(),
      estimated: z.boolean().optional(),
    }),
    costUsd: z.number().nullable(),
    latencyMs: z.number(),
    timeToFirstTokenMs: z.number().nullable(),
    cached: z.boolean(),
    attempts: z.array(z.unknown()),
    createdAt: z.string(),
  })
  .loose();

/** A completion as stored (cache, idempotency): JSON, with `createdAt` as an ISO string. */
export function serializeCompletion(c: Completion, opts: { forOthers: boolean }): string {
  // A cached answer is served to other callers: nothing about who asked or what failed on the way.
  const stored = opts.forOthers ? { ...c, principal: undefined, traceId: null, attempts: [] } : c;
  return JSON.stringify(stored);
}

/** Undefined when the stored value is not a completion (corrupt, or written by an incompatible version). */
export function parseCompletion(value: string): Completion | undefined {
  try {
    const parsed = StoredCompletionSchema.safeParse(JSON.parse(value));
    if (!parsed.success) return undefined;
    return { ...(parsed.data as unknown as Completion), createdAt: new Date(parsed.data.createdAt) };
  } catch {
    return undefined;
  }
}
