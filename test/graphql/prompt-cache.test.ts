import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimRequest } from '../../src/simulator/protocol.ts';
import { SIM_DEPLOYMENTS, startStack, type Stack } from '../helpers/start-stack.ts';

/**
 * Prompt caching end to end through GraphQL (and the REST usage it shows in): breakpoints set on content parts
 * and tools, the `promptCache` opt-in of routes and providers placing them on its own, OpenAI's prompt cache key,
 * and cache writes and reads priced at their own rates.
 */

const ANTHROPIC = { provider: 'sim-anthropic', model: 'claude-haiku-4-5' };
/** claude-haiku-4-5 in the out-of-the-box config, USD per 1M tokens. */
const PRICE = { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 };

let stack: Stack;

beforeAll(async () => {
  stack = await startStack((c) => {
    const sim = c.providers!.find((p) => p.id === 'sim-anthropic')!;
    c.providers!.push({ ...sim, id: 'sim-anthropic-cached', promptCache: { system: true, tools: true } });
    c.routes = [
      ...(c.routes ?? []),
      { name: 'auto-cache', targets: [ANTHROPIC], promptCache: { system: true, tools: true } },
      { name: 'no-cache', targets: [ANTHROPIC] },
      { name: 'provider-cache', targets: [{ provider: 'sim-anthropic-cached', model: 'claude-haiku-4-5' }] },
      { name: 'provider-cache-no-tools', targets: [{ provider: 'sim-anthropic-cached', model: 'claude-haiku-4-5' }], promptCache: { tools: false } },
    ];
  });
});
afterAll(async () => {
  await stack.close();
});

const CREATE = `mutation($input: CompletionInput!) {
  createCompletion(input: $input) {
    message { content }
    usage { inputTokens outputTokens cachedInputTokens cacheWriteTokens reasoningTokens }
    costUsd
  }
}`;

interface Usage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
}

async function create(input: Record<string, unknown>): Promise<{ usage: Usage; costUsd: number }> {
  const res = await stack.gql(CREATE, { input });
  expect(res.errors).toBeUndefined();
  return res.data.createCompletion;
}

/** The JSON bodies of the POSTs `sim` receives while `fn` runs (read after it, once the simulator has parsed them). */
async function bodiesDuring(sim: keyof Stack['sims'], fn: () => Promise<unknown>): Promise<Array<Record<string, any>>> {
  const seen: SimRequest[] = [];
  const on = (r: SimRequest) => {
    if (r.method === 'POST') seen.push(r);
  };
  stack.sims[sim].events.on('request', on);
  try {
    await fn();
  } finally {
    stack.sims[sim].events.off('request', on);
  }
  return seen.map((r) => r.body as Record<string, any>);
}

/** Distinct prose of about `n` tokens, so each test's prefixes are its own in the simulator's cache. */
const prose = (n: number, seed: string) => Array.from({ length: n }, (_, i) => `${seed}${i % 89}`).join(' ');

const tools = (seed: string) =>
  ['lookup', 'search', 'fetch'].map((name) => ({ name: `${name}_${seed}`, description: `${name} things`, parameters: { type: 'object', properties: { q: { type: 'string' } } } }));

const costOf = (u: Usage) =>
  ((u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens) * PRICE.input + u.cachedInputTokens * PRICE.cachedInput + u.cacheWriteTokens * PRICE.cacheWrite + u.outputTokens * PRICE.output) / 1e6;

