import { context, type Tracer } from '@opentelemetry/api';
import type { AttemptRecord, Completion, UsageEvent } from '../core/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import { logRequest } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { createTracing, type ProviderDescription } from '../telemetry/tracing.ts';
import type { CompletionLog } from '../usage/completion-log.ts';
import type { Pricing } from '../usage/pricing.ts';
import { createUsageRecorder } from '../usage/usage-recorder.ts';
import type { Stage } from './pipeline.ts';
import type { RequestContext } from './request-context.ts';

export interface ObservabilityDeps {
  /** The no-op tracer when tracing is off. */
  tracer: Tracer;
  /**
   * False when `tracer` is the no-op one: the tracing stage is left out altogether (its span, context
   * switches per stream read and attempt hooks would record nothing). Default true.
   */
  tracingEnabled?: boolean;
  /** Record prompts and outputs on spans (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). */
  recordContent?: boolean;
  describeProvider?: (providerId: string) => ProviderDescription | undefined;
  /** Names where a completion's price came from when the completion does not say. */
  pricing?: Pricing;
  /** The usage ledger (its `record` only appends to a buffer). */
  ledger?: { record(e: UsageEvent): void };
  metrics?: Metrics;
  /** One line per request with the ledger's fields. */
  logger?: Logger;
  /** The recent-completions log: completions are put there with their trace id (and cache hits, which the gateway never sees). */
  completionLog?: CompletionLog<Completion>;
  /** A deployment's circuit state after a request used it, for the circuit gauge. */
  circuitOf?: (provider: string, model: string) => 'closed' | 'open' | 'half-open' | undefined;
  /** Monotonic ms (the pipeline's clock: request latency is measured from its start) and wall clock ms. */
  now?: () => number;
  wallClock?: () => number;
  /**
   * Where finished requests' records go to be written (ledger, metrics, log line). Without one they are
   * written at once; the app passes a RecordQueue so they are written after the response is.
   */
  queue?: RecordQueue;
}

/** One finished request's record: its usage event, and whether its cache lookup missed. */
interface RequestRecord {
  event: UsageEvent;
  cacheMiss: boolean;
}
type RecordWriter = (records: readonly RequestRecord[]) => void;

/**
 * Finished requests' records, written in a batch on the next turn of the event loop: after the response
 * that ended the request has been handed to the socket, so the ledger row, the metrics and the log line
 * (a few tens of µs) add nothing to the request's latency. `drain` writes what waits (before a flush).
 */
export class RecordQueue {
  #pending: RequestRecord[] = [];
  #scheduled = false;
  #write: RecordWriter | undefined;
  readonly #drain = () => this.drain();

  /** Set once by the observability stage that owns the queue. */
  attach(write: RecordWriter): void {
    this.#write = write;
  }

  push(event: UsageEvent, cacheMiss: boolean): void {
    this.#pending.push({ event, cacheMiss });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    }
  }

  drain(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    try {
      this.#write?.(batch);
    } catch {
      // Recording is best effort (the writer guards each part); nothing here may reach a request.
    }
  }
}

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * Usage, metrics, the request log and the recent-completions log: exactly one UsageEvent per request
 * (answered, failed, refused by a stage, or a stream abandoned by its reader), which goes to the ledger,
 * the metrics and one log line — unless the request is an idempotent replay of a stored completion,
 * recorded when it first ran. Recording is best effort: nothing here may fail the request it describes.
 */
