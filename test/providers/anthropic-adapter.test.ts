import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { collectStream, type ChatRequest, type StreamPart } from '../../src/core/index.ts';
import { createAnthropicAdapter } from '../../src/providers/anthropic/index.ts';
import { finishReasonOf } from '../../src/providers/anthropic/response.ts';
import type { AdapterConfig, CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { startReplayServer, type Replay, type ReplayServer } from '../helpers/replay-server.ts';
import { drain, errorOf, rejection, terminal } from '../helpers/stream-contract.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/anthropic/${name}`, import.meta.url), 'utf8');
/** One write per SSE event, so the parser sees the real event boundaries. */
const events = (name: string) => fixture(name).split(/(?<=\n\n)/).filter(Boolean);

const KEY = 'sk-ant-test-secret-key';
const REQ_ID = 'req_018EeWyXxfu5pfWkrYcMdjWG';
const TIMEOUTS = { connectMs: 2_000, firstByteMs: 2_000, idleMs: 2_000, totalMs: 10_000 };
const OPTS: CallOptions = { model: 'claude-sonnet-4-5', capabilities: ['tools', 'json_schema', 'vision', 'streaming'] };
const HELLO: ChatRequest = { messages: [{ role: 'user', content: 'Hello, how are you?' }] };

const json = (name: string, status = 200, headers: Record<string, string> = {}): Replay => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  chunks: [fixture(name)],
});
const stream = (name: string, headers: Record<string, string> = {}): Replay => ({
  headers: { 'content-type': 'text/event-stream', ...headers },
  chunks: events(name),
});

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

async function setup(
  handler: (n: number) => Replay,
  config: Partial<AdapterConfig> = {},
): Promise<{ server: ReplayServer; adapter: ProviderAdapter }> {
  let n = 0;
  const server = await startReplayServer(() => handler(n++));
  const adapter = createAnthropicAdapter({ id: 'anthropic-test', baseUrl: server.url, apiKey: KEY, timeouts: TIMEOUTS, ...config });
  cleanup.push(() => adapter.close(), () => server.close());
  return { server, adapter };
}

