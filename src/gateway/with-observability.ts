import type { Tracer } from '@opentelemetry/api';
import type { Logger } from '../telemetry/logger.ts';
import { logRequest } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { ATTR } from '../telemetry/trace-attributes.ts';
import { createTracing, type ProviderDescription } from '../telemetry/tracing.ts';
import type { CompletionLog } from '../usage/completion-log.ts';
import type { Pricing } from '../usage/pricing.ts';
import type { UsageEvent } from '../usage/usage-event.ts';
import { withUsage, type UsageRequestContext } from '../usage/with-usage.ts';
import type { Store } from '../store/store.ts';
import type { AttemptRecord } from '../router/executor.ts';
import type { Completion, CompletionEvent } from './completion.ts';
import type { ObservedRequest } from './gateway-service.ts';
import type { Handlers, StoreRequest } from './handlers.ts';

export interface ObservabilityDeps {
  /** The no-op tracer when tracing is off (spans cost nothing, trace ids are null). */
  tracer: Tracer;
  /**
   * False when `tracer` is the no-op one: the route span, its context switches per stream event and the
   * attempt hooks are skipped altogether (they would record nothing). Default true.
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
  /** Monotonic ms and wall clock ms (tests inject fakes). */
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

  /** Set once by the observability wrapper that owns the queue. */
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

/** What withUsage hands back with each event: the request, and the trace id of its route span. */
type RecordContext<R> = UsageRequestContext & { req: R; traceId: string | null };

type Observed<R> = R & Pick<ObservedRequest, 'onAttempt' | 'onPlan'>;

/**
 * Usage, traces, metrics and the request log around the gateway's handlers, outermost, so a request
 * answered by a wrapper (cache hit, rate limit, idempotent replay) is still traced and recorded:
 * `withObservability(deps)(withIdempotency(…)(withLimits(…)(withCache(…)(gateway))))`.
 * Per request: a `switchboard.route` span (the gateway's attempts nest under it through `onAttempt`),
 * then exactly one UsageEvent, which goes to the ledger, the metrics and one log line — unless the
 * request is an idempotent replay of a stored completion, which was recorded when it first ran.
 */
export function withObservability<R extends StoreRequest>(deps: ObservabilityDeps) {
  const tracing = createTracing({ tracer: deps.tracer, recordContent: deps.recordContent, describeProvider: deps.describeProvider });
  const { metrics } = deps;

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

  const usage = withUsage<RecordContext<R>>({
    record(e, { req, traceId }) {
      if (req.meta?.idempotentReplay) return;
      const event = e.traceId === null && traceId ? { ...e, traceId } : e;
      const cacheMiss = req.meta?.cache === 'MISS';
      if (deps.queue) deps.queue.push(event, cacheMiss);
      else write([{ event, cacheMiss }]);
    },
    pricing: deps.pricing,
    now: deps.now,
    wallClock: deps.wallClock,
  });

  function usageContext(req: R, traceId: string | null): RecordContext<R> {
    return { keyName: req.principal?.name, team: req.principal?.team, requested: req.model ?? req.route, requestId: req.requestId, req, traceId };
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

  function finished(c: Completion, req: R): void {
    observeAttempts(c.route, c.attempts);
    // With its trace id now, or a cache hit the gateway never saw (see GatewayRequest.retain).
    if (req.retain) deps.completionLog?.put(c);
  }

  function begin(req: R, stream: boolean) {
    const t = tracing.begin({ requested: req.model ?? req.route, stream, requestId: req.requestId, messages: req.chat.messages });
    // The API layer may not have asked for the wrappers' findings; the ledger needs the cache outcome.
    const inner: Observed<R> = { ...req, meta: req.meta ?? {}, onAttempt: t.onAttempt, onPlan: t.onPlan };
    return { t, inner };
  }

  /** Tracing off: usage, metrics and the log line only (no span would be recorded, trace ids are null). */
  const untraced = (next: Handlers<R>): Handlers<R> => ({
    complete(req) {
      const inner: R = req.meta ? req : { ...req, meta: {} };
      return usage.complete(usageContext(req, null), async () => {
        try {
          const c = await next.complete(inner);
          if (req.meta !== inner.meta) req.meta = inner.meta;
          finished(c, req);
          return c;
        } catch (e) {
          const attempts = (e as { attempts?: unknown }).attempts;
          if (Array.isArray(attempts)) observeAttempts(req.model ?? req.route ?? '', attempts as AttemptRecord[]);
          throw e;
        }
      });
    },

    stream(req) {
      const inner: R = req.meta ? req : { ...req, meta: {} };
      return usage.stream(usageContext(req, null), next.stream(inner), (ev) => {
        if (ev.type === 'done') finished(ev.completion, req);
        else if (ev.type === 'error') observeAttempts(req.model ?? req.route ?? '', ev.attempts);
      });
    },
  });
  if (deps.tracingEnabled === false) return untraced;

  return (next: Handlers<R>): Handlers<R> => ({
    complete(req) {
      const { t, inner } = begin(req, false);
      return usage.complete(usageContext(req, t.traceId), () =>
        t.complete(async () => {
          try {
            const c = await next.complete(inner);
            if (req.meta !== inner.meta) req.meta = inner.meta;
            return c;
          } catch (e) {
            const attempts = (e as { attempts?: unknown }).attempts;
            if (Array.isArray(attempts)) observeAttempts(req.model ?? req.route ?? '', attempts as AttemptRecord[]);
            throw e;
          }
        }).then((c) => {
          finished(c, req);
          return c;
        }),
      );
    },

    stream(req) {
      // Begun here, not in a generator body, so the route span's parent is the caller's active span.
      const { t, inner } = begin(req, true);
      async function* observe(events: AsyncIterable<CompletionEvent>): AsyncGenerator<CompletionEvent> {
        for await (const ev of events) {
          if (ev.type === 'done') finished(ev.completion, req);
          else if (ev.type === 'error') observeAttempts(req.model ?? req.route ?? '', ev.attempts);
          yield ev;
        }
      }
      return usage.stream(usageContext(req, t.traceId), observe(t.stream(next.stream(inner))));
    },
  });
}

/**
 * The store as the wrappers see it, with a span around each cache lookup and rate-limit decision
 * (children of the request's route span, which is active while the wrappers run).
 */
export function traceStore(store: Store, tracer: Tracer): Store {
  const tracing = createTracing({ tracer });
  const cache = store.cache;
  const limits = store.limits;
  return {
    ...store,
    // Methods of the store object read fields of their closure, not `this`: spreading keeps them working.
    ping: () => store.ping(),
    readiness: () => store.readiness(),
    close: () => store.close(),
    cache: {
      get: (key) =>
        tracing.inSpan('switchboard.cache.lookup', {}, async (span) => {
          const value = await cache.get(key);
          span.setAttribute(ATTR.cacheHit, value !== undefined);
          return value;
        }),
      set: (key, value, ttlMs) => cache.set(key, value, ttlMs),
      delete: (key) => cache.delete(key),
    },
    limits: {
      consume: (rules, nowMs) =>
        tracing
          .rateLimit({ scope: rules.map((r) => r.key).join(',') }, async () => {
            const decision = await limits.consume(rules, nowMs);
            const retryAfterMs = decision.allowed ? undefined : decision.rules.reduce((m, r) => Math.max(m, r.retryAfterMs), 0);
            return { allowed: decision.allowed, retryAfterMs, decision };
          })
          .then((r) => r.decision),
      adjust: (rules, nowMs) => limits.adjust(rules, nowMs),
      peek: (rules, nowMs) => limits.peek(rules, nowMs),
    },
  };
}
