import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const ADMIN = 'sk-admin-0123456789abcdef';
const CLIENT = 'sk-client-0123456789abcdef';

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack((c) => {
    c.keys = [
      { key: ADMIN, name: 'ops', scope: 'admin' },
      { key: CLIENT, name: 'frontend', scope: 'client', routes: ['default'] },
    ];
  });
  client = new OpenAI({ apiKey: ADMIN, baseURL: `${stack.url}/v1`, maxRetries: 0 });
});
afterAll(() => stack.close());

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('OpenAI-compatible REST with the official openai client', () => {
  it('answers a chat completion through a route named in `model`, with routing headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'default', messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message.content).toMatch(/\w+/);
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    expect(response.headers.get('x-switchboard-provider')).toBe('sim-openai');
    expect(response.headers.get('x-switchboard-model')).toBe('gpt-4o-mini');
    expect(response.headers.get('x-switchboard-attempts')).toBe('1');
    expect(response.headers.get('x-request-id')).toMatch(/\S+/);
  });

  it('takes a model id in `model` and pins it', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(response.headers.get('x-switchboard-provider')).toBe('sim-anthropic');
  });

  it('streams deltas ending with usage, and the text equals the non-streamed answer', async () => {
    const messages = [{ role: 'user' as const, content: 'tell me about gateways' }];
    const whole = await client.chat.completions.create({ model: 'default', messages });
    const stream = await client.chat.completions.create({ model: 'default', messages, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (choice?.delta.content) text += choice.delta.content;
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: whole.usage!.prompt_tokens, completion_tokens: whole.usage!.completion_tokens });
  });

  it('returns a tool call, streamed and not', async () => {
    const messages = [{ role: 'user' as const, content: 'call get_weather for Paris' }];
    const res = await client.chat.completions.create({ model: 'default', messages, tools: [weatherTool] });
    const call = res.choices[0]!.message.tool_calls![0]!;
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    expect(JSON.parse(call.type === 'function' ? call.function.arguments : '{}')).toEqual({ city: 'Paris' });

    const stream = client.chat.completions.stream({ model: 'default', messages, tools: [weatherTool] });
    const final = await stream.finalChatCompletion();
    const streamed = final.choices[0]!.message.tool_calls![0]!;
    expect(streamed.type === 'function' && streamed.function.arguments).toBe(call.type === 'function' && call.function.arguments);
  });

  it('creates embeddings (the SDK asks for base64 and decodes it)', async () => {
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]!.embedding.length).toBeGreaterThan(7);
    expect(res.data[0]!.embedding.every((x) => Number.isFinite(x))).toBe(true);
    expect(res.data[0]!.embedding).not.toEqual(res.data[1]!.embedding);
    const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'alpha', encoding_format: 'float' });
    expect(floats.data[0]!.embedding[0]).toBeCloseTo(res.data[0]!.embedding[0]!, 5);
  });

  it('lists routes and models', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['default', 'local', 'gpt-4o-mini', 'claude-haiku-4-5', 'llama3.2']));
  });

  it('maps errors to the SDK error classes with OpenAI error bodies', async () => {
    const anon = new OpenAI({ apiKey: 'sk-wrong-0000000000000000', baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const authErr = await anon.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(authErr).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(JSON.stringify(authErr.error)).not.toContain('sk-wrong');

    const notFound = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    expect(notFound.code).toBe('not_found');

    const bad = await client.chat.completions
      .create({ model: 'default', messages: [{ role: 'user', content: 'x' }], temperature: 7 })
      .catch((e) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.param).toBe('temperature');
    expect(bad.message).toContain('temperature');

    const forbidden = new OpenAI({ apiKey: CLIENT, baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const denied = await forbidden.chat.completions.create({ model: 'local', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it('refuses what it cannot honour instead of dropping it', async () => {
    const n = await client.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }], n: 2 }).catch((e) => e);
    expect(n).toBeInstanceOf(OpenAI.BadRequestError);
    expect(n.code).toBe('unsupported_feature');
    // Route `local` runs on llama3.2, which has no vision: an image request must fail closed, naming why.
    const img = await client.chat.completions
      .create({ model: 'local', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] })
      .catch((e) => e);
    expect(img).toBeInstanceOf(OpenAI.BadRequestError);
    expect(img.code).toBe('unsupported_feature');
    expect(img.message).toContain('sim-ollama/llama3.2 does not support vision');
  });

  it('falls back when the primary fails before the first token, and reports both attempts', async () => {
    stack.sims.openai.setFaults({ status: 503 });
    try {
      const { data, response } = await client.chat.completions
        .create({ model: 'default', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      expect(data.choices[0]!.message.content).toBeTruthy();
      expect(response.headers.get('x-switchboard-provider')).toBe('sim-anthropic');
      expect(response.headers.get('x-switchboard-attempts')).toBe('2');
      expect(response.headers.get('x-switchboard-attempt-log')).toMatch(/sim-openai\/gpt-4o-mini;status=overloaded.*sim-anthropic\/claude-haiku-4-5;status=ok/);
    } finally {
      stack.sims.openai.setFaults({});
    }
  });

  it('rejects bodies over the limit with 413 and non-JSON with 400', async () => {
    const big = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'x'.repeat(5 * 1024 * 1024) }] }),
    }).catch(() => undefined);
    // The server may answer 413 before the upload finishes, or close the socket mid-upload.
    if (big) expect(big.status).toBe(413);
    const notJson = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  it('a client that disconnects mid-stream aborts the upstream request', async () => {
    const before = stack.sims.openai.stats.aborted;
    const controller = new AbortController();
    stack.sims.openai.setFaults({ chunkDelayMs: 100, replyWords: 50 });
    try {
      const stream = await client.chat.completions.create(
        { model: 'default', messages: [{ role: 'user', content: 'long answer please' }], stream: true },
        { signal: controller.signal },
      );
      let n = 0;
      // The SDK ends its iterator quietly on abort (it treats the abort as the caller's choice).
      await (async () => {
        for await (const _ of stream) if (++n === 2) controller.abort();
      })().catch(() => undefined);
      expect(n).toBe(2);
      for (let i = 0; i < 100 && stack.sims.openai.stats.aborted === before; i++) await new Promise((ok) => setTimeout(ok, 20));
      expect(stack.sims.openai.stats.aborted).toBe(before + 1);
    } finally {
      stack.sims.openai.setFaults({});
    }
  });

  it('health endpoints answer', async () => {
    expect(await (await fetch(`${stack.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${stack.url}/readyz`)).json()).toEqual({ status: 'ready', problems: [] });
  });

  it('never logs a key', () => {
    const all = stack.logs.join('\n');
    expect(all).not.toContain(ADMIN);
    expect(all).not.toContain(CLIENT);
  });
});
