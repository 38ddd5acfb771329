import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIM_DEPLOYMENTS, startStack, type Stack } from '../helpers/start-stack.ts';

/** The signature with its first character changed: always a different one. */
const flip = (sig: string): string => `${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;

/**
 * Reasoning end to end on the OpenAI-compatible REST API, driven by the official openai client against the
 * Anthropic and Gemini simulators: `reasoning_effort` in, `reasoning_content` and signed `thinking_blocks` out,
 * and a thinking + tool-call turn sent back as it came continues (tampered, it gets the simulator's 400).
 */

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ apiKey: 'local', baseURL: `${stack.url}/v1`, maxRetries: 0 });
});
afterAll(() => stack.close());

/** Fields the gateway adds to OpenAI's message (DeepSeek's and LiteLLM's names). */
type ReasoningMessage = OpenAI.ChatCompletionMessage & {
  reasoning_content?: string;
  thinking_blocks?: Array<{ type: string; thinking?: string; signature?: string; data?: string; provider?: string; tool_call_id?: string }>;
};
type ReasoningDelta = { content?: string | null; reasoning_content?: string; thinking_blocks?: ReasoningMessage['thinking_blocks'] };

const weather: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

const TARGETS = [
  ['Anthropic', SIM_DEPLOYMENTS.anthropic, 'anthropic'],
  ['Gemini', SIM_DEPLOYMENTS.gemini, 'gemini'],
] as const;

describe.each(TARGETS)('reasoning through REST to %s', (_name, model, protocol) => {
  const ask = 'why is the sky blue';

  it('returns message.reasoning_content and the signed thinking_blocks', async () => {
    const res = await client.chat.completions.create({ model, reasoning_effort: 'low', messages: [{ role: 'user', content: ask }] });
    const msg = res.choices[0]!.message as ReasoningMessage;
    expect(msg.content).toMatch(/\w+/);
    expect(msg.reasoning_content).toContain(ask);
    expect(msg.thinking_blocks?.length).toBeGreaterThan(0);
    expect(msg.thinking_blocks!.every((b) => b.provider === protocol)).toBe(true);
    expect(msg.thinking_blocks!.some((b) => typeof b.signature === 'string' && b.signature.length > 0)).toBe(true);
    expect(res.usage!.completion_tokens_details!.reasoning_tokens).toBeGreaterThan(0);
    // No effort, no reasoning.
    const plain = await client.chat.completions.create({ model, messages: [{ role: 'user', content: ask }] });
    expect((plain.choices[0]!.message as ReasoningMessage).reasoning_content).toBeUndefined();
  });

  it('streams delta.reasoning_content before the content, then the signed blocks whole before the finish', async () => {
    const stream = await client.chat.completions.create({ model, reasoning_effort: 'low', stream: true, messages: [{ role: 'user', content: ask }] });
    const order: string[] = [];
    let reasoning = '';
    let blocks: ReasoningMessage['thinking_blocks'];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      const delta = choice.delta as ReasoningDelta;
      if (delta.reasoning_content) {
        reasoning += delta.reasoning_content;
        order.push('reasoning');
      }
      if (delta.content) order.push('content');
      if (delta.thinking_blocks) {
        blocks = delta.thinking_blocks;
        order.push('blocks');
      }
      if (choice.finish_reason) order.push('finish');
    }
    expect(reasoning).toContain(ask);
    expect(order[0]).toBe('reasoning');
    expect(order.lastIndexOf('reasoning')).toBeLessThan(order.indexOf('content'));
    expect(order.slice(-2)).toEqual(['blocks', 'finish']);
    // The same blocks a non-streamed answer carries.
    const whole = await client.chat.completions.create({ model, reasoning_effort: 'low', messages: [{ role: 'user', content: ask }] });
    expect(blocks).toEqual((whole.choices[0]!.message as ReasoningMessage).thinking_blocks);
  });

  it('continues a thinking + tool-call turn sent back as it came, and refuses it with a tampered signature', async () => {
    // "redact" makes the Anthropic simulator add a redacted_thinking block, whose data must go back too.
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'call get_weather for Paris, redact your notes' }];
    const first = await client.chat.completions.create({ model, reasoning_effort: 'low', tools: [weather], messages });
    const turn = first.choices[0]!.message as ReasoningMessage;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(turn.thinking_blocks?.some((b) => b.signature)).toBe(true);
    if (protocol === 'anthropic') {
      expect(turn.thinking_blocks!.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking']);
      expect(turn.thinking_blocks![1]!.data).toMatch(/\S+/);
    }
    const callId = turn.tool_calls![0]!.id;
    const result: OpenAI.ChatCompletionMessageParam = { role: 'tool', tool_call_id: callId, content: '18C and sunny' };

    const next = await client.chat.completions.create({ model, reasoning_effort: 'low', tools: [weather], messages: [...messages, turn as OpenAI.ChatCompletionAssistantMessageParam, result] });
    expect(next.choices[0]!.finish_reason).toBe('stop');
    expect(next.choices[0]!.message.content).toContain('18C and sunny');

    const tampered = { ...turn, thinking_blocks: turn.thinking_blocks!.map((b) => (b.signature ? { ...b, signature: flip(b.signature) } : b)) };
    const err = await client.chat.completions
      .create({ model, reasoning_effort: 'low', tools: [weather], messages: [...messages, tampered as OpenAI.ChatCompletionAssistantMessageParam, result] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const body = (err as InstanceType<typeof OpenAI.BadRequestError>).error as { code: string; message: string };
    expect(body.code).toBe('invalid_request');
    expect(body.message).toMatch(protocol === 'anthropic' ? /Invalid `signature` in `thinking` block/ : /Corrupted thought signature/);
  });
});

describe('reasoning on REST: the response cache', () => {
  it('keeps reasoning in the stored completion and replays it as a stream, reasoning first', async () => {
    const body = { model: SIM_DEPLOYMENTS.gemini, reasoning_effort: 'medium', messages: [{ role: 'user', content: 'cache my thoughts' }] };
    const headers = { 'x-switchboard-cache': 'DEFAULT' };
    const miss = await stack.post('/v1/chat/completions', body, headers);
    expect(miss.headers.get('x-switchboard-cache')).toBe('MISS');
    const hit = await stack.post('/v1/chat/completions', { ...body, stream: true }, headers);
    expect(hit.headers.get('x-switchboard-cache')).toBe('HIT');
    const deltas = hit.text
      .split('\n\n')
      .filter((f) => f.startsWith('data: {'))
      .map((f) => JSON.parse(f.slice(6)).choices[0]?.delta ?? {});
    const reasoning = deltas.findIndex((d) => d.reasoning_content);
    expect(reasoning).toBeGreaterThan(-1);
    expect(reasoning).toBeLessThan(deltas.findIndex((d) => d.content));
    expect(deltas.map((d) => d.reasoning_content ?? '').join('')).toBe(miss.json.choices[0].message.reasoning_content);
    expect(deltas.find((d) => d.thinking_blocks)?.thinking_blocks).toEqual(miss.json.choices[0].message.thinking_blocks);
  });
});

describe('reasoning on REST: request fields', () => {
  it('refuses an unknown reasoning_effort naming the field, and takes `none` for OpenAI targets', async () => {
    const res = await stack.post('/v1/chat/completions', { model: SIM_DEPLOYMENTS.anthropic, reasoning_effort: 'extreme', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('reasoning_effort');
    const none = await stack.post('/v1/chat/completions', { model: SIM_DEPLOYMENTS.openai, reasoning_effort: 'none', messages: [{ role: 'user', content: 'hi' }] });
    expect(none.status).toBe(200);
  });

  it('drops another vendor’s signed blocks on the way: an Anthropic turn continues on Gemini', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'call get_weather for Paris' }];
    const first = await client.chat.completions.create({ model: SIM_DEPLOYMENTS.anthropic, reasoning_effort: 'low', tools: [weather], messages });
    const turn = first.choices[0]!.message as ReasoningMessage;
    const result: OpenAI.ChatCompletionMessageParam = { role: 'tool', tool_call_id: turn.tool_calls![0]!.id, content: '18C' };
    const next = await client.chat.completions.create({ model: SIM_DEPLOYMENTS.gemini, tools: [weather], messages: [...messages, turn as OpenAI.ChatCompletionAssistantMessageParam, result] });
    expect(next.choices[0]!.message.content).toContain('18C');
  });

  it('continues a Gemini thinking turn on Anthropic with reasoning_effort (that one request goes without thinking)', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'call get_weather for Paris' }];
    const first = await client.chat.completions.create({ model: SIM_DEPLOYMENTS.gemini, reasoning_effort: 'low', tools: [weather], messages });
    const turn = first.choices[0]!.message as ReasoningMessage;
    const result: OpenAI.ChatCompletionMessageParam = { role: 'tool', tool_call_id: turn.tool_calls![0]!.id, content: '18C' };
    const next = await client.chat.completions.create({ model: SIM_DEPLOYMENTS.anthropic, reasoning_effort: 'low', tools: [weather], messages: [...messages, turn as OpenAI.ChatCompletionAssistantMessageParam, result] });
    expect(next.choices[0]!.message.content).toContain('18C');
    expect((next.choices[0]!.message as ReasoningMessage).reasoning_content).toBeUndefined();
  });
});
