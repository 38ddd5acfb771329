import { describe, expect, it } from 'vitest';
import type { ChatRequest, Usage } from '../../src/core/index.ts';
import builtinFile from '../../src/usage/model-prices.json' with { type: 'json' };
import { builtinPriceInfo, configPriceEntries, costOf, createPricing, usageOrEstimate } from '../../src/usage/pricing.ts';

const usage = (u: Partial<Usage>): Usage => ({ inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, ...u });

describe('costOf: each token kind at its own rate (hand-computed)', () => {
  it('cached input at the cached rate, reasoning at the output rate when it has none', () => {
    // 600 plain × 0.15 + 400 cached × 0.075 + 300 plain out × 0.6 + 200 reasoning × 0.6 = 420 µ$·M → $0.00042
    expect(costOf(usage({ inputTokens: 1000, cachedInputTokens: 400, outputTokens: 500, reasoningTokens: 200 }), { input: 0.15, output: 0.6, cachedInput: 0.075 })).toBe(0.00042);
  });

  it('cache writes at the cache-write rate, carved out of input', () => {
    // 5000 × 3 + 2000 × 0.3 + 3000 × 3.75 + 1000 × 15 = 41 850 → $0.04185
    expect(
      costOf(usage({ inputTokens: 10_000, cachedInputTokens: 2000, cacheWriteTokens: 3000, outputTokens: 1000 }), { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 }),
    ).toBe(0.04185);
  });

  it('reasoning at its own rate, carved out of output', () => {
    // 100 × 0.3 + 50 × 2.5 + 250 × 10 = 2655 → $0.002655
    expect(costOf(usage({ inputTokens: 100, outputTokens: 300, reasoningTokens: 250 }), { input: 0.3, output: 2.5, reasoning: 10 })).toBe(0.002655);
  });

  it('a model without a price costs null, not 0; a free model costs 0', () => {
    expect(costOf(usage({ inputTokens: 10, outputTokens: 10 }), undefined)).toBeNull();
    expect(costOf(usage({ inputTokens: 10, outputTokens: 10 }), { input: 0, output: 0 })).toBe(0);
  });
});

describe('createPricing', () => {
  const ref = { provider: 'openai-main', model: 'gpt-4o-mini' };

  it('uses the built-in table for a well-known model and names it', () => {
    const r = createPricing().price(usage({ inputTokens: 1_000_000, outputTokens: 1_000_000 }), ref);
    expect(r).toEqual({ costUsd: 0.75, priceSource: 'builtin', priceVersion: '2026-07-24', estimated: false });
  });

  it('config overrides the built-in price', () => {
    const pricing = createPricing({ entries: [{ provider: 'openai-main', model: 'gpt-4o-mini', price: { input: 1, output: 2 } }] });
    const r = pricing.price(usage({ inputTokens: 1_000_000, outputTokens: 1_000_000 }), ref);
    expect(r).toMatchObject({ costUsd: 3, priceSource: 'config', priceVersion: 'config' });
    // Another deployment of the same model is not covered by a provider-specific entry.
    expect(pricing.resolve({ provider: 'azure', model: 'gpt-4o-mini' }).source).toBe('builtin');
  });

  it('an unknown model is unpriced: cost null, source none', () => {
    const r = createPricing().price(usage({ inputTokens: 5, outputTokens: 5 }), { provider: 'p', model: 'my-finetune' });
    expect(r).toEqual({ costUsd: null, priceSource: 'none', priceVersion: null, estimated: false });
    expect(createPricing({ builtin: false }).resolve(ref).source).toBe('none');
  });

  it('picks the version in effect at the request time', () => {
    const pricing = createPricing({
      entries: [
        { model: 'm', price: { input: 1, output: 1 }, version: 'v1', effectiveFrom: '2026-01-01T00:00:00Z' },
        { model: 'm', price: { input: 2, output: 2 }, version: 'v2', effectiveFrom: '2026-06-01T00:00:00Z' },
      ],
    });
    const r = { provider: 'any', model: 'm' };
    expect(pricing.resolve(r, new Date('2026-03-01T00:00:00Z')).version).toBe('v1');
    expect(pricing.resolve(r, new Date('2026-06-01T00:00:00Z')).version).toBe('v2');
    // Before any version took effect the model has no config price (and is not in the built-in table).
    expect(pricing.resolve(r, new Date('2025-12-31T00:00:00Z')).source).toBe('none');
  });

  it('matches dated snapshots and Gemini model paths to the undated built-in entry', () => {
    const pricing = createPricing();
    expect(pricing.resolve({ provider: 'x', model: 'mini', upstreamModel: 'gpt-4o-mini-2024-07-18' })).toMatchObject({ source: 'builtin', price: { input: 0.15 } });
    expect(pricing.resolve({ provider: 'x', model: 'claude-haiku-4-5-20251001' })).toMatchObject({ source: 'builtin', price: { input: 1, cacheWrite: 1.25 } });
    expect(pricing.resolve({ provider: 'x', model: 'models/gemini-2.5-flash' })).toMatchObject({ source: 'builtin', price: { reasoning: 2.5 } });
  });

  it('rejects a bad config price naming the field', () => {
    expect(() => createPricing({ entries: [{ model: 'm', price: { input: -1, output: 1 } }] })).toThrow(/input/);
  });

  it('reads config prices from providers[].models[].price', () => {
    const entries = configPriceEntries({ providers: [{ id: 'p', models: [{ id: 'a', price: { input: 1, output: 2 } }, { id: 'b' }] }] });
    expect(entries).toEqual([{ provider: 'p', model: 'a', price: { input: 1, output: 2 }, version: 'config' }]);
  });
});

describe('built-in table', () => {
  it('carries its source note and date, and every entry has input and output prices', () => {
    const info = builtinPriceInfo();
    expect(info.source).toMatch(/litellm/);
    expect(info.version).toBe('2026-07-24');
    expect(info.count).toBe(builtinFile.models.length);
    expect(info.count).toBeGreaterThan(50);
  });
});

describe('usageOrEstimate', () => {
  const chat: ChatRequest = { messages: [{ role: 'user', content: 'x'.repeat(400) }] };

  it('keeps the provider report', () => {
    const reported = usage({ inputTokens: 7, outputTokens: 3 });
    expect(usageOrEstimate(reported, chat, { text: 'hello' })).toBe(reported);
  });

  it('estimates when nothing (or only estimated zeros) was reported, and prices it marked estimated', () => {
    for (const reported of [undefined, { ...usage({}), estimated: true }]) {
      const u = usageOrEstimate(reported, chat, { text: 'y'.repeat(80) });
      expect(u).toMatchObject({ inputTokens: 107, outputTokens: 20, estimated: true });
      const priced = createPricing().price(u, { provider: 'p', model: 'gpt-4o-mini' });
      expect(priced.estimated).toBe(true);
      // 107 × 0.15 + 20 × 0.6 = 28.05 µ$·M
      expect(priced.costUsd).toBe(0.00002805);
    }
  });
});

