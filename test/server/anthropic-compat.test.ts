import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';

/**
 * The Anthropic Messages API (`/v1/messages`) driven by the official @anthropic-ai/sdk against routes whose
 * only target speaks Anthropic, OpenAI or Gemini: the same answers, events and errors whatever answered.
 */

const ADMIN = 'sk-admin-0123456789abcdef';
const CLIENT = 'sk-client-0123456789abcdef';

let stack: Stack;
let client: Anthropic;

beforeAll(async () => {
  stack = await startStack((c) => {
    c.keys = [
      { key: ADMIN, name: 'ops', scope: 'admin' },
      { key: CLIENT, name: 'frontend', scope: 'client', routes: ['default'] },
    ];
    c.routes = [
      ...(c.routes ?? []),
      { name: 'via-anthropic', targets: [{ provider: 'sim-anthropic', model: 'claude-haiku-4-5' }] },
      { name: 'via-openai', targets: [{ provider: 'sim-openai', model: 'gpt-4o-mini' }] },
      { name: 'via-gemini', targets: [{ provider: 'sim-gemini', model: 'gemini-2.5-flash' }] },
      {
        name: 'all-three',
        maxAttempts: 3,
        targets: [
          { provider: 'sim-openai', model: 'gpt-4o-mini' },
          { provider: 'sim-anthropic', model: 'claude-haiku-4-5' },
          { provider: 'sim-gemini', model: 'gemini-2.5-flash' },
        ],
      },
    ];
  });
  client = new Anthropic({ apiKey: ADMIN, baseURL: stack.url, maxRetries: 0 });
});
afterAll(() => stack.close());

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const TARGETS = [
  { route: 'via-anthropic', provider: 'sim-anthropic', model: 'claude-haiku-4-5' },
  { route: 'via-openai', provider: 'sim-openai', model: 'gpt-4o-mini' },
  { route: 'via-gemini', provider: 'sim-gemini', model: 'gemini-2.5-flash' },
] as const;

describe.each(TARGETS)('/v1/messages on a route to $provider', ({ route, provider, model }) => {
  it('answers messages.create with an Anthropic message and the gateway headers', async () => {
    const { data, response } = await client.messages
      .create({ model: route, max_tokens: 200, system: 'You are terse.', messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse();
    expect(data.id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(data.type).toBe('message');
    expect(data.role).toBe('assistant');
    expect(data.model).toBe(model);
    expect(data.content).toHaveLength(1);
    expect(data.content[0]!.type).toBe('text');
    expect((data.content[0] as Anthropic.TextBlock).text).toMatch(/\w+/);
    expect(data.stop_reason).toBe('end_turn');
    expect(data.stop_sequence).toBeNull();
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    expect(data.usage.cache_read_input_tokens).toBe(0);
    expect(data.usage.cache_creation_input_tokens).toBe(0);
    expect(response.headers.get('x-switchboard-provider')).toBe(provider);
    expect(response.headers.get('x-switchboard-model')).toBe(model);
    expect(response.headers.get('x-switchboard-route')).toBe(route);
    expect(response.headers.get('x-switchboard-attempts')).toBe('1');
    expect(response.headers.get('x-request-id')).toMatch(/\S+/);
    expect(response.headers.get('x-switchboard-cost-usd')).toMatch(/^[\d.e-]+$/);
  });

  it('streams with messages.stream: text events add up to finalMessage(), which equals the non-streamed answer', async () => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'tell me about gateways' }];
    const whole = await client.messages.create({ model: route, max_tokens: 200, messages });
    const stream = client.messages.stream({ model: route, max_tokens: 200, messages });
    let text = '';
    let deltas = 0;
    stream.on('text', (delta) => {
      text += delta;
      deltas++;
    });
    const final = await stream.finalMessage();
    expect(deltas).toBeGreaterThan(1);
    expect(final.content).toHaveLength(1);
    expect((final.content[0] as Anthropic.TextBlock).text).toBe(text);
    expect(text).toBe((whole.content[0] as Anthropic.TextBlock).text);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.model).toBe(model);
    expect(final.usage.output_tokens).toBe(whole.usage.output_tokens);
    expect(final.usage.input_tokens).toBe(whole.usage.input_tokens);
  });

  it('makes a tool-use round trip, streamed and not', async () => {
    const ask: Anthropic.MessageParam = { role: 'user', content: 'what is the weather in Paris? use get_weather' };
    const first = await client.messages.create({ model: route, max_tokens: 200, tools: [weather], messages: [ask] });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(use.name).toBe('get_weather');
    expect(use.input).toEqual({ city: expect.any(String) });
    expect(use.id).toMatch(/\S+/);

    const streamed = await client.messages.stream({ model: route, max_tokens: 200, tools: [weather], messages: [ask] }).finalMessage();
    expect(streamed.stop_reason).toBe('tool_use');
    const streamedUse = streamed.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(streamedUse.input).toEqual(use.input);

    const second = await client.messages.create({
      model: route,
      max_tokens: 200,
      tools: [weather],
      messages: [ask, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C and clear' }] }],
    });
    expect(second.stop_reason).toBe('end_turn');
    expect((second.content[0] as Anthropic.TextBlock).text).toContain('18°C and clear');
  });

  it('counts tokens with countTokens, more for a longer prompt', async () => {
    const short = await client.messages.countTokens({ model: route, messages: [{ role: 'user', content: 'hi' }] });
    const long = await client.messages.countTokens({ model: route, system: 'Be brief.', tools: [weather], messages: [{ role: 'user', content: 'hi '.repeat(200) }] });
    expect(short.input_tokens).toBeGreaterThan(0);
    expect(long.input_tokens).toBeGreaterThan(short.input_tokens + 100);
  });

  it('takes images as base64 and as a URL', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da636060f80f0000010100005018d84d0000000049454e44ae426082', 'hex').toString('base64');
    const res = await client.messages.create({
      model: route,
      max_tokens: 100,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
            { type: 'text', text: 'describe these' },
          ],
        },
      ],
    });
    expect(res.content[0]!.type).toBe('text');
  });
});

