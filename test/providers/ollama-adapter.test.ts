/**
 * Ollama adapter contract tests over recorded transcripts (test/fixtures/ollama).
 *
 * Fixture provenance (from /work/shared/provider-protocols/ollama.md, itself from ollama/ollama docs):
 * - verbatim: chat-text.json, chat-tools.json, stream-text.ndjson, stream-tools.ndjson, embed.json, and the
 *   error texts of error-model-not-found*.json, error-no-tools.json, error-server-busy.json,
 *   error-context-length.json, error-bad-request.json, error-internal.json;
 * - stream-midstream-error.ndjson: the docs' /api/generate example rewritten in /api/chat's chunk shape;
 * - *-equivalent.json: the non-streamed form of the stream with the same name (contents joined,
 *   metrics of the done line), so both paths can be compared;
 * - synthesized: stream-tools-multi.ndjson (thinking, text, three calls over two lines, one with a server
 *   id), chat-cached.json / stream-cached.ndjson (`prompt_eval_cached_count` of newer servers'
 *   api.Metrics), stream-length.ndjson, stream-load.ndjson, embed-two-no-usage.json,
 *   error-rate-limited.json (the reference gives only the 429 status).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  collectStream,
  type Capability,
  type ChatRequest,
  type StreamPart,
} from '../../src/core/index.ts';
import { createOllamaAdapter } from '../../src/providers/ollama/index.ts';
import type { AdapterConfig, CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { startReplayServer, type RecordedRequest, type Replay, type ReplayServer } from '../helpers/replay-server.ts';
import { drain, errorOf, rejection, terminal } from '../helpers/stream-contract.ts';

const FIXTURES = new URL('../fixtures/ollama/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
/** An NDJSON fixture as one write per line, so the parser sees real chunk boundaries. */
const ndjsonLines = (name: string): string[] => fixture(name).split(/(?<=\n)/);

const ID = 'ollama-test';
const ALL_CAPS: Capability[] = ['tools', 'json_schema', 'vision', 'streaming', 'embeddings', 'reasoning'];
const TIMEOUTS = { connectMs: 2_000, firstByteMs: 5_000, idleMs: 5_000, totalMs: 10_000 };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Setup {
  server: ReplayServer;
  adapter: ProviderAdapter;
}

async function setup(handler: (req: RecordedRequest) => Replay | Promise<Replay>, config: Partial<AdapterConfig> = {}): Promise<Setup> {
  const server = await startReplayServer(handler);
  const adapter = createOllamaAdapter({ id: ID, baseUrl: server.url, timeouts: TIMEOUTS, ...config });
  cleanups.push(() => server.close(), () => adapter.close());
  return { server, adapter };
}

const json = (name: string, status = 200, headers: Record<string, string> = {}): Replay => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  chunks: [fixture(name)],
});
const ndjson = (name: string): Replay => ({
  headers: { 'content-type': 'application/x-ndjson' },
  chunks: ndjsonLines(name),
});
/** Serves `/api/chat` with the non-streamed or streamed fixture depending on what the body asked. */
const chatPair = (jsonName: string, ndjsonName: string) => (req: RecordedRequest): Replay =>
  (req.json as { stream?: boolean }).stream ? ndjson(ndjsonName) : json(jsonName);

function chat(extra: Partial<ChatRequest> = {}): ChatRequest {
  return { messages: [{ role: 'user', content: 'Hi' }], ...extra };
}
function opts(extra: Partial<CallOptions> = {}): CallOptions {
  return { model: 'llama3.2', capabilities: ALL_CAPS, ...extra };
}

