/** planRoute fails closed: capabilities and context windows decide, and every exclusion says why. */
import { describe, expect, it } from 'vitest';
import { estimateInputTokens, type ChatRequest } from '../../src/core/index.ts';
import { describeExclusions, planRoute, type Target } from '../../src/router/route-plan.ts';

const target = (provider: string, model: string, extra: Partial<Target> = {}): Target => ({
  provider,
  model,
  upstreamModel: model,
  capabilities: ['streaming'],
  contextWindow: 128_000,
  weight: 1,
  ...extra,
});

const hello: ChatRequest = { messages: [{ role: 'user', content: 'Hello' }] };
const withTools: ChatRequest = {
  messages: [{ role: 'user', content: 'What is the weather in Oslo?' }],
  tools: [{ name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
};

describe('planRoute: capabilities', () => {
  it('a tools request never includes a target without tools, and the reason says so', () => {
    const plain = target('ollama', 'llama3', { capabilities: ['streaming'] });
    const tooly = target('openai', 'gpt', { capabilities: ['tools', 'streaming'] });
    const plan = planRoute('chat', 7, [plain, tooly], withTools);
    expect(plan.candidates).toEqual([tooly]);
    expect(plan.excluded).toEqual([{ provider: 'ollama', model: 'llama3', reason: expect.stringContaining('tools') }]);
    expect(plan.route).toBe('chat');
    expect(plan.routeVersion).toBe(7);
  });

  it('a forced tool choice needs tools even without tool definitions', () => {
    const plan = planRoute('chat', 1, [target('a', 'm')], { ...hello, toolChoice: 'required' });
    expect(plan.candidates).toEqual([]);
    expect(plan.excluded[0]!.reason).toContain('tools');
  });

  it('when no target has tools, the plan has no candidates at all', () => {
    const plan = planRoute('chat', 1, [target('a', 'm1'), target('b', 'm2', { capabilities: ['vision'] })], withTools);
    expect(plan.candidates).toEqual([]);
    expect(plan.excluded.map((e) => e.model)).toEqual(['m1', 'm2']);
  });

  it('a plain request keeps every target, in route order', () => {
    const ts = [target('a', 'm1'), target('b', 'm2', { capabilities: ['tools'] }), target('c', 'm3')];
    const plan = planRoute('chat', 1, ts, hello);
    expect(plan.candidates).toEqual(ts);
    expect(plan.excluded).toEqual([]);
  });

  it('json_schema requests exclude targets without it; json_object is served by json_schema support', () => {
    const schemaReq: ChatRequest = { ...hello, responseFormat: { type: 'json_schema', name: 'r', schema: { type: 'object' } } };
    const objectReq: ChatRequest = { ...hello, responseFormat: { type: 'json_object' } };
    const onlyObject = target('a', 'obj', { capabilities: ['json_object'] });
    const schema = target('b', 'schema', { capabilities: ['json_schema'] });
    expect(planRoute('r', 1, [onlyObject, schema], schemaReq).candidates).toEqual([schema]);
    expect(planRoute('r', 1, [onlyObject, schema], objectReq).candidates).toEqual([onlyObject, schema]);
  });

  it('an image excludes targets without vision', () => {
    const req: ChatRequest = { messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', url: 'https://x/y.png' }] }] };
    const plan = planRoute('r', 1, [target('a', 'blind'), target('b', 'eyes', { capabilities: ['vision'] })], req);
    expect(plan.candidates.map((t) => t.model)).toEqual(['eyes']);
    expect(plan.excluded[0]!.reason).toContain('vision');
  });
});

describe('planRoute: context windows', () => {
  const big: ChatRequest = { messages: [{ role: 'user', content: 'x'.repeat(40_000) }] };

  it('a prompt larger than a target’s window excludes that target', () => {
    const small = target('a', 'small', { contextWindow: 8_000 });
    const large = target('b', 'large', { contextWindow: 32_000 });
    const plan = planRoute('r', 1, [small, large], big);
    expect(plan.estimatedInputTokens).toBe(estimateInputTokens(big));
    expect(plan.estimatedInputTokens).toBeGreaterThan(8_000);
    expect(plan.candidates).toEqual([large]);
    expect(plan.excluded).toEqual([{ provider: 'a', model: 'small', reason: expect.stringContaining('context window 8000') }]);
  });

  it('the requested output counts against the window too', () => {
    const est = estimateInputTokens(hello);
    const exact = target('a', 'exact', { contextWindow: est + 1_000 });
    expect(planRoute('r', 1, [exact], { ...hello, maxOutputTokens: 1_000 }).candidates).toEqual([exact]);
    const plan = planRoute('r', 1, [exact], { ...hello, maxOutputTokens: 1_001 });
    expect(plan.candidates).toEqual([]);
    expect(plan.excluded[0]!.reason).toContain('1001 output');
  });

  it('a requested output above a model’s output limit excludes it', () => {
    const capped = target('a', 'capped', { maxOutputTokens: 4_096 });
    const roomy = target('b', 'roomy', { maxOutputTokens: 32_000 });
    const plan = planRoute('r', 1, [capped, roomy], { ...hello, maxOutputTokens: 8_000 });
    expect(plan.candidates).toEqual([roomy]);
    expect(plan.excluded[0]).toEqual({ provider: 'a', model: 'capped', reason: expect.stringContaining('4096') });
  });
});

describe('describeExclusions', () => {
  it('lists every target with its reason', () => {
    const ts = [
      target('ollama', 'llama3', { capabilities: [] }),
      target('anthropic', 'haiku', { capabilities: ['tools'], contextWindow: 60 }),
      target('openai', 'mini', { capabilities: ['tools'], maxOutputTokens: 10 }),
    ];
    const plan = planRoute('agents', 2, ts, { ...withTools, maxOutputTokens: 50 });
    expect(plan.candidates).toEqual([]);
    const text = describeExclusions(plan);
    expect(text).toContain('"agents"');
    expect(text).toContain('ollama/llama3 does not support tools');
    expect(text).toContain('anthropic/haiku context window 60 tokens');
    expect(text).toContain('openai/mini max output 10 tokens');
    expect(text.split('; ')).toHaveLength(3);
  });

  it('says so when the route has no targets', () => {
    expect(describeExclusions(planRoute('empty', 1, [], hello))).toBe('route "empty" has no targets');
  });
});
