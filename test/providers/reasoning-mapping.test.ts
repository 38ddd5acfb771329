import { describe, expect, it } from 'vitest';
import {
  ChatRequestSchema,
  collectStream,
  REASONING_BUDGET_TOKENS,
  ReasoningAccumulator,
  reasoningPartsFor,
  type ChatRequest,
  type ReasoningPart,
  type StreamPart,
} from '../../src/core/index.ts';
import { buildMessagesBody } from '../../src/providers/anthropic/request.ts';
import { toGeminiRequest } from '../../src/providers/gemini/request.ts';
import { toChatBody } from '../../src/providers/openai/request.ts';
import { OPENAI_DEFAULTS } from '../../src/providers/openai/presets.ts';
import { toChatBody as toOllamaBody } from '../../src/providers/ollama/request.ts';

const user = { role: 'user' as const, content: 'weather in Paris?' };
const call = { id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
const tool = { role: 'tool' as const, toolCallId: 'toolu_1', name: 'get_weather', content: '18C' };
const anthropicParts: ReasoningPart[] = [
  { text: 'Need the weather.', signature: 'sig-a', provider: 'anthropic' },
  { text: '', redacted: true, signature: 'opaque-data', provider: 'anthropic' },
];
const geminiParts: ReasoningPart[] = [
  { text: 'Look it up.', provider: 'gemini' },
  { text: '', signature: 'sig-call', provider: 'gemini', toolCallId: 'call_0' },
];

const anthropicBody = (req: Partial<ChatRequest>, defaultMaxOutputTokens?: number) =>
  buildMessagesBody({ messages: [user], ...req }, { model: 'claude', defaultMaxOutputTokens }, 'sim-anthropic', false);

describe('reasoningEffort → Anthropic thinking', () => {
  it('maps each effort to its budget and adds it on top of the answer’s max tokens', () => {
    for (const effort of ['minimal', 'low', 'medium', 'high'] as const) {
      const body = anthropicBody({ reasoningEffort: effort, maxOutputTokens: 500 });
      expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: REASONING_BUDGET_TOKENS[effort] });
      expect(body.max_tokens).toBe(REASONING_BUDGET_TOKENS[effort] + 500);
    }
    expect(REASONING_BUDGET_TOKENS).toEqual({ minimal: 1024, low: 2048, medium: 8192, high: 24576 });
    // Without max tokens: the provider default is the answer's allowance.
    expect(anthropicBody({ reasoningEffort: 'low' }, 1000).max_tokens).toBe(3048);
    // No effort: no thinking, max_tokens as before.
    const plain = anthropicBody({ maxOutputTokens: 500 });
    expect(plain.thinking).toBeUndefined();
    expect(plain.max_tokens).toBe(500);
  });

  it('refuses what thinking cannot take, naming the field (so a route tries its next target)', () => {
    const cases: Array<[Partial<ChatRequest>, string]> = [
      [{ temperature: 0.2 }, 'temperature'],
      [{ topP: 0.5 }, 'topP'],
      [{ toolChoice: 'required', tools: [{ name: 'get_weather', parameters: {} }] }, 'toolChoice'],
      [{ toolChoice: { type: 'tool', name: 'get_weather' }, tools: [{ name: 'get_weather', parameters: {} }] }, 'toolChoice'],
    ];
    for (const [req, param] of cases) {
      expect(() => anthropicBody({ reasoningEffort: 'low', ...req })).toThrowError(expect.objectContaining({ kind: 'unsupported_feature', param }));
    }
    // temperature 1 and top_p ≥ 0.95 are what thinking allows.
    expect(anthropicBody({ reasoningEffort: 'low', temperature: 1, topP: 0.95 }).thinking).toBeDefined();
  });

  it('thinks on a tool-result turn only when the assistant turn carries Anthropic-signed thinking', () => {
    const turn = (reasoningParts?: ReasoningPart[]) => anthropicBody({ reasoningEffort: 'low', messages: [user, { role: 'assistant', content: null, toolCalls: [call], ...(reasoningParts && { reasoningParts }) }, tool] });
    expect(turn(anthropicParts).thinking).toBeDefined();
    // Another vendor's turn (or none): Anthropic would refuse thinking here, so this request goes without.
    expect(turn(geminiParts).thinking).toBeUndefined();
    expect(turn().thinking).toBeUndefined();
    expect(turn().max_tokens).toBe(4096);
  });

  it('sends signed thinking first in the assistant turn, redacted as redacted_thinking, and drops what Anthropic did not sign', () => {
    const body = anthropicBody({
      messages: [user, { role: 'assistant', content: 'Checking.', toolCalls: [call], reasoningParts: [...anthropicParts, ...geminiParts, { text: 'unsigned' }] }, tool],
    });
    const turn = (body.messages as Array<{ role: string; content: Array<Record<string, unknown>> }>)[1]!;
    expect(turn.content).toEqual([
      { type: 'thinking', thinking: 'Need the weather.', signature: 'sig-a' },
      { type: 'redacted_thinking', data: 'opaque-data' },
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
    ]);
  });
});

