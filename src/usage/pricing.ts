import type { Usage } from '../core/index.ts';

/** USD per 1M tokens, as in config (`price: { input, output, cachedInput, cacheWrite, reasoning }`). */
export interface PriceTable {
  input: number;
  output: number;
  cachedInput?: number | undefined;
  cacheWrite?: number | undefined;
  reasoning?: number | undefined;
}

/**
 * Exact cost of one response in USD: each token kind at its own rate. Cached reads and cache writes are
 * parts of inputTokens and reasoning is part of outputTokens (see Usage), so they are taken out of the
 * plain input/output counts rather than charged twice. Returns null when the model has no price —
 * "unpriced" must never look like "free".
 */
export function costOf(usage: Usage, price: PriceTable | undefined): number | null {
  if (!price) return null;
  const plainInput = Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens);
  const plainOutput = Math.max(0, usage.outputTokens - usage.reasoningTokens);
  const micros =
    plainInput * price.input +
    usage.cachedInputTokens * (price.cachedInput ?? price.input) +
    usage.cacheWriteTokens * (price.cacheWrite ?? price.input) +
    plainOutput * price.output +
    usage.reasoningTokens * (price.reasoning ?? price.output);
  // Round to 1e-10 USD so sums of many requests do not accumulate float noise in reports.
  return Math.round(micros / 1e6 * 1e10) / 1e10;
}
