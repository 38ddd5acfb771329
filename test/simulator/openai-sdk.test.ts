import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { AzureOpenAI, type APIError } from 'openai';
import type { ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming, ChatCompletionTool } from 'openai/resources/chat/completions';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';

// Acceptance tests: the OpenAI simulator driven by the official `openai` SDK, which must parse every byte.

let sim: Simulator;
let client: OpenAI;

beforeAll(async () => {
  sim = await startSimulator({ protocol: 'openai', port: 0 });
  client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
});

afterAll(async () => {
  await sim.close();
});

const weatherTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer' } },
      required: ['city', 'unit', 'days'],
    },
  },
};

const basic: ChatCompletionCreateParamsNonStreaming = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Tell me about the gateway.' },
  ],
};

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

function words(n: number): string {
  return Array.from({ length: n }, (_, i) => `word${i % 50}`).join(' ');
}

describe('openai simulator via the openai SDK', () => {
  it('answers a non-streaming chat completion with usage and OpenAI headers', async () => {
    const { data, response } = await client.chat.completions.create(basic).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    expect(data.model).toBe('gpt-4o-mini');
    const choice = data.choices[0]!;
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.content).toMatch(/\w+/);
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    expect(data.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    expect(data.usage!.completion_tokens_details!.reasoning_tokens).toBe(0);
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(response.headers.get('openai-processing-ms')).toMatch(/^\d+$/);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('4999');
    expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+ms$/);
    // Deterministic: the same prompt gives the same text.
    const again = await client.chat.completions.create(basic);
    expect(again.choices[0]!.message.content).toBe(choice.message.content);
  });

  it('streams text whose deltas add up to the non-streamed text, with the same usage', async () => {
    const whole = await client.chat.completions.create(basic);
    const chunks = await collect(await client.chat.completions.create({ ...basic, stream: true, stream_options: { include_usage: true } }));
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish!.choices[0]!.finish_reason).toBe('stop');
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(whole.usage);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('sends no usage chunk without include_usage, and ends with [DONE] on the wire', async () => {
    const res = await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
      body: JSON.stringify({ ...basic, stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const raw = await res.text();
    const events = raw.split('\n\n').filter(Boolean);
    expect(events.every((e) => e.startsWith('data: '))).toBe(true);
    expect(events[events.length - 1]).toBe('data: [DONE]');
    const payloads = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as ChatCompletionChunk);
    expect(payloads.every((p) => p.choices.length === 1 && !('usage' in p))).toBe(true);
    expect(payloads[payloads.length - 1]!.choices[0]!.finish_reason).toBe('stop');
  });

  it('streams a tool call with arguments in several fragments that parse as schema-conforming JSON', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'Use the tool: what is the weather in Paris?' }],
        tools: [weatherTool],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const first = chunks[0]!.choices[0]!.delta;
    expect(first.role).toBe('assistant');
    expect(first.tool_calls![0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(first.tool_calls![0]!.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    const fragments = chunks.slice(1).flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(fragments.length).toBeGreaterThan(1);
    expect(fragments.every((f) => f.index === 0 && f.id === undefined)).toBe(true);
    const args = JSON.parse(fragments.map((f) => f.function!.arguments).join('')) as Record<string, unknown>;
    expect(args).toEqual({ city: 'Paris', unit: 'celsius', days: expect.any(Number) });
    expect(Number.isInteger(args.days)).toBe(true);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)!.choices[0]!.finish_reason).toBe('tool_calls');

    // The same call unstreamed: arguments are a JSON string, content null, same usage.
    const whole = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Use the tool: what is the weather in Paris?' }],
      tools: [weatherTool],
    });
    const call = whole.choices[0]!.message.tool_calls![0]!;
    expect(whole.choices[0]!.message.content).toBeNull();
    expect(whole.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual(args);
    expect(chunks[chunks.length - 1]!.usage).toEqual(whole.usage);
  });

  it('answers a tool result, honours tool_choice none, and forces a named tool', async () => {
    const afterTool = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '21 degrees' },
      ],
      tools: [weatherTool],
    });
    expect(afterTool.choices[0]!.message.content).toContain('21 degrees');
    const none = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Use the tool please' }], tools: [weatherTool], tool_choice: 'none' });
    expect(none.choices[0]!.message.tool_calls).toBeUndefined();
    const forced = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hello there' }],
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    expect(forced.choices[0]!.message.tool_calls![0]).toMatchObject({ function: { name: 'get_weather' } });
  });

  it('returns JSON content for json_schema and json_object response formats', async () => {
    const schema = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Describe Berlin' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'city', strict: true, schema: { type: 'object', properties: { name: { type: 'string' }, population: { type: 'integer' } }, required: ['name', 'population'] } },
      },
    });
    const parsed = JSON.parse(schema.choices[0]!.message.content!) as Record<string, unknown>;
    expect(typeof parsed.name).toBe('string');
    expect(Number.isInteger(parsed.population)).toBe(true);
    const obj = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'JSON please' }], response_format: { type: 'json_object' } });
    expect(JSON.parse(obj.choices[0]!.message.content!)).toEqual({ answer: expect.any(String) });
  });

  it('cuts the reply at max_completion_tokens (or max_tokens) with finish_reason length', async () => {
    const a = await client.chat.completions.create({ ...basic, max_completion_tokens: 3 });
    expect(a.choices[0]!.finish_reason).toBe('length');
    expect(a.usage!.completion_tokens).toBe(3);
    const b = await client.chat.completions.create({ ...basic, max_tokens: 2 });
    expect(b.choices[0]!.finish_reason).toBe('length');
    expect(b.usage!.completion_tokens).toBe(2);
  });

  it('maps an injected 429 to RateLimitError with retry-after and the rate_limit_exceeded envelope', async () => {
    const err = await client.chat.completions.create(basic, { headers: { 'x-sim-status': '429', 'x-sim-retry-after-s': '7' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as APIError;
    expect(e.status).toBe(429);
    expect(e.headers?.get('retry-after')).toBe('7');
    expect(e.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.type).toBe('requests');
    expect(e.param).toBeNull();
    expect(e.message).toMatch(/Rate limit reached/);
  });

  it('maps injected 500 and 503 to InternalServerError with server_error', async () => {
    const e500 = await client.chat.completions.create(basic, { headers: { 'x-sim-status': '500' } }).catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(OpenAI.InternalServerError);
    expect((e500 as APIError).type).toBe('server_error');
    const e503 = await client.chat.completions.create(basic, { headers: { 'x-sim-status': '503', 'x-sim-retry-after-s': '2' } }).catch((e: unknown) => e);
    expect(e503).toBeInstanceOf(OpenAI.InternalServerError);
    expect((e503 as APIError).status).toBe(503);
    expect((e503 as APIError).headers?.get('retry-after')).toBe('2');
  });

  it('rejects a prompt over maxInputTokens with context_length_exceeded', async () => {
    const err = await client.chat.completions.create(basic, { headers: { 'x-sim-max-input-tokens': '5' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as APIError;
    expect(e.status).toBe(400);
    expect(e.code).toBe('context_length_exceeded');
    expect(e.type).toBe('invalid_request_error');
    expect(e.param).toBe('messages');
    expect((e.error as { message: string }).message).toMatch(/^This model's maximum context length is 5 tokens\. However, your messages resulted in \d+ tokens\./);
  });

  it('answers missing-* models with 404 model_not_found and bad requests with 400', async () => {
    const nf = await client.chat.completions.create({ ...basic, model: 'missing-model' }).catch((e: unknown) => e);
    expect(nf).toBeInstanceOf(OpenAI.NotFoundError);
    expect((nf as APIError).code).toBe('model_not_found');
    expect(((nf as APIError).error as { message: string }).message).toBe('The model `missing-model` does not exist or you do not have access to it.');
    const bad = await client.chat.completions.create({ model: 'gpt-4o', messages: [] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as APIError).param).toBe('messages');
    const noMessages = await client.post('/chat/completions', { body: { model: 'gpt-4o' } }).catch((e: unknown) => e);
    expect(noMessages).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noMessages as APIError).code).toBe('missing_required_parameter');
  });

  it('takes prompt_cache_key as a string and refuses any other type', async () => {
    const ok = await client.chat.completions.create({ ...basic, prompt_cache_key: 'tenant-1' });
    expect(ok.choices[0]!.message.content).toBeTruthy();
    const bad = await client.post('/chat/completions', { body: { ...basic, prompt_cache_key: 42 } }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as APIError).param).toBe('prompt_cache_key');
    expect((bad as APIError).code).toBe('invalid_type');
  });

  it('reports cached tokens on the second identical long request', async () => {
    const long: ChatCompletionCreateParamsNonStreaming = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: `Cache test ${Date.now()}. ${words(1200)}` },
        { role: 'user', content: 'Summarise the above.' },
      ],
    };
    const first = await client.chat.completions.create(long);
    expect(first.usage!.prompt_tokens).toBeGreaterThanOrEqual(1024);
    expect(first.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    const second = await client.chat.completions.create(long);
    const cached = second.usage!.prompt_tokens_details!.cached_tokens!;
    expect(cached).toBeGreaterThanOrEqual(1024);
    expect(cached % 128).toBe(0);
    expect(cached).toBeLessThanOrEqual(second.usage!.prompt_tokens);
    expect(second.usage!.prompt_tokens).toBe(first.usage!.prompt_tokens);
    // A follow-up turn that extends the conversation reuses the cached prefix; short prompts never cache.
    const follow = await client.chat.completions.create({ ...long, messages: [...long.messages, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'More.' }] });
    expect(follow.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(1024);
    await client.chat.completions.create(basic);
    const short = await client.chat.completions.create(basic);
    expect(short.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
  });

  it('creates deterministic embeddings, honouring dimensions (base64 by SDK default, and float)', async () => {
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hello world', 'goodbye'] });
    expect(res.object).toBe('list');
    expect(res.data).toHaveLength(2);
    expect(res.data[0]!.embedding).toHaveLength(1536);
    expect(res.data[1]!.index).toBe(1);
    expect(res.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    const norm = Math.sqrt(res.data[0]!.embedding.reduce((n, x) => n + x * x, 0));
    expect(norm).toBeCloseTo(1, 4);
    const small = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello world', dimensions: 8, encoding_format: 'float' });
    expect(small.data[0]!.embedding).toHaveLength(8);
    const again = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello world', dimensions: 8, encoding_format: 'float' });
    expect(again.data[0]!.embedding).toEqual(small.data[0]!.embedding);
    const nf = await client.embeddings.create({ model: 'missing-embedder', input: 'x' }).catch((e: unknown) => e);
    expect(nf).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('lists models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain('gpt-4o');
    expect((await client.models.retrieve('gpt-4.1')).id).toBe('gpt-4.1');
  });

  it('surfaces a mid-stream error event as an APIError', async () => {
    const stream = await client.chat.completions.create({ ...basic, stream: true }, { headers: { 'x-sim-error-after-chunks': '2' } });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as APIError).type).toBe('server_error');
    expect(seen.filter(Boolean)).toHaveLength(2);
  });

  it('surfaces a disconnect after N chunks as an SDK error', async () => {
    const stream = await client.chat.completions.create({ ...basic, stream: true }, { headers: { 'x-sim-disconnect-after-chunks': '2' } });
    const err = await collect(stream).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });

  it('ends without [DONE] when omitEndMarker is set', async () => {
    const res = await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sim-omit-end-marker': 'true' },
      body: JSON.stringify({ ...basic, stream: true, stream_options: { include_usage: true } }),
    });
    const raw = await res.text();
    expect(raw).not.toContain('[DONE]');
    expect(raw).toContain('"choices":[]');
  });

  it('counts a client abort in stats.aborted', async () => {
    const before = sim.stats.aborted;
    const aborted = once(sim.events, 'abort');
    const ac = new AbortController();
    const stream = await client.chat.completions.create({ ...basic, stream: true }, { signal: ac.signal, headers: { 'x-sim-chunk-delay-ms': '200' } });
    const err = await (async () => {
      for await (const c of stream) {
        if (c.choices[0]?.delta.content) ac.abort();
      }
    })().catch((e: unknown) => e);
    expect(err === undefined || err instanceof Error).toBe(true);
    await aborted;
    expect(sim.stats.aborted).toBe(before + 1);
  });

  it('serves the path without /v1 and Azure deployments with an api-key header', async () => {
    const bare = new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 0 });
    expect((await bare.chat.completions.create(basic)).object).toBe('chat.completion');

    const keyed = await startSimulator({ protocol: 'openai', port: 0, apiKey: 'azure-secret' });
    try {
      const paths: string[] = [];
      keyed.events.on('request', (r: { path: string; query: URLSearchParams; headers: Record<string, unknown> }) => {
        paths.push(`${r.path}?${r.query.toString()}`);
      });
      const azure = new AzureOpenAI({ endpoint: keyed.url, apiKey: 'azure-secret', apiVersion: '2024-10-21', deployment: 'my-gpt4o', maxRetries: 0 });
      const res = await azure.chat.completions.create({ model: '', messages: [{ role: 'user', content: 'hi' }] });
      expect(res.object).toBe('chat.completion');
      expect(paths[0]).toBe('/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21');
      const wrong = new AzureOpenAI({ endpoint: keyed.url, apiKey: 'nope', apiVersion: '2024-10-21', deployment: 'my-gpt4o', maxRetries: 0 });
      const err = await wrong.chat.completions.create({ model: '', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((err as APIError).code).toBe('invalid_api_key');
      const bearer = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'azure-secret', maxRetries: 0 });
      expect((await bearer.chat.completions.create(basic)).object).toBe('chat.completion');
    } finally {
      await keyed.close();
    }
  });
});
