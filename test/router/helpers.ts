/** Shared fakes of the router's unit tests: targets, a seeded random, plans. */
import type { Target } from '../../src/router/route-plan.ts';

export const target = (provider: string, extra: Partial<Target> = {}): Target => ({
  provider,
  model: `${provider}-model`,
  upstreamModel: `${provider}-upstream`,
  capabilities: ['tools', 'streaming', 'json_schema'],
  contextWindow: 128_000,
  weight: 1,
  ...extra,
});

/** mulberry32: a small deterministic PRNG, so statistical tests cannot flake. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