describe('/v1/messages: the wire format itself', () => {
  it('sends Anthropic event names and order, each event line matching its data type', async () => {
    const r = await stack.post('/v1/messages', { model: 'via-openai', max_tokens: 100, stream: true, tools: [weather], messages: [{ role: 'user', content: 'call get_weather for Rome' }] }, { 'x-api-key': ADMIN, 'anthropic-version': '2023-06-01' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    const frames = r.text.split('\n\n').filter(Boolean).map((f) => {
      const [ev, data] = f.split('\n');
      return { event: ev!.replace(/^event: /, ''), data: JSON.parse(data!.replace(/^data: /, '')) };
    });
    for (const f of frames) expect(f.data.type).toBe(f.event);
    const names = frames.map((f) => f.event);
    expect(names.slice(0, 3)).toEqual(['message_start', 'ping', 'content_block_start']);
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(frames[2]!.data.content_block).toMatchObject({ type: 'tool_use', name: 'get_weather', input: {} });
    const json = frames.filter((f) => f.event === 'content_block_delta').map((f) => f.data.delta.partial_json).join('');
    expect(JSON.parse(json)).toEqual({ city: 'Rome' });
    expect(frames.at(-2)!.data).toMatchObject({ delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: expect.any(Number), input_tokens: expect.any(Number) } });
  });

  it('accepts the key as Authorization: Bearer (the SDK authToken) as well as x-api-key', async () => {
    const bearer = new Anthropic({ authToken: ADMIN, apiKey: null, baseURL: stack.url, maxRetries: 0 });
    const res = await bearer.messages.create({ model: 'via-anthropic', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } });
    expect(res.type).toBe('message');
  });

  it('reports cache reads on the second call with cache_control on system blocks', async () => {
    const system: Anthropic.TextBlockParam[] = [{ type: 'text', text: `A long and stable system prompt ${'about routing '.repeat(60)}`, cache_control: { type: 'ephemeral' } }];
    const params = { model: 'via-anthropic', max_tokens: 50, system, messages: [{ role: 'user' as const, content: 'first question' }] };
    const first = await client.messages.create(params);
    const second = await client.messages.create({ ...params, messages: [{ role: 'user', content: 'second question' }] });
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(100);
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(second.usage.cache_creation_input_tokens).toBe(0);
    // input_tokens excludes the cached part, as Anthropic's does.
    expect(second.usage.input_tokens).toBeLessThan(50);
  });
});

