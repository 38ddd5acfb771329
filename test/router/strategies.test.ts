/**
 * Strategies, `when` conditions and per-request constraints, through planRoute and the executor with fake
 * targets, a fake clock and a seeded random.
 */
import { describe, expect, it } from 'vitest';
import { emptyUsage, type ChatRequest, type ChatResponse } from '../../src/core/index.ts';
import { createAnswerValidator } from '../../src/router/answer-validator.ts';
import { createExecutor } from '../../src/router/executor.ts';
import { createInMemoryLatencyWindow } from '../../src/router/latency-window.ts';
import { planRoute } from '../../src/router/route-plan.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { seeded, target } from './helpers.ts';

const hello: ChatRequest = { messages: [{ role: 'user', content: 'Hello there' }] };

describe('weighted', () => {
  it('splits 2,000 requests 70/30 within ±3 points, and every request is served', async () => {
    const random = seeded(42);
    const clock = createFakeClock();
    const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random });
    const ts = [target('a', { weight: 70 }), target('b', { weight: 30 })];
    const served = { a: 0, b: 0 } as Record<string, number>;
    for (let i = 0; i < 2_000; i++) {
      const plan = planRoute('w', 1, ts, hello, { strategy: 'weighted', random });
      const { target: t } = await executor.run(plan, async (t) => t.provider, { maxAttempts: 2, deadlineMs: 1_000 });
      served[t.provider]!++;
    }
    expect(served.a! + served.b!).toBe(2_000);
    expect(Math.abs(served.a! / 2_000 - 0.7)).toBeLessThanOrEqual(0.03);
  });

  it('keeps the other targets as the fallback chain', () => {
    const plan = planRoute('w', 1, [target('a', { weight: 1 }), target('b', { weight: 1 }), target('c', { weight: 1 })], hello, { strategy: 'weighted', random: seeded(1) });
    expect(plan.candidates.map((t) => t.provider).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('least-latency', () => {
  it('moves most traffic off a target slowed to 300 ms within 30 s of simulated time', async () => {
    const random = seeded(7);
    const clock = createFakeClock(0);
    const latency = createInMemoryLatencyWindow(300_000);
    const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random, latency });
    const ts = [target('a'), target('b')];
    const delay: Record<string, number> = { a: 50, b: 60 };
    const call = async (t: { provider: string }) => {
      clock.advance(delay[t.provider]!);
      return t.provider;
    };
    const picks: Array<{ at: number; provider: string }> = [];
    // A request every 100 ms of simulated time: 2 minutes healthy, then `a` slows to 300 ms.
    for (let i = 0; i < 1_800; i++) {
      if (clock.now() >= 120_000) delay.a = 300;
      const plan = planRoute('fast', 1, ts, hello, { strategy: 'least-latency', latency, now: clock.now(), random });
      const { target: t } = await executor.run(plan, call, { maxAttempts: 2, deadlineMs: 10_000 });
      picks.push({ at: clock.now(), provider: t.provider });
      clock.advance(Math.max(0, 100 - delay[t.provider]!));
    }
    const share = (from: number, to: number) => {
      const window = picks.filter((p) => p.at >= from && p.at < to);
      return window.filter((p) => p.provider === 'a').length / window.length;
    };
    // Before: both fast, both explored (the p95 bins of 50 and 60 ms are close, `a` leads).
    expect(share(60_000, 120_000)).toBeGreaterThan(0.3);
    // Within 30 s of the slowdown, traffic has moved: under 10% still goes to `a`.
    expect(share(150_000, 180_000)).toBeLessThan(0.1);
  });

  it('explores a target without samples (counts as fastest) instead of starving it', () => {
    const latency = createInMemoryLatencyWindow();
    latency.record('a/a-model', 500, 0);
    const plan = planRoute('r', 1, [target('a'), target('b')], hello, { strategy: 'least-latency', latency, now: 1, random: seeded(3) });
    expect(plan.candidates.map((t) => t.provider)).toEqual(['b', 'a']);
  });
});

describe('cheapest', () => {
  it('orders by expected cost (input estimate × input price + expected output × output price); unpriced last', () => {
    const pricey = target('pricey', { price: { input: 3, output: 15 } });
    const cheap = target('cheap', { price: { input: 0.15, output: 0.6 } });
    const outputHeavy = target('output-heavy', { price: { input: 0.01, output: 100 } });
    const unpriced = target('unpriced');
    const plan = planRoute('c', 1, [unpriced, pricey, outputHeavy, cheap], hello, { strategy: 'cheapest', expectedOutputTokens: 500 });
    expect(plan.candidates.map((t) => t.provider)).toEqual(['cheap', 'pricey', 'output-heavy', 'unpriced']);
    // A long prompt with a one-token answer makes the output-heavy model the cheapest.
    const short = planRoute('c', 1, [pricey, outputHeavy, cheap], { messages: [{ role: 'user', content: 'x'.repeat(4_000) }], maxOutputTokens: 1 }, { strategy: 'cheapest' });
    expect(short.candidates[0]!.provider).toBe('output-heavy');
  });
});

describe('cascade', () => {
  const schemaReq: ChatRequest = {
    messages: [{ role: 'user', content: 'Give me JSON' }],
    responseFormat: { type: 'json_schema', name: 'r', schema: { type: 'object', required: ['city'], properties: { city: { type: 'string', minLength: 3 } } } },
  };
  const reply = (text: string, outputTokens = 10): ChatResponse => ({
    text,
    toolCalls: [],
    finishReason: 'stop',
    usage: { ...emptyUsage(), inputTokens: 100, outputTokens },
    model: 'm',
  });

  it('escalates when the cheap answer fails the JSON-schema validator; both steps are attempts with their cost', async () => {
    const clock = createFakeClock();
    const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random: () => 0.5 });
    const cheap = target('cheap', { price: { input: 1, output: 1 } });
    const strong = target('strong', { price: { input: 10, output: 10 } });
    const plan = planRoute('cascade', 1, [strong, cheap], schemaReq, { strategy: 'cascade' });
    expect(plan.cascade).toBe(true);
    expect(plan.candidates.map((t) => t.provider)).toEqual(['cheap', 'strong']);
    const answers: Record<string, ChatResponse> = { cheap: reply('{"city": 1}'), strong: reply('{"city": "Oslo"}') };
    const validate = createAnswerValidator(undefined, schemaReq);
    const res = await executor.run(plan, async (t) => answers[t.provider]!, {
      maxAttempts: 4,
      deadlineMs: 1_000,
      validate: (r) => validate(r),
      annotate: (r, t) => ({ costUsd: ((r.usage.inputTokens + r.usage.outputTokens) * t.price!.input) / 1e6 }),
    });
    expect(res.target.provider).toBe('strong');
    expect(res.value.text).toBe('{"city": "Oslo"}');
    expect(res.attempts).toMatchObject([
      { provider: 'cheap', status: 'error', errorKind: 'invalid_response', validationError: expect.stringContaining('city'), costUsd: 110 / 1e6 },
      { provider: 'strong', status: 'ok', costUsd: 1100 / 1e6 },
    ]);
  });

  it('when every step is rejected, fails with invalid_response instead of passing a bad answer off', async () => {
    const clock = createFakeClock();
    const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random: () => 0.5 });
    const plan = planRoute('cascade', 1, [target('a'), target('b')], schemaReq, { strategy: 'cascade' });
    const validate = createAnswerValidator(undefined, schemaReq);
    await expect(executor.run(plan, async () => reply('not json'), { maxAttempts: 4, deadlineMs: 1_000, validate: (r) => validate(r) })).rejects.toMatchObject({
      kind: 'invalid_response',
      attempts: [{ validationError: 'not valid JSON' }, { validationError: 'not valid JSON' }],
    });
  });

  it('the validator checks non-empty, refusal, regex and max length', () => {
    const v = createAnswerValidator({ nonEmpty: true, refusal: true, regex: '^\\d+$', maxLength: 4 }, hello);
    expect(v(reply('  '))).toBe('empty answer');
    expect(v(reply("I'm sorry, but I can't help with that."))).toBe('refusal');
    expect(v(reply('12345'))).toContain('longer than 4');
    expect(v(reply('12a'))).toContain('does not match');
    expect(v(reply('123'))).toBeUndefined();
    expect(v({ ...reply('ok'), finishReason: 'content_filter' })).toBe('refusal');
  });
});