describe('ollama adapter: replies', () => {
  it('maps a non-streamed text reply (no done_reason: stop, nothing raw)', async () => {
    const { server, adapter } = await setup(() => json('chat-text.json'));
    const res = await adapter.generate(chat(), opts());
    expect(res).toEqual({
      text: 'Hello! How are you today?',
      toolCalls: [],
      finishReason: 'stop',
      usage: { inputTokens: 26, outputTokens: 298, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      model: 'llama3.2',
    });
    expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/api/chat' });
    expect(server.requests[0]?.json).toMatchObject({ model: 'llama3.2', stream: false });
  });

  it('streams text line by line and finishes from the done line', async () => {
    const { server, adapter } = await setup(() => ndjson('stream-text.ndjson'));
    const parts = await drain(adapter.stream(chat(), opts()));
    expect(parts).toEqual([
      { type: 'start', model: 'llama3.2' },
      { type: 'text-delta', text: 'Hel' },
      { type: 'text-delta', text: 'lo!' },
      {
        type: 'finish',
        finishReason: 'stop',
        rawFinishReason: 'stop',
        usage: { inputTokens: 11, outputTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
        model: 'llama3.2',
      },
    ]);
    expect(server.requests[0]?.json).toMatchObject({ stream: true });
  });

  it('maps a non-streamed tool call: object arguments serialized once, generated id, tool_calls finish', async () => {
    const { adapter } = await setup(() => json('chat-tools.json'));
    const res = await adapter.generate(chat(), opts());
    expect(res.toolCalls).toEqual([{ id: 'call_0', name: 'get_weather', arguments: '{"city":"Tokyo"}' }]);
    expect(res.finishReason).toBe('tool_calls');
    expect(res.rawFinishReason).toBe('stop');
    expect(res.text).toBe('');
    expect(res.usage).toMatchObject({ inputTokens: 169, outputTokens: 18 });
  });

  it('streams whole tool calls over several lines split at arbitrary byte boundaries, indexed in reply order', async () => {
    // Each call arrives complete in one line; the line itself is cut into 7-character writes.
    const body = fixture('stream-tools-multi.ndjson');
    const pieces = body.match(/[\s\S]{1,7}/g) ?? [];
    const { adapter } = await setup(() => ({ headers: { 'content-type': 'application/x-ndjson' }, chunks: pieces }));
    const parts = await drain(adapter.stream(chat(), opts({ model: 'qwen3' })));
    terminal(parts);
    expect(parts.filter((p) => p.type === 'reasoning-delta')).toEqual([
      { type: 'reasoning-delta', text: 'Two cities; ', provider: 'ollama' },
      { type: 'reasoning-delta', text: 'call the tool twice.', provider: 'ollama' },
    ]);
    expect(parts.filter((p) => p.type === 'text-delta')).toEqual([{ type: 'text-delta', text: 'Checking 東京 and Zürich…' }]);
    // The server's function.index restarts per line; ours is the ordinal in the reply.
    expect(parts.filter((p) => p.type === 'tool-call-delta')).toEqual([
      {
        type: 'tool-call-delta',
        index: 0,
        id: 'call_0',
        name: 'get_weather',
        argumentsDelta: '{"city":"東京","units":{"temp":"c","wind":["kmh"]}}',
      },
      { type: 'tool-call-delta', index: 1, id: 'call_1', name: 'get_weather', argumentsDelta: '{"city":"Zürich"}' },
      { type: 'tool-call-delta', index: 2, id: 'call_srv_7', name: 'get_time', argumentsDelta: '{}' },
    ]);
    expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'tool_calls', rawFinishReason: 'stop', model: 'qwen3' });
  });

  it('reports cached prompt tokens inside inputTokens, the same streamed and not', async () => {
    const { adapter } = await setup(chatPair('chat-cached.json', 'stream-cached.ndjson'));
    const usage = { inputTokens: 1240, outputTokens: 4, cachedInputTokens: 1200, cacheWriteTokens: 0, reasoningTokens: 0 };
    expect((await adapter.generate(chat(), opts())).usage).toEqual(usage);
    const streamed = await collectStream(adapter.stream(chat(), opts()));
    expect(streamed.usage).toEqual(usage);
    expect(streamed.text).toBe('Again: hello!');
  });

  it('maps done_reason length to length, and load (metrics omitted) to stop with the raw reason and zero counts', async () => {
    const { adapter } = await setup((req) =>
      ndjson((req.json as { messages: Array<{ content: string }> }).messages[0]?.content === 'long' ? 'stream-length.ndjson' : 'stream-load.ndjson'),
    );
    const long = await collectStream(adapter.stream(chat({ messages: [{ role: 'user', content: 'long' }] }), opts()));
    expect(long).toMatchObject({ text: 'Once upon', finishReason: 'length', rawFinishReason: 'length' });
    const load = await collectStream(adapter.stream(chat(), opts()));
    expect(load).toMatchObject({ text: '', finishReason: 'stop', rawFinishReason: 'load' });
    expect(load.usage).toEqual({ inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  for (const [jsonName, ndjsonName] of [
    ['chat-text-equivalent.json', 'stream-text.ndjson'],
    ['chat-tools-equivalent.json', 'stream-tools.ndjson'],
    ['chat-tools-multi-equivalent.json', 'stream-tools-multi.ndjson'],
    ['chat-cached.json', 'stream-cached.ndjson'],
  ] as const) {
    it(`collectStream(stream()) equals generate() for ${ndjsonName} / ${jsonName}`, async () => {
      const { adapter } = await setup(chatPair(jsonName, ndjsonName));
      const generated = await adapter.generate(chat(), opts());
      const streamed = await collectStream(adapter.stream(chat(), opts()));
      expect(streamed).toEqual(generated);
      expect(generated.text.length + generated.toolCalls.length).toBeGreaterThan(0);
    });
  }
});

describe('ollama adapter: request mapping', () => {
  const weatherSchema = {
    type: 'object',
    properties: { city: { type: 'string', description: 'The city to get the weather for' } },
    required: ['city'],
  };
  const answerSchema = {
    type: 'object',
    properties: { age: { type: 'integer' }, available: { type: 'boolean' } },
    required: ['age', 'available'],
  };

  it('sends exactly the mapped body, with auth and extra headers', async () => {
    const { server, adapter } = await setup(() => json('chat-text.json'), {
      apiKey: 'sk-ollama-secret',
      headers: { 'x-org': 'acme' },
    });
    const req: ChatRequest = {
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'You are terse.', cacheControl: { type: 'ephemeral' } }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is the weather in Toronto? ' },
            { type: 'image', data: 'iVBORw0KGgo=', mediaType: 'image/png' },
            { type: 'text', text: 'And here?' },
            { type: 'image', url: 'data:image/jpeg;base64,/9j/4AAQSkZJRg==' },
          ],
        },
        { role: 'assistant', content: null, toolCalls: [{ id: 'call_0', name: 'get_weather', arguments: '{"city":"Toronto"}' }] },
        // No name: looked up from the assistant call with this id.
        { role: 'tool', toolCallId: 'call_0', content: '11 degrees celsius' },
        { role: 'assistant', content: 'It is 11 °C.', toolCalls: [{ id: 'c2', name: 'ping', arguments: '' }] },
        { role: 'tool', toolCallId: 'c2', name: 'ping', content: [{ type: 'text', text: 'pong' }] },
        { role: 'user', content: 'Return it as JSON.' },
      ],
      tools: [
        { name: 'get_weather', description: 'Get the weather in a given city', parameters: weatherSchema },
        { name: 'ping', parameters: { type: 'object', properties: {} }, strict: false },
      ],
      toolChoice: 'auto',
      responseFormat: { type: 'json_schema', name: 'answer', schema: answerSchema, strict: true },
      maxOutputTokens: 256,
      temperature: 0.2,
      topP: 0.9,
      stop: ['\n\n', 'END'],
      seed: 42,
      metadata: { user: 'u-1' },
      providerOptions: {
        ollama: { keep_alive: '5m', think: false, options: { num_ctx: 8192, temperature: 0.3 }, stream: true, model: 'x' },
        openai: { store: true },
      },
    };
    await adapter.generate(req, opts({ headers: { 'x-request-id': 'req-123' } }));

    const got = server.requests[0]!;
    expect(got.json).toEqual({
      model: 'llama3.2',
      stream: false,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'What is the weather in Toronto? And here?', images: ['iVBORw0KGgo=', '/9j/4AAQSkZJRg=='] },
        { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Toronto' } } }] },
        { role: 'tool', content: '11 degrees celsius', tool_name: 'get_weather' },
        { role: 'assistant', content: 'It is 11 °C.', tool_calls: [{ function: { name: 'ping', arguments: {} } }] },
        { role: 'tool', content: 'pong', tool_name: 'ping' },
        { role: 'user', content: 'Return it as JSON.' },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', description: 'Get the weather in a given city', parameters: weatherSchema },
        },
        { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } },
      ],
      format: answerSchema,
      // providerOptions.ollama.options merges into ours key by key (its temperature wins, as passthrough).
      options: { num_predict: 256, temperature: 0.3, top_p: 0.9, stop: ['\n\n', 'END'], seed: 42, num_ctx: 8192 },
      keep_alive: '5m',
      think: false,
    });
    expect(got.headers['authorization']).toBe('Bearer sk-ollama-secret');
    expect(got.headers['x-org']).toBe('acme');
    expect(got.headers['x-request-id']).toBe('req-123');
    expect(got.headers['content-type']).toBe('application/json');
  });

  it('sends no auth header without a key; toolChoice none offers no tools; json_object is format "json"', async () => {
    const { server, adapter } = await setup(() => ndjson('stream-text.ndjson'));
    await collectStream(
      adapter.stream(
        chat({
          tools: [{ name: 'get_weather', parameters: weatherSchema }],
          toolChoice: 'none',
          responseFormat: { type: 'json_object' },
        }),
        opts(),
      ),
    );
    const got = server.requests[0]!;
    expect(got.headers['authorization']).toBeUndefined();
    expect(got.json).toEqual({ model: 'llama3.2', stream: true, messages: [{ role: 'user', content: 'Hi' }], format: 'json' });
  });

  it('rejects a tool result it cannot name, and tool-call arguments that are not a JSON object', async () => {
    const { server, adapter } = await setup(() => json('chat-text.json'));
    const orphan = await rejection(
      adapter.generate(chat({ messages: [{ role: 'user', content: 'x' }, { role: 'tool', toolCallId: 'nope', content: 'r' }] }), opts()),
    );
    expect(orphan).toMatchObject({ kind: 'invalid_request', param: 'messages[1].name', provider: ID });
    const notObject = await rejection(
      adapter.generate(
        chat({ messages: [{ role: 'assistant', toolCalls: [{ id: 'a', name: 'f', arguments: '[1,2]' }] }, { role: 'user', content: 'x' }] }),
        opts(),
      ),
    );
    expect(notObject).toMatchObject({ kind: 'invalid_request', param: 'messages[0].toolCalls[0].arguments' });
    expect(server.requests).toHaveLength(0);
  });
});

