import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI, type Content, type Part } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';

/** The signature with its first character changed: always a different one. */
const flip = (sig: string): string => `${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;

/** Extended thinking in the Anthropic and Gemini simulators, driven by the official SDKs. */

const WEATHER = {
  name: 'get_weather',
  description: 'Current weather',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};
const THINKING = { type: 'enabled' as const, budget_tokens: 2048 };

let anthropicSim: Simulator;
let otherAnthropicSim: Simulator;
let geminiSim: Simulator;
let claude: Anthropic;
let gemini: GoogleGenAI;

beforeAll(async () => {
  [anthropicSim, otherAnthropicSim, geminiSim] = await Promise.all([
    startSimulator({ protocol: 'anthropic', port: 0 }),
    startSimulator({ protocol: 'anthropic', port: 0 }),
    startSimulator({ protocol: 'gemini', port: 0 }),
  ]);
  claude = new Anthropic({ apiKey: 'k', baseURL: anthropicSim.url, maxRetries: 0 });
  gemini = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: geminiSim.url } });
});

afterAll(async () => {
  await Promise.all([anthropicSim.close(), otherAnthropicSim.close(), geminiSim.close()]);
});

describe('Anthropic simulator: extended thinking', () => {
  it('answers a thinking request with a signed thinking block first, its tokens in the usage', async () => {
    const plain = await claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, messages: [{ role: 'user', content: 'why is the sky blue' }] });
    expect(plain.content.map((b) => b.type)).toEqual(['text']);
    const msg = await claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: THINKING, messages: [{ role: 'user', content: 'why is the sky blue' }] });
    expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    const thinking = msg.content[0] as Anthropic.ThinkingBlock;
    expect(thinking.thinking).toContain('why is the sky blue');
    expect(thinking.signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(msg.usage.output_tokens).toBeGreaterThan(plain.usage.output_tokens);
  });

  it('streams thinking_delta pieces and one signature_delta, which the SDK folds into the same block', async () => {
    const stream = claude.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: THINKING, messages: [{ role: 'user', content: 'why is the sky blue' }] });
    const deltas: string[] = [];
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta') deltas.push(e.delta.type);
    });
    const final = await stream.finalMessage();
    expect(deltas.filter((d) => d === 'thinking_delta').length).toBeGreaterThan(1);
    expect(deltas.filter((d) => d === 'signature_delta')).toHaveLength(1);
    expect(deltas.indexOf('signature_delta')).toBeLessThan(deltas.indexOf('text_delta'));
    const block = final.content[0] as Anthropic.ThinkingBlock;
    expect(block.type).toBe('thinking');
    // The same signature it would give unstreamed: it covers the thinking text.
    const whole = await claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: THINKING, messages: [{ role: 'user', content: 'why is the sky blue' }] });
    expect(block).toEqual(whole.content[0]);
  });

  it('continues a tool-use turn sent back with its signed thinking, and refuses it tampered, dropped or from another simulator', async () => {
    const ask = { role: 'user' as const, content: 'call get_weather for Paris, and redact your notes' };
    const first = await claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: THINKING, tools: [WEATHER], messages: [ask] });
    expect(first.content.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking', 'tool_use']);
    const use = first.content.find((b) => b.type === 'tool_use')!;
    const turn = (content: Anthropic.ContentBlockParam[]): Anthropic.MessageParam[] => [
      ask,
      { role: 'assistant', content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C and sunny' }] },
    ];
    const next = await claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: THINKING, tools: [WEATHER], messages: turn(first.content) });
    expect(next.stop_reason).toBe('end_turn');
    expect(next.content.at(-1)).toMatchObject({ type: 'text', text: expect.stringContaining('18C and sunny') });

    const thinking = first.content[0] as Anthropic.ThinkingBlock;
    const tampered = [{ ...thinking, signature: flip(thinking.signature) }, ...first.content.slice(1)];
    await expect(claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: THINKING, tools: [WEATHER], messages: turn(tampered) })).rejects.toMatchObject({
      status: 400,
      error: { error: { type: 'invalid_request_error', message: 'messages.1.content.0: Invalid `signature` in `thinking` block' } },
    });
    const edited = [{ ...thinking, thinking: `${thinking.thinking} (edited)` }, ...first.content.slice(1)];
    await expect(claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, tools: [WEATHER], messages: turn(edited) })).rejects.toMatchObject({ status: 400 });
    const dropped = first.content.filter((b) => b.type === 'tool_use');
    await expect(claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: THINKING, tools: [WEATHER], messages: turn(dropped) })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('Expected `thinking` or `redacted_thinking`, but found `tool_use`'),
    });
    const elsewhere = new Anthropic({ apiKey: 'k', baseURL: otherAnthropicSim.url, maxRetries: 0 });
    await expect(elsewhere.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: THINKING, tools: [WEATHER], messages: turn(first.content) })).rejects.toMatchObject({ status: 400 });
  });

  it('enforces the thinking parameter rules the API has', async () => {
    const bad = (extra: Record<string, unknown>) =>
      claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: THINKING, messages: [{ role: 'user', content: 'hi' }], ...extra } as Anthropic.MessageCreateParamsNonStreaming);
    await expect(bad({ max_tokens: 2048 })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('`max_tokens` must be greater than `thinking.budget_tokens`') });
    await expect(bad({ temperature: 0.5 })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('`temperature` may only be set to 1') });
    await expect(bad({ thinking: { type: 'enabled', budget_tokens: 100 } })).rejects.toMatchObject({ status: 400 });
  });
});

describe('Gemini simulator: thinking and thought signatures', () => {
  const tools = [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } }] }];
  const thinkingConfig = { thinkingBudget: 2048, includeThoughts: true };

  it('returns thought parts first, thoughtsTokenCount, and a signature on the text', async () => {
    const res = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'why is the sky blue', config: { thinkingConfig } });
    const parts = res.candidates![0]!.content!.parts!;
    expect(parts[0]).toMatchObject({ thought: true, text: expect.stringContaining('why is the sky blue') });
    expect(parts.at(-1)!.thoughtSignature).toMatch(/\S+/);
    expect(res.usageMetadata!.thoughtsTokenCount).toBeGreaterThan(0);
    // Without includeThoughts the model still thinks (and signs), but shows no thoughts.
    const hidden = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'why is the sky blue', config: { thinkingConfig: { thinkingBudget: 1024 } } });
    expect(hidden.candidates![0]!.content!.parts!.some((p) => p.thought)).toBe(false);
    expect(hidden.usageMetadata!.thoughtsTokenCount).toBeGreaterThan(0);
  });

  it('streams thought chunks before the text', async () => {
    const kinds: string[] = [];
    for await (const chunk of await gemini.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'why is the sky blue', config: { thinkingConfig } })) {
      for (const p of chunk.candidates?.[0]?.content?.parts ?? []) kinds.push(p.thought ? 'thought' : p.thoughtSignature ? 'signed-text' : 'text');
    }
    expect(kinds[0]).toBe('thought');
    expect(kinds.lastIndexOf('thought')).toBeLessThan(kinds.indexOf('text'));
    expect(kinds.at(-1)).toBe('signed-text');
  });

  it('continues a function-call turn sent back with its signature, and refuses it corrupted or missing', async () => {
    const ask: Content = { role: 'user', parts: [{ text: 'call get_weather for Paris' }] };
    const first = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: [ask], config: { tools, thinkingConfig } });
    const modelTurn = first.candidates![0]!.content!;
    const fc = modelTurn.parts!.find((p) => p.functionCall)!;
    expect(fc.thoughtSignature).toMatch(/\S+/);
    const contents = (parts: Part[]): Content[] => [
      ask,
      { role: 'model', parts },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { result: '18C and sunny' } } }] },
    ];
    const next = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: contents(modelTurn.parts!), config: { tools, thinkingConfig } });
    expect(next.text).toContain('18C and sunny');

    const corrupted = modelTurn.parts!.map((p) => (p.functionCall ? { ...p, thoughtSignature: 'AAAA' } : p));
    const err = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: contents(corrupted), config: { tools, thinkingConfig } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toContain('Corrupted thought signature.');

    const missing = modelTurn.parts!.map((p) => (p.functionCall ? { functionCall: p.functionCall } : p));
    const err2 = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: contents(missing), config: { tools, thinkingConfig } }).catch((e: unknown) => e);
    expect((err2 as ApiError).status).toBe(400);
    expect((err2 as ApiError).message).toContain('missing a thought_signature');
    // Without thinking, a call without its signature is fine (as on models that do not think).
    const plain = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: contents(missing), config: { tools } });
    expect(plain.text).toContain('18C and sunny');
  });
});
