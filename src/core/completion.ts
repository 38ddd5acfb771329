import type { FinishReason, ToolCall, Usage } from './chat.ts';
import { GatewayError, type ErrorKind } from './gateway-error.ts';
import type { Quota } from './quota.ts';
import type { ReasoningPart } from './reasoning.ts';
import type { ReasoningDelta } from './stream-part.ts';

/**
 * The records every layer shares: who asks (Principal), what one provider call did (AttemptRecord), what
 * a request produced (Completion) and how a streamed one unfolds (CompletionEvent). They live in core so
 * the router, usage, telemetry and the APIs read the same types without importing each other.
 */

/** Who is calling: a configured or runtime API key, or the local-mode anonymous caller. */
export interface Principal {
  name: string;
  scope: 'admin' | 'client';
  routes?: readonly string[] | undefined;
  models?: readonly string[] | undefined;
  team?: string | undefined;
  user?: string | undefined;
  /** A runtime key's id (createApiKey); absent for config keys. */
  keyId?: string | undefined;
  /** A runtime key's expiry (ISO): the authenticator refuses it from then on. */
  expiresAt?: string | undefined;
  /** A runtime key's own limits and budget, applied instead of config `quotas.keys[name]`. */
  quota?: Quota | undefined;
}

/** One provider call of a request, as the router's attempt loop recorded it. */
export interface AttemptRecord {
  provider: string;
  model: string;
  status: 'ok' | 'error';
  errorKind?: ErrorKind | undefined;
  errorMessage?: string | undefined;
  latencyMs: number;
  /** How long the executor waited before this attempt (backoff or a provider's retry-after). */
  retryDelayMs?: number | undefined;
  /** USD this attempt cost (null: unpriced; absent: no usage, e.g. it failed before answering). */
  costUsd?: number | null | undefined;
  /** Cascade: why this step's answer was rejected (the attempt answered, errorKind invalid_response). */
  validationError?: string | undefined;
  /** Streaming with resumeStreams: this attempt continued a broken stream from the text already sent. */
  resumed?: boolean | undefined;
}

/** A request the router gave up on: the error of the last attempt, with every attempt it made. */
export class RoutingError extends GatewayError {
  readonly attempts: AttemptRecord[];
  constructor(base: GatewayError, attempts: AttemptRecord[], message = base.message) {
    super(base.kind, message, {
      retryable: base.retryable,
      retryAfterMs: base.retryAfterMs,
      provider: base.provider,
      status: base.status,
      providerCode: base.providerCode,
      param: base.param,
      partialText: base.partialText,
      cause: base.cause,
    });
    this.attempts = attempts;
  }
}

/** The attempts behind an error: a RoutingError's, else none (the request failed before any provider call). */
export function attemptsOf(e: unknown): AttemptRecord[] {
  return e instanceof RoutingError ? e.attempts : [];
}

/** The sum of the attempts' costs; null when one that reported usage was unpriced. */
export function totalCost(attempts: readonly AttemptRecord[]): number | null {
  let sum = 0;
  for (const a of attempts) {
    if (a.costUsd === null) return null;
    if (a.costUsd !== undefined) sum += a.costUsd;
  }
  return Math.round(sum * 1e10) / 1e10;
}

/** What a completion answered. `reasoning` / `reasoningParts` are set only when the model returned reasoning. */
export interface CompletionMessage {
  role: 'assistant';
  content: string | null;
  toolCalls: ToolCall[];
  /** The readable reasoning, concatenated. */
  reasoning?: string | undefined;
  /** The reasoning block by block with its signatures: what a client sends back on the assistant turn. */
  reasoningParts?: ReasoningPart[] | undefined;
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
  message: CompletionMessage;
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
  /** An embeddings request's vectors, one per input in order (its message is empty); absent for chat. */
  embeddings?: number[][] | undefined;
}

/** What a request asked for: the ledger, metrics and spans tell them apart. */
export type Operation = 'chat' | 'embeddings';

export const operationOf = (c: Pick<Completion, 'embeddings'>): Operation => (c.embeddings ? 'embeddings' : 'chat');

export interface TargetRef {
  provider: string;
  model: string;
}

/** What a streamed completion emits, in order: start, deltas (and switches), then exactly one of done / error. */
export type CompletionEvent =
  | { type: 'start'; id: string; route: string; routeVersion: number; provider: string; model: string }
  /** `resumed`: content from `from` already reached the client and `to` continues it (resumeStreams). */
  | { type: 'switch'; from: TargetRef; to: TargetRef; reason: string; errorKind: string; resumed: boolean }
  /** Reasoning arrives before the text it leads to; the done event's completion carries the assembled parts. */
  | ReasoningDelta
  | { type: 'text-delta'; text: string }
  | { type: 'tool-call-delta'; index: number; id?: string | undefined; name?: string | undefined; argumentsDelta: string }
  | { type: 'done'; completion: Completion }
  | { type: 'error'; id: string; error: GatewayError; partialText: string; attempts: AttemptRecord[] };

/** The terminal event of a request that failed (also the form a failed non-streamed request takes inside the pipeline). */
export type CompletionErrorEvent = Extract<CompletionEvent, { type: 'error' }>;
