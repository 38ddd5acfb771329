import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';

const MODEL = 'claude-sonnet-5-5';
const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Get the current weather in a given location',
  input_schema: {
    type: 'object' as const,
    properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
    required: ['location', 'unit'],
  },
};

let sim: Simulator;
let client: Anthropic;

beforeAll(async () => {
  sim = await startSimulator({ protocol: 'anthropic', port: 0 });
  client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: sim.url, maxRetries: 0 });
});

afterAll(async () => {
  await sim.close();
});

/** Raw SSE events (name + parsed data) of a streamed request, read with fetch. */
async function rawEvents(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Array<{ event: string; data: Record<string, unknown> }>> {
  const res = await fetch(`${sim.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((f) => f.trim() !== '')
    .map((frame) => {
      const lines = frame.split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^event: /);
      expect(lines[1]).toMatch(/^data: /);
      const event = lines[0]!.slice('event: '.length);
      const data = JSON.parse(lines[1]!.slice('data: '.length)) as Record<string, unknown>;
      expect(data.type).toBe(event);
      return { event, data };
    });
}

describe('anthropic simulator driven by @anthropic-ai/sdk', () => {
  it('answers a non-streaming request with a message object', async () => {
    const msg = await client.messages.create({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'Hello there' }] });
    expect(msg.id).toMatch(/^msg_01[0-9A-Za-z]{22}$/);
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
    expect(msg.model).toBe(MODEL);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.stop_sequence).toBeNull();
    expect(msg.content).toHaveLength(1);
    const block = msg.content[0]!;
    expect(block.type).toBe('text');
    expect(block.type === 'text' && block.text.length).toBeGreaterThan(0);
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
    expect(msg.usage.cache_creation_input_tokens).toBe(0);
    expect(msg.usage.cache_read_input_tokens).toBe(0);

    const again = await client.messages.create({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'Hello there' }] });
    expect(again.content).toEqual(msg.content);
  });

  it('sends request-id and rate-limit headers', async () => {
    const { response } = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.headers.get('request-id')).toMatch(/^req_011C/);
    expect(response.headers.get('anthropic-ratelimit-requests-limit')).toMatch(/^\d+$/);
    expect(response.headers.get('anthropic-ratelimit-tokens-reset')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('streams text whose deltas and usage equal the non-streamed reply', async () => {
    const params = { model: MODEL, max_tokens: 512, system: 'Be brief.', messages: [{ role: 'user' as const, content: 'Tell me about routing' }] };
    const plain = await client.messages.create(params);

    const stream = client.messages.stream(params, { headers: { 'x-sim-chunk-count': '4' } });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();

    expect(deltas.length).toBe(4);
    const plainText = plain.content[0]!.type === 'text' ? plain.content[0]!.text : '';
    expect(deltas.join('')).toBe(plainText);
    expect(final.content).toEqual(plain.content);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.input_tokens).toBe(plain.usage.input_tokens);
    expect(final.usage.output_tokens).toBe(plain.usage.output_tokens);
    expect(final.usage.cache_read_input_tokens).toBe(0);
  });

  it('frames events in the documented order with event: lines', async () => {
    const events = await rawEvents({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'order please' }] }, { 'x-sim-chunk-count': '3' });
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const start = events[0]!.data.message as { usage: { input_tokens: number }; stop_reason: unknown; content: unknown[] };
    expect(start.stop_reason).toBeNull();
    expect(start.content).toEqual([]);
    const delta = events[7]!.data as { delta: { stop_reason: string }; usage: { output_tokens: number; input_tokens: number } };
    expect(delta.delta.stop_reason).toBe('end_turn');
    expect(delta.usage.input_tokens).toBe(start.usage.input_tokens);
  });

  it('streams a tool call whose input arrives in several input_json_delta fragments', async () => {
    const params = {
      model: MODEL,
      max_tokens: 512,
      tools: [WEATHER_TOOL],
      messages: [{ role: 'user' as const, content: "What's the weather in Paris? Use the tool." }],
    };
    const plain = await client.messages.create(params);
    expect(plain.stop_reason).toBe('tool_use');
    const plainCall = plain.content.find((b) => b.type === 'tool_use');
    expect(plainCall?.type === 'tool_use' && plainCall.id).toMatch(/^toolu_01[0-9A-Za-z]{22}$/);

    const fragments: string[] = [];
    const stream = await client.messages.create({ ...params, stream: true });
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') fragments.push(event.delta.partial_json);
    }
    expect(fragments.filter((f) => f !== '').length).toBeGreaterThan(1);
    const input = JSON.parse(fragments.join('')) as { location: unknown; unit: unknown };
    expect(typeof input.location).toBe('string');
    expect(['celsius', 'fahrenheit']).toContain(input.unit);
    expect(plainCall?.type === 'tool_use' && plainCall.input).toEqual(input);

    const final = await client.messages.stream(params).finalMessage();
    const call = final.content.find((b) => b.type === 'tool_use');
    expect(call?.type === 'tool_use' && call.name).toBe('get_weather');
    expect(call?.type === 'tool_use' && call.input).toEqual(input);
    expect(final.usage.output_tokens).toBe(plain.usage.output_tokens);
  });

  it('honours tool_choice any / tool / none and answers a tool result', async () => {
    const other = { name: 'get_time', description: 'time', input_schema: { type: 'object' as const, properties: { zone: { type: 'string' } } } };
    const forced = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      tools: [WEATHER_TOOL, other],
      tool_choice: { type: 'tool', name: 'get_time' },
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(forced.content.map((b) => (b.type === 'tool_use' ? b.name : b.type))).toEqual(['get_time']);

    const any = await client.messages.create({ model: MODEL, max_tokens: 100, tools: [WEATHER_TOOL], tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Hello' }] });
    expect(any.stop_reason).toBe('tool_use');

    const none = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      tool_choice: { type: 'none' },
      messages: [{ role: 'user', content: 'Use the get_weather tool' }],
    });
    expect(none.stop_reason).toBe('end_turn');

    const call = any.content.find((b) => b.type === 'tool_use');
    const result = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: any.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call?.type === 'tool_use' ? call.id : '', content: '18°C, clear' }] },
      ],
    });
    expect(result.stop_reason).toBe('end_turn');
    expect(result.content[0]?.type === 'text' && result.content[0].text).toContain('18°C, clear');
  });

  it('answers output_config json_schema with JSON text following the schema', async () => {
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 200,
      output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'integer' } }, required: ['city', 'temp'], additionalProperties: false } } },
      messages: [{ role: 'user', content: 'Weather in Rome as JSON' }],
    });
    const text = msg.content[0]?.type === 'text' ? msg.content[0].text : '';
    const parsed = JSON.parse(text) as { city: unknown; temp: unknown };
    expect(typeof parsed.city).toBe('string');
    expect(Number.isInteger(parsed.temp)).toBe(true);
  });

  it('stops at max_tokens and at stop sequences', async () => {
    const cut = await client.messages.create({ model: MODEL, max_tokens: 3, messages: [{ role: 'user', content: 'a long answer please' }] }, { headers: { 'x-sim-reply-words': '30' } });
    expect(cut.stop_reason).toBe('max_tokens');
    expect(cut.usage.output_tokens).toBe(3);

    const full = await client.messages.create({ model: MODEL, max_tokens: 200, messages: [{ role: 'user', content: 'stop here' }] });
    const text = full.content[0]?.type === 'text' ? full.content[0].text : '';
    const word = text.split(' ')[2]!;
    const stopped = await client.messages.create({ model: MODEL, max_tokens: 200, stop_sequences: [word], messages: [{ role: 'user', content: 'stop here' }] });
    expect(stopped.stop_reason).toBe('stop_sequence');
    expect(stopped.stop_sequence).toBe(word);
    expect(text.startsWith(stopped.content[0]?.type === 'text' ? stopped.content[0].text : '?')).toBe(true);
  });

  it('maps an injected 429 to RateLimitError with retry-after and rate-limit headers', async () => {
    const err = await client.messages
      .create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-sim-status': '429', 'x-sim-retry-after-s': '7' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.type).toBe('rate_limit_error');
    expect(e.headers?.get('retry-after')).toBe('7');
    expect(e.headers?.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(e.requestID).toMatch(/^req_/);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });

  it('maps an injected 529 to OverloadedError (an InternalServerError)', async () => {
    const err = await client.messages
      .create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-sim-status': '529', 'x-sim-retry-after-s': '2' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(err).toBeInstanceOf(Anthropic.OverloadedError);
    const e = err as InstanceType<typeof Anthropic.OverloadedError>;
    expect(e.status).toBe(529);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(e.headers?.get('retry-after')).toBe('2');
  });

  it('rejects a prompt over maxInputTokens with the context-length error', async () => {
    const err = await client.messages
      .create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }] }, { headers: { 'x-sim-max-input-tokens': '5' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const e = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(e.type).toBe('invalid_request_error');
    expect(e.apiMessage).toMatch(/^prompt is too long: \d+ tokens > 5 maximum$/);
  });

  it('rejects a request without max_tokens or messages, and a missing- model', async () => {
    const noMax = await client.messages.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(noMax).toBeInstanceOf(Anthropic.BadRequestError);
    expect((noMax as InstanceType<typeof Anthropic.BadRequestError>).apiMessage).toBe('max_tokens: Field required');

    const noMessages = await client.messages.create({ model: MODEL, max_tokens: 5, messages: [] }).catch((e: unknown) => e);
    expect(noMessages).toBeInstanceOf(Anthropic.BadRequestError);

    const missing = await client.messages.create({ model: 'missing-claude', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: 'model: missing-claude' } });
  });

  it('reports a cache write, then a cache read, for a cache_control-marked prefix', async () => {
    const system = [{ type: 'text' as const, text: `You are the caching test bot. ${'Long shared instructions. '.repeat(40)}`, cache_control: { type: 'ephemeral' as const } }];
    const params = { model: MODEL, max_tokens: 50, system, messages: [{ role: 'user' as const, content: 'first question' }] };
    const first = await client.messages.create(params);
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(100);
    expect(first.usage.cache_read_input_tokens).toBe(0);
    expect(first.usage.cache_creation?.ephemeral_5m_input_tokens).toBe(first.usage.cache_creation_input_tokens);

    const second = await client.messages.stream(params).finalMessage();
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(second.usage.cache_creation_input_tokens).toBe(0);
    // input_tokens excludes cached tokens: only the uncached suffix.
    expect(second.usage.input_tokens).toBe(first.usage.input_tokens);
    expect(second.usage.input_tokens).toBeLessThan(10);

    const plain = await client.messages.create({ ...params, system: [{ type: 'text', text: system[0]!.text }] });
    expect(plain.usage.input_tokens).toBe(first.usage.input_tokens + first.usage.cache_creation_input_tokens!);
  });

  it('refuses more than four cache breakpoints, counting the top-level one', async () => {
    const marked = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'text' as const, text: `part ${i}`, cache_control: { type: 'ephemeral' as const } }));
    const four = await client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: marked(4) }] });
    expect(four.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    const five = await client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: marked(5) }] }).catch((e: unknown) => e);
    expect(five).toBeInstanceOf(Anthropic.BadRequestError);
    expect((five as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ error: { type: 'invalid_request_error', message: 'A maximum of 4 blocks with cache_control may be provided. Found 5.' } });
    const auto = await client.messages
      .create({ model: MODEL, max_tokens: 5, cache_control: { type: 'ephemeral' }, messages: [{ role: 'user', content: marked(4) }] } as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(auto).toBeInstanceOf(Anthropic.BadRequestError);
  });

  it('forgets a cached prefix 5 minutes after its last use (1 hour with ttl 1h)', async () => {
    let now = 1_000_000;
    const timed = await startSimulator({ protocol: 'anthropic', port: 0, now: () => now });
    try {
      const c = new Anthropic({ apiKey: 'k', baseURL: timed.url, maxRetries: 0 });
      const ask = (ttl: '5m' | '1h') =>
        c.messages.create({ model: MODEL, max_tokens: 5, system: [{ type: 'text', text: `ttl ${ttl} ${'instructions '.repeat(30)}`, cache_control: { type: 'ephemeral', ttl } }], messages: [{ role: 'user', content: 'q' }] });
      const kind = async (ttl: '5m' | '1h') => ((await ask(ttl)).usage.cache_read_input_tokens! > 0 ? 'read' : 'write');
      expect([await kind('5m'), await kind('1h')]).toEqual(['write', 'write']);
      now += 4 * 60_000;
      expect([await kind('5m'), await kind('1h')]).toEqual(['read', 'read']);
      // 4 minutes after that read: still within 5 minutes of the last use.
      now += 4 * 60_000;
      expect(await kind('5m')).toBe('read');
      now += 5 * 60_000 + 1;
      expect([await kind('5m'), await kind('1h')]).toEqual(['write', 'read']);
      now += 60 * 60_000 + 1;
      expect(await kind('1h')).toBe('write');
    } finally {
      await timed.close();
    }
  });

  it('surfaces a mid-stream error event as an SDK error', async () => {
    const stream = await client.messages.create(
      { model: MODEL, max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'stream then fail' }] },
      { headers: { 'x-sim-error-after-chunks': '2' } },
    );
    const seen: string[] = [];
    const err = await (async () => {
      for await (const event of stream) seen.push(event.type);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).type).toBe('overloaded_error');
    expect(seen.filter((t) => t === 'content_block_delta')).toHaveLength(2);
    expect(seen).not.toContain('message_stop');

    const raw = await rawEvents({ model: MODEL, max_tokens: 200, messages: [{ role: 'user', content: 'stream then fail' }] }, { 'x-sim-error-after-chunks': '1' });
    expect(raw.at(-1)).toEqual({ event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
  });

  it('surfaces a disconnect after N chunks as an SDK error', async () => {
    const stream = client.messages.stream({ model: MODEL, max_tokens: 200, messages: [{ role: 'user', content: 'cut me off' }] }, { headers: { 'x-sim-disconnect-after-chunks': '3' } });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(deltas).toHaveLength(3);
  });

  it('ends without message_stop when omitEndMarker is set', async () => {
    const events = await rawEvents({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'no end' }] }, { 'x-sim-omit-end-marker': 'true' });
    expect(events.at(-1)?.event).toBe('message_delta');
  });

  it('counts a client abort in stats.aborted', async () => {
    const before = sim.stats.aborted;
    const controller = new AbortController();
    const stream = await client.messages.create(
      { model: MODEL, max_tokens: 500, stream: true, messages: [{ role: 'user', content: 'slow stream' }] },
      { headers: { 'x-sim-chunk-delay-ms': '50', 'x-sim-reply-words': '60' }, signal: controller.signal },
    );
    for await (const event of stream) {
      if (event.type === 'content_block_delta') {
        controller.abort();
        break;
      }
    }
    await vi.waitFor(() => expect(sim.stats.aborted).toBe(before + 1), { timeout: 5000 });
  });

  it('checks the API key as x-api-key or Authorization: Bearer when one is configured', async () => {
    const locked = await startSimulator({ protocol: 'anthropic', port: 0, apiKey: 'right-key' });
    try {
      const bad = await new Anthropic({ apiKey: 'wrong-key', baseURL: locked.url, maxRetries: 0 }).messages
        .create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(Anthropic.AuthenticationError);
      expect((bad as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });

      const ok = await new Anthropic({ apiKey: 'right-key', baseURL: locked.url, maxRetries: 0 }).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      expect(ok.type).toBe('message');
      const bearer = await new Anthropic({ apiKey: null, authToken: 'right-key', baseURL: locked.url, maxRetries: 0 }).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      expect(bearer.type).toBe('message');
    } finally {
      await locked.close();
    }
  });

  it('serves count_tokens and models', async () => {
    const params = { model: MODEL, messages: [{ role: 'user' as const, content: 'count these tokens' }] };
    const counted = await client.messages.countTokens(params);
    const msg = await client.messages.create({ ...params, max_tokens: 10 });
    expect(counted.input_tokens).toBe(msg.usage.input_tokens);
    const models = await client.models.list();
    expect(models.data.length).toBeGreaterThan(0);
  });
});
