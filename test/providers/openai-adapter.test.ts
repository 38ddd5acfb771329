/**
 * Contract tests of the openai adapter (and its OpenAI-compatible presets) against recorded
 * transcripts replayed over loopback. Fixtures in test/fixtures/openai come from the reference
 * (/work/shared/provider-protocols/openai.md): stream-recorded.sse (openai-node snapshot),
 * tool-call.sse (vercel/ai "should stream tool deltas"), chat-text.json (OpenAPI "Default"
 * example), embeddings.json (vercel/ai fixture) and the §4 error bodies are copied; chat-text.sse,
 * tool-call.json, cached-usage.*, parallel-tools.sse and the broken streams are synthesized in the
 * recorded shapes so that streamed and non-streamed versions of one reply can be compared.
 */
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { collectStream, type ChatRequest, type StreamPart } from '../../src/core/index.ts';
import type { AdapterConfig, CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { createOpenAIAdapter, createOpenAICompatibleAdapter } from '../../src/providers/openai/index.ts';
import { PROVIDER_PROTOCOLS } from '../../src/core/protocols.ts';
import { startReplayServer, type Replay, type ReplayServer } from '../helpers/replay-server.ts';
import { drain, errorOf, rejection, terminal } from '../helpers/stream-contract.ts';

const FIXTURES = new URL('../fixtures/openai/', import.meta.url);
const load = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
/** One write per SSE event, so the parser sees real chunk boundaries. */
const sseChunks = (name: string) => load(name).split(/(?<=\n\n)/).filter(Boolean);

const SSE = { 'content-type': 'text/event-stream' };
const JSON_CT = { 'content-type': 'application/json' };
const jsonReply = (name: string, status = 200, headers: Record<string, string> = {}): Replay => ({
  status,
  headers: { ...JSON_CT, ...headers },
  chunks: [load(name)],
});
const sseReply = (name: string, extra: Partial<Replay> = {}): Replay => ({ headers: SSE, chunks: sseChunks(name), ...extra });

const TIMEOUTS = { connectMs: 2000, firstByteMs: 2000, idleMs: 2000, totalMs: 5000 };
const KEY = 'sk-test-secret-key';
const hello: ChatRequest = { messages: [{ role: 'user', content: 'Hello' }] };
const call = (extra: Partial<CallOptions> = {}): CallOptions => ({
  model: 'gpt-5.4',
  capabilities: ['tools', 'json_schema', 'vision', 'streaming', 'embeddings'],
  ...extra,
});

let server: ReplayServer;
let reply: (req: { url: string }) => Replay = () => ({ status: 500 });
const adapters: ProviderAdapter[] = [];

function adapter(config: Partial<AdapterConfig> = {}, factory = createOpenAIAdapter): ProviderAdapter {
  const a = factory({ id: 'oai', baseUrl: `${server.url}/v1`, apiKey: KEY, timeouts: TIMEOUTS, ...config });
  adapters.push(a);
  return a;
}
const lastRequest = () => server.requests.at(-1)!;

beforeAll(async () => {
  server = await startReplayServer((req) => reply(req));
});
afterEach(async () => {
  await Promise.all(adapters.splice(0).map((a) => a.close()));
  server.requests.length = 0;
});
afterAll(async () => {
  await server.close();
});

describe('non-streamed replies', () => {
  it('maps a text completion, its usage and the x-request-id header', async () => {
    reply = () => jsonReply('chat-text.json', 200, { 'x-request-id': 'req_abc' });
    const res = await adapter().generate(hello, call());
    expect(res).toEqual({
      text: 'Hello! How can I assist you today?',
      toolCalls: [],
      finishReason: 'stop',
      rawFinishReason: 'stop',
      usage: { inputTokens: 19, outputTokens: 10, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      model: 'gpt-5.4',
      providerRequestId: 'req_abc',
    });
    expect(lastRequest().url).toBe('/v1/chat/completions');
    expect(lastRequest().json).not.toHaveProperty('stream');
    expect(lastRequest().json).not.toHaveProperty('stream_options');
  });

  it('falls back to the body id when there is no x-request-id', async () => {
    reply = () => jsonReply('chat-text.json');
    expect((await adapter().generate(hello, call())).providerRequestId).toBe('chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT');
  });

  it('keeps cached and reasoning tokens inside input and output', async () => {
    reply = () => jsonReply('cached-usage.json');
    const res = await adapter().generate(hello, call());
    expect(res.usage).toEqual({ inputTokens: 2006, outputTokens: 300, cachedInputTokens: 1920, cacheWriteTokens: 0, reasoningTokens: 192 });
  });

  it('keeps refusal text, and calls it content_filter only when finish_reason does', async () => {
    const body = (finish: string) => ({
      status: 200,
      headers: JSON_CT,
      chunks: [JSON.stringify({ id: 'c1', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: "I can't help with that." }, finish_reason: finish }], usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 } })],
    });
    reply = () => body('stop');
    const a = adapter();
    const refused = await a.generate(hello, call());
    expect(refused.text).toBe("I can't help with that.");
    expect(refused.finishReason).toBe('stop');
    reply = () => body('content_filter');
    expect((await a.generate(hello, call())).finishReason).toBe('content_filter');
  });

  it('maps an unknown finish_reason to stop and keeps the raw value', async () => {
    reply = () => ({ headers: JSON_CT, chunks: [JSON.stringify({ model: 'm', choices: [{ index: 0, message: { content: 'x' }, finish_reason: 'insufficient_system_resource' }] })] });
    const res = await adapter().generate(hello, call());
    expect(res.finishReason).toBe('stop');
    expect(res.rawFinishReason).toBe('insufficient_system_resource');
    // No usage reported at all: zeros, flagged as not the provider's numbers.
    expect(res.usage.estimated).toBe(true);
  });

  it('maps a missing finish_reason (null, streamed or not) to other, not stop', async () => {
    reply = () => ({ headers: JSON_CT, chunks: [JSON.stringify({ model: 'm', choices: [{ index: 0, message: { content: 'x' }, finish_reason: null }] })] });
    const res = await adapter().generate(hello, call());
    expect(res.finishReason).toBe('other');
    expect(res.rawFinishReason).toBeUndefined();
    reply = () => ({
      headers: SSE,
      chunks: [`data: ${JSON.stringify({ id: 's1', model: 'm', choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }] })}\n\n`, 'data: [DONE]\n\n'],
    });
    expect(terminal(await drain(adapter().stream(hello, call())))).toMatchObject({ type: 'finish', finishReason: 'other' });
  });

  it('rejects a body that is not a chat completion with invalid_response', async () => {
    reply = () => ({ headers: JSON_CT, chunks: ['{"choices":"nope"}'] });
    expect((await rejection(adapter().generate(hello, call()))).kind).toBe('invalid_response');
    reply = () => ({ headers: JSON_CT, chunks: ['<html>bad gateway</html>'] });
    expect((await rejection(adapter().generate(hello, call()))).kind).toBe('invalid_response');
  });
});