describe('cacheControl on GraphQL content parts', () => {
  it('writes the prefix on the first call and reads it on the second, each priced at its own rate', async () => {
    const input = {
      model: SIM_DEPLOYMENTS.anthropic,
      messages: [
        { role: 'SYSTEM', parts: [{ text: prose(400, 'manual'), cacheControl: { type: 'EPHEMERAL' } }] },
        { role: 'USER', content: 'Summarize the manual.' },
      ],
    };
    let first!: { usage: Usage; costUsd: number };
    const [body] = await bodiesDuring('anthropic', async () => {
      first = await create(input);
    });
    expect(body!.system).toEqual([{ type: 'text', text: prose(400, 'manual'), cache_control: { type: 'ephemeral' } }]);
    const second = await create(input);

    expect(first.usage.cacheWriteTokens).toBeGreaterThan(400);
    expect(first.usage.cachedInputTokens).toBe(0);
    expect(second.usage.cachedInputTokens).toBe(first.usage.cacheWriteTokens);
    expect(second.usage.cacheWriteTokens).toBe(0);
    expect(second.usage.inputTokens).toBe(first.usage.inputTokens);

    expect(first.costUsd).toBeCloseTo(costOf(first.usage), 12);
    expect(second.costUsd).toBeCloseTo(costOf(second.usage), 12);
    // The same prompt: the read costs a tenth of the input rate, the write a quarter more than it.
    const input$ = first.usage.cacheWriteTokens / 1e6;
    expect(first.costUsd - second.costUsd).toBeCloseTo(input$ * (PRICE.cacheWrite - PRICE.cachedInput) + (first.usage.outputTokens - second.usage.outputTokens) * PRICE.output / 1e6, 12);
    expect(second.costUsd).toBeLessThan(first.costUsd);
  });

  it('sends a ONE_HOUR ttl, image parts and tool breakpoints as Anthropic cache_control', async () => {
    const [body] = await bodiesDuring('anthropic', () =>
      create({
        model: SIM_DEPLOYMENTS.anthropic,
        tools: tools('parts').map((t, i) => (i === 2 ? { ...t, cacheControl: {} } : t)),
        messages: [
          {
            role: 'USER',
            parts: [
              { text: 'What is in this picture?' },
              { image: { url: 'https://example.test/cat.png' }, cacheControl: { ttl: 'ONE_HOUR' } },
            ],
          },
        ],
      }),
    );
    expect(body!.tools.map((t: Record<string, unknown>) => t.cache_control)).toEqual([undefined, undefined, { type: 'ephemeral' }]);
    expect(body!.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image', source: { type: 'url', url: 'https://example.test/cat.png' }, cache_control: { type: 'ephemeral', ttl: '1h' } },
        ],
      },
    ]);
  });

  it('names the part of a bad message', async () => {
    const bad = async (messages: unknown[]) => (await stack.gql(CREATE, { input: { model: SIM_DEPLOYMENTS.anthropic, messages } })).errors![0];
    expect(await bad([{ role: 'USER', parts: [{ text: 'a' }, { text: 'b', image: { url: 'https://x.test/a.png' } }] }])).toMatchObject({
      message: 'input.messages[0].parts[1]: a part needs exactly one of text or image',
      extensions: { code: 'BAD_USER_INPUT', param: 'input.messages[0].parts[1]' },
    });
    expect((await bad([{ role: 'SYSTEM', parts: [{ image: { url: 'https://x.test/a.png' } }] }, { role: 'USER', content: 'x' }])).message).toBe(
      'input.messages[0].parts[0].image: only USER messages take images, not SYSTEM',
    );
    expect((await bad([{ role: 'USER', content: 'x', parts: [{ text: 'y' }] }])).message).toBe('input.messages[0].parts: give either content (and images) or parts, not both');
    expect(await bad([{ role: 'USER', parts: [{ text: 'look' }, { image: { data: 'AAAA' }, cacheControl: {} }] }])).toMatchObject({
      message: 'input.messages[0].parts[1].image.mediaType: inline image data needs a mediaType',
      extensions: { param: 'input.messages[0].parts[1].image.mediaType' },
    });
  });

  it('keeps content: String working beside parts', async () => {
    const res = await create({ model: SIM_DEPLOYMENTS.anthropic, messages: [{ role: 'USER', content: 'Say hello.' }] });
    expect(res.usage.cacheWriteTokens).toBe(0);
    expect(res.usage.cachedInputTokens).toBe(0);
  });
});

