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

  // Counter increments wait in `pending` (below) and reach prom-client when something reads the registry:
  // each counter's collect() applies them all, so a scrape sees every finished request.
  const collect = () => flush();
  const requests = new Counter({
    name: 'switchboard_requests_total',
    help: 'Requests by route, provider, model, status and whether streamed',
    labelNames: ['route', 'provider', 'model', 'status', 'stream'] as const,
    registers,
    collect,
  });
  const errors = new Counter({
    name: 'switchboard_errors_total',
    help: 'Failed requests by error kind',
    labelNames: ['route', 'provider', 'model', 'kind'] as const,
    registers,
    collect,
  });
  const tokens = new Counter({
    name: 'switchboard_tokens_total',
    help: 'Tokens by kind; input includes cached_input and cache_write, output includes reasoning',
    labelNames: ['route', 'provider', 'model', 'kind'] as const,
    registers,
    collect,
  });
  const cost = new Counter({
    name: 'switchboard_cost_usd_total',
    help: 'Cost of priced requests in USD',
    labelNames: ['route', 'provider', 'model'] as const,
    registers,
    collect,
  });
  const unpriced = new Counter({
    name: 'switchboard_unpriced_requests_total',
    help: 'Successful requests to a model without a price (cost unknown, not zero)',
    labelNames: ['provider', 'model'] as const,
    registers,
    collect,
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
    collect,
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

  /** Counter increments of one label set, summed since the registry was last read. */
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
    /** Failed requests by error kind. */
    errors: Map<string, number> | undefined;
  }
  const TOKEN_KINDS = ['input', 'output', 'cached_input', 'cache_write', 'reasoning'] as const;

  /**
   * Per label set, what the requests finished since the registry was last read add to the counters.
   * prom-client hashes a metric's labels on every `inc` (sorting the label names, joining a string), about
   * 2 KB of garbage and a microsecond per finished request for the four or five counters a request moves;
   * here a request adds to one entry of this map, and a scrape pays once per label set. The map holds at
   * most one entry per label set, which the config bounds, so it needs no flushing between scrapes.
   */
  const pending = new Map<string, Sums>();

  function flush(): void {
    for (const s of pending.values()) {
      const { route, provider, model } = s;
      requests.inc({ route, provider, model, status: s.status, stream: s.stream }, s.requests);
      for (let i = 0; i < TOKEN_KINDS.length; i++) if (s.tokens[i]! > 0) tokens.inc({ route, provider, model, kind: TOKEN_KINDS[i]! }, s.tokens[i]);
      if (s.priced) cost.inc({ route, provider, model }, s.costUsd);
      if (s.unpriced > 0) unpriced.inc({ provider, model }, s.unpriced);
      if (s.cacheHits > 0) cache.inc({ route, result: 'hit' }, s.cacheHits);
      if (s.errors) for (const [kind, n] of s.errors) errors.inc({ route, provider, model, kind }, n);
    }
    pending.clear();
  }

  /** Finished requests: the histograms observe each, the counters' increments wait for the next scrape. */
  function recordRequests(events: readonly RequestMetricsInput[]): void {
    for (const e of events) {
      const provider = e.provider ?? 'none';
      const model = e.model ?? 'none';
      const route = e.route || 'none';
      latency.observe({ route, provider, model, status: e.status }, e.latencyMs / 1000);
      if (e.ttftMs !== null) ttft.observe({ route, provider, model }, e.ttftMs / 1000);
      const key = `${route}\u0000${provider}\u0000${model}\u0000${e.status}\u0000${e.stream ? 'true' : 'false'}`;
      let sum = pending.get(key);
      if (!sum) {
        const stream = e.stream ? 'true' : 'false';
        sum = { route, provider, model, status: e.status, stream, requests: 0, tokens: [0, 0, 0, 0, 0], costUsd: 0, priced: false, unpriced: 0, cacheHits: 0, errors: undefined };
        pending.set(key, sum);
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
      if (e.status === 'error') {
        const kind = e.errorKind ?? 'internal';
        sum.errors ??= new Map();
        sum.errors.set(kind, (sum.errors.get(kind) ?? 0) + 1);
      }
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