describe('/v1/messages errors', () => {
  it('refuses an unknown top-level field by name with a 400 BadRequestError', async () => {
    const err = await client.messages.create({ model: 'via-openai', max_tokens: 50, messages: [{ role: 'user', content: 'x' }], frobnicate: true } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const e = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('frobnicate') } });
  });

  it('names the field of a bad value and requires max_tokens', async () => {
    const missing = await stack.post('/v1/messages', { model: 'via-openai', messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': ADMIN });
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });
    const role = await stack.post('/v1/messages', { model: 'via-openai', max_tokens: 10, messages: [{ role: 'system', content: 'x' }] }, { 'x-api-key': ADMIN });
    expect(role.json.error.message).toMatch(/^messages\[0\]\.role: .*top-level `system`/);
  });

  it('refuses a PDF document block, naming the block', async () => {
    const err = await client.messages
      .create({ model: 'via-anthropic', max_tokens: 50, messages: [{ role: 'user', content: [{ type: 'text', text: 'summarize' }, { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }] }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toContain('messages[0].content[1]: document blocks');
  });

  it('maps auth, permission and not-found to the SDK classes, never echoing the key', async () => {
    const anon = new Anthropic({ apiKey: 'sk-wrong-0000000000000000', baseURL: stack.url, maxRetries: 0 });
    const authErr = await anon.messages.create({ model: 'default', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(authErr).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(JSON.stringify((authErr as { error: unknown }).error)).not.toContain('sk-wrong');
    const none = await stack.post('/v1/messages', { model: 'default', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    expect(none.status).toBe(401);
    expect(none.json.error).toMatchObject({ type: 'authentication_error', message: expect.stringContaining('x-api-key') });

    const limited = new Anthropic({ apiKey: CLIENT, baseURL: stack.url, maxRetries: 0 });
    const denied = await limited.messages.create({ model: 'via-openai', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);

    const notFound = await client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(Anthropic.NotFoundError);
    expect((notFound as { error: { error: { type: string } } }).error.error.type).toBe('not_found_error');
  });

  it('fails over invisibly before the first event, streamed and not', async () => {
    stack.sims.openai.setFaults({ status: 503 });
    try {
      const { data, response } = await client.messages.create({ model: 'default', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      expect(data.content[0]!.type).toBe('text');
      expect(response.headers.get('x-switchboard-provider')).toBe('sim-anthropic');
      expect(response.headers.get('x-switchboard-attempts')).toBe('2');

      const stream = client.messages.stream({ model: 'default', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
      const final = await stream.finalMessage();
      expect(final.model).toBe('claude-haiku-4-5');
      expect((final.content[0] as Anthropic.TextBlock).text).toBe((data.content[0] as Anthropic.TextBlock).text);
    } finally {
      stack.sims.openai.setFaults({});
    }
  });

  it('answers 529 overloaded_error with retry-after when every target is overloaded', async () => {
    for (const s of [stack.sims.openai, stack.sims.anthropic, stack.sims.gemini]) s.setFaults({ status: 503, retryAfterS: 3 });
    try {
      for (const stream of [false, true]) {
        const err = await client.messages.create({ model: 'all-three', max_tokens: 50, stream, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Anthropic.OverloadedError);
        const e = err as InstanceType<typeof Anthropic.OverloadedError>;
        expect(e.status).toBe(529);
        expect(e.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
        expect(Number(e.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(e.headers?.get('x-switchboard-attempts')).toBe('3');
        expect(e.headers?.get('x-switchboard-attempt-log')).toMatch(/sim-openai.*overloaded.*sim-anthropic.*overloaded.*sim-gemini.*overloaded/);
      }
    } finally {
      for (const s of [stack.sims.openai, stack.sims.anthropic, stack.sims.gemini]) s.setFaults({});
    }
  });

  it('ends a stream that fails after its first event with an error event, never a silent stop', async () => {
    stack.sims.gemini.setFaults({ errorAfterChunks: 2, replyWords: 20 });
    try {
      const stream = client.messages.stream({ model: 'via-gemini', max_tokens: 100, messages: [{ role: 'user', content: 'a long answer please' }] });
      let text = '';
      stream.on('text', (d) => (text += d));
      const err = await stream.finalMessage().catch((e: unknown) => e);
      expect(text.length).toBeGreaterThan(0);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: expect.stringMatching(/_error$/) } });
      const raw = await stack.post('/v1/messages', { model: 'via-gemini', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'a long answer please' }] }, { 'x-api-key': ADMIN });
      expect(raw.status).toBe(200);
      expect(raw.text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"\w+_error"/);
      expect(raw.text).not.toContain('message_stop');
    } finally {
      stack.sims.gemini.setFaults({});
    }
  });
});