describe('anthropic adapter: replies', () => {
  it('generate maps a text message, its usage and the request-id header', async () => {
    const { server, adapter } = await setup(() => json('text.json', 200, { 'request-id': REQ_ID }));
    const res = await adapter.generate(HELLO, OPTS);
    expect(res).toEqual({
      text: "Hello! I'm doing well, thanks for asking. How are you doing today? Is there anything I can help you with?",
      toolCalls: [],
      finishReason: 'stop',
      rawFinishReason: 'end_turn',
      usage: { inputTokens: 12, outputTokens: 29, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      model: 'claude-sonnet-4-5-20250929',
      providerRequestId: REQ_ID,
    });
    const sent = server.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(KEY);
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers['anthropic-beta']).toBeUndefined();
    expect(sent.json).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello, how are you?' }] }],
    });
  });

  it('falls back to the message id without a request-id header, and to defaultMaxOutputTokens', async () => {
    const { server, adapter } = await setup(() => json('text.json'));
    const res = await adapter.generate(HELLO, { ...OPTS, defaultMaxOutputTokens: 900 });
    expect(res.providerRequestId).toBe('msg_01VdEjxAP5ahtHKrrRdNBteQ');
    expect((server.requests[0]!.json as { max_tokens: number }).max_tokens).toBe(900);
  });

  it('streams text: start first, deltas in order, one finish with cumulative usage', async () => {
    const { server, adapter } = await setup(() => stream('text.sse', { 'request-id': REQ_ID }));
    const parts = await drain(adapter.stream(HELLO, OPTS));
    expect(parts[0]).toEqual({ type: 'start', providerRequestId: REQ_ID });
    expect(parts.filter((p) => p.type === 'start')).toHaveLength(1);
    expect(parts.filter((p) => p.type === 'text-delta').map((p) => p.type === 'text-delta' && p.text)).toEqual([
      'Hello',
      '! I',
      "'m doing well, thank you for asking",
      '. How are you doing today?',
      ' Is',
      ' there anything I can help you with?',
    ]);
    expect(terminal(parts)).toEqual({
      type: 'finish',
      finishReason: 'stop',
      rawFinishReason: 'end_turn',
      usage: { inputTokens: 12, outputTokens: 30, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      model: 'claude-sonnet-4-5-20250929',
      providerRequestId: REQ_ID,
    });
    expect((server.requests[0]!.json as { stream: boolean }).stream).toBe(true);
    expect(server.requests[0]!.headers.accept).toBe('text/event-stream');
  });

  it('streams a tool call whose arguments arrive in fragments, indexed by tool ordinal', async () => {
    const { adapter } = await setup(() => stream('tool.sse'));
    const parts = await drain(adapter.stream(HELLO, OPTS));
    // The tool_use is content block 1 but the first tool call, so index 0; "" fragments carry nothing.
    expect(parts.filter((p) => p.type === 'tool-call-delta')).toEqual([
      { type: 'tool-call-delta', index: 0, id: 'toolu_01DBsB4vvYLnBDzZ5rBSxSLs', name: 'test-tool', argumentsDelta: '' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '{"value' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '":' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '"Spark' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: 'le' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: ' Day"}' },
    ]);
    expect(terminal(parts)).toMatchObject({ type: 'finish', finishReason: 'tool_calls', rawFinishReason: 'tool_use' });
  });

  it('streamed and non-streamed forms of the same replies are equal', async () => {
    for (const name of ['tool', 'thinking-tools', 'cache']) {
      const { adapter } = await setup((n) => (n === 0 ? json(`${name}.json`) : stream(`${name}.sse`)));
      const generated = await adapter.generate(HELLO, OPTS);
      const collected = await collectStream(adapter.stream(HELLO, OPTS));
      expect(collected, name).toEqual(generated);
    }
  });

  it('keeps thinking as reasoning with its signature, numbers several tool calls 0, 1 and gives an argument-less call {}', async () => {
    const { adapter } = await setup(() => stream('thinking-tools.sse'));
    const parts = await drain(adapter.stream(HELLO, OPTS));
    const signature = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds';
    expect(parts.filter((p) => p.type === 'reasoning-delta')).toEqual([
      { type: 'reasoning-delta', text: 'Two lookups ', index: 0, provider: 'anthropic' },
      { type: 'reasoning-delta', text: 'needed.', index: 0, provider: 'anthropic' },
      // signature_delta closes the block: it is what lets the turn go back to Anthropic.
      { type: 'reasoning-delta', text: '', index: 0, provider: 'anthropic', signature },
    ]);
    const res = await collectStream(adapter.stream(HELLO, OPTS));
    expect(res.reasoning).toBe('Two lookups needed.');
    expect(res.reasoningParts).toEqual([{ text: 'Two lookups needed.', signature, provider: 'anthropic' }]);
    expect(res.toolCalls).toEqual([
      { id: 'toolu_01A', name: 'get_weather', arguments: '{"location":"Paris"}' },
      { id: 'toolu_01B', name: 'get_time', arguments: '{}' },
    ]);
    expect(res.text).toBe('Checking both.');
    expect(res.usage).toEqual({ inputTokens: 50, outputTokens: 80, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 12 });
  });

  it('keeps streamed argument text exactly as sent, skipping pings between fragments', async () => {
    const { adapter } = await setup(() => stream('json-tool.sse'));
    const res = await collectStream(adapter.stream(HELLO, OPTS));
    expect(res.toolCalls).toEqual([
      {
        id: 'toolu_01KFbKqPYSuAKujiL6mTfzYA',
        name: 'json',
        arguments: '{"elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]}',
      },
    ]);
    expect(res.usage.inputTokens).toBe(849);
    expect(res.usage.outputTokens).toBe(47);
  });

  it('generate serializes tool_use input once (an argument-less call is {})', async () => {
    const { adapter } = await setup(() => json('tool-no-args.json'));
    const res = await adapter.generate(HELLO, OPTS);
    expect(res.toolCalls).toEqual([{ id: 'toolu_01LRmxn9vGM1d2DZSDBowdZ1', name: 'updateIssueList', arguments: '{}' }]);
    expect(res.finishReason).toBe('tool_calls');
    expect(res.text).toMatch(/^<thinking>/);
  });

  it('adds cache reads and writes back into inputTokens', async () => {
    const { adapter } = await setup((n) => (n === 0 ? json('cache.json') : stream('cache.sse')));
    const expected = { inputTokens: 6 + 3337 + 6289, outputTokens: 198, cachedInputTokens: 6289, cacheWriteTokens: 3337, reasoningTokens: 0 };
    expect((await adapter.generate(HELLO, OPTS)).usage).toEqual(expected);
    expect((await collectStream(adapter.stream(HELLO, OPTS))).usage).toEqual(expected);
  });

  it('maps every stop_reason; unknown ones are a stop that keeps the raw value', () => {
    const table: Record<string, string> = {
      end_turn: 'stop',
      stop_sequence: 'stop',
      pause_turn: 'stop',
      max_tokens: 'length',
      model_context_window_exceeded: 'length',
      tool_use: 'tool_calls',
      refusal: 'content_filter',
      compaction: 'stop',
    };
    for (const [raw, unified] of Object.entries(table)) expect(finishReasonOf(raw)).toEqual({ finishReason: unified, rawFinishReason: raw });
  });
});