describe('streamed replies', () => {
  it('streams text: start, deltas, one finish with exact usage', async () => {
    reply = () => sseReply('stream-recorded.sse', { headers: { ...SSE, 'x-request-id': 'req_s1' } });
    const ps = await drain(adapter().stream(hello, call()));
    expect(ps[0]).toEqual({ type: 'start', providerRequestId: 'req_s1' });
    expect(ps.filter((p) => p.type === 'text-delta').map((p) => (p as { text: string }).text)).toEqual(['San', ' Francisco']);
    expect(terminal(ps)).toEqual({
      type: 'finish',
      finishReason: 'stop',
      rawFinishReason: 'stop',
      usage: { inputTokens: 17, outputTokens: 10, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      model: 'gpt-4o-2024-08-06',
      providerRequestId: 'req_s1',
    });
    expect(lastRequest().json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('streams a tool call whose arguments arrive in fragments, in order and by index', async () => {
    reply = () => sseReply('tool-call.sse');
    const ps = await drain(adapter().stream(hello, call()));
    const deltas = ps.filter((p) => p.type === 'tool-call-delta');
    expect(deltas[0]).toEqual({ type: 'tool-call-delta', index: 0, id: 'call_O17Uplv4lJvD6DVdIvFFeRMw', name: 'test-tool', argumentsDelta: '' });
    expect(deltas.slice(1)).toEqual(
      ['{"', 'value', '":"', 'Spark', 'le', ' Day', '"}'].map((argumentsDelta) => ({ type: 'tool-call-delta', index: 0, argumentsDelta })),
    );
    expect(terminal(ps)).toMatchObject({ type: 'finish', finishReason: 'tool_calls', usage: { inputTokens: 53, outputTokens: 17 } });
    reply = () => sseReply('tool-call.sse');
    const res = await collectStream(adapter().stream(hello, call()));
    expect(res.toolCalls).toEqual([{ id: 'call_O17Uplv4lJvD6DVdIvFFeRMw', name: 'test-tool', arguments: '{"value":"Sparkle Day"}' }]);
  });

  it('keeps parallel tool calls apart by index', async () => {
    reply = () => sseReply('parallel-tools.sse');
    const res = await collectStream(adapter().stream(hello, call()));
    expect(res.toolCalls).toEqual([
      { id: 'call_A', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_B', name: 'get_weather', arguments: '{"city":"Rome"}' },
    ]);
  });

  it('gives a new ordinal to a call that reuses index 0 with a new id (some compatible servers)', async () => {
    const chunk = (tc: unknown, finish: string | null = null) => ({ data: { id: 'x', model: 'm', choices: [{ index: 0, delta: { tool_calls: tc ? [tc] : undefined }, finish_reason: finish }] } });
    reply = () => ({
      headers: SSE,
      chunks: [chunk({ index: 0, id: 'a', function: { name: 'f', arguments: '{}' } }), chunk({ index: 0, id: 'b', function: { name: 'g', arguments: '{"x":1}' } }), chunk(null, 'tool_calls')]
        .map((e) => `data: ${JSON.stringify(e.data)}\n\n`)
        .concat('data: [DONE]\n\n'),
    });
    const ps = await drain(adapter().stream(hello, call()));
    expect(ps.filter((p) => p.type === 'tool-call-delta').map((p) => (p as { index: number }).index)).toEqual([0, 1]);
  });

  it('yields the same text, tool calls and usage as generate() for equivalent fixtures', async () => {
    for (const [json, sse] of [
      ['chat-text.json', 'chat-text.sse'],
      ['tool-call.json', 'tool-call.sse'],
      ['cached-usage.json', 'cached-usage.sse'],
    ] as const) {
      const a = adapter();
      reply = () => jsonReply(json, 200, { 'x-request-id': 'req_same' });
      const generated = await a.generate(hello, call());
      reply = () => sseReply(sse, { headers: { ...SSE, 'x-request-id': 'req_same' } });
      const streamed = await collectStream(a.stream(hello, call()));
      expect(streamed).toEqual(generated);
    }
  });

  it('ends with a single error part for an error status before the body', async () => {
    reply = () => jsonReply('error-rate-limit.json', 429, { 'retry-after': '3' });
    const ps = await drain(adapter().stream(hello, call()));
    expect(ps).toHaveLength(1);
    expect(errorOf(ps)).toMatchObject({ kind: 'rate_limited', retryAfterMs: 3000, status: 429, provider: 'oai' });
  });

  it('turns a mid-stream error event into an error part, after the text already sent', async () => {
    reply = () => sseReply('mid-stream-error.sse');
    const ps = await drain(adapter().stream(hello, call()));
    expect(ps.map((p) => p.type)).toEqual(['start', 'text-delta', 'error']);
    expect(errorOf(ps)).toMatchObject({ kind: 'unavailable', providerCode: 'server_error', provider: 'oai', retryable: true });
  });

  it('treats a stream that closes without [DONE] as invalid_response, even after a finish_reason', async () => {
    reply = () => sseReply('truncated.sse');
    const ps = await drain(adapter().stream(hello, call()));
    expect(ps.some((p) => p.type === 'finish')).toBe(false);
    expect(errorOf(ps).kind).toBe('invalid_response');
    reply = () => sseReply('truncated.sse');
    const err = await rejection(collectStream(adapter().stream(hello, call())));
    expect(err.partialText).toBe('San Francisco');
  });

  it('reports a chunk that is not JSON, or not a chunk, as invalid_response', async () => {
    reply = () => sseReply('malformed.sse');
    let ps = await drain(adapter().stream(hello, call()));
    expect(ps.map((p) => p.type)).toEqual(['start', 'text-delta', 'error']);
    expect(errorOf(ps).kind).toBe('invalid_response');
    reply = () => ({ headers: SSE, chunks: ['data: {"id":"x","choices":{"0":1}}\n\n', 'data: [DONE]\n\n'] });
    ps = await drain(adapter().stream(hello, call()));
    expect(errorOf(ps).kind).toBe('invalid_response');
  });

  it('reports a socket reset mid-body as an error part', async () => {
    reply = () => ({ headers: SSE, chunks: sseChunks('stream-recorded.sse').slice(0, 2), destroy: true });
    const ps = await drain(adapter().stream(hello, call()));
    expect(ps[0]?.type).toBe('start');
    expect(errorOf(ps).kind).toBe('invalid_response');
  });
});

describe('error classification', () => {
  it('429: rate_limited with retryAfterMs from retry-after, retry-after-ms, or the message', async () => {
    const a = adapter();
    reply = () => jsonReply('error-rate-limit.json', 429, { 'retry-after': '2' });
    expect(await rejection(a.generate(hello, call()))).toMatchObject({
      kind: 'rate_limited',
      retryAfterMs: 2000,
      status: 429,
      providerCode: 'rate_limit_exceeded',
      provider: 'oai',
      retryable: true,
    });
    reply = () => jsonReply('error-rate-limit.json', 429, { 'retry-after-ms': '450', 'retry-after': '1' });
    expect((await rejection(a.generate(hello, call()))).retryAfterMs).toBe(450);
    reply = () => jsonReply('error-rate-limit.json', 429);
    expect((await rejection(a.generate(hello, call()))).retryAfterMs).toBe(174);
  });

  it('5xx: 500 is unavailable, 503 overloaded', async () => {
    const a = adapter();
    reply = () => jsonReply('error-server.json', 500);
    expect(await rejection(a.generate(hello, call()))).toMatchObject({ kind: 'unavailable', status: 500, providerCode: 'server_error', retryable: true });
    reply = () => jsonReply('error-overloaded.json', 503);
    expect(await rejection(a.generate(hello, call()))).toMatchObject({ kind: 'overloaded', status: 503 });
  });

  it('400 context_length_exceeded, 401 provider_auth without leaking the key, 404 not_found, 403 provider_auth', async () => {
    const a = adapter();
    reply = () => jsonReply('error-context-length.json', 400);
    expect(await rejection(a.generate(hello, call()))).toMatchObject({ kind: 'context_length_exceeded', param: 'messages', status: 400, retryable: false });
    reply = () => jsonReply('error-invalid-key.json', 401);
    const auth = await rejection(a.generate(hello, call()));
    expect(auth).toMatchObject({ kind: 'provider_auth', providerCode: 'invalid_api_key', status: 401, retryable: true });
    expect(auth.message).toMatch(/rejected the gateway's credentials \(HTTP 401\)/);
    expect(JSON.stringify(auth.toJSON()) + auth.message).not.toContain(KEY);
    reply = () => jsonReply('error-model-not-found.json', 404);
    expect(await rejection(a.generate(hello, call()))).toMatchObject({ kind: 'not_found', providerCode: 'model_not_found' });
    reply = () => ({ status: 403, headers: JSON_CT, chunks: ['{"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","param":null,"code":"unsupported_country_region_territory"}}'] });
    expect(await rejection(a.generate(hello, call()))).toMatchObject({ kind: 'provider_auth', status: 403 });
  });

  it('reads the envelope shapes of compatible servers (top-level message, numeric code)', async () => {
    const a = adapter();
    reply = () => ({ status: 400, headers: JSON_CT, chunks: ['{"object":"error","message":"This model\'s maximum context length is 2048 tokens.","type":"BadRequestError","param":null,"code":400}'] });
    expect(await rejection(a.generate(hello, call()))).toMatchObject({ kind: 'context_length_exceeded', status: 400 });
    reply = () => ({ status: 502, headers: { 'content-type': 'text/html' }, chunks: ['<html>Bad Gateway</html>'] });
    expect(await rejection(a.generate(hello, call()))).toMatchObject({ kind: 'unavailable', status: 502 });
  });
});

describe('timeouts and cancellation', () => {
  it('first-byte timeout is kind timeout, for generate and stream', async () => {
    reply = () => ({ hang: true });
    const a = adapter();
    expect((await rejection(a.generate(hello, call({ timeouts: { firstByteMs: 150 } })))).kind).toBe('timeout');
    const ps = await drain(a.stream(hello, call({ timeouts: { firstByteMs: 150 } })));
    expect(ps).toHaveLength(1);
    expect(errorOf(ps).kind).toBe('timeout');
  });

  it('abort cancels the upstream request and yields one cancelled error part, nothing after', async () => {
    // A local server, so the test can see the upstream connection close.
    let closed = false;
    let upstream: ServerResponse | undefined;
    const raw = createServer((_req, res) => {
      upstream = res;
      res.writeHead(200, SSE);
      // Two deltas in one write: the second is already parsed when the consumer aborts on the first.
      res.write(sseChunks('stream-recorded.sse').slice(1, 3).join(''));
      res.on('close', () => (closed = true));
    });
    await new Promise<void>((ok) => raw.listen(0, '127.0.0.1', ok));
    const { port } = raw.address() as AddressInfo;
    try {
      const a = adapter({ baseUrl: `http://127.0.0.1:${port}/v1` });
      const controller = new AbortController();
      const seen: StreamPart[] = [];
      for await (const p of a.stream(hello, call({ signal: controller.signal }))) {
        seen.push(p);
        if (p.type === 'text-delta') controller.abort();
      }
      expect(seen.map((p) => p.type)).toEqual(['start', 'text-delta', 'error']);
      expect(errorOf(seen).kind).toBe('cancelled');
      await vi.waitFor(() => expect(closed).toBe(true));
    } finally {
      upstream?.destroy();
      raw.closeAllConnections();
      await new Promise<void>((ok) => raw.close(() => ok()));
    }
  });

  it('an already-aborted signal: generate rejects and stream yields one part, both cancelled', async () => {
    reply = () => jsonReply('chat-text.json');
    const a = adapter();
    const signal = AbortSignal.abort();
    expect((await rejection(a.generate(hello, call({ signal })))).kind).toBe('cancelled');
    const ps = await drain(a.stream(hello, call({ signal })));
    expect(ps).toHaveLength(1);
    expect(errorOf(ps).kind).toBe('cancelled');
  });
});

describe('request mapping', () => {
  const full: ChatRequest = {
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is the weather like in Boston today?' },
          { type: 'image', url: 'https://example.com/sky.png', detail: 'low' },
          { type: 'image', data: 'iVBORw0KGgo=', mediaType: 'image/png' },
        ],
      },
      { role: 'assistant', content: null, toolCalls: [{ id: 'call_abc123', name: 'get_current_weather', arguments: '{"location":"Boston, MA"}' }] },
      { role: 'tool', toolCallId: 'call_abc123', name: 'get_current_weather', content: '{"temp_f":41}' },
    ],
    tools: [
      {
        name: 'get_current_weather',
        description: 'Get the current weather in a given location',
        parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
        strict: true,
      },
    ],
    toolChoice: { type: 'tool', name: 'get_current_weather' },
    responseFormat: { type: 'json_schema', name: 'weather', description: 'A report', schema: { type: 'object' }, strict: true },
    maxOutputTokens: 256,
    temperature: 0.2,
    topP: 0.9,
    stop: ['\n\n'],
    seed: 42,
    metadata: { team: 'a' },
    providerOptions: { openai: { user: 'u-1', parallel_tool_calls: false }, anthropic: { ignored: true } },
  };

  it('sends exactly the mapped body and the auth and extra headers', async () => {
    reply = () => jsonReply('chat-text.json');
    await adapter({ headers: { 'openai-organization': 'org-1' } }).generate(full, call({ headers: { 'x-gateway-request-id': 'gw-1' } }));
    const req = lastRequest();
    expect(req.method).toBe('POST');
    expect(req.json).toEqual({
      model: 'gpt-5.4',
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is the weather like in Boston today?' },
            { type: 'image_url', image_url: { url: 'https://example.com/sky.png', detail: 'low' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_abc123', type: 'function', function: { name: 'get_current_weather', arguments: '{"location":"Boston, MA"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_abc123', content: '{"temp_f":41}' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_current_weather',
            description: 'Get the current weather in a given location',
            parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
            strict: true,
          },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'get_current_weather' } },
      response_format: { type: 'json_schema', json_schema: { name: 'weather', description: 'A report', schema: { type: 'object' }, strict: true } },
      max_completion_tokens: 256,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['\n\n'],
      seed: 42,
      user: 'u-1',
      parallel_tool_calls: false,
    });
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['openai-organization']).toBe('org-1');
    expect(req.headers['x-gateway-request-id']).toBe('gw-1');
  });

  it('maps the string tool choices and json_object', async () => {
    reply = () => jsonReply('chat-text.json');
    const a = adapter();
    for (const toolChoice of ['auto', 'none', 'required'] as const) {
      await a.generate({ ...hello, tools: [{ name: 't', parameters: {} }], toolChoice, responseFormat: { type: 'json_object' } }, call());
      expect(lastRequest().json).toMatchObject({ tool_choice: toolChoice, response_format: { type: 'json_object' } });
    }
  });

  it('fails closed with unsupported_feature before sending anything', async () => {
    reply = () => jsonReply('chat-text.json');
    const a = adapter();
    const withTools: ChatRequest = { ...hello, tools: [{ name: 't', parameters: {} }] };
    const err = await rejection(a.generate(withTools, call({ capabilities: [] })));
    expect(err).toMatchObject({ kind: 'unsupported_feature', param: 'tools' });
    const ps = await drain(a.stream(withTools, call({ capabilities: [] })));
    expect(ps).toHaveLength(1);
    expect(errorOf(ps)).toMatchObject({ kind: 'unsupported_feature', param: 'tools' });
    // More stop sequences than the API takes cannot be expressed.
    const stops = await rejection(a.generate({ ...hello, stop: ['a', 'b', 'c', 'd', 'e'] }, call()));
    expect(stops).toMatchObject({ kind: 'unsupported_feature', param: 'stop' });
    expect(stops.message).toContain('stop');
    expect(server.requests).toHaveLength(0);
  });
});

describe('presets', () => {
  it('azure: deployment URL with api-version, api-key header, max_tokens', async () => {
    reply = () => jsonReply('chat-text.json');
    const a = adapter({ baseUrl: server.url, options: { preset: 'azure', deployments: { 'gpt-4o': 'prod-4o' } } });
    await a.generate({ ...hello, maxOutputTokens: 100 }, call({ model: 'gpt-4o' }));
    let req = lastRequest();
    expect(req.url).toBe('/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21');
    expect(req.headers['api-key']).toBe(KEY);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.json).toMatchObject({ max_tokens: 100 });
    expect(req.json).not.toHaveProperty('max_completion_tokens');

    const b = adapter({ baseUrl: server.url, options: { preset: 'azure', apiVersion: '2025-01-01-preview', maxTokensField: 'max_completion_tokens' } });
    reply = () => sseReply('chat-text.sse');
    await drain(b.stream({ ...hello, maxOutputTokens: 100 }, call({ model: 'gpt-4o-mini' })));
    req = lastRequest();
    expect(req.url).toBe('/openai/deployments/gpt-4o-mini/chat/completions?api-version=2025-01-01-preview');
    expect(req.json).toMatchObject({ max_completion_tokens: 100, stream: true, stream_options: { include_usage: true } });
  });

  it('vllm: max_tokens, no auth header without a key, default base URL', async () => {
    reply = () => jsonReply('chat-text.json');
    const a = adapter({ apiKey: undefined, options: { preset: 'vllm' } });
    await a.generate({ ...hello, maxOutputTokens: 64 }, call({ model: 'Qwen/Qwen2.5-7B-Instruct' }));
    const req = lastRequest();
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.json).toMatchObject({ model: 'Qwen/Qwen2.5-7B-Instruct', max_tokens: 64 });
    expect(req.json).not.toHaveProperty('max_completion_tokens');
    expect(req.headers.authorization).toBeUndefined();
    const fromFactory = createOpenAICompatibleAdapter('vllm')({ id: 'local', baseUrl: '', timeouts: TIMEOUTS });
    adapters.push(fromFactory);
    expect(fromFactory.protocol).toBe('openai');
    expect(fromFactory.baseUrl).toBe(PROVIDER_PROTOCOLS.vllm.defaultBaseUrl);
  });

  it('mistral: random_seed, no stream_options, and its own providerOptions entry', async () => {
    reply = () => sseReply('chat-text.sse');
    const a = adapter({}, createOpenAICompatibleAdapter('mistral'));
    const ps = await drain(
      a.stream({ ...hello, seed: 7, maxOutputTokens: 10, providerOptions: { openai: { user: 'u' }, mistral: { safe_prompt: true } } }, call({ model: 'mistral-small-latest' })),
    );
    expect(terminal(ps).type).toBe('finish');
    const body = lastRequest().json as Record<string, unknown>;
    expect(body).toMatchObject({ random_seed: 7, max_tokens: 10, stream: true, user: 'u', safe_prompt: true });
    expect(body).not.toHaveProperty('seed');
    expect(body).not.toHaveProperty('stream_options');
  });

  it('deepseek: rejects seed and json_schema, has no embeddings', async () => {
    reply = () => jsonReply('chat-text.json');
    const a = adapter({ options: { preset: 'deepseek' } });
    expect(await rejection(a.generate({ ...hello, seed: 1 }, call()))).toMatchObject({ kind: 'unsupported_feature', param: 'seed' });
    expect(await rejection(a.generate({ ...hello, responseFormat: { type: 'json_schema', name: 'r', schema: {} } }, call()))).toMatchObject({
      kind: 'unsupported_feature',
      param: 'json_schema',
    });
    expect(a.embed).toBeUndefined();
    expect(server.requests).toHaveLength(0);
  });

  it("reads compatible servers' usage fields: DeepSeek cache hits, Groq x_groq usage", async () => {
    reply = () => ({
      headers: JSON_CT,
      chunks: [JSON.stringify({ id: 'd1', model: 'deepseek-chat', choices: [{ index: 0, message: { content: 'hi', reasoning_content: 'think' }, finish_reason: 'stop' }], usage: { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105, prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: 36 } })],
    });
    const res = await adapter({ options: { preset: 'deepseek' } }).generate(hello, call({ model: 'deepseek-chat' }));
    expect(res).toMatchObject({ reasoning: 'think', usage: { inputTokens: 100, cachedInputTokens: 64, outputTokens: 5 } });
    const groqUsage = { prompt_tokens: 20, completion_tokens: 3, total_tokens: 23 };
    reply = () => ({
      headers: SSE,
      chunks: [
        `data: ${JSON.stringify({ id: 'g1', model: 'llama', choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: null }] })}\n\n`,
        `data: ${JSON.stringify({ id: 'g1', model: 'llama', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], x_groq: { usage: groqUsage } })}\n\n`,
        'data: [DONE]\n\n',
      ],
    });
    const ps = await drain(adapter({ options: { preset: 'groq' } }).stream(hello, call({ model: 'llama' })));
    expect(terminal(ps)).toMatchObject({ type: 'finish', usage: { inputTokens: 20, outputTokens: 3 } });
  });

  it('rejects an unknown preset and a missing Azure base URL at construction', () => {
    expect(() => createOpenAIAdapter({ id: 'x', baseUrl: '', timeouts: TIMEOUTS, options: { preset: 'nope' } })).toThrow(/preset/);
    expect(() => createOpenAIAdapter({ id: 'x', baseUrl: '', timeouts: TIMEOUTS, options: { preset: 'azure' } })).toThrow(/baseUrl/);
  });
});