describe('the promptCache opt-in', () => {
  const request = (route: string, seed: string, extra: Record<string, unknown> = {}) => ({
    route,
    tools: tools(seed),
    messages: [
      { role: 'SYSTEM', content: prose(300, seed) },
      { role: 'USER', content: 'Use a tool if you need one.' },
    ],
    ...extra,
  });
  const marks = (body: Record<string, any>) => ({
    system: body.system.map((b: Record<string, unknown>) => b.cache_control ?? null),
    tools: body.tools.map((t: Record<string, unknown>) => t.cache_control ?? null),
  });
  const E = { type: 'ephemeral' };

  it('places breakpoints on the system prompt and the last tool on a route that asks, and caches with them', async () => {
    const [first] = await bodiesDuring('anthropic', () => create(request('auto-cache', 'route')));
    expect(marks(first!)).toEqual({ system: [E], tools: [null, null, E] });
    const again = await create(request('auto-cache', 'route'));
    expect(again.usage.cachedInputTokens).toBeGreaterThan(300);
    expect(again.usage.cacheWriteTokens).toBe(0);
  });

  it('places none without it', async () => {
    const [body] = await bodiesDuring('anthropic', () => create(request('no-cache', 'plain')));
    expect(marks(body!)).toEqual({ system: [null], tools: [null, null, null] });
    const again = await create(request('no-cache', 'plain'));
    expect(again.usage.cachedInputTokens).toBe(0);
  });

  it("takes the provider's setting, a route's keys winning over it", async () => {
    const [provider] = await bodiesDuring('anthropic', () => create(request('provider-cache', 'prov')));
    expect(marks(provider!)).toEqual({ system: [E], tools: [null, null, E] });
    const [overridden] = await bodiesDuring('anthropic', () => create(request('provider-cache-no-tools', 'prov2')));
    expect(marks(overridden!)).toEqual({ system: [E], tools: [null, null, null] });
  });

  it("leaves the request's own breakpoints alone and stays within four", async () => {
    const own = request('auto-cache', 'own', {
      tools: tools('own').map((t, i) => (i === 0 ? { ...t, cacheControl: { ttl: 'ONE_HOUR' } } : t)),
    });
    const [body] = await bodiesDuring('anthropic', () => create(own));
    // The tools carry the request's breakpoint (a 1h one); the system prompt, unmarked, gets the gateway's.
    expect(marks(body!)).toEqual({ system: [E], tools: [{ type: 'ephemeral', ttl: '1h' }, null, null] });

    const marked = (text: string) => ({ text, cacheControl: {} });
    const full = request('auto-cache', 'full', {
      messages: [
        { role: 'SYSTEM', content: prose(50, 'full') },
        { role: 'USER', parts: [marked('one'), marked('two'), marked('three')] },
      ],
    });
    const [three] = await bodiesDuring('anthropic', () => create(full));
    // Three of the request's own leave room for one: the system prompt's (its prefix covers the tools too).
    expect(marks(three!)).toEqual({ system: [E], tools: [null, null, null] });
    const four = { ...full, messages: [full.messages[0], { role: 'USER', parts: [marked('one'), marked('two'), marked('three'), marked('four')] }] };
    const [none] = await bodiesDuring('anthropic', () => create(four));
    expect(marks(none!)).toEqual({ system: [null], tools: [null, null, null] });
  });

  it('shows cache reads in REST usage.prompt_tokens_details.cached_tokens', async () => {
    const body = {
      model: 'auto-cache',
      messages: [
        { role: 'system', content: prose(300, 'rest') },
        { role: 'user', content: 'Hello.' },
      ],
    };
    const first = await stack.post('/v1/chat/completions', body);
    expect(first.status).toBe(200);
    expect(first.json.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const second = await stack.post('/v1/chat/completions', body);
    expect(second.json.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(300);
    expect(second.json.usage.prompt_tokens).toBe(first.json.usage.prompt_tokens);
  });
});

describe('promptCacheKey', () => {
  it('reaches the OpenAI simulator as prompt_cache_key, and is not sent to Anthropic', async () => {
    const input = { messages: [{ role: 'USER', content: 'Hello.' }], promptCacheKey: 'tenant-42:support' };
    const [openai] = await bodiesDuring('openai', () => create({ ...input, model: SIM_DEPLOYMENTS.openai }));
    expect(openai!.prompt_cache_key).toBe('tenant-42:support');
    const [anthropic] = await bodiesDuring('anthropic', () => create({ ...input, model: SIM_DEPLOYMENTS.anthropic }));
    expect(anthropic).not.toHaveProperty('prompt_cache_key');
    const bad = await stack.gql(CREATE, { input: { ...input, model: SIM_DEPLOYMENTS.openai, promptCacheKey: '' } });
    expect(bad.errors![0]!.extensions!.param).toBe('input.promptCacheKey');
  });
});