describe('ollama adapter: unsupported features fail closed', () => {
  const cases: Array<[string, ChatRequest, string, Capability[]?]> = [
    ['toolChoice required', chat({ tools: [{ name: 'f', parameters: {} }], toolChoice: 'required' }), 'toolChoice'],
    ['a named toolChoice', chat({ tools: [{ name: 'f', parameters: {} }], toolChoice: { type: 'tool', name: 'f' } }), 'toolChoice'],
    [
      'an image by http URL',
      chat({ messages: [{ role: 'user', content: [{ type: 'image', url: 'https://example.com/cat.png' }] }] }),
      'image_url',
    ],
    ['a strict tool', chat({ tools: [{ name: 'f', parameters: {}, strict: true }] }), 'tools.strict'],
    [
      'a json_schema description',
      chat({ responseFormat: { type: 'json_schema', name: 'r', description: 'the answer', schema: { type: 'object' } } }),
      'responseFormat.description',
    ],
    ['tools on a model without the capability', chat({ tools: [{ name: 'f', parameters: {} }] }), 'tools', ['streaming']],
    ['json_schema on a model without it', chat({ responseFormat: { type: 'json_schema', name: 'r', schema: {} } }), 'json_schema', ['tools']],
  ];
  for (const [what, req, param, caps] of cases) {
    it(`rejects ${what} (generate rejects, stream yields one error part, nothing is sent)`, async () => {
      const { server, adapter } = await setup(() => json('chat-text.json'));
      const o = opts(caps ? { capabilities: caps } : {});
      const e = await rejection(adapter.generate(req, o));
      expect(e).toMatchObject({ kind: 'unsupported_feature', param, provider: ID });
      const parts = await drain(adapter.stream(req, o));
      expect(parts).toHaveLength(1);
      expect(errorOf(parts)).toMatchObject({ kind: 'unsupported_feature', param });
      expect(server.requests).toHaveLength(0);
    });
  }
});

