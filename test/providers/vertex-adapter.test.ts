/**
 * The Vertex AI adapter against the Vertex simulator, both publishers: the same reply streamed and not, tool round
 * trips, thinking signatures across a tool turn, Claude's prompt cache, text embeddings, and the error mapping.
 * The adapter gets its tokens from the simulator's token endpoint with the simulator's service-account key file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStream, type ChatRequest, type ChatResponse, type StreamPart } from '../../src/core/index.ts';
import { httpError } from '../../src/providers/vertex/errors.ts';
import { createVertexAdapter } from '../../src/providers/vertex/index.ts';
import { modelPath, publisherOf, publishersOption, vertexHost } from '../../src/providers/vertex/paths.ts';
import type { CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { drainChecked, errorOf, rejection } from '../helpers/stream-contract.ts';
import { PROJECT, startVertexSim, vertexConfig, type VertexSim } from './vertex-sim.ts';

const GEMINI = 'gemini-2.5-flash';
const CLAUDE = 'claude-haiku-4-5@20251001';

const weatherTool = {
  name: 'get_weather',
  description: 'Get the weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const opts = (model: string, extra: Partial<CallOptions> = {}): CallOptions => ({
  model,
  capabilities: ['tools', 'json_schema', 'vision', 'embeddings', 'prompt_caching'],
  ...extra,
});

async function* replay(parts: StreamPart[]): AsyncIterable<StreamPart> {
  yield* parts;
}

async function streamed(adapter: ProviderAdapter, req: ChatRequest, o: CallOptions): Promise<ChatResponse> {
  return collectStream(replay(await drainChecked(adapter.stream(req, o))));
}

let v: VertexSim;
let adapter: ProviderAdapter;

beforeAll(async () => {
  v = await startVertexSim();
  adapter = createVertexAdapter(vertexConfig(v));
});

afterAll(async () => {
  await adapter.close();
  await v.close();
});

describe('vertex paths and publishers', () => {
  it('derives the host from the location and the publisher from the model name, with overrides', () => {
    expect(vertexHost('us-central1')).toBe('https://us-central1-aiplatform.googleapis.com');
    expect(vertexHost('global')).toBe('https://aiplatform.googleapis.com');
    expect(publisherOf('claude-sonnet-4-5@20250929', {})).toBe('anthropic');
    expect(publisherOf('gemini-2.5-pro', {})).toBe('google');
    expect(publisherOf('my-tuned-claude', publishersOption({ 'my-tuned-claude': 'anthropic' }))).toBe('anthropic');
    expect(() => publishersOption({ x: 'meta' })).toThrow(/google.*anthropic/);
    expect(modelPath({ apiVersion: 'v1', project: 'p', location: 'global' }, 'anthropic', 'claude-x@2025', 'rawPredict')).toBe(
      '/v1/projects/p/locations/global/publishers/anthropic/models/claude-x@2025:rawPredict',
    );
    expect(modelPath({ apiVersion: 'v1', project: 'p', location: 'l' }, 'google', '../x', 'predict')).toBe('/v1/projects/p/locations/l/publishers/google/models/..%2Fx:predict');
  });
});

describe('vertex error envelopes', () => {
  const google = (code: number, status: string, message: string, details: unknown[] = []) =>
    httpError('v', { status: code, headers: {} }, JSON.stringify({ error: { code, message, status, details } }));

  it("reads Google's envelope by its status, and Claude's by its type", () => {
    expect(google(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }])).toMatchObject({
      kind: 'rate_limited',
      retryAfterMs: 1500,
    });
    expect(google(503, 'UNAVAILABLE', 'The service is currently unavailable.')).toMatchObject({ kind: 'unavailable', retryable: true });
    expect(google(403, 'PERMISSION_DENIED', "Permission 'aiplatform.endpoints.predict' denied")).toMatchObject({ kind: 'provider_auth' });
    expect(google(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.', [{ reason: 'ACCESS_TOKEN_EXPIRED' }])).toMatchObject({
      kind: 'provider_auth',
      providerCode: 'ACCESS_TOKEN_EXPIRED',
    });
    expect(google(404, 'NOT_FOUND', 'Publisher Model `x` was not found')).toMatchObject({ kind: 'not_found' });
    expect(google(400, 'INVALID_ARGUMENT', 'The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).').kind).toBe('context_length_exceeded');
    expect(google(400, 'INVALID_ARGUMENT', 'Unable to submit request because it has an empty text parameter.').kind).toBe('invalid_request');
    const claude = httpError('v', { status: 529, headers: {} }, JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    expect(claude).toMatchObject({ kind: 'overloaded', providerCode: 'overloaded_error' });
    expect(httpError('v', { status: 502, headers: {} }, '<html>Bad gateway</html>')).toMatchObject({ kind: 'unavailable', message: 'v: HTTP 502' });
  });
});

describe.each([
  { publisher: 'google', model: GEMINI, verbs: [':generateContent', ':streamGenerateContent'] },
  { publisher: 'anthropic', model: CLAUDE, verbs: [':rawPredict', ':streamRawPredict'] },
])('vertex adapter, $publisher publisher', ({ publisher, model, verbs }) => {
  const req: ChatRequest = { messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: `Tell me about ${publisher} on Vertex.` }] };

  it('gives the same text, finish reason and usage streamed and not, at the publisher paths', async () => {
    const before = v.modelRequests().length;
    const plain = await adapter.generate(req, opts(model));
    const stream = await streamed(adapter, req, opts(model));
    expect(plain.text.length).toBeGreaterThan(0);
    expect(plain.finishReason).toBe('stop');
    expect(stream.text).toBe(plain.text);
    expect(stream.usage).toEqual(plain.usage);
    expect(plain.usage.inputTokens).toBeGreaterThan(0);
    const seen = v.modelRequests().slice(before);
    expect(seen.map((r) => r.path)).toEqual(verbs.map((verb) => `/v1/projects/${PROJECT}/locations/us-central1/publishers/${publisher}/models/${model}${verb}`));
    expect(seen.every((r) => /^Bearer ya29\./.test(String(r.headers.authorization)))).toBe(true);
    if (publisher === 'anthropic') {
      for (const r of seen) {
        const body = r.body as Record<string, unknown>;
        expect(body.anthropic_version).toBe('vertex-2023-10-16');
        expect(body).not.toHaveProperty('model');
      }
    }
  });

  it('round-trips a tool call', async () => {
    const ask: ChatRequest = { messages: [{ role: 'user', content: 'call get_weather for Paris' }], tools: [weatherTool] };
    const first = await adapter.generate(ask, opts(model));
    expect(first.finishReason).toBe('tool_calls');
    expect(first.toolCalls).toHaveLength(1);
    const call = first.toolCalls[0]!;
    expect(call.name).toBe('get_weather');
    expect(JSON.parse(call.arguments)).toHaveProperty('city');
    const viaStream = await streamed(adapter, ask, opts(model));
    expect(viaStream.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([[call.name, JSON.parse(call.arguments)]]);

    const answer = await adapter.generate(
      {
        ...ask,
        messages: [...ask.messages, { role: 'assistant', content: null, toolCalls: [call] }, { role: 'tool', toolCallId: call.id, name: call.name, content: '18C and sunny' }],
      },
      opts(model),
    );
    expect(answer.finishReason).toBe('stop');
    expect(answer.text).toContain('18C and sunny');
  });

  it('sends signed reasoning back across a tool turn, and the provider refuses it altered', async () => {
    const ask: ChatRequest = { messages: [{ role: 'user', content: 'call get_weather for Oslo' }], tools: [weatherTool], reasoningEffort: 'low' };
    const o = opts(model, { capabilities: ['tools', 'reasoning'] });
    const first = await adapter.generate(ask, o);
    expect(first.toolCalls).toHaveLength(1);
    const signed = (first.reasoningParts ?? []).filter((p) => p.signature !== undefined);
    expect(signed.length).toBeGreaterThan(0);
    const call = first.toolCalls[0]!;
    const turn = (reasoningParts: NonNullable<ChatResponse['reasoningParts']>): ChatRequest => ({
      ...ask,
      messages: [...ask.messages, { role: 'assistant', content: null, toolCalls: [call], reasoningParts }, { role: 'tool', toolCallId: call.id, name: call.name, content: 'snow' }],
    });
    const answer = await adapter.generate(turn(first.reasoningParts!), o);
    expect(answer.text).toContain('snow');
    const forged = first.reasoningParts!.map((p) => (p.signature !== undefined ? { ...p, signature: `${p.signature.slice(0, -4)}AAAA` } : p));
    const err = await rejection(adapter.generate(turn(forged), o));
    expect(err.kind).toBe('invalid_request');
    expect(err.status).toBe(400);
  });

  it('maps an injected 429 to rate_limited with its retry delay, and 503 to unavailable', async () => {
    const limited = await rejection(adapter.generate(req, opts(model, { headers: { 'x-sim-status': '429', 'x-sim-retry-after-s': '3' } })));
    expect(limited).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 3000, providerCode: 'RESOURCE_EXHAUSTED' });
    const down = errorOf(await drainChecked(adapter.stream(req, opts(model, { headers: { 'x-sim-status': '503' } }))));
    expect(down).toMatchObject({ kind: 'unavailable', status: 503, retryable: true });
  });

  it('maps an unknown model to not_found and an over-long prompt to context_length_exceeded', async () => {
    // A `missing-*` model is not Claude by name: the override sends it to the publisher under test.
    const missing = createVertexAdapter(vertexConfig(v, { options: { publishers: { 'missing-model': publisher } } }));
    try {
      const err = await rejection(missing.generate(req, opts('missing-model')));
      expect(err).toMatchObject({ kind: 'not_found', status: 404, providerCode: 'NOT_FOUND' });
      expect(v.modelRequests().at(-1)!.path).toContain(`/publishers/${publisher}/models/missing-model:`);
    } finally {
      await missing.close();
    }
    const long = await rejection(adapter.generate(req, opts(model, { headers: { 'x-sim-max-input-tokens': '3' } })));
    expect(long.kind).toBe('context_length_exceeded');
  });

  it('ends a stream with one error part after N chunks, keeping the text already delivered', async () => {
    const parts = await drainChecked(adapter.stream(req, opts(model, { headers: { 'x-sim-error-after-chunks': '2', 'x-sim-chunk-count': '5' } })));
    const err = errorOf(parts);
    expect(['overloaded', 'unavailable']).toContain(err.kind);
    expect(parts.filter((p) => p.type === 'text-delta').length).toBeGreaterThan(0);
    const cut = errorOf(await drainChecked(adapter.stream(req, opts(model, { headers: { 'x-sim-disconnect-after-chunks': '1' } }))));
    expect(cut.kind).toBe('invalid_response');
  });
});

describe('vertex adapter: Claude prompt cache', () => {
  it('writes the cache on the first call and reads it on a repeat', async () => {
    const req: ChatRequest = { messages: [{ role: 'system', content: 'You are a careful assistant who explains routing. '.repeat(30) }, { role: 'user', content: 'Hello' }] };
    const o = opts(CLAUDE, { promptCache: { system: true } });
    const first = await adapter.generate(req, o);
    expect(first.usage.cacheWriteTokens).toBeGreaterThan(0);
    expect(first.usage.cachedInputTokens).toBe(0);
    const again = await streamed(adapter, req, o);
    expect(again.usage.cachedInputTokens).toBe(first.usage.cacheWriteTokens);
    expect(again.usage.inputTokens).toBe(first.usage.inputTokens);
  });
});

describe('vertex adapter: text embeddings through :predict', () => {
  it('embeds a batch with text-embedding-005, with the token counts Vertex reports', async () => {
    const res = await adapter.embed!({ input: ['one two three', 'four five', 'six'], dimensions: 16 }, opts('text-embedding-005'));
    expect(res.embeddings).toHaveLength(3);
    expect(res.embeddings.every((e) => e.length === 16)).toBe(true);
    expect(res.usage).toEqual({ inputTokens: 6 });
  });

  it('sends gemini-embedding-001 one text a call, in order', async () => {
    const before = v.modelRequests().length;
    const res = await adapter.embed!({ input: ['alpha', 'beta gamma', 'delta'], providerOptions: { vertex: { task_type: 'RETRIEVAL_DOCUMENT' } } }, opts('gemini-embedding-001'));
    const calls = v.modelRequests().slice(before);
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => (c.body as { instances: Array<{ content: string; task_type: string }> }).instances)).toEqual(
      expect.arrayContaining([[{ content: 'alpha', task_type: 'RETRIEVAL_DOCUMENT' }]]),
    );
    const single = await adapter.embed!({ input: ['beta gamma'], providerOptions: { vertex: { task_type: 'RETRIEVAL_DOCUMENT' } } }, opts('gemini-embedding-001'));
    expect(res.embeddings[1]).toEqual(single.embeddings[0]);
    expect(res.usage).toEqual({ inputTokens: 4 });
  });

  it('refuses embeddings on a Claude model', async () => {
    expect((await rejection(adapter.embed!({ input: ['x'] }, opts(CLAUDE)))).kind).toBe('unsupported_feature');
  });
});
