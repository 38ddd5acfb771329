import type { ErrorKind, LedgerBatch, LedgerSink, UsageEvent } from '../../src/core/index.ts';
import { MemoryLedgerSink } from '../../src/usage/memory-ledger-sink.ts';

/** A deterministic PRNG (mulberry32), so generated traffic is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const T0 = Date.UTC(2026, 6, 1, 10, 0, 0);

export const PROVIDERS = ['sim-openai', 'sim-anthropic', 'sim-gemini'];
export const MODELS: Record<string, string[]> = {
  'sim-openai': ['gpt-4o-mini', 'o4-mini'],
  'sim-anthropic': ['claude-haiku-4-5'],
  'sim-gemini': ['gemini-2.5-flash'],
};
const KEYS = [['web', 'frontend'], ['batch', 'data'], ['ops', null]] as const;
const ROUTES = ['default', 'cheap'];
const KINDS: ErrorKind[] = ['rate_limited', 'timeout', 'unavailable'];

export function makeEvent(over: Partial<UsageEvent> = {}): UsageEvent {
  return {
    id: 'e1',
    time: T0,
    keyName: 'web',
    team: 'frontend',
    route: 'default',
    routeVersion: 1,
    provider: 'sim-openai',
    model: 'gpt-4o-mini',
    attempts: 1,
    tokens: { input: 10, output: 5, cachedInput: 0, cacheWrite: 0, reasoning: 0 },
    costUsd: 0.000005,
    priceSource: 'config',
    usageEstimated: false,
    latencyMs: 120,
    ttftMs: null,
    cacheHit: false,
    stream: false,
    status: 'ok',
    errorKind: null,
    traceId: null,
    ...over,
  };
}

/** `n` varied events spread over `spanMs` from T0: errors, unpriced models, cache hits, all token kinds. */
export function generateEvents(n: number, seed = 1, spanMs = 3 * 3_600_000): UsageEvent[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: UsageEvent[] = [];
  for (let i = 0; i < n; i++) {
    const provider = pick(PROVIDERS);
    const model = pick(MODELS[provider]!);
    const [keyName, team] = pick(KEYS);
    const failed = r() < 0.1;
    const input = failed ? 0 : 50 + Math.floor(r() * 5000);
    const output = failed ? 0 : 10 + Math.floor(r() * 800);
    // Log-uniform latency from 20 ms to ~20 s, so percentiles cross many buckets.
    const latencyMs = Math.round(20 * Math.pow(1000, r()) * 1000) / 1000;
    const unpriced = model === 'o4-mini';
    out.push(
      makeEvent({
        id: `e${seed}-${i}`,
        time: T0 + Math.floor(r() * spanMs),
        keyName,
        team,
        route: pick(ROUTES),
        provider,
        model,
        attempts: failed ? 3 : 1 + (r() < 0.2 ? 1 : 0),
        tokens: {
          input,
          output,
          cachedInput: Math.floor(input * r() * 0.5),
          cacheWrite: Math.floor(input * r() * 0.1),
          reasoning: Math.floor(output * r() * 0.3),
        },
        costUsd: failed || unpriced ? null : Math.round(r() * 1e6) / 1e10 + 0.0000001,
        priceSource: failed || unpriced ? 'none' : 'config',
        usageEstimated: !failed && r() < 0.05,
        latencyMs,
        ttftMs: null,
        cacheHit: !failed && r() < 0.15,
        stream: r() < 0.5,
        status: failed ? 'error' : 'ok',
        errorKind: failed ? pick(KINDS) : null,
      }),
    );
  }
  return out;
}

/** Totals computed straight from events, the way a report must add them up. */
export function expectedTotals(events: readonly UsageEvent[]) {
  const sum = (f: (e: UsageEvent) => number) => events.reduce((n, e) => n + f(e), 0);
  const requests = events.length;
  const errors = events.filter((e) => e.status === 'error').length;
  const cacheHits = events.filter((e) => e.cacheHit).length;
  return {
    requests,
    errors,
    inputTokens: sum((e) => e.tokens.input),
    outputTokens: sum((e) => e.tokens.output),
    cachedInputTokens: sum((e) => e.tokens.cachedInput),
    cacheWriteTokens: sum((e) => e.tokens.cacheWrite),
    reasoningTokens: sum((e) => e.tokens.reasoning),
    // Cost is kept in integer 1e-10 USD units: the exact sum of the rounded per-request costs.
    costUsd: sum((e) => Math.round((e.costUsd ?? 0) * 1e10)) / 1e10,
    unpricedRequests: events.filter((e) => e.status === 'ok' && e.costUsd === null).length,
    estimatedRequests: events.filter((e) => e.usageEstimated).length,
    cacheHits,
    errorRate: requests ? errors / requests : 0,
    cacheHitRate: requests ? cacheHits / requests : 0,
  };
}

/** The true q-quantile of latencies (nearest rank), to compare with the histogram's estimate. */
export function trueQuantile(events: readonly UsageEvent[], q: number): number {
  const sorted = events.map((e) => e.latencyMs).sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** A memory sink that can be taken down, and can fail after applying a write (an ambiguous failure). */
export class FlakySink implements LedgerSink {
  down = false;
  failAfterApplyOnce = false;
  readonly inner: MemoryLedgerSink;
  constructor(inner = new MemoryLedgerSink()) {
    this.inner = inner;
  }
  async write(batch: LedgerBatch): Promise<void> {
    if (this.down) throw new Error('ECONNREFUSED (sink down)');
    await this.inner.write(batch);
    if (this.failAfterApplyOnce) {
      this.failAfterApplyOnce = false;
      throw new Error('connection reset after write');
    }
  }
  readRollups(q: Parameters<LedgerSink['readRollups']>[0]) {
    return this.inner.readRollups(q);
  }
  readEvents(q: Parameters<LedgerSink['readEvents']>[0]) {
    return this.inner.readEvents(q);
  }
}

/** A ledger scheduler that never fires: tests flush by hand. */
export const manualSchedule = () => ({ cancel: () => {} });
