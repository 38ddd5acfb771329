/** Near a context window's limit, a tokenizer count (js-tiktoken in a worker) replaces the chars/4 estimate. */
import { afterEach, describe, expect, it } from 'vitest';
import { estimateInputTokens } from '../../src/core/index.ts';
import { createTokenCounter, needsPreciseCount } from '../../src/gateway/token-counter.ts';
import { ask, startRouterStack, type RouterStack } from './router-stack.ts';

let stack: RouterStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('token counting near a window limit', () => {
  it('only within 20% of some window', () => {
    expect(needsPreciseCount(1_000, 0, [128_000])).toBe(false);
    expect(needsPreciseCount(110_000, 0, [128_000])).toBe(true);
    expect(needsPreciseCount(150_000, 0, [128_000])).toBe(true);
    expect(needsPreciseCount(160_000, 0, [128_000])).toBe(false);
  });

  it('counts with the tokenizer (plus margin) off the event loop', async () => {
    const counter = createTokenCounter();
    try {
      const req = ask('lorem ipsum dolor sit amet '.repeat(1_000)).chat;
      const precise = await counter.count(req);
      expect(precise).toBeLessThan(estimateInputTokens(req));
      expect(precise).toBeGreaterThan(4_000);
    } finally {
      await counter.close();
    }
  });

  it('a prompt chars/4 says is too large for a window, but the tokenizer says fits, is planned on it', async () => {
    const prompt = 'lorem ipsum dolor sit amet '.repeat(1_000); // chars/4 ≈ 6,760; o200k × 1.1 ≈ 5,500
    stack = await startRouterStack((c) => {
      c.providers!.find((p) => p.id === 'sim-ollama')!.models!.push({ id: 'small-window', contextWindow: 6_200, capabilities: [] });
      c.routes = [...(c.routes ?? []), { name: 'small', targets: [{ provider: 'sim-ollama', model: 'small-window' }] }];
    });
    const plan = await stack.gateway.explain(ask(prompt, { route: 'small' }));
    expect(estimateInputTokens(ask(prompt).chat)).toBeGreaterThan(6_200);
    expect(plan.estimatedInputTokens).toBeLessThan(6_200);
    expect(plan.candidates.map((t) => t.model)).toEqual(['small-window']);
  });
});
