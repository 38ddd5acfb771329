/**
 * A `vertex` provider through the whole gateway: the out-of-the-box config edited to add one at a Vertex simulator
 * with `credentials: {type: google, keyFile}`, driven by the openai SDK (chat, stream, tool call; exact usage and
 * cost) and GraphQL createCompletion, for a Gemini and a Claude model. Token renewal runs through the gateway
 * service with a clock shared by the adapters and the simulator; credentials also come from
 * GOOGLE_APPLICATION_CREDENTIALS.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/config/index.ts';
import { createGateway } from '../../src/gateway/gateway-service.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { countTokens } from '../../src/simulator/reply.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';
import { PROJECT, startVertexSim, type VertexSim } from './vertex-sim.ts';

const ADMIN = 'sk-admin-0123456789abcdef';
const PRICES = {
  'gemini-2.5-flash': { input: 0.3, output: 2.5, cachedInput: 0.03, reasoning: 2.5 },
  'claude-haiku-4-5@20251001': { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 },
} as const;
type ModelId = keyof typeof PRICES;
const MODELS = Object.keys(PRICES) as ModelId[];

function vertexProvider(v: VertexSim, withKeyFile = true): NonNullable<ConfigInput['providers']>[number] {
  return {
    id: 'vertex',
    protocol: 'vertex',
    project: PROJECT,
    location: 'us-central1',
    baseUrl: v.sim.url,
    ...(withKeyFile && { credentials: { type: 'google' as const, keyFile: v.keyFile } }),
    models: MODELS.map((id) => ({ id, contextWindow: 200_000, price: PRICES[id], capabilities: ['tools', 'json_schema', 'prompt_caching'] as const })),
  };
}

const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Current weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

/** The cost of a reply without cached or reasoning tokens, at the config's prices (USD per 1M tokens). */
const costOf = (model: ModelId, input: number, output: number) => (input * PRICES[model].input + output * PRICES[model].output) / 1e6;

describe('vertex provider through the gateway (REST and GraphQL)', () => {
  let v: VertexSim;
  let stack: Stack;
  let client: OpenAI;

  beforeAll(async () => {
    v = await startVertexSim();
    stack = await startStack((c) => {
      c.keys = [{ key: ADMIN, name: 'ops', scope: 'admin' }];
      c.providers = [...(c.providers ?? []), vertexProvider(v)];
    });
    client = new OpenAI({ apiKey: ADMIN, baseURL: `${stack.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await stack.close();
    await v.close();
  });

  it.each(MODELS)('chat and stream with exact usage and cost (%s)', async (model) => {
    const content = `Describe the gateway for ${model}`;
    const messages = [{ role: 'user' as const, content }];
    const { data, response } = await client.chat.completions.create({ model: `vertex/${model}`, messages }).withResponse();
    expect(response.headers.get('x-switchboard-provider')).toBe('vertex');
    expect(response.headers.get('x-switchboard-model')).toBe(model);
    // Both simulated publishers count a message as its tokens + 3.
    expect(data.usage!.prompt_tokens).toBe(countTokens(content) + 3);
    expect(data.usage!.completion_tokens).toBe(countTokens(data.choices[0]!.message.content!));
    expect(Number(response.headers.get('x-switchboard-cost-usd'))).toBeCloseTo(costOf(model, data.usage!.prompt_tokens, data.usage!.completion_tokens), 12);

    const stream = await client.chat.completions.create({ model: `vertex/${model}`, messages, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(data.choices[0]!.message.content);
    expect(usage).toMatchObject({ prompt_tokens: data.usage!.prompt_tokens, completion_tokens: data.usage!.completion_tokens });
  });

  it.each(MODELS)('calls a tool and takes its result back (%s)', async (model) => {
    const ask = [{ role: 'user' as const, content: 'call get_weather for Paris' }];
    const first = await client.chat.completions.create({ model: `vertex/${model}`, messages: ask, tools: [weatherTool] });
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    const answer = await client.chat.completions.create({
      model: `vertex/${model}`,
      tools: [weatherTool],
      messages: [...ask, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '21C and clear' }],
    });
    expect(answer.choices[0]!.message.content).toContain('21C and clear');
  });

  it.each(MODELS)('answers GraphQL createCompletion with usage and cost (%s)', async (model) => {
    const query = `mutation($input: CompletionInput!) { createCompletion(input: $input) {
      provider { id protocol } model { id } message { content } usage { inputTokens outputTokens } costUsd } }`;
    const content = 'What does a gateway do?';
    const res = await stack.gql(query, { input: { model: `vertex/${model}`, messages: [{ role: 'USER', content }] } }, ADMIN);
    expect(res.errors).toBeUndefined();
    const c = res.data.createCompletion as { provider: { id: string; protocol: string }; model: { id: string }; message: { content: string }; usage: { inputTokens: number; outputTokens: number }; costUsd: number };
    expect(c.provider).toEqual({ id: 'vertex', protocol: 'vertex' });
    expect(c.model.id).toBe(`vertex/${model}`);
    expect(c.usage.inputTokens).toBe(countTokens(content) + 3);
    expect(c.usage.outputTokens).toBe(countTokens(c.message.content));
    expect(c.costUsd).toBeCloseTo(costOf(model, c.usage.inputTokens, c.usage.outputTokens), 12);
  });
});

describe('vertex provider through the gateway service: credentials', () => {
  it('renews a 2 s token across more than two lifetimes: every request succeeds, several tokens are issued, none refused', async () => {
    const clock = createFakeClock(Date.now());
    const v = await startVertexSim({ now: clock.now, tokenLifetimeS: 2 });
    const config = parseConfig({ providers: [vertexProvider(v)], routes: [{ name: 'default', targets: [{ provider: 'vertex', model: MODELS[0] }] }] }, {});
    // The adapters run on the shared clock; the gateway's own timing stays real.
    const gateway = createGateway({ config, registry: await createProviderRegistry(config.providers, { now: clock.now }), sleep: async () => {} });
    try {
      for (let i = 0; i < 7; i++) {
        if (i > 0) clock.advance(800);
        const model = MODELS[i % 2]!;
        const c = await gateway.complete({ model: `vertex/${model}`, chat: { messages: [{ role: 'user', content: `request ${i}` }] } });
        expect(c.provider).toBe('vertex');
        expect(c.attempts.map((a) => a.status)).toEqual(['ok']);
      }
      expect(v.modelRequests()).toHaveLength(7);
      expect(v.tokenRequests()).toBeGreaterThan(1);
    } finally {
      await gateway.close();
      await v.close();
    }
  });

  it('takes the service account from GOOGLE_APPLICATION_CREDENTIALS when the provider names no key file', async () => {
    const v = await startVertexSim();
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = v.keyFile;
    const stack = await startStack((c) => {
      c.keys = [{ key: ADMIN, name: 'ops', scope: 'admin' }];
      c.providers = [...(c.providers ?? []), vertexProvider(v, false)];
    });
    try {
      const client = new OpenAI({ apiKey: ADMIN, baseURL: `${stack.url}/v1`, maxRetries: 0 });
      for (const model of MODELS) {
        const res = await client.chat.completions.create({ model: `vertex/${model}`, messages: [{ role: 'user', content: 'hello' }] });
        expect(res.choices[0]!.message.content).toMatch(/\w+/);
      }
      expect(v.tokenRequests()).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
      await stack.close();
      await v.close();
    }
  });
});