describe('anthropic adapter: errors', () => {
  it('429 → rate_limited with retryAfterMs from retry-after, for generate and stream', async () => {
    const { adapter } = await setup(() => json('error-429.json', 429, { 'retry-after': '7' }));
    for (const err of [await rejection(adapter.generate(HELLO, OPTS)), errorOf(await drain(adapter.stream(HELLO, OPTS)))]) {
      expect(err).toMatchObject({ kind: 'rate_limited', retryAfterMs: 7000, retryable: true, status: 429, provider: 'anthropic-test' });
      expect(err.providerCode).toBe('rate_limit_error');
    }
  });

  it('a spend-limit 429 is rate_limited but not retryable', async () => {
    const body = { type: 'error', error: { type: 'rate_limit_error', message: 'spend limit reached', details: { error_code: 'enforced_spend_limit_reached' } } };
    const { adapter } = await setup(() => ({ status: 429, headers: { 'content-type': 'application/json' }, chunks: [JSON.stringify(body)] }));
    expect(await rejection(adapter.generate(HELLO, OPTS))).toMatchObject({ kind: 'rate_limited', retryable: false, providerCode: 'enforced_spend_limit_reached' });
  });

  it('a stream that fails before its body is a single error part, with no start', async () => {
    const { adapter } = await setup(() => json('error-529.json', 529));
    const parts = await drain(adapter.stream(HELLO, OPTS));
    expect(parts).toHaveLength(1);
    expect(errorOf(parts)).toMatchObject({ kind: 'overloaded', status: 529, providerCode: 'overloaded_error' });
  });

  it.each([
    [529, 'error-529.json', 'overloaded', 'overloaded_error'],
    [400, 'error-context.json', 'context_length_exceeded', 'invalid_request_error'],
    [401, 'error-401.json', 'provider_auth', 'authentication_error'],
    [404, 'error-404.json', 'not_found', 'not_found_error'],
  ])('HTTP %i (%s) → %s', async (status, name, kind, code) => {
    const { adapter } = await setup(() => json(name, status));
    const err = await rejection(adapter.generate(HELLO, OPTS));
    expect(err).toMatchObject({ kind, status, providerCode: code, provider: 'anthropic-test' });
    expect(err.message).not.toContain(KEY);
    expect(JSON.stringify(err.toJSON())).not.toContain(KEY);
  });

  it.each([
    [500, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } }, 'unavailable'],
    [403, { type: 'error', error: { type: 'permission_error', message: 'no access' } }, 'provider_auth'],
    [504, { type: 'error', error: { type: 'timeout_error', message: 'Request timeout' } }, 'timeout'],
    [400, { type: 'error', error: { type: 'invalid_request_error', message: 'input length and `max_tokens` exceed context limit: 190000 + 20000 > 200000' } }, 'context_length_exceeded'],
    [400, { type: 'error', error: { type: 'invalid_request_error', message: 'messages: roles must alternate' } }, 'invalid_request'],
  ])('HTTP %i with %j', async (status, body, kind) => {
    const { adapter } = await setup(() => ({ status, headers: { 'content-type': 'application/json' }, chunks: [JSON.stringify(body)] }));
    expect(await rejection(adapter.generate(HELLO, OPTS))).toMatchObject({ kind, status, providerCode: body.error.type });
  });

  it('413 with an HTML body from the edge → payload_too_large', async () => {
    const { adapter } = await setup(() => ({ status: 413, headers: { 'content-type': 'text/html' }, chunks: ['<html><body>413 Request Entity Too Large</body></html>'] }));
    expect(await rejection(adapter.generate(HELLO, OPTS))).toMatchObject({ kind: 'payload_too_large', status: 413 });
  });

  it('a mid-stream error event ends the stream with that error and the partial text', async () => {
    const { adapter } = await setup(() => stream('error-midstream.sse'));
    const parts = await drain(adapter.stream(HELLO, OPTS));
    expect(parts.map((p) => p.type)).toEqual(['start', 'text-delta', 'text-delta', 'error']);
    expect(errorOf(parts)).toMatchObject({ kind: 'overloaded', providerCode: 'overloaded_error', partialText: 'Hello! I' });
    expect(await rejection(collectStream(adapter.stream(HELLO, OPTS)))).toMatchObject({ kind: 'overloaded' });
  });

  it.each([
    ['api_error', 'unavailable'],
    ['rate_limit_error', 'rate_limited'],
    ['something_new_error', 'unavailable'],
  ])('mid-stream %s → %s', async (type, kind) => {
    const head = events('text.sse').slice(0, 2);
    const { adapter } = await setup(() => ({ headers: { 'content-type': 'text/event-stream' }, chunks: [...head, `event: error\ndata: {"type":"error","error":{"type":"${type}","message":"x"}}\n\n`] }));
    expect(errorOf(await drain(adapter.stream(HELLO, OPTS)))).toMatchObject({ kind, providerCode: type });
  });

  it('a stream that ends without message_stop is invalid_response, never a finish', async () => {
    const { adapter } = await setup(() => stream('truncated.sse'));
    const parts = await drain(adapter.stream(HELLO, OPTS));
    expect(parts[0]!.type).toBe('start');
    expect(errorOf(parts)).toMatchObject({ kind: 'invalid_response', partialText: expect.stringContaining('Hello! I') });
  });

  it.each([
    ['non-JSON data', 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,\n\n'],
    ['a schema-invalid delta', 'event: content_block_delta\ndata: {"type":"content_block_delta","index":"zero","delta":{"type":"text_delta","text":"x"}}\n\n'],
    ['a delta for a block never started', 'event: content_block_delta\ndata: {"type":"content_block_delta","index":7,"delta":{"type":"text_delta","text":"x"}}\n\n'],
  ])('a malformed chunk (%s) → invalid_response', async (_label, bad) => {
    const chunks = events('text.sse');
    chunks.splice(3, 0, bad);
    const { adapter } = await setup(() => ({ headers: { 'content-type': 'text/event-stream' }, chunks }));
    expect(errorOf(await drain(adapter.stream(HELLO, OPTS))).kind).toBe('invalid_response');
  });

  it('generate rejects a body that is not JSON or not a message with invalid_response', async () => {
    const bodies = ['<html>oops</html>', JSON.stringify({ id: 'msg_1', type: 'message', content: 'nope', usage: {} })];
    const { adapter } = await setup((n) => ({ headers: { 'content-type': 'application/json' }, chunks: [bodies[n]!] }));
    for (let i = 0; i < bodies.length; i++) expect((await rejection(adapter.generate(HELLO, OPTS))).kind).toBe('invalid_response');
  });

  it('a socket reset mid-body is an error part', async () => {
    const { adapter } = await setup(() => ({ headers: { 'content-type': 'text/event-stream' }, chunks: events('text.sse').slice(0, 4), destroy: true }));
    const parts = await drain(adapter.stream(HELLO, OPTS));
    expect(parts[0]!.type).toBe('start');
    expect(errorOf(parts).kind).toBe('invalid_response');
  });

  it('first-byte timeout → timeout', async () => {
    const { adapter } = await setup(() => ({ hang: true }), { timeouts: { ...TIMEOUTS, firstByteMs: 150 } });
    expect((await rejection(adapter.generate(HELLO, OPTS))).kind).toBe('timeout');
    const parts = await drain(adapter.stream(HELLO, OPTS));
    expect(parts).toHaveLength(1);
    expect(errorOf(parts).kind).toBe('timeout');
  });
});