describe('ollama adapter: HTTP errors', () => {
  const cases: Array<{ name: string; status: number; fixture?: string; body?: string; kind: string; param?: string; retryable: boolean }> = [
    { name: 'unknown model (chat path)', status: 404, fixture: 'error-model-not-found.json', kind: 'not_found', retryable: false },
    { name: 'unknown model (scheduler wording)', status: 404, fixture: 'error-model-not-found-pull.json', kind: 'not_found', retryable: false },
    { name: 'model without tools', status: 400, fixture: 'error-no-tools.json', kind: 'unsupported_feature', param: 'tools', retryable: false },
    { name: 'queue full', status: 503, fixture: 'error-server-busy.json', kind: 'overloaded', retryable: true },
    { name: 'internal error', status: 500, fixture: 'error-internal.json', kind: 'unavailable', retryable: true },
    { name: 'context length', status: 400, fixture: 'error-context-length.json', kind: 'context_length_exceeded', retryable: false },
    { name: 'context length with a 500', status: 500, body: '{"error":"input length exceeds the context length of 4096"}', kind: 'context_length_exceeded', retryable: false },
    { name: 'bad request', status: 400, fixture: 'error-bad-request.json', kind: 'invalid_request', retryable: false },
    { name: 'cloud access disabled', status: 403, body: '{"error":"remote model access is disabled"}', kind: 'provider_auth', retryable: true },
    { name: 'bad key at a proxy', status: 401, body: '{"error":"unauthorized"}', kind: 'provider_auth', retryable: true },
    { name: 'cloud model unreachable (HTML from a proxy)', status: 502, body: '<html>Bad Gateway</html>', kind: 'unavailable', retryable: true },
  ];
  for (const c of cases) {
    it(`${c.status} ${c.name} → ${c.kind}`, async () => {
      const body = c.fixture ? fixture(c.fixture) : c.body!;
      const { adapter } = await setup(() => ({ status: c.status, headers: { 'content-type': 'application/json' }, chunks: [body] }), {
        apiKey: 'sk-secret-key',
      });
      const e = await rejection(adapter.generate(chat(), opts()));
      expect(e).toMatchObject({ kind: c.kind, status: c.status, provider: ID, retryable: c.retryable });
      if (c.param) expect(e.param).toBe(c.param);
      expect(e.message).not.toContain('sk-secret-key');
      const parts = await drain(adapter.stream(chat(), opts()));
      expect(parts).toHaveLength(1);
      expect(errorOf(parts)).toMatchObject({ kind: c.kind, status: c.status });
    });
  }

  it('429 carries retryAfterMs from retry-after', async () => {
    const { adapter } = await setup(() => json('error-rate-limited.json', 429, { 'retry-after': '7' }));
    const e = await rejection(adapter.generate(chat(), opts()));
    expect(e).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 7000, provider: ID, retryable: true });
    expect(e.message).toContain('too many requests');
    const parts = await drain(adapter.stream(chat(), opts()));
    expect(errorOf(parts)).toMatchObject({ kind: 'rate_limited', retryAfterMs: 7000 });
  });

  it('a 200 body that is an error envelope or not JSON is an error, not a reply', async () => {
    const { adapter } = await setup((req) =>
      (req.json as { messages: Array<{ content: string }> }).messages[0]?.content === 'env'
        ? json('error-internal.json')
        : { chunks: ['{"model":"llama3.2","message":'] },
    );
    const env = await rejection(adapter.generate(chat({ messages: [{ role: 'user', content: 'env' }] }), opts()));
    expect(env).toMatchObject({ kind: 'unavailable', provider: ID });
    expect(await rejection(adapter.generate(chat(), opts()))).toMatchObject({ kind: 'invalid_response' });
  });
});