describe('when conditions', () => {
  it('selects targets by task, input size, required capabilities and metadata, each exclusion with its reason', () => {
    const ts = [
      target('coder', { when: { task: ['code'] } }),
      target('small', { when: { maxInputTokens: 50 } }),
      target('tooly', { when: { capabilities: ['tools'] } }),
      target('eu', { when: { metadata: { region: ['eu', 'ch'] } } }),
      target('any'),
    ];
    const plain = planRoute('r', 1, ts, { ...hello, metadata: { region: 'us' } }, { task: 'chat' });
    expect(plain.candidates.map((t) => t.provider)).toEqual(['small', 'any']);
    expect(plain.excluded.map((e) => `${e.provider}: ${e.reason}`)).toEqual([
      'coder: when: task "chat" is not one of code',
      'tooly: when: the request does not need tools',
      'eu: when: metadata region=eu|ch not matched',
    ]);
    const big: ChatRequest = {
      messages: [{ role: 'user', content: 'x'.repeat(400) }],
      tools: [{ name: 'f', parameters: {} }],
      metadata: { region: 'ch' },
    };
    const codeReq = planRoute('r', 1, ts, big, { task: 'code' });
    expect(codeReq.candidates.map((t) => t.provider)).toEqual(['coder', 'tooly', 'eu', 'any']);
    expect(codeReq.excluded[0]!.reason).toMatch(/^when: ~\d+ input tokens > 50$/);
  });
  it('matches requested reasoning and prompt caching; reasoning is required of every target, caching never', () => {
    const ts = [
      target('thinker', { when: { capabilities: ['reasoning'] }, capabilities: ['reasoning'] }),
      target('cacher', { when: { capabilities: ['prompt_caching'] }, capabilities: ['prompt_caching', 'reasoning'] }),
      target('plain', { capabilities: [] }),
    ];
    const thinking = planRoute('r', 1, ts, { ...hello, reasoningEffort: 'low' });
    expect(thinking.candidates.map((t) => t.provider)).toEqual(['thinker']);
    expect(thinking.excluded.map((e) => `${e.provider}: ${e.reason}`)).toEqual([
      'cacher: when: the request does not need prompt_caching',
      'plain: does not support reasoning',
    ]);
    const marked: ChatRequest = { messages: [{ role: 'user', content: [{ type: 'text', text: 'long prefix', cacheControl: { type: 'ephemeral' } }] }] };
    expect(planRoute('r', 1, ts, marked).candidates.map((t) => t.provider)).toEqual(['cacher', 'plain']);
    expect(planRoute('r', 1, ts, { ...hello, promptCacheKey: 'k' }).candidates.map((t) => t.provider)).toEqual(['cacher', 'plain']);
    expect(planRoute('r', 1, ts, hello).candidates.map((t) => t.provider)).toEqual(['plain']);
  });
});