describe('anthropic adapter: cancellation', () => {
  it('abort closes the upstream connection and yields only a cancelled error part', async () => {
    let upstreamClosed: Promise<void> | undefined;
    const server = createServer((req, res) => {
      upstreamClosed = new Promise((ok) => res.on('close', () => ok()));
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const e of events('text.sse').slice(0, 4)) res.write(e); // up to the first text delta, then silence
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    cleanup.push(() => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }));
    const adapter = createAnthropicAdapter({ id: 'anthropic-test', baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: KEY, timeouts: TIMEOUTS });
    cleanup.push(() => adapter.close());

    const ac = new AbortController();
    const it = adapter.stream(HELLO, { ...OPTS, signal: ac.signal })[Symbol.asyncIterator]();
    const seen: StreamPart[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) {
      seen.push(r.value);
      if (r.value.type === 'text-delta') break;
    }
    expect(seen.map((p) => p.type)).toEqual(['start', 'text-delta']);
    ac.abort();
    const next = await it.next();
    expect(next.done).toBe(false);
    expect(next.value).toMatchObject({ type: 'error', error: { kind: 'cancelled' } });
    expect((await it.next()).done).toBe(true);
    await upstreamClosed; // resolves only when the socket to the provider is gone
  });

  it('an already-aborted signal rejects generate and stream with cancelled', async () => {
    const { adapter } = await setup(() => json('text.json'));
    const signal = AbortSignal.abort();
    expect((await rejection(adapter.generate(HELLO, { ...OPTS, signal }))).kind).toBe('cancelled');
    const parts = await drain(adapter.stream(HELLO, { ...OPTS, signal }));
    expect(parts).toHaveLength(1);
    expect(errorOf(parts).kind).toBe('cancelled');
  });
});