describe('ollama adapter: broken streams', () => {
  it('an error line mid-stream ends the stream with one error part carrying the partial text', async () => {
    const { adapter } = await setup(() => ndjson('stream-midstream-error.ndjson'));
    const parts = await drain(adapter.stream(chat(), opts({ model: 'gemma4' })));
    expect(parts.filter((p) => p.type === 'text-delta').map((p) => (p.type === 'text-delta' ? p.text : ''))).toEqual([' Yes', '.', 'I', 'can']);
    const e = errorOf(parts);
    expect(e).toMatchObject({ kind: 'unavailable', provider: ID, partialText: ' Yes.Ican' });
    expect(e.message).toContain('an error was encountered while running the model');
    await expect(collectStream(adapter.stream(chat(), opts()))).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('an error line about the context length is context_length_exceeded', async () => {
    const { adapter } = await setup(() => ({ chunks: ['{"error":"prompt exceeds the context window"}\n'] }));
    expect(errorOf(await drain(adapter.stream(chat(), opts())))).toMatchObject({ kind: 'context_length_exceeded' });
  });

  it('a stream that ends without a done line is invalid_response, never a finish', async () => {
    const lines = ndjsonLines('stream-text.ndjson').slice(0, 2);
    const { adapter } = await setup(() => ({ headers: { 'content-type': 'application/x-ndjson' }, chunks: lines }));
    const parts = await drain(adapter.stream(chat(), opts()));
    expect(errorOf(parts)).toMatchObject({ kind: 'invalid_response', partialText: 'Hello!' });
    expect(parts.some((p) => p.type === 'finish')).toBe(false);
  });

  it('a line that is not JSON is invalid_response', async () => {
    const lines = ndjsonLines('stream-text.ndjson');
    const { adapter } = await setup(() => ({ chunks: [lines[0]!, '{"model":"llama3.2","message":{"content":"x"\n', lines[2]!] }));
    const parts = await drain(adapter.stream(chat(), opts()));
    expect(errorOf(parts)).toMatchObject({ kind: 'invalid_response', partialText: 'Hel' });
    expect(parts.map((p) => p.type)).toEqual(['start', 'text-delta', 'error']);
  });

  it('a line that fails the chunk schema is invalid_response', async () => {
    const { adapter } = await setup(() => ({ chunks: ['{"model":"llama3.2","message":{"role":"assistant","content":7},"done":false}\n'] }));
    const e = errorOf(await drain(adapter.stream(chat(), opts())));
    expect(e.kind).toBe('invalid_response');
    expect(e.message).toContain('message.content');
  });

  it('a socket reset mid-body is an error part', async () => {
    const first = ndjsonLines('stream-text.ndjson')[0]!;
    const { adapter } = await setup(() => ({ chunks: [first], destroy: true }));
    const parts = await drain(adapter.stream(chat(), opts()));
    expect(errorOf(parts)).toMatchObject({ kind: 'invalid_response', provider: ID });
    expect(parts.some((p) => p.type === 'finish')).toBe(false);
  });

  it('no headers within the first-byte timeout is a timeout', async () => {
    const { adapter } = await setup(() => ({ hang: true }));
    const fast = opts({ timeouts: { firstByteMs: 150 } });
    // Concurrently: undici's header timer ticks about once a second, so each wait is ~1 s whatever the value.
    const [parts, rejected] = await Promise.all([drain(adapter.stream(chat(), fast)), rejection(adapter.generate(chat(), fast))]);
    expect(parts).toHaveLength(1);
    expect(errorOf(parts)).toMatchObject({ kind: 'timeout', provider: ID });
    expect(rejected).toMatchObject({ kind: 'timeout', provider: ID });
  });
});

describe('ollama adapter: abort', () => {
  /** A server that sends two lines at once, then holds the response open; resolves when the client hangs up. */
  async function holdingServer(): Promise<{ url: string; hungUp: Promise<void>; close: () => Promise<void> }> {
    let hungUp!: () => void;
    const seen = new Promise<void>((ok) => (hungUp = ok));
    const lines = ndjsonLines('stream-text.ndjson');
    const srv = createServer((req, res) => {
      req.resume();
      res.on('close', () => hungUp());
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(lines[0]! + lines[1]!);
    });
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    const { port } = srv.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      hungUp: seen,
      close: () => new Promise<void>((ok) => {
        srv.closeAllConnections();
        srv.close(() => ok());
      }),
    };
  }

  it('cancels the upstream request; only one cancelled part follows, not the buffered line', async () => {
    const srv = await holdingServer();
    const adapter = createOllamaAdapter({ id: ID, baseUrl: srv.url, timeouts: TIMEOUTS });
    cleanups.push(srv.close, () => adapter.close());
    const ac = new AbortController();
    const it = adapter.stream(chat(), opts({ signal: ac.signal }))[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'start' });
    expect((await it.next()).value).toEqual({ type: 'text-delta', text: 'Hel' });
    ac.abort();
    const rest: StreamPart[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest).toHaveLength(1);
    expect(rest[0]).toMatchObject({ type: 'error', error: { kind: 'cancelled', provider: ID, partialText: 'Hel' } });
    // Resolves only when the server sees the connection close (the test times out otherwise).
    await srv.hungUp;
  });

  it('an abort while waiting for headers rejects generate and ends a stream with cancelled', async () => {
    const { adapter } = await setup(() => ({ hang: true }));
    const ac = new AbortController();
    const pending = rejection(adapter.generate(chat(), opts({ signal: ac.signal })));
    setTimeout(() => ac.abort(), 20);
    expect(await pending).toMatchObject({ kind: 'cancelled' });
    const parts = await drain(adapter.stream(chat(), opts({ signal: AbortSignal.abort() })));
    expect(parts).toHaveLength(1);
    expect(errorOf(parts)).toMatchObject({ kind: 'cancelled' });
  });
});

