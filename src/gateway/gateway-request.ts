import { z } from 'zod';
import type { ChatRequest, EmbeddingRequest, Principal } from '../core/index.ts';
import type { RequestConstraints } from '../router/route-plan.ts';
import type { ProtocolParam } from './protocol-params.ts';

/** One request to the gateway, already normalized by the API layer (GraphQL or REST). */
export interface GatewayRequest {
  /** The conversation; for an embeddings request, its inputs seen as one (embeddings.ts `embeddingsRequest`). */
  chat: ChatRequest;
  /** Set on an embeddings request: what the provider is asked to embed. */
  embeddings?: EmbeddingRequest | undefined;
  /** Route name; defaults to config `defaults.route`. Ignored when `model` pins a model. */
  route?: string | undefined;
  /** Pins a model id (`gpt-4o-mini`) or deployment (`openai-main/gpt-4o-mini`), bypassing routing. */
  model?: string | undefined;
  requestId?: string | undefined;
  signal?: AbortSignal | undefined;
  principal?: Principal | undefined;
  /** What the request is for (`summarize`, `code`…): matched by route targets' `when.task`; never sent upstream. */
  task?: string | undefined;
  /** Per-request routing constraints: quality, latency budget, cost ceiling, provider allow/deny. */
  constraints?: RequestConstraints | undefined;
  /**
   * Parameters only targets of some protocols honour (REST's OpenAI-only fields): each attempt on a target of
   * another protocol refuses them or drops them, by the route's `unsupportedParams` (protocol-params.ts).
   */
  protocolParams?: readonly ProtocolParam[] | undefined;
  /**
   * Keep the whole completion (its message included) in this instance's recent-completions log, for
   * `completion(id)`. GraphQL sets it: a Completion is an entity its clients fetch again. REST does not:
   * its answer is the whole record, and holding every REST completion for the log's last 2,000 requests
   * keeps them alive through young-generation collections, which then copy and promote them (at
   * saturation the scavenge pauses tripled: BENCHMARKS.md, third round). REST completions are still found
   * by id, from the usage ledger (usage, cost, timing; no message).
   */
  retain?: boolean | undefined;
}

export const CACHE_MODES = ['DEFAULT', 'BYPASS', 'REFRESH', 'ONLY'] as const;

export const CacheDirectiveSchema = z.strictObject({
  mode: z.enum(CACHE_MODES).default('DEFAULT'),
  ttlSeconds: z.number().int().positive().optional(),
});
export type CacheDirective = z.input<typeof CacheDirectiveSchema>;

/** A gateway request plus the per-request controls of the store stages (cache, idempotency). */
export interface StoreRequest extends GatewayRequest {
  /** GraphQL `cache: {mode, ttlSeconds}` / REST `x-switchboard-cache`. */
  cache?: CacheDirective | undefined;
  /** GraphQL `idempotencyKey` / REST `Idempotency-Key`. */
  idempotencyKey?: string | undefined;
}
