/** Near a context window's limit, a tokenizer count (js-tiktoken in a worker) replaces the chars/4 estimate. */
import { Tiktoken } from 'js-tiktoken/lite';
import o200k from 'js-tiktoken/ranks/o200k_base';
import { afterEach, describe, expect, it } from 'vitest';
import { estimateInputTokens } from '../../src/core/index.ts';
import { createTokenCounter, needsPreciseCount } from '../../src/gateway/token-counter.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { ask } from '../helpers/gateway-requests.ts';
import { startStack, type ServiceStack } from '../helpers/start-stack.ts';

let stack: ServiceStack | undefined;
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
      const counted = await counter.count(req);
      expect(counted.source).toBe('tokenizer');
      const precise = counted.tokens;
      expect(precise).toBeLessThan(estimateInputTokens(req));
      expect(precise).toBeGreaterThan(4_000);
    } finally {
      await counter.close();
    }
  });

  it('counting in slices gives exactly the whole-text count of ordinary text (prose, code, JSON, CJK, emoji)', async () => {
    const encoder = new Tiktoken(o200k);
    const sample = [
      "The router's fallback chain isn't empty; it'll retry 3 times (429, 503).\n\n",
      'function f(x) {\n    if (x > 10) {\n        return { "a": [1, 2.5, -3e4], "b": null };\n    }\n}\r\n',
      '| col | value |\n|-----|-------|\n| ü ß | 数据 |\n\t\t<|endoftext|> 上下文窗口，路由器。 😀👍🏽 naïve café\u00a0x\n',
      `${'  '.repeat(20)}https://example.com/a/b?c=d&e=f  --  ${'='.repeat(60)}\n`,
    ].join('');
    const text = sample.repeat(60); // well over one slice
    const counter = createTokenCounter({ budgetMs: 60_000 });
    try {
      const counted = await counter.count({ messages: [{ role: 'user', content: text }] });
      expect(counted).toEqual({ tokens: Math.ceil(encoder.encode(text, [], []).length * 1.1) + 7, source: 'tokenizer' });
    } finally {
      await counter.close();
    }
  });

  it('a prompt chars/4 says is too large for a window, but the tokenizer says fits, is planned on it', async () => {
    const prompt = 'lorem ipsum dolor sit amet '.repeat(1_000); // chars/4 ≈ 6,760; o200k × 1.1 ≈ 5,500
    stack = await startStack({
      http: false,
      clock: createFakeClock(1_000_000),
      edit: (c) => {
        c.providers!.find((p) => p.id === 'sim-ollama')!.models!.push({ id: 'small-window', contextWindow: 6_200, capabilities: [] });
        c.routes = [...(c.routes ?? []), { name: 'small', targets: [{ provider: 'sim-ollama', model: 'small-window' }] }];
      },
    });
    const plan = await stack.gateway.explain(ask(prompt, { route: 'small' }));
    expect(estimateInputTokens(ask(prompt).chat)).toBeGreaterThan(6_200);
    expect(plan.estimatedInputTokens).toBeLessThan(6_200);
    expect(plan.candidates.map((t) => t.model)).toEqual(['small-window']);
  });
});
