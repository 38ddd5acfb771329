import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';

/**
 * Thinking through `/v1/messages`: the reasoning of an Anthropic or Gemini target comes back as thinking
 * blocks whose signatures, sent back with the tool result, let the same provider continue the turn (the
 * simulators, like the real APIs, refuse a signature they did not issue).
 */

const KEY = 'sk-admin-0123456789abcdef';
let stack: Stack;
let client: Anthropic;

beforeAll(async () => {
  stack = await startStack((c) => {
    c.keys = [{ key: KEY, name: 'ops', scope: 'admin' }];
    c.providers!.find((p) => p.id === 'sim-openai')!.models.push({ id: 'o4-mini', price: { input: 1.1, output: 4.4 }, capabilities: ['tools', 'reasoning'] });
    c.routes = [
      { name: 'think-anthropic', targets: [{ provider: 'sim-anthropic', model: 'claude-haiku-4-5' }] },
      { name: 'think-gemini', targets: [{ provider: 'sim-gemini', model: 'gemini-2.5-flash' }] },
      { name: 'think-openai', targets: [{ provider: 'sim-openai', model: 'o4-mini' }] },
      { name: 'think-not-reasoning', targets: [{ provider: 'sim-openai', model: 'gpt-4o-mini' }] },
    ];
  });
  client = new Anthropic({ apiKey: KEY, baseURL: stack.url, maxRetries: 0 });
});
afterAll(() => stack.close());

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const ask: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Paris? use get_weather' };
const params = { max_tokens: 4096, thinking: { type: 'enabled' as const, budget_tokens: 2048 }, tools: [weather] };

function toolTurn(first: Anthropic.Message, result = '18°C and clear'): Anthropic.MessageParam[] {
  const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
  return [ask, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: result }] }];
}

/** The signature with its provider's own signature altered (inside the gateway's envelope when there is one). */
function forge(signature: string): string {
  const alter = (sig: string) => `AAAA${sig.slice(4)}`;
  const prefix = 'switchboard.v1.';
  if (!signature.startsWith(prefix)) return alter(signature);
  const env = JSON.parse(Buffer.from(signature.slice(prefix.length), 'base64url').toString('utf8')) as { s?: string };
  return env.s === undefined ? signature : prefix + Buffer.from(JSON.stringify({ ...env, s: alter(env.s) })).toString('base64url');
}

const thinkingOf = (m: Anthropic.Message) => m.content.filter((b): b is Anthropic.ThinkingBlock => b.type === 'thinking');

describe.each([
  { route: 'think-anthropic', signature: /^(?!switchboard\.)[A-Za-z0-9+/=]+$/ },
  { route: 'think-gemini', signature: /^switchboard\.v1\.[\w-]+$/ },
])('thinking on $route', ({ route, signature }) => {
  it('returns signed thinking blocks first, and continues the tool turn they are sent back with', async () => {
    const first = await client.messages.create({ ...params, model: route, messages: [ask] });
    expect(first.stop_reason).toBe('tool_use');
    expect(first.content[0]!.type).toBe('thinking');
    const blocks = thinkingOf(first);
    expect(blocks.some((b) => b.thinking.length > 0)).toBe(true);
    for (const b of blocks) expect(b.signature).toMatch(signature);

    const next = await client.messages.create({ ...params, model: route, messages: toolTurn(first) });
    expect(next.stop_reason).toBe('end_turn');
    expect((next.content.find((b) => b.type === 'text') as Anthropic.TextBlock).text).toContain('18°C and clear');
  });

  it('streams thinking_delta and one signature_delta per signed block, and the streamed turn continues too', async () => {
    const stream = client.messages.stream({ ...params, model: route, messages: [ask] });
    const deltas: string[] = [];
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta') deltas.push(e.delta.type);
    });
    const first = await stream.finalMessage();
    expect(deltas).toContain('thinking_delta');
    expect(deltas.filter((d) => d === 'signature_delta').length).toBe(thinkingOf(first).filter((b) => b.signature !== '').length);
    expect(deltas.indexOf('thinking_delta')).toBeLessThan(deltas.indexOf('input_json_delta'));
    for (const b of thinkingOf(first)) expect(b.signature).toMatch(signature);

    const next = await client.messages.stream({ ...params, model: route, messages: toolTurn(first, 'rain') }).finalMessage();
    expect(next.stop_reason).toBe('end_turn');
  });

  it('a thinking block whose signature was tampered with is refused upstream as the real API would', async () => {
    const first = await client.messages.create({ ...params, model: route, messages: [ask] });
    const tampered = first.content.map((b) => (b.type === 'thinking' && b.signature !== '' ? { ...b, signature: forge(b.signature) } : b));
    const err = await client.messages
      .create({ ...params, model: route, messages: [ask, { role: 'assistant', content: tampered }, toolTurn(first)[2]!] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
  });
});

describe('thinking on a route to OpenAI', () => {
  it('is accepted and answered by a reasoning model', async () => {
    const res = await client.messages.create({ max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, model: 'think-openai', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.content.at(-1)!.type).toBe('text');
  });

  it('is refused by name on a model not declared as reasoning, before any upstream call', async () => {
    const before = stack.sims.openai.stats.requests;
    const err = await client.messages
      .create({ max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, model: 'think-not-reasoning', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(String((err as Error).message)).toMatch(/reasoning/);
    expect(stack.sims.openai.stats.requests).toBe(before);
  });
});

describe('thinking and Anthropic targets', () => {
  it('sends Anthropic the thinking and max_tokens exactly as the client did', async () => {
    const seen = new Promise<Record<string, unknown>>((resolve) => {
      stack.sims.anthropic.events.once('request', (r: { body: unknown }) => setImmediate(() => resolve(r.body as Record<string, unknown>)));
    });
    await client.messages.create({ max_tokens: 5000, thinking: { type: 'enabled', budget_tokens: 3000 }, model: 'think-anthropic', messages: [{ role: 'user', content: 'hi' }] });
    expect(await seen).toMatchObject({ max_tokens: 5000, thinking: { type: 'enabled', budget_tokens: 3000 } });
  });
});