describe('ollama adapter: embeddings', () => {
  it('embeds through /api/embed, in order, with reported usage', async () => {
    const { server, adapter } = await setup(() => json('embed.json'));
    const res = await adapter.embed!({ input: ['Why is the sky blue?'], dimensions: 10 }, opts({ model: 'all-minilm' }));
    expect(res.model).toBe('all-minilm');
    expect(res.embeddings).toHaveLength(1);
    expect(res.embeddings[0]?.[0]).toBe(0.010071029);
    expect(res.usage).toEqual({ inputTokens: 8 });
    expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/api/embed' });
    expect(server.requests[0]?.json).toEqual({ model: 'all-minilm', input: ['Why is the sky blue?'], dimensions: 10, truncate: false });
  });

  it('estimates usage when the server reports none, and checks the vector count', async () => {
    const { adapter } = await setup(() => json('embed-two-no-usage.json'));
    const res = await adapter.embed!({ input: ['abcdefgh', 'abcde'] }, opts({ model: 'all-minilm' }));
    expect(res.embeddings).toEqual([[0.1, 0.2, 0.3], [-0.4, 0.5, -0.6]]);
    expect(res.usage).toEqual({ inputTokens: 4, estimated: true });
    const short = await rejection(adapter.embed!({ input: ['a', 'b', 'c'] }, opts({ model: 'all-minilm' })));
    expect(short.kind).toBe('invalid_response');
  });

  it('classifies an over-long input and refuses a model without embeddings', async () => {
    const { server, adapter } = await setup(() => json('error-context-length.json', 400));
    const e = await rejection(adapter.embed!({ input: ['x'.repeat(100)] }, opts({ model: 'all-minilm' })));
    expect(e).toMatchObject({ kind: 'context_length_exceeded', status: 400, provider: ID });
    const unsupported = await rejection(adapter.embed!({ input: ['x'] }, opts({ capabilities: ['tools'] })));
    expect(unsupported).toMatchObject({ kind: 'unsupported_feature', param: 'embeddings' });
    expect(server.requests).toHaveLength(1);
  });
});
