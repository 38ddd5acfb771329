import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * What one finished request contributes to the metrics; the usage ledger's UsageEvent has this shape
 * (declared here so telemetry does not depend on usage).
 */
export interface RequestMetricsInput {
  route: string;
  provider: string | null;
  model: string | null;
  status: 'ok' | 'error';
  errorKind: string | null;
  tokens: { input: number; output: number; cachedInput: number; cacheWrite: number; reasoning: number };
  costUsd: number | null;
  latencyMs: number;
  ttftMs: number | null;
  cacheHit: boolean;
  stream: boolean;
}

export type CircuitState = 'closed' | 'half_open' | 'open';
const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

export interface MetricsOptions {
  /** Also export Node's process metrics (event loop lag, heap, GC); off in tests. */
  defaultMetrics?: boolean;
  /** Labels on every series, e.g. { instance }. */
  defaultLabels?: Record<string, string>;
}

/** Seconds; spans a cache hit (ms) to a long reasoning call (minutes). */
const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TTFT_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

/**
 * The gateway's Prometheus metrics in their own registry (never prom-client's global one, so two
 * gateways in one process — tests — do not collide). Labels are bounded sets: route, provider, model,
 * error kind; never a key, team or request id.
 */
export function createMetrics(opts: MetricsOptions = {}) {
  const registry = new Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'switchboard_requests_total',
    help: 'Requests by route, provider, model, status and whether streamed',
    labelNames: ['route', 'provider', 'model', 'status', 'stream'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'switchboard_errors_total',
    help: 'Failed requests by error kind',
    labelNames: ['route', 'provider', 'model', 'kind'] as const,
    registers,
  });
  const tokens = new Counter({
    name: 'switchboard_tokens_total',
    help: 'Tokens by kind; input includes cached_input and cache_write, output includes reasoning',
    labelNames: ['route', 'provider', 'model', 'kind'] as const,
    registers,
  });
  const cost = new Counter({
    name: 'switchboard_cost_usd_total',
    help: 'Cost of priced requests in USD',
    labelNames: ['route', 'provider', 'model'] as const,
    registers,
  });
  const unpriced = new Counter({
    name: 'switchboard_unpriced_requests_total',
    help: 'Successful requests to a model without a price (cost unknown, not zero)',
    labelNames: ['provider', 'model'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'switchboard_request_duration_seconds',
    help: 'Request latency, start to last byte',
    labelNames: ['route', 'provider', 'model', 'status'] as const,
    buckets: LATENCY_BUCKETS_S,
    registers,
  });
  const ttft = new Histogram({
    name: 'switchboard_time_to_first_token_seconds',
    help: 'Time to the first streamed token',
    labelNames: ['route', 'provider', 'model'] as const,
    buckets: TTFT_BUCKETS_S,
    registers,
  });
  const cache = new Counter({
    name: 'switchboard_cache_lookups_total',
    help: 'Response cache lookups by result',
    labelNames: ['route', 'result'] as const,
    registers,
  });
  const circuit = new Gauge({
    name: 'switchboard_circuit_state',
    help: 'Circuit breaker state per deployment: 0 closed, 1 half-open, 2 open',
    labelNames: ['provider', 'model'] as const,
    registers,
  });
  const fallbacks = new Counter({
    name: 'switchboard_fallbacks_total',
    help: 'Switches from one target to another, by the error kind that caused them',
    labelNames: ['route', 'from_provider', 'to_provider', 'reason'] as const,
    registers,
  });
  const dropped = new Counter({
    name: 'switchboard_usage_events_dropped_total',
    help: 'Usage ledger events dropped because the ledger buffer was full while the store was unreachable',
    registers,
  });
  let bufferedSource: (() => number) | undefined;
  new Gauge({
    name: 'switchboard_usage_events_buffered',
    help: 'Usage ledger events waiting to be written to the store',
    registers,
    collect() {
      this.set(bufferedSource?.() ?? 0);
    },
  });

  const durableDropped = new Counter({
    name: 'switchboard_durable_ledger_events_dropped_total',
    help: 'Usage events the durable ledger (PostgreSQL) dropped because its buffer was full while PostgreSQL was unreachable',
    registers,
  });
  let durableBufferedSource: (() => number) | undefined;
  new Gauge({
    name: 'switchboard_durable_ledger_events_buffered',
    help: 'Usage events waiting to be written to the durable ledger (PostgreSQL)',
    registers,
    collect() {
      this.set(durableBufferedSource?.() ?? 0);
    },
  });

  /** The circuit state last set per deployment (the gauge's label sets are bounded by the config the same way). */
  const circuitStates = new Map<string, CircuitState>();

  /** Counter increments of one label set, summed over a batch of requests. */
  interface Sums {
    route: string;
    provider: string;
    model: string;
    status: 'ok' | 'error';
    stream: string;
    requests: number;
    tokens: [input: number, output: number, cachedInput: number, cacheWrite: number, reasoning: number];
    costUsd: number;
    priced: boolean;
    unpriced: number;
    cacheHits: number;
  }
  const TOKEN_KINDS = ['input', 'output', 'cached_input', 'cache_write', 'reasoning'] as const;

  /**
   * Finished requests, in a batch: histograms observe each request, counters are incremented once per
   * label set with the batch's sums (prom-client hashes the labels on every call, so under load this is
   * most of the metrics' cost).
   */
  function recordRequests(events: readonly RequestMetricsInput[]): void {
    const sums = new Map<string, Sums>();
    for (const e of events) {
      const provider = e.provider ?? 'none';
      const model = e.model ?? 'none';
      const route = e.route || 'none';
      const stream = e.stream ? 'true' : 'false';
      if (e.status === 'error') errors.inc({ route, provider, model, kind: e.errorKind ?? 'internal' });
      latency.observe({ route, provider, model, status: e.status }, e.latencyMs / 1000);
      if (e.ttftMs !== null) ttft.observe({ route, provider, model }, e.ttftMs / 1000);
      const key = `${route}\u0000${provider}\u0000${model}\u0000${e.status}\u0000${stream}`;
      let sum = sums.get(key);
      if (!sum) {
        sum = { route, provider, model, status: e.status, stream, requests: 0, tokens: [0, 0, 0, 0, 0], costUsd: 0, priced: false, unpriced: 0, cacheHits: 0 };
        sums.set(key, sum);
      }
      sum.requests++;
      const t = e.tokens;
      sum.tokens[0] += t.input;
      sum.tokens[1] += t.output;
      sum.tokens[2] += t.cachedInput;
      sum.tokens[3] += t.cacheWrite;
      sum.tokens[4] += t.reasoning;
      if (e.costUsd !== null) {
        sum.costUsd += e.costUsd;
        sum.priced = true;
      } else if (e.status === 'ok') sum.unpriced++;
      if (e.cacheHit) sum.cacheHits++;
    }
    for (const s of sums.values()) {
      const { route, provider, model } = s;
      requests.inc({ route, provider, model, status: s.status, stream: s.stream }, s.requests);
      for (let i = 0; i < TOKEN_KINDS.length; i++) if (s.tokens[i]! > 0) tokens.inc({ route, provider, model, kind: TOKEN_KINDS[i]! }, s.tokens[i]);
      if (s.priced) cost.inc({ route, provider, model }, s.costUsd);
      if (s.unpriced > 0) unpriced.inc({ provider, model }, s.unpriced);
      if (s.cacheHits > 0) cache.inc({ route, result: 'hit' }, s.cacheHits);
    }
  }

  return {
    registry,
    recordRequest: (e: RequestMetricsInput) => recordRequests([e]),
    recordRequests,
    recordCacheLookup: (route: string, hit: boolean) => cache.inc({ route, result: hit ? 'hit' : 'miss' }),
    recordFallback: (route: string, fromProvider: string, toProvider: string, reason: string) =>
      fallbacks.inc({ route, from_provider: fromProvider, to_provider: toProvider, reason }),
    setCircuitState: (provider: string, model: string, state: CircuitState) => {
      // Called after every request for each deployment it used; the gauge only changes when the state does.
      const key = `${provider}\u0000${model}`;
      if (circuitStates.get(key) === state) return;
      circuitStates.set(key, state);
      circuit.set({ provider, model }, CIRCUIT_VALUE[state]);
    },
    /** Pass as the ledger's `onDrop`. */
    recordDroppedEvents: (count: number) => dropped.inc(count),
    /** Reports the ledger's buffer size at scrape time. */
    observeLedgerBuffer: (buffered: () => number) => {
      bufferedSource = buffered;
    },
    /** Pass as the durable ledger's `onDrop`. */
    recordDurableDroppedEvents: (count: number) => durableDropped.inc(count),
    /** Reports the durable ledger's buffer size at scrape time. */
    observeDurableLedgerBuffer: (buffered: () => number) => {
      durableBufferedSource = buffered;
    },
    /** GET /metrics: the registry in Prometheus text format. */
    async handler(_req: IncomingMessage, res: ServerResponse): Promise<void> {
      try {
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(body);
      } catch {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics collection failed\n');
      }
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