describe('reasoningEffort → Gemini thinkingConfig', () => {
  it('sets the budget with includeThoughts and adds the budget to maxOutputTokens', () => {
    const body = toGeminiRequest('g', { messages: [user], reasoningEffort: 'medium', maxOutputTokens: 100 });
    expect(body.generationConfig).toEqual({ maxOutputTokens: 8292, thinkingConfig: { thinkingBudget: 8192, includeThoughts: true } });
    expect(toGeminiRequest('g', { messages: [user], reasoningEffort: 'minimal' }).generationConfig).toEqual({
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true },
    });
    expect(toGeminiRequest('g', { messages: [user] }).generationConfig).toBeUndefined();
  });

  it('sends thoughts back as thought parts and each signature on the part Gemini put it on', () => {
    const geminiCall = { id: 'call_0', name: 'get_weather', arguments: '{"city":"Paris"}' };
    const body = toGeminiRequest('g', {
      messages: [user, { role: 'assistant', content: null, toolCalls: [geminiCall], reasoningParts: [...geminiParts, ...anthropicParts] }, { ...tool, toolCallId: 'call_0' }],
    });
    const model = (body.contents as Array<{ role: string; parts: unknown[] }>)[1]!;
    expect(model).toEqual({
      role: 'model',
      parts: [
        { text: 'Look it up.', thought: true },
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'sig-call' },
      ],
    });
    // A signature that belonged to the text (no call) goes back on the text part.
    const text = toGeminiRequest('g', {
      messages: [user, { role: 'assistant', content: 'It is sunny.', reasoningParts: [{ text: '', signature: 'sig-text', provider: 'gemini' }] }, user],
    });
    expect((text.contents as Array<{ parts: unknown[] }>)[1]!.parts).toEqual([{ text: 'It is sunny.', thoughtSignature: 'sig-text' }]);
  });
});

describe('reasoningEffort on the other protocols', () => {
  it('OpenAI keeps reasoning_effort; Ollama turns thinking on', () => {
    const ctx = { provider: 'o', preset: OPENAI_DEFAULTS, maxTokensField: OPENAI_DEFAULTS.maxTokensField };
    expect(toChatBody({ messages: [user], reasoningEffort: 'high' }, { model: 'o3', capabilities: ['reasoning'] }, ctx, false).reasoning_effort).toBe('high');
    // A model not declared as reasoning is refused the effort by name, as OpenAI's non-reasoning models refuse it.
    expect(() => toChatBody({ messages: [user], reasoningEffort: 'high' }, { model: 'gpt-4o', capabilities: [] }, ctx, false)).toThrow(/does not support reasoning/);
    expect(toChatBody({ messages: [user] }, { model: 'o3', capabilities: [] }, ctx, false).reasoning_effort).toBeUndefined();
    expect(toOllamaBody({ messages: [user], reasoningEffort: 'low' }, 'qwen3', false, 'l').think).toBe(true);
  });
});

describe('the reasoning contract', () => {
  it('assembles parts from fragments by index, signatures included, and keeps segments apart', async () => {
    const parts: StreamPart[] = [
      { type: 'start' },
      { type: 'reasoning-delta', text: 'a', index: 0, provider: 'anthropic' },
      { type: 'reasoning-delta', text: 'b', index: 0 },
      { type: 'reasoning-delta', text: '', index: 0, signature: 'S1' },
      { type: 'reasoning-delta', text: '', index: 1, redacted: true, signature: 'R', provider: 'anthropic' },
      { type: 'text-delta', text: 'answer' },
      { type: 'finish', finishReason: 'stop', usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ];
    const res = await collectStream((async function* () { yield* parts; })());
    expect(res.reasoning).toBe('ab');
    expect(res.reasoningParts).toEqual([
      { text: 'ab', signature: 'S1', provider: 'anthropic' },
      { text: '', redacted: true, signature: 'R', provider: 'anthropic' },
    ]);
    const acc = new ReasoningAccumulator();
    acc.add({ text: 'x', index: 0 });
    acc.newSegment();
    acc.add({ text: 'y', index: 0 });
    expect(acc.toArray()).toEqual([{ text: 'x' }, { text: 'y' }]);
  });

  it('lets an adapter send back only its own or unlabelled signed parts', () => {
    const mixed: ReasoningPart[] = [...anthropicParts, ...geminiParts, { text: 'plain' }, { text: 'x', signature: 's' }];
    expect(reasoningPartsFor(mixed, 'anthropic')).toEqual([...anthropicParts, { text: 'x', signature: 's' }]);
    expect(reasoningPartsFor(mixed, 'gemini', true)).toEqual([...geminiParts, { text: 'x', signature: 's' }]);
  });

  it('validates reasoning on requests: a redacted part needs its data, effort is one of four', () => {
    const msg = (p: unknown) => ({ messages: [user, { role: 'assistant', content: 'x', reasoningParts: [p] }] });
    expect(ChatRequestSchema.safeParse(msg({ text: '', redacted: true })).success).toBe(false);
    expect(ChatRequestSchema.safeParse(msg({ text: 't', signature: 's', provider: 'anthropic' })).success).toBe(true);
    expect(ChatRequestSchema.safeParse({ messages: [user], reasoningEffort: 'extreme' }).success).toBe(false);
  });
});
