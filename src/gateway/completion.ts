import type { ChatRequest, FinishReason, GatewayError, ToolCall, Usage } from '../core/index.ts';
import type { AttemptRecord } from '../router/executor.ts';
import type { RequestConstraints } from '../router/route-plan.ts';

/** Who is calling: a configured or runtime API key, or the local-mode anonymous caller. */
export interface Principal {
  name: string;
  scope: 'admin' | 'client';
  routes?: readonly string[] | undefined;
  models?: readonly string[] | undefined;
  team?: string | undefined;
  user?: string | undefined;
}

/** One request to the gateway, already normalized by the API layer (GraphQL or REST). */
export interface GatewayRequest {
  chat: ChatRequest;
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
   * Keep the whole completion (its message included) in this instance's recent-completions log, for
   * `completion(id)`. GraphQL sets it: a Completion is an entity its clients fetch again. REST does not:
   * its answer is the whole record, and holding every REST completion for the log's last 2,000 requests
   * keeps them alive through young-generation collections, which then copy and promote them (at
   * saturation the scavenge pauses tripled: BENCHMARKS.md, third round). REST completions are still found
   * by id, from the usage ledger (usage, cost, timing; no message).
   */
  retain?: boolean | undefined;
}

/** The record of one completed request: what GraphQL `Completion` and the REST body are built from. */
export interface Completion {
  id: string;
  route: string;
  routeVersion: number;
  provider: string;
  model: string;
  /** The name the provider says answered. */
  upstreamModel: string;
  providerRequestId?: string | undefined;
  message: { role: 'assistant'; content: string | null; toolCalls: ToolCall[] };
  finishReason: FinishReason;
  usage: Usage;
  /**
   * USD for the whole request: the sum of every attempt that reported usage (a cascade's rejected steps
   * included); null when one of them ran on an unpriced model — unpriced is not free.
   */
  costUsd: number | null;
  latencyMs: number;
  /** null for non-streamed requests (no token arrives before the whole answer). */
  timeToFirstTokenMs: number | null;
  cached: boolean;
  attempts: AttemptRecord[];
  createdAt: Date;
  traceId: string | null;
  principal?: string | undefined;
}

export interface TargetRef {
  provider: string;
  model: string;
}

/** What a streamed completion emits, in order: start, deltas (and switches), then exactly one of done / error. */
export type CompletionEvent =
  | { type: 'start'; id: string; route: string; routeVersion: number; provider: string; model: string }
  /** `resumed`: content from `from` already reached the client and `to` continues it (resumeStreams). */
  | { type: 'switch'; from: TargetRef; to: TargetRef; reason: string; errorKind: string; resumed: boolean }
  | { type: 'text-delta'; text: string }
  | { type: 'tool-call-delta'; index: number; id?: string | undefined; name?: string | undefined; argumentsDelta: string }
  | { type: 'done'; completion: Completion }
  | { type: 'error'; id: string; error: GatewayError; partialText: string; attempts: AttemptRecord[] };
