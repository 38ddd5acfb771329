/**
 * Wildcard models: a provider with `models: [{ id: "*" }]` takes any model name, addressed as
 * `provider/any-model` by clients and routes, and forwards it as is. What the gateway knows of the name comes from
 * the built-in catalog (price, context window, capabilities); a name it does not know is unpriced and
 * capability-unknown, so tools and images fail closed unless the `*` entry declares them.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.ts';
import { Catalog } from '../../src/gateway/catalog.ts';
import { builtinModelInfo, costOf } from '../../src/usage/pricing.ts';
import type { SimRequest } from '../../src/simulator/protocol.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

let stack: Stack;
let client: OpenAI;
const tool = { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } };
const hi = [{ role: 'user' as const, content: 'hello there' }];

beforeAll(async () => {
  stack = await startStack((c) => {
    const sim = c.providers!.find((p) => p.id === 'sim-openai')!;
    c.providers!.push(
      { id: 'any', protocol: 'openai', baseUrl: sim.baseUrl!, models: [{ id: '*' }] },
      // Unknown names on this one may use tools: the `*` entry says so.
      { id: 'any-tools', protocol: 'openai', baseUrl: sim.baseUrl!, models: [{ id: '*', capabilities: ['tools'] }, { id: 'house-model', price: { input: 1, output: 2 } }] },
    );
    c.routes = [...(c.routes ?? []), { name: 'wild', targets: [{ provider: 'any', model: 'gpt-4o' }] }];
  });
  client = new OpenAI({ apiKey: 'local', baseURL: `${stack.url}/v1`, maxRetries: 0 });
});
afterAll(() => stack?.close());

async function sent<T>(fn: () => Promise<T>): Promise<{ result: T; bodies: Array<Record<string, unknown>> }> {
  const seen: SimRequest[] = [];
  const on = (r: SimRequest) => seen.push(r);
  stack.sims.openai.events.on('request', on);
  try {
    return { result: await fn(), bodies: seen.map((r) => r.body as Record<string, unknown>) };
  } finally {
    stack.sims.openai.events.off('request', on);
  }
}

describe('wildcard models through the gateway', () => {
  it('forwards a known name as is, priced from the built-in catalog', async () => {
    const { result, bodies } = await sent(() => client.chat.completions.create({ model: 'any/gpt-4o', messages: hi }).withResponse());
    expect(bodies.map((b) => b.model)).toEqual(['gpt-4o']);
    const usage = result.data.usage!;
    const builtin = builtinModelInfo('gpt-4o')!;
    const expected = costOf(
      { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      builtin.price,
    );
    expect(Number(result.response.headers.get('x-switchboard-cost-usd'))).toBeCloseTo(expected!, 10);
    expect(result.response.headers.get('x-switchboard-model')).toBe('gpt-4o');
    // The built-in catalog says gpt-4o takes tools: a tool request goes through.
    const withTools = await client.chat.completions.create({ model: 'any/gpt-4o', messages: hi, tools: [tool] });
    expect(withTools.choices).toHaveLength(1);
  });

  it('forwards an unknown name unpriced (no cost, never $0) and refuses tools on it by name', async () => {
    const { result, bodies } = await sent(() => client.chat.completions.create({ model: 'any/vendor-new-model-x', messages: hi }).withResponse());
    expect(bodies.map((b) => b.model)).toEqual(['vendor-new-model-x']);
    expect(result.response.headers.get('x-switchboard-cost-usd')).toBeNull();
    const err = await client.chat.completions.create({ model: 'any/vendor-new-model-x', messages: hi, tools: [tool] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect(JSON.stringify((err as InstanceType<typeof OpenAI.APIError>).error)).toMatch(/tools/);
  });

  it('takes capabilities for unknown names from the `*` entry, and explicit entries beside it win', async () => {
    const ok = await client.chat.completions.create({ model: 'any-tools/vendor-new-model-x', messages: hi, tools: [tool] });
    expect(ok.choices).toHaveLength(1);
    const { result, bodies } = await sent(() => client.chat.completions.create({ model: 'any-tools/house-model', messages: hi }).withResponse());
    expect(bodies[0]!.model).toBe('house-model');
    expect(Number(result.response.headers.get('x-switchboard-cost-usd'))).toBeGreaterThan(0);
  });

  it('serves a route that names a wildcard model, and GraphQL pins one too', async () => {
    const { bodies } = await sent(() => client.chat.completions.create({ model: 'wild', messages: hi }));
    expect(bodies[0]!.model).toBe('gpt-4o');
    const r = await stack.gql('mutation($i: CompletionInput!) { createCompletion(input: $i) { model { id } provider { id } costUsd } }', {
      i: { model: 'any/gpt-4o-mini', messages: [{ role: 'USER', content: 'hi' }] },
    });
    expect(r.errors).toBeUndefined();
    expect(r.data.createCompletion).toMatchObject({ model: { id: 'any/gpt-4o-mini' }, provider: { id: 'any' } });
    expect(r.data.createCompletion.costUsd).toBeGreaterThan(0);
  });

  it('refuses a name a vendor could not take, and a bare name does not reach a wildcard', async () => {
    for (const model of ['any/has space', 'any/"quoted"', 'any/', 'vendor-new-model-x']) {
      const err = await client.chat.completions.create({ model, messages: hi }).catch((e: unknown) => e);
      expect((err as InstanceType<typeof OpenAI.APIError>).status, model).toBe(404);
    }
  });
});

describe('wildcard models in config and the catalog', () => {
  const cfg = (models: unknown[], routes: unknown[] = []) => ({ providers: [{ id: 'p', protocol: 'openai', models }], routes });

  it('lets routes name any model of a wildcard provider, and only of one', () => {
    expect(() => parseConfig(cfg([{ id: '*' }], [{ name: 'r', targets: [{ provider: 'p', model: 'anything' }] }]), {})).not.toThrow();
    expect(() => parseConfig(cfg([{ id: 'm' }], [{ name: 'r', targets: [{ provider: 'p', model: 'anything' }] }]), {})).toThrow(/has no model "anything"/);
  });

  it('refuses a price or an upstream on the wildcard entry, naming the key', () => {
    expect(() => parseConfig(cfg([{ id: '*', price: { input: 1, output: 1 } }]), {})).toThrow(/models\[0\]\.price/);
    expect(() => parseConfig(cfg([{ id: '*', upstream: 'x' }]), {})).toThrow(/models\[0\]\.upstream/);
  });

  it('knows Bedrock and Vertex ids of well-known models by their base name, and keeps its memory bounded', () => {
    const config = parseConfig(cfg([{ id: '*' }]), {});
    const catalog = new Catalog(config);
    expect(catalog.models()).toHaveLength(0);
    const haiku = builtinModelInfo('claude-haiku-4-5')!;
    for (const id of ['us.anthropic.claude-haiku-4-5-20251001-v1:0', 'anthropic.claude-haiku-4-5-20251001-v1:0', 'claude-haiku-4-5@20251001']) {
      expect(builtinModelInfo(id)?.price, id).toEqual(haiku.price);
      expect(catalog.resolveModel(`p/${id}`)[0]?.target.price, id).toEqual({ input: haiku.price.input, output: haiku.price.output });
    }
    for (let i = 0; i < 5000; i++) catalog.resolveModel(`p/model-${i}`);
    expect((catalog as unknown as { forwarded: Map<string, unknown> }).forwarded.size).toBeLessThanOrEqual(2000);
  });
});
