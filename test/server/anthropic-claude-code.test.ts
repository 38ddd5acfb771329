import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimRequest } from '../../src/simulator/protocol.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

/**
 * A Claude-Code-shaped request (system blocks with cache_control, a dozen tools, streaming, thinking,
 * metadata.user_id) replayed through `/v1/messages` to each protocol's simulator, and the session's next
 * turn (the tool result) after it.
 */

const KEY = 'sk-admin-0123456789abcdef';
const fixture = JSON.parse(readFileSync(new URL('../fixtures/anthropic-inbound/claude-code-request.json', import.meta.url), 'utf8')) as Anthropic.MessageCreateParamsStreaming;

let stack: Stack;
let client: Anthropic;

beforeAll(async () => {
  stack = await startStack((c) => {
    c.keys = [{ key: KEY, name: 'ops', scope: 'admin' }];
    // The fixture thinks: its OpenAI target must be a reasoning model (gpt-4o-mini would refuse the effort).
    c.providers!.find((p) => p.id === 'sim-openai')!.models.push({ id: 'o4-mini', price: { input: 1.1, output: 4.4 }, capabilities: ['tools', 'json_schema', 'vision', 'reasoning'] });
    // Claude Code sends its own model name: a route of that name decides where it goes.
    c.routes = [
      { name: 'claude-opus-4-5-20251101', targets: [{ provider: 'sim-anthropic', model: 'claude-haiku-4-5' }] },
      { name: 'cc-openai', targets: [{ provider: 'sim-openai', model: 'o4-mini' }] },
      { name: 'cc-gemini', targets: [{ provider: 'sim-gemini', model: 'gemini-2.5-flash' }] },
    ];
  });
  client = new Anthropic({ apiKey: KEY, baseURL: stack.url, maxRetries: 0 });
});
afterAll(() => stack.close());

/** The body the simulator received for the next request sent to it (read once the answer is in: it is parsed after the event). */
function nextUpstreamBody(sim: Stack['sims'][keyof Stack['sims']]): Promise<Record<string, any>> {
  return new Promise<SimRequest>((resolve) => {
    const on = (r: SimRequest) => {
      if (r.method !== 'POST') return;
      sim.events.off('request', on);
      resolve(r);
    };
    sim.events.on('request', on);
  }).then((r) => r.body as Record<string, any>);
}

const ROUTES = [
  { route: 'claude-opus-4-5-20251101', sim: 'anthropic', model: 'claude-haiku-4-5' },
  { route: 'cc-openai', sim: 'openai', model: 'o4-mini' },
  { route: 'cc-gemini', sim: 'gemini', model: 'gemini-2.5-flash' },
] as const;

describe.each(ROUTES)('the Claude Code request through route $route', ({ route, sim, model }) => {
  it('streams a Read tool call back, then answers the tool result', async () => {
    expect(fixture.tools!.length).toBeGreaterThanOrEqual(10);
    const upstream = nextUpstreamBody(stack.sims[sim]);
    const stream = client.messages.stream({ ...fixture, model: route });
    const events: string[] = [];
    stream.on('streamEvent', (e) => events.push(e.type));
    const first = await stream.finalMessage();
    expect(events[0]).toBe('message_start');
    expect(events.at(-1)).toBe('message_stop');
    expect(first.model).toBe(model);
    expect(first.stop_reason).toBe('tool_use');
    // The fixture asks for thinking: the protocols that think answer with signed thinking first, which the
    // next turn sends back (the simulators refuse the tool result without it).
    if (sim !== 'openai') {
      expect(first.content[0]!.type).toBe('thinking');
      expect((first.content[0] as Anthropic.ThinkingBlock).signature).not.toBe('');
    }
    const read = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(read.name).toBe('Read');
    expect(read.input).toMatchObject({ file_path: expect.any(String) });
    expect(first.usage.input_tokens + (first.usage.cache_creation_input_tokens ?? 0) + (first.usage.cache_read_input_tokens ?? 0)).toBeGreaterThan(200);

    const sent = await upstream;
    expect(JSON.stringify(sent)).toContain('You are Claude Code');
    expect(JSON.stringify(sent)).toContain('TodoWrite');

    const next = await client.messages
      .stream({
        ...fixture,
        model: route,
        messages: [
          ...fixture.messages,
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: read.id, content: '1\texport const add = (a, b) => a - b;' }] },
        ],
      })
      .finalMessage();
    expect(next.stop_reason).toBe('end_turn');
    expect((next.content.find((b) => b.type === 'text') as Anthropic.TextBlock).text).toContain('export const add');
  });
});

describe('the Claude Code request to an Anthropic target', () => {
  it('keeps every cache breakpoint, the tools as sent, metadata and stream, and reads the cache on replay', async () => {
    const route = 'claude-opus-4-5-20251101';
    const upstream = nextUpstreamBody(stack.sims.anthropic);
    const first = await client.messages.stream({ ...fixture, model: route }).finalMessage();
    const body = await upstream;
    expect(body.stream).toBe(true);
    expect(body.model).toBe('claude-haiku-4-5');
    expect(body.max_tokens).toBe(fixture.max_tokens);
    expect(body.metadata).toEqual({ user_id: fixture.metadata!.user_id });
    expect(body.thinking).toEqual(fixture.thinking);
    expect(body.system).toEqual(fixture.system);
    expect(body.tools).toEqual(fixture.tools);
    expect(body.messages).toEqual(fixture.messages);

    const again = await client.messages.stream({ ...fixture, model: route }).finalMessage();
    expect(again.usage.cache_read_input_tokens).toBeGreaterThan(200);
    expect(again.usage.cache_read_input_tokens).toBe((first.usage.cache_read_input_tokens ?? 0) + (first.usage.cache_creation_input_tokens ?? 0));
  });
});