describe('embeddings', () => {
  it('returns vectors in input order with usage, sending float encoding and dimensions', async () => {
    reply = () => jsonReply('embeddings-unordered.json');
    const res = await adapter().embed!({ input: ['first', 'second'], dimensions: 5 }, call({ model: 'text-embedding-3-small' }));
    expect(res.embeddings).toEqual([
      [0.0057293195, -0.012727811, 0.020042092, -0.013437585, 0.022833068],
      [-0.037104916, -0.05178114, -0.008340587, 0.001164541, -0.0035253682],
    ]);
    expect(res.usage).toEqual({ inputTokens: 12 });
    expect(res.model).toBe('text-embedding-3-small');
    expect(lastRequest().url).toBe('/v1/embeddings');
    expect(lastRequest().json).toEqual({ model: 'text-embedding-3-small', input: ['first', 'second'], encoding_format: 'float', dimensions: 5 });
  });

  it('azure embeddings go to the deployment path; a vector count mismatch is invalid_response', async () => {
    reply = () => jsonReply('embeddings.json');
    const az = adapter({ baseUrl: server.url, options: { preset: 'azure' } });
    await az.embed!({ input: ['a', 'b'] }, call({ model: 'emb-small' }));
    expect(lastRequest().url).toBe('/openai/deployments/emb-small/embeddings?api-version=2024-10-21');
    expect((await rejection(az.embed!({ input: ['a', 'b', 'c'] }, call({ model: 'emb-small' })))).kind).toBe('invalid_response');
  });

  it('embedding errors use the chat error envelope', async () => {
    reply = () => jsonReply('error-rate-limit.json', 429, { 'retry-after': '1' });
    expect(await rejection(adapter().embed!({ input: ['a'] }, call()))).toMatchObject({ kind: 'rate_limited', retryAfterMs: 1000 });
  });
});
