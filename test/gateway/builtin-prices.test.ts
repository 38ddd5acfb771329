/**
 * A model that config leaves unpriced but the built-in table knows is priced everywhere a configured price is
 * used: the `cheapest` strategy, a request's cost ceiling and a budget's reservation, as well as billing.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinModelInfo } from '../../src/usage/pricing.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const KEY = 'builtin-prices-key-0123456789';
let stack: Stack;
let client: OpenAI;
const hi = [{ role: 'user' as const, content: 'hello there' }];

beforeAll(async () => {
  stack = await startStack((c) => {
    const sim = c.providers!.find((p) => p.id === 'sim-openai')!;
    // No prices here: the built-in table has both (gpt-4o is ~16x dearer than gpt-4o-mini).
    c.providers!.push({ id: 'plain', protocol: 'openai', baseUrl: sim.baseUrl!, models: [{ id: 'gpt-4o' }, { id: 'gpt-4o-mini' }] });
    c.routes = [
      ...(c.routes ?? []),
      { name: 'cheap', strategy: 'cheapest', targets: [{ provider: 'plain', model: 'gpt-4o' }, { provider: 'plain', model: 'gpt-4o-mini' }] },
      { name: 'dear', targets: [{ provider: 'plain', model: 'gpt-4o' }] },
    ];
    c.keys = [{ key: KEY, name: 'tight' }];
    // gpt-4o at 4,000 output tokens is ~$0.04 a request: a $0.01 budget cannot reserve even one.
    c.quotas = { keys: { tight: { budget: { usd: 0.01 } } } };
  });
  client = new OpenAI({ apiKey: KEY, baseURL: `${stack.url}/v1`, maxRetries: 0 });
});
afterAll(() => stack?.close());

describe('built-in prices in routing and budgets', () => {
  it('the table prices both models, gpt-4o the dearer', () => {
    expect(builtinModelInfo('gpt-4o')!.price.output).toBeGreaterThan(builtinModelInfo('gpt-4o-mini')!.price.output);
  });

  it('cheapest picks the model the built-in table prices lower', async () => {
    const r = await client.chat.completions.create({ model: 'cheap', messages: hi, max_tokens: 50 }).withResponse();
    expect(r.response.headers.get('x-switchboard-model')).toBe('gpt-4o-mini');
    expect(Number(r.response.headers.get('x-switchboard-cost-usd'))).toBeGreaterThan(0);
  });

  it('a cost ceiling excludes the dearer model by its built-in price, not as unpriced', async () => {
    const body = { model: 'dear', messages: hi, max_tokens: 100, switchboard: { costCeilingUsd: 0.000_5 } };
    const err = await client.chat.completions.create(body as never).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    const text = JSON.stringify((err as InstanceType<typeof OpenAI.APIError>).error);
    expect(text).toMatch(/expected cost/);
    expect(text).not.toMatch(/unpriced/);
  });

  it('a budget reserves at the built-in price: a request it cannot cover is refused before it is sent', async () => {
    const before = stack.sims.openai.stats.requests;
    const err = await client.chat.completions.create({ model: 'dear', messages: hi, max_tokens: 4000 }).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(429);
    expect(stack.sims.openai.stats.requests).toBe(before);
  });
});
