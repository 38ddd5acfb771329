import type { RouteStrategy } from '../config/index.ts';
import type { LatencyWindow } from './latency-window.ts';
import type { Target } from './route-plan.ts';

/**
 * Candidate ordering, per strategy. Every function returns the order attempts will follow: the first is
 * the pick, the rest the fallback chain. Cheap by design (no allocation beyond one array per decision,
 * one random draw per target at most): routing sits on every request's path.
 *
 * Request `quality` (documented in the README):
 * - FAST: least-latency over the candidates (targets with `tier: fast` first when any declares a
 *   tier); cascade is off (one answer, no validation round-trips).
 * - BALANCED (default): the route's own strategy.
 * - BEST: targets with `tier: best` first (then balanced/untiered, then fast), each group in the route's
 *   order; when no target declares a tier, the highest expected cost first (price as the proxy for
 *   capability; unpriced last). Cascade is off (it would start with the cheapest).
 */
export type Quality = 'fast' | 'balanced' | 'best';

export interface OrderContext {
  estimatedInputTokens: number;
  expectedOutputTokens: number;
  latency?: LatencyWindow | undefined;
  now: number;
  random: () => number;
}

/** Expected USD of one call: input estimate × input price + expected output × output price; undefined if unpriced. */
export function expectedCostUsd(t: Target, inputTokens: number, outputTokens: number): number | undefined {
  if (!t.price) return undefined;
  return (inputTokens * t.price.input + outputTokens * t.price.output) / 1e6;
}

/** Cheapest first; unpriced targets last, in route order (stable). */
function byCost(ts: Target[], ctx: OrderContext, descending = false): Target[] {
  const cost = new Map<Target, number>();
  for (const t of ts) cost.set(t, expectedCostUsd(t, ctx.estimatedInputTokens, ctx.expectedOutputTokens) ?? NaN);
  return ts.slice().sort((a, b) => {
    const ca = cost.get(a)!;
    const cb = cost.get(b)!;
    if (Number.isNaN(ca) || Number.isNaN(cb)) return Number(Number.isNaN(ca)) - Number(Number.isNaN(cb));
    return descending ? cb - ca : ca - cb;
  });
}

/**
 * Weighted random order without replacement (Efraimidis–Spirakis: key = u^(1/w), largest first): the
 * first pick is target i with probability wᵢ/Σw, and the fallbacks follow the same law among the rest.
 */
function weighted(ts: Target[], random: () => number): Target[] {
  if (ts.length <= 1) return ts.slice();
  const keyed = ts.map((t) => ({ t, k: Math.pow(random(), 1 / t.weight) }));
  keyed.sort((a, b) => b.k - a.k);
  return keyed.map((x) => x.t);
}

/**
 * Power of two choices on the rolling p95: draw two distinct candidates at random and lead with the
 * faster; the rest follow by p95. A target with no samples in the window counts as fastest, so new or
 * recovered targets are explored rather than starved. Drawing two (rather than always taking the best)
 * keeps a herd of instances from stampeding onto the single fastest target.
 */
function leastLatency(ts: Target[], ctx: OrderContext): Target[] {
  if (ts.length <= 1 || !ctx.latency) return ts.slice();
  const lat = ctx.latency;
  const p95 = new Map<Target, number>();
  for (const t of ts) p95.set(t, lat.p95(t.key ?? `${t.provider}/${t.model}`, ctx.now) ?? 0);
  const i = Math.floor(ctx.random() * ts.length);
  let j = Math.floor(ctx.random() * (ts.length - 1));
  if (j >= i) j++;
  const a = ts[i]!;
  const b = ts[j]!;
  const first = p95.get(b)! < p95.get(a)! ? b : a;
  const rest = ts.filter((t) => t !== first).sort((x, y) => p95.get(x)! - p95.get(y)!);
  return [first, ...rest];
}

const TIER_RANK = { best: 0, balanced: 1, fast: 2 } as const;

function byTier(ts: Target[], lead: 'fast' | 'best'): Target[] {
  const rank = (t: Target) => {
    const r = TIER_RANK[t.tier ?? 'balanced'];
    return lead === 'best' ? r : 2 - r;
  };
  return ts.slice().sort((a, b) => rank(a) - rank(b));
}

export function orderCandidates(
  ts: Target[],
  strategy: RouteStrategy,
  quality: Quality,
  ctx: OrderContext,
): { candidates: Target[]; strategy: RouteStrategy } {
  if (quality === 'fast') {
    const fastest = leastLatency(ts, ctx);
    return { candidates: ts.some((t) => t.tier) ? byTier(fastest, 'fast') : fastest, strategy: 'least-latency' };
  }
  if (quality === 'best') {
    if (ts.some((t) => t.tier)) return { candidates: byTier(orderCandidates(ts, strategy, 'balanced', ctx).candidates, 'best'), strategy: strategy === 'cascade' ? 'priority' : strategy };
    return { candidates: byCost(ts, ctx, true), strategy: 'priority' };
  }
  switch (strategy) {
    case 'priority':
      return { candidates: ts, strategy };
    case 'weighted':
      return { candidates: weighted(ts, ctx.random), strategy };
    case 'least-latency':
      return { candidates: leastLatency(ts, ctx), strategy };
    case 'cheapest':
    case 'cascade':
      return { candidates: byCost(ts, ctx), strategy };
  }
}