describe('anthropic adapter: request mapping', () => {
  const FULL: ChatRequest = {
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'You are a terse weather bot.', cacheControl: { type: 'ephemeral' } }] },
      { role: 'system', content: 'Answer in English.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: "What's the weather in Paris and Rome?" },
          { type: 'image', data: 'iVBORw0KGgo=', mediaType: 'image/png' },
          { type: 'image', url: 'https://example.com/map.jpg' },
        ],
      },
      {
        role: 'assistant',
        content: '',
        toolCalls: [
          { id: 'toolu_01', name: 'get_weather', arguments: '{"location":"Paris"}' },
          { id: 'toolu_02', name: 'get_weather', arguments: '{"location":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'toolu_01', name: 'get_weather', content: '18°C, clear' },
      { role: 'tool', toolCallId: 'toolu_02', content: [{ type: 'text', text: '22°C', cacheControl: { type: 'ephemeral', ttl: '1h' } }] },
      { role: 'user', content: 'Summarize.' },
    ],
    tools: [{ name: 'get_weather', description: 'Get the weather', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } }],
    toolChoice: { type: 'tool', name: 'get_weather' },
    responseFormat: { type: 'json_schema', name: 'summary', schema: { type: 'object', properties: { text: { type: 'string' } } } },
    maxOutputTokens: 512,
    temperature: 0.2,
    topP: 0.9,
    stop: ['</answer>'],
    metadata: { userId: 'user-42', team: 'ops' },
    providerOptions: { anthropic: { top_k: 40, output_config: { effort: 'low' } }, openai: { logprobs: true } },
  };

  it('sends exactly the expected body and headers', async () => {
    const { server, adapter } = await setup(() => json('text.json'), {
      headers: { 'x-org': 'acme' },
      options: { version: '2024-01-01', beta: ['prompt-caching-2024-07-31', 'output-128k-2025-02-19'] },
    });
    await adapter.generate(FULL, { ...OPTS, headers: { 'x-request-id': 'gw-1', 'x-api-key': 'caller-cannot-override' } });
    const sent = server.requests[0]!;
    expect(sent.json).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 512,
      system: [
        { type: 'text', text: 'You are a terse weather bot.', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'Answer in English.' },
      ],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: "What's the weather in Paris and Rome?" },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/map.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { location: 'Paris' } },
            { type: 'tool_use', id: 'toolu_02', name: 'get_weather', input: { location: 'Rome' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01', content: '18°C, clear' },
            { type: 'tool_result', tool_use_id: 'toolu_02', content: [{ type: 'text', text: '22°C', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
            { type: 'text', text: 'Summarize.' },
          ],
        },
      ],
      tools: [{ name: 'get_weather', description: 'Get the weather', input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } }],
      tool_choice: { type: 'tool', name: 'get_weather' },
      temperature: 0.2,
      top_p: 0.9,
      stop_sequences: ['</answer>'],
      metadata: { user_id: 'user-42' },
      output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { text: { type: 'string' } } } }, effort: 'low' },
      top_k: 40,
    });
    expect(sent.headers).toMatchObject({
      'x-api-key': KEY,
      'anthropic-version': '2024-01-01',
      'anthropic-beta': 'prompt-caching-2024-07-31,output-128k-2025-02-19',
      'x-org': 'acme',
      'x-request-id': 'gw-1',
      'content-type': 'application/json',
    });
  });

  it.each([
    ['auto', { type: 'auto' }],
    ['required', { type: 'any' }],
    ['none', { type: 'none' }],
  ] as const)('toolChoice %s → %j; a data: URL image becomes base64', async (choice, wire) => {
    const { server, adapter } = await setup(() => json('text.json'), { options: { beta: 'one-beta' } });
    const req: ChatRequest = {
      messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/jpeg;base64,/9j/4AAQ' }] }],
      tools: [{ name: 't', parameters: { type: 'object' } }],
      toolChoice: choice,
    };
    await adapter.generate(req, OPTS);
    const body = server.requests[0]!.json as { tool_choice: unknown; messages: Array<{ content: unknown[] }> };
    expect(body.tool_choice).toEqual(wire);
    expect(body.messages[0]!.content[0]).toEqual({ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } });
    expect(server.requests[0]!.headers['anthropic-beta']).toBe('one-beta');
  });

  it.each([
    ['seed', { ...HELLO, seed: 7 }, OPTS],
    ['json_object', { ...HELLO, responseFormat: { type: 'json_object' } }, OPTS],
    ['tools', { ...HELLO, tools: [{ name: 't', parameters: {} }] }, { ...OPTS, capabilities: [] }],
    ['vision', { messages: [{ role: 'user', content: [{ type: 'image', url: 'https://x/y.png' }] }] }, { ...OPTS, capabilities: ['tools'] }],
  ] as Array<[string, ChatRequest, CallOptions]>)('rejects %s with unsupported_feature before sending anything', async (feature, req, opts) => {
    const { server, adapter } = await setup(() => json('text.json'));
    const err = await rejection(adapter.generate(req, opts));
    expect(err).toMatchObject({ kind: 'unsupported_feature', param: feature, provider: 'anthropic-test' });
    expect(err.message).toContain(feature);
    const parts = await drain(adapter.stream(req, opts));
    expect(parts).toHaveLength(1);
    expect(errorOf(parts)).toMatchObject({ kind: 'unsupported_feature', param: feature });
    expect(server.requests).toHaveLength(0);
  });

  it('rejects tool-call arguments that are not a JSON object as invalid_request naming the call', async () => {
    const { server, adapter } = await setup(() => json('text.json'));
    for (const args of ['{"location":', '[1,2]']) {
      const req: ChatRequest = {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', toolCalls: [{ id: 'toolu_bad', name: 'get_weather', arguments: args }] },
          { role: 'tool', toolCallId: 'toolu_bad', content: 'x' },
        ],
      };
      const err = await rejection(adapter.generate(req, OPTS));
      expect(err).toMatchObject({ kind: 'invalid_request', param: 'toolCalls' });
      expect(err.message).toContain('toolu_bad');
    }
    expect(server.requests).toHaveLength(0);
  });
});