describe('per-request constraints', () => {
  const ts = [
    target('a', { price: { input: 1, output: 1 }, tier: 'fast' }),
    target('b', { price: { input: 100, output: 100 }, tier: 'best' }),
    target('c'),
  ];

  it('allow / deny by provider or deployment', () => {
    expect(planRoute('r', 1, ts, hello, { constraints: { deny: ['a', 'c/c-model'] } }).candidates.map((t) => t.provider)).toEqual(['b']);
    const allowed = planRoute('r', 1, ts, hello, { constraints: { allow: ['c'] } });
    expect(allowed.candidates.map((t) => t.provider)).toEqual(['c']);
    expect(allowed.excluded.map((e) => e.reason)).toEqual(["not in the request's allow list", "not in the request's allow list"]);
  });

  it('costCeilingUsd excludes targets above it and unpriced ones', () => {
    const plan = planRoute('r', 1, ts, hello, { constraints: { costCeilingUsd: 0.001 }, expectedOutputTokens: 100 });
    expect(plan.candidates.map((t) => t.provider)).toEqual(['a']);
    expect(plan.excluded.map((e) => e.reason)).toEqual([expect.stringContaining('> ceiling'), 'unpriced: cannot be held to a cost ceiling']);
    expect(plan.exclusionCodes).toEqual(['cost_ceiling', 'cost_ceiling']);
  });

  it('latencyBudgetMs excludes targets whose rolling p95 is above it', () => {
    const latency = createInMemoryLatencyWindow();
    for (let i = 0; i < 20; i++) latency.record('b/b-model', 900, 0);
    const plan = planRoute('r', 1, ts, hello, { constraints: { latencyBudgetMs: 500 }, latency, now: 10 });
    expect(plan.candidates.map((t) => t.provider)).toEqual(['a', 'c']);
    expect(plan.excluded[0]!.reason).toMatch(/^p95 latency ~\d+ ms > budget 500 ms$/);
  });

  it('quality BEST leads with best-tier targets; FAST with fast-tier ones; neither cascades', () => {
    const best = planRoute('r', 1, ts, hello, { strategy: 'cascade', constraints: { quality: 'best' } });
    // best tier, then untiered (balanced), then fast
    expect(best.candidates.map((t) => t.provider)).toEqual(['b', 'c', 'a']);
    expect(best.cascade).toBe(false);
    const fast = planRoute('r', 1, ts, hello, { strategy: 'cascade', constraints: { quality: 'fast' }, random: seeded(2) });
    expect(fast.candidates[0]!.provider).toBe('a');
    expect(fast.strategy).toBe('least-latency');
    expect(fast.cascade).toBe(false);
  });

  it('quality BEST without tiers puts the priciest first (price as the capability proxy)', () => {
    const untiered = [target('a', { price: { input: 1, output: 1 } }), target('b', { price: { input: 9, output: 9 } }), target('c')];
    expect(planRoute('r', 1, untiered, hello, { constraints: { quality: 'best' } }).candidates.map((t) => t.provider)).toEqual(['b', 'a', 'c']);
  });
});