export function recordStage(deps: Omit<ObservabilityDeps, 'tracer' | 'tracingEnabled' | 'recordContent' | 'describeProvider'>): Stage {
  const { metrics } = deps;
  const now = deps.now ?? (() => performance.now());
  const usage = createUsageRecorder({ pricing: deps.pricing, wallClock: deps.wallClock });

  /** Ledger rows, metrics (summed per label set over the batch) and log lines; a failing part skips only itself. */
  const write: RecordWriter = (records) => {
    const { ledger, logger } = deps;
    for (const r of records) {
      try {
        ledger?.record(r.event);
        if (metrics && r.cacheMiss) metrics.recordCacheLookup(r.event.route || 'none', false);
        if (logger) logRequest(logger, r.event);
      } catch {
        // Best effort: the other records, and the metrics below, still get written.
      }
    }
    try {
      metrics?.recordRequests(records.map((r) => r.event));
    } catch {
      // As above.
    }
  };
  deps.queue?.attach(write);

  function record(ctx: RequestContext, event: UsageEvent): void {
    if (ctx.idempotentReplay) return;
    const cacheMiss = ctx.cacheStatus === 'MISS';
    if (deps.queue) deps.queue.push(event, cacheMiss);
    else write([{ event, cacheMiss }]);
  }

  /** Fallbacks and circuit states from the attempts of a finished request. */
  function observeAttempts(route: string, attempts: readonly AttemptRecord[]): void {
    if (!metrics) return;
    for (let i = 1; i < attempts.length; i++) {
      const from = attempts[i - 1]!;
      metrics.recordFallback(route || 'none', from.provider, attempts[i]!.provider, from.errorKind ?? 'error');
    }
    if (!deps.circuitOf) return;
    for (const a of attempts) {
      const state = deps.circuitOf(a.provider, a.model);
      if (state) metrics.setCircuitState(a.provider, a.model, state === 'half-open' ? 'half_open' : state);
    }
  }

  return {
    name: 'observability',
    done(ctx, c) {
      try {
        observeAttempts(c.route, c.attempts);
        // With its trace id now, or a cache hit the gateway never saw (see GatewayRequest.retain).
        if (ctx.request.retain) deps.completionLog?.put(c);
        record(ctx, usage.completed(c, ctx.request, ctx.streamed));
      } catch {
        // Best effort, as above.
      }
    },
    error(ctx, f) {
      try {
        const req = ctx.request;
        observeAttempts(req.model ?? req.route ?? '', f.attempts);
        const latencyMs = round3(now() - ctx.startedAt);
        const failure = { id: f.id, error: f.error, attempts: f.attempts, start: ctx.startEvent, target: ctx.target, latencyMs, ttftMs: ctx.firstOutputMs, stream: ctx.streamed, traceId: ctx.traceId };
        record(ctx, usage.failed(failure, req));
      } catch {
        // Best effort, as above.
      }
    },
  };
}

/**
 * A `switchboard.route` span per request, begun when the request is made (so its parent is the caller's
 * active span: the HTTP server or GraphQL operation span) and ended by how the request ended. The later
 * stages and the gateway run inside it (`wrap`), so cache lookups, rate-limit checks and the attempts
 * nest under it; the gateway reports attempts and its plan through the hooks put on the context.
 */
export function tracingStage(deps: Pick<ObservabilityDeps, 'tracer' | 'recordContent' | 'describeProvider'>): Stage {
  const tracing = createTracing({ tracer: deps.tracer, recordContent: deps.recordContent, describeProvider: deps.describeProvider });
  return {
    name: 'tracing',
    open(ctx) {
      const req = ctx.request;
      const t = tracing.begin({ requested: req.model ?? req.route, stream: ctx.streamed, requestId: req.requestId, messages: req.chat.messages, operation: req.embeddings ? 'embeddings' : undefined });
      ctx.trace = t;
      ctx.traceId = t.traceId;
      ctx.onAttempt = t.onAttempt;
      ctx.onPlan = t.onPlan;
    },
    wrap<T>(ctx: RequestContext, inner: (ctx: RequestContext) => T): T {
      return context.with(ctx.trace!.context, inner, undefined, ctx);
    },
    onEvent: (ctx, ev) => ctx.trace!.see(ev),
    done: (ctx, c) => ctx.trace!.end({ completion: c }),
    error: (ctx, f) => ctx.trace!.end({ error: f.error, attempts: f.attempts }),
  };
}

/** Observability as stages, outermost first: tracing (when on), then usage and metrics. */
export function observabilityStages(deps: ObservabilityDeps): Stage[] {
  return deps.tracingEnabled === false ? [recordStage(deps)] : [tracingStage(deps), recordStage(deps)];
}
