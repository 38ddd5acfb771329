/**
 * Gemini adapter contract tests against a loopback replay server.
 *
 * Fixtures (test/fixtures/gemini/): files without a prefix are copied from the recorded transcripts in
 * the Gemini protocol reference (js-genai live recordings and vercel/ai fixtures); `synth-*` files are
 * synthesized from the reference's schemas, e.g. the non-streamed twin of a recorded stream.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collectStream, type ChatRequest, type StreamPart } from '../../src/core/index.ts';
import type { CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { createGeminiAdapter } from '../../src/providers/gemini/index.ts';
import { mapFinishReason } from '../../src/providers/gemini/response.ts';
import { toGeminiRequest } from '../../src/providers/gemini/request.ts';
import { startReplayServer, type Replay, type ReplayServer } from '../helpers/replay-server.ts';
import { drain, errorOf, rejection, terminal } from '../helpers/stream-contract.ts';

const fx = (name: string): string => readFileSync(new URL(`../fixtures/gemini/${name}`, import.meta.url), 'utf8');
/** One write per SSE event, so the parser sees real chunk boundaries. */
const sseChunks = (text: string): string[] => text.split(/(?<=\n\n)/).filter((c) => c.length > 0);
const SSE = { 'content-type': 'text/event-stream' };
const JSON_CT = { 'content-type': 'application/json' };

const json = (name: string, status = 200, headers: Record<string, string> = {}): Replay => ({
  status,
  headers: { ...JSON_CT, ...headers },
  chunks: [fx(name)],
});
const stream = (name: string): Replay => ({ status: 200, headers: SSE, chunks: sseChunks(fx(name)) });

let server: ReplayServer;
let adapter: ProviderAdapter;
let reply: Replay = { status: 500 };

const API_KEY = 'test-key-7f3a';
const opts: CallOptions = { model: 'gemini-2.5-flash', capabilities: ['tools', 'json_object', 'json_schema', 'vision', 'streaming', 'embeddings'] };
const hello: ChatRequest = { messages: [{ role: 'user', content: 'How many r in strawberry?' }] };

beforeAll(async () => {
  server = await startReplayServer(() => reply);
  adapter = createGeminiAdapter({
    id: 'gemini-test',
    baseUrl: `${server.url}/v1beta`,
    apiKey: API_KEY,
    headers: { 'x-config-header': 'cfg' },
    timeouts: { connectMs: 2000, firstByteMs: 5000, idleMs: 5000, totalMs: 10_000 },
  });
});

afterAll(async () => {
  await adapter.close();
  await server.close();
});

beforeEach(() => {
  server.requests.length = 0;
});

describe('gemini adapter: replies', () => {
  it('maps a non-streamed text reply with thinking usage', async () => {
    reply = json('text.json');
    const res = await adapter.generate(hello, opts);
    expect(res).toEqual({
      text: "There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y.",
      toolCalls: [],
      finishReason: 'stop',
      rawFinishReason: 'STOP',
      // thoughts (244) are outside candidatesTokenCount (28): output = 272
      usage: { inputTokens: 9, outputTokens: 272, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 244 },
      model: 'gemini-3-pro-preview',
      providerRequestId: 'Un6LacrVMcjUxs0PmJfWoQc',
      // Gemini 3 signs the text part: the signature is kept (no text of its own) to go back with the turn.
      reasoningParts: [
        {
          text: '',
          provider: 'gemini',
          signature: 'EtoFCtcFAb4+9vtfe4MXRxQjw48U1WKrR/7lYsgFkVi/bepqsSPjY0VU7HEzkeCBIfy1fu5t9aUZ4IZ65aWagqbBrV45fc97olcg',
        },
      ],
    });
    const sent = server.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
  });

  it('prefers the x-goog-request-id header as providerRequestId', async () => {
    reply = json('text.json', 200, { 'x-goog-request-id': 'req-header-1' });
    expect((await adapter.generate(hello, opts)).providerRequestId).toBe('req-header-1');
  });

  it('streams text: start, deltas, one finish; empty signature-only parts yield nothing', async () => {
    reply = stream('text-thinking.sse');
    const parts = await drain(adapter.stream(hello, opts));
    expect(parts[0]).toEqual({ type: 'start', model: 'gemini-2.5-flash', providerRequestId: undefined });
    expect(parts.filter((p) => p.type === 'text-delta')).toEqual([
      { type: 'text-delta', text: 'There are **3**' },
      { type: 'text-delta', text: ' "r"s in strawberry.\n\nst**r**awbe**rr**y' },
    ]);
    expect(terminal(parts)).toEqual({
      type: 'finish',
      finishReason: 'stop',
      rawFinishReason: 'STOP',
      usage: { inputTokens: 9, outputTokens: 208, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 185 },
      model: 'gemini-3-pro-preview',
      providerRequestId: 'bH6LaZW8Fp_3nsEPqtaSwQ4',
    });
    expect(server.requests[0]!.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  it('gives the same reply streamed and non-streamed (text)', async () => {
    reply = json('synth-text-thinking.json');
    const whole = await adapter.generate(hello, opts);
    reply = stream('text-thinking.sse');
    expect(await collectStream(adapter.stream(hello, opts))).toEqual(whole);
  });

  it('takes the last chunk usage as final and maps MAX_TOKENS to length', async () => {
    reply = stream('max-tokens.sse');
    const res = await collectStream(adapter.stream(hello, opts));
    expect(res.text).toBe("The sky is blue because of a phenomenon called **Rayleigh scattering**. Here's a breakdown:");
    expect(res.finishReason).toBe('length');
    expect(res.rawFinishReason).toBe('MAX_TOKENS');
    expect(res.usage).toMatchObject({ inputTokens: 6, outputTokens: 20 });
  });

  it('streams several whole tool calls in order, one delta each, with ids and cached usage', async () => {
    reply = stream('synth-tool-calls-parallel.sse');
    const parts = await drain(adapter.stream(hello, opts));
    expect(parts.filter((p) => p.type === 'tool-call-delta')).toEqual([
      { type: 'tool-call-delta', index: 0, id: 'call_0', name: 'weather', argumentsDelta: '{"location":"Paris"}' },
      { type: 'tool-call-delta', index: 1, id: 'fc_tokyo_1', name: 'weather', argumentsDelta: '{"location":"Tokyo","unit":"celsius"}' },
    ]);
    const fin = terminal(parts);
    expect(fin).toMatchObject({
      type: 'finish',
      finishReason: 'tool_calls',
      rawFinishReason: 'STOP',
      usage: { inputTokens: 120, cachedInputTokens: 96, outputTokens: 43, reasoningTokens: 12, cacheWriteTokens: 0 },
    });
    reply = json('synth-tool-calls-parallel.json');
    const whole = await adapter.generate(hello, opts);
    reply = stream('synth-tool-calls-parallel.sse');
    expect(await collectStream(adapter.stream(hello, opts))).toEqual(whole);
    expect(whole.text).toBe('Checking both cities.');
  });

  it('maps the recorded tool-call replies (function call then a trailing STOP chunk)', async () => {
    reply = stream('tool-call-gemini3.sse');
    const streamed = await collectStream(adapter.stream(hello, opts));
    expect(streamed.toolCalls).toEqual([{ id: 'call_0', name: 'weather', arguments: '{"location":"San Francisco"}' }]);
    expect(streamed.finishReason).toBe('tool_calls');

    reply = json('tool-call.json');
    const whole = await adapter.generate(hello, opts);
    expect(whole.toolCalls).toEqual(streamed.toolCalls);
    expect(whole.finishReason).toBe('tool_calls');
    expect(whole.usage).toMatchObject({ inputTokens: 29, outputTokens: 15 + 893, reasoningTokens: 893 });

    reply = stream('tool-call-afc.sse');
    const afc = await collectStream(adapter.stream(hello, opts));
    expect(afc.toolCalls).toEqual([{ id: 'call_0', name: 'customDivide', arguments: '{"denominator":2,"numerator":10}' }]);
    expect(afc.usage).toMatchObject({ inputTokens: 17, outputTokens: 6 });
  });

  it('keeps thought parts apart as reasoning, streamed and not', async () => {
    const meta = { modelVersion: 'gemini-2.5-pro', responseId: 'r1' };
    const usageMetadata = { promptTokenCount: 4, candidatesTokenCount: 2, thoughtsTokenCount: 9 };
    const chunks = [
      { candidates: [{ content: { role: 'model', parts: [{ text: 'Counting letters.', thought: true }] } }], ...meta },
      { candidates: [{ content: { role: 'model', parts: [{ text: 'Three.' }] }, finishReason: 'STOP' }], usageMetadata, ...meta },
    ];
    reply = { status: 200, headers: SSE, chunks: chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`) };
    const parts = await drain(adapter.stream(hello, opts));
    expect(parts.filter((p) => p.type === 'reasoning-delta')).toEqual([{ type: 'reasoning-delta', text: 'Counting letters.', index: 0, provider: 'gemini' }]);
    const whole = {
      candidates: [
        { content: { role: 'model', parts: [{ text: 'Counting letters.', thought: true }, { text: 'Three.' }] }, finishReason: 'STOP' },
      ],
      usageMetadata,
      ...meta,
    };
    reply = { status: 200, headers: JSON_CT, chunks: [JSON.stringify(whole)] };
    const res = await adapter.generate(hello, opts);
    expect(res).toMatchObject({ text: 'Three.', reasoning: 'Counting letters.', usage: { outputTokens: 11, reasoningTokens: 9 } });
    reply = { status: 200, headers: SSE, chunks: chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`) };
    expect(await collectStream(adapter.stream(hello, opts))).toEqual(res);
  });

  it('counts cached tokens inside inputTokens (recorded cache-hit usage)', async () => {
    reply = json('synth-cached-usage.json');
    const res = await adapter.generate(hello, opts);
    expect(res.usage).toEqual({ inputTokens: 5, cachedInputTokens: 3, outputTokens: 238 + 41, reasoningTokens: 41, cacheWriteTokens: 0 });
  });

  it('maps blocked prompts and safety finishes to content_filter', async () => {
    reply = stream('prompt-blocked.sse');
    const streamed = await collectStream(adapter.stream(hello, opts));
    expect(streamed).toMatchObject({ finishReason: 'content_filter', rawFinishReason: 'PROHIBITED_CONTENT' });

    reply = json('synth-prompt-blocked.json');
    const res = await adapter.generate(hello, opts);
    expect(res).toMatchObject({ text: '', finishReason: 'content_filter', rawFinishReason: 'SAFETY', usage: { inputTokens: 11 } });

    reply = { status: 200, headers: SSE, chunks: [`data: ${fx('synth-prompt-blocked.json').replace(/\s*\n\s*/g, '')}\n\n`] };
    expect(await collectStream(adapter.stream(hello, opts))).toEqual(res);
  });

  it('reports MALFORMED_FUNCTION_CALL as an error finish, never a normal stop', async () => {
    reply = json('synth-malformed-function-call.json');
    const res = await adapter.generate(hello, opts);
    expect(res.finishReason).toBe('error');
    expect(res.rawFinishReason).toBe('MALFORMED_FUNCTION_CALL');
  });

  it('maps the finish-reason vocabulary', () => {
    expect(mapFinishReason('STOP', false)).toBe('stop');
    expect(mapFinishReason('STOP', true)).toBe('tool_calls');
    expect(mapFinishReason('MAX_TOKENS', false)).toBe('length');
    for (const r of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']) {
      expect(mapFinishReason(r, false)).toBe('content_filter');
    }
    expect(mapFinishReason('MALFORMED_FUNCTION_CALL', true)).toBe('error');
    for (const r of ['OTHER', 'LANGUAGE', 'FINISH_REASON_UNSPECIFIED', 'SOMETHING_NEW']) expect(mapFinishReason(r, false)).toBe('stop');
  });
});

describe('gemini adapter: errors', () => {
  const cases: Array<[string, number, string, string, Record<string, string>?]> = [
    ['error-400-invalid-key.json', 400, 'provider_auth', 'API_KEY_INVALID'],
    ['synth-error-403-permission.json', 403, 'provider_auth', 'PERMISSION_DENIED'],
    ['error-404-not-found.json', 404, 'not_found', 'NOT_FOUND'],
    ['error-400-context-length.json', 400, 'context_length_exceeded', 'INVALID_ARGUMENT'],
    ['error-503-overloaded.json', 503, 'overloaded', 'UNAVAILABLE'],
    ['synth-error-500-internal.json', 500, 'unavailable', 'INTERNAL'],
    ['synth-error-504-deadline.json', 504, 'timeout', 'DEADLINE_EXCEEDED'],
    ['error-429-retry-info.json', 429, 'rate_limited', 'RESOURCE_EXHAUSTED'],
  ];
  for (const [file, status, kind, code] of cases) {
    it(`classifies ${file} as ${kind}`, async () => {
      reply = json(file, status);
      const err = await rejection(adapter.generate(hello, opts));
      expect(err).toMatchObject({ kind, status, providerCode: code, provider: 'gemini-test' });
      expect(err.message).not.toContain(API_KEY);
      // The stream reports the same failure as one error part, before any start. Gemini labels such a
      // body text/event-stream although it is a plain JSON object (recorded 404).
      reply = { status, headers: SSE, chunks: [fx(file)] };
      const parts = await drain(adapter.stream(hello, opts));
      expect(parts).toHaveLength(1);
      expect(errorOf(parts)).toMatchObject({ kind, status, providerCode: code });
    });
  }

  it('reads RetryInfo.retryDelay into retryAfterMs', async () => {
    reply = json('error-429-retry-info.json', 429);
    expect((await rejection(adapter.generate(hello, opts))).retryAfterMs).toBe(34_400);
    reply = json('synth-error-429-2s.json', 429);
    const err = await rejection(adapter.generate(hello, opts));
    expect(err).toMatchObject({ kind: 'rate_limited', retryAfterMs: 2000, retryable: true });
  });

  it('prefers the body RetryInfo over retry-after, and falls back to the header', async () => {
    reply = json('synth-error-429-2s.json', 429, { 'retry-after': '7' });
    expect((await rejection(adapter.generate(hello, opts))).retryAfterMs).toBe(2000);
    reply = {
      status: 429,
      headers: { ...JSON_CT, 'retry-after': '3' },
      chunks: [JSON.stringify({ error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } })],
    };
    expect((await rejection(adapter.generate(hello, opts))).retryAfterMs).toBe(3000);
  });

  it('reads an error body framed as an SSE event or wrapped in an array', async () => {
    const env = fx('error-503-overloaded.json').trim();
    for (const body of [`data: ${env.replace(/\n/g, '')}\n\n`, `[${env}]`]) {
      reply = { status: 503, headers: SSE, chunks: [body] };
      const parts = await drain(adapter.stream(hello, opts));
      expect(errorOf(parts)).toMatchObject({ kind: 'overloaded', providerCode: 'UNAVAILABLE' });
      expect(errorOf(parts).message).toContain('The model is overloaded');
    }
  });

  it('classifies a status with a non-JSON body by status', async () => {
    reply = { status: 502, headers: { 'content-type': 'text/html' }, chunks: ['<html>Bad Gateway</html>'] };
    expect(await rejection(adapter.generate(hello, opts))).toMatchObject({ kind: 'unavailable', status: 502 });
  });

  it('turns a mid-stream error chunk into one error part with the partial text', async () => {
    reply = stream('synth-midstream-error.sse');
    const parts = await drain(adapter.stream(hello, opts));
    expect(parts.map((p) => p.type)).toEqual(['start', 'text-delta', 'error']);
    expect(errorOf(parts)).toMatchObject({ kind: 'overloaded', status: 503, providerCode: 'UNAVAILABLE', partialText: 'There are **3**' });
  });

  it('reports a stream that closes before a finishReason as invalid_response', async () => {
    reply = { status: 200, headers: SSE, chunks: sseChunks(fx('text-thinking.sse')).slice(0, 2) };
    const parts = await drain(adapter.stream(hello, opts));
    expect(parts.some((p) => p.type === 'finish')).toBe(false);
    expect(errorOf(parts).kind).toBe('invalid_response');
    await expect(collectStream((async function* () { yield* parts; })())).rejects.toMatchObject({ kind: 'invalid_response' });
  });

  it('reports a chunk that is not JSON, or not the schema, as invalid_response', async () => {
    const first = sseChunks(fx('text-thinking.sse'))[0]!;
    for (const bad of ['data: {"candidates":[{"content":\n\n', 'data: {"candidates":"nope"}\n\n']) {
      reply = { status: 200, headers: SSE, chunks: [first, bad, ...sseChunks(fx('text-thinking.sse')).slice(1)] };
      const parts = await drain(adapter.stream(hello, opts));
      expect(parts.map((p) => p.type)).toEqual(['start', 'text-delta', 'error']);
      expect(errorOf(parts).kind).toBe('invalid_response');
    }
    reply = { status: 200, headers: JSON_CT, chunks: ['{"candidates": ['] };
    expect((await rejection(adapter.generate(hello, opts))).kind).toBe('invalid_response');
  });

  it('keeps a reply whose finishing chunk arrived before the connection reset', async () => {
    reply = { status: 200, headers: SSE, chunks: sseChunks(fx('text-thinking.sse')), destroy: true };
    const parts = await drain(adapter.stream(hello, opts));
    expect(terminal(parts)).toMatchObject({ type: 'finish', finishReason: 'stop' });
  });

  it('reports a socket reset mid-body as an error part', async () => {
    reply = { status: 200, headers: SSE, chunks: sseChunks(fx('text-thinking.sse')).slice(0, 1), destroy: true };
    const parts = await drain(adapter.stream(hello, opts));
    expect(parts[0]!.type).toBe('start');
    expect(errorOf(parts).kind).toBe('invalid_response');
  });

  it('times out waiting for the first byte', async () => {
    reply = { hang: true };
    const fast: CallOptions = { ...opts, timeouts: { firstByteMs: 150 } };
    // Concurrently: undici checks header timeouts on a coarse timer, so each wait takes up to ~1 s.
    const [err, parts] = await Promise.all([rejection(adapter.generate(hello, fast)), drain(adapter.stream(hello, fast))]);
    expect(err.kind).toBe('timeout');
    expect(parts).toHaveLength(1);
    expect(errorOf(parts).kind).toBe('timeout');
  });
});

describe('gemini adapter: cancellation', () => {
  it('aborting cancels the upstream request and yields only a cancelled error', async () => {
    let closed!: () => void;
    const upstreamClosed = new Promise<void>((ok) => (closed = ok));
    const chunks = sseChunks(fx('text-thinking.sse'));
    const slow = createServer((req, res) => {
      req.resume();
      res.on('close', () => closed());
      res.writeHead(200, SSE);
      // Two events in one write: the second is already parsed when the caller aborts, and must not leak out.
      res.write(chunks[0]! + chunks[1]!);
      // The rest never comes unless the client waits 60 s.
      setTimeout(() => res.end(chunks.slice(2).join('')), 60_000).unref();
    });
    await new Promise<void>((ok) => slow.listen(0, '127.0.0.1', ok));
    const local = createGeminiAdapter({
      id: 'gemini-abort',
      baseUrl: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/v1beta`,
      apiKey: API_KEY,
      timeouts: { connectMs: 2000, firstByteMs: 5000, idleMs: 30_000, totalMs: 60_000 },
    });
    try {
      const ac = new AbortController();
      const iter = local.stream(hello, { ...opts, signal: ac.signal })[Symbol.asyncIterator]();
      expect((await iter.next()).value).toMatchObject({ type: 'start' });
      expect((await iter.next()).value).toMatchObject({ type: 'text-delta' });
      ac.abort();
      const after: StreamPart[] = [];
      for (let r = await iter.next(); !r.done; r = await iter.next()) after.push(r.value);
      expect(after).toHaveLength(1);
      expect(errorOf(after).kind).toBe('cancelled');
      await upstreamClosed;

      const pre = new AbortController();
      pre.abort();
      expect((await rejection(local.generate(hello, { ...opts, signal: pre.signal }))).kind).toBe('cancelled');
      const parts = await drain(local.stream(hello, { ...opts, signal: pre.signal }));
      expect(parts).toHaveLength(1);
      expect(errorOf(parts).kind).toBe('cancelled');
    } finally {
      await local.close();
      slow.closeAllConnections();
      await new Promise<void>((ok) => slow.close(() => ok()));
    }
  });
});

describe('gemini adapter: request mapping', () => {
  const full: ChatRequest = {
    messages: [
      { role: 'system', content: 'Be terse.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather in Paris and Tokyo?' },
          { type: 'image', data: 'iVBORw0KGgo=', mediaType: 'image/png' },
          { type: 'image', url: 'https://example.com/map.jpg' },
        ],
      },
      {
        role: 'assistant',
        content: 'Checking.',
        toolCalls: [
          { id: 'call_0', name: 'weather', arguments: '{"location":"Paris"}' },
          { id: 'fc_tokyo_1', name: 'weather', arguments: '{"location":"Tokyo"}' },
        ],
      },
      // No name: found through the assistant's call with this id.
      { role: 'tool', toolCallId: 'call_0', content: '{"tempC":18}' },
      { role: 'tool', toolCallId: 'fc_tokyo_1', name: 'weather', content: 'sunny, 24C' },
      { role: 'user', content: 'Which is warmer?' },
    ],
    tools: [
      {
        name: 'weather',
        description: 'Current weather',
        parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
      },
    ],
    toolChoice: { type: 'tool', name: 'weather' },
    responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object', properties: { city: { type: 'string' } } } },
    maxOutputTokens: 256,
    temperature: 0.2,
    topP: 0.9,
    stop: ['END'],
    seed: 7,
    providerOptions: {
      gemini: { generationConfig: { topK: 40 }, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }] },
      openai: { user: 'not-for-gemini' },
    },
  };

  it('sends the exact Gemini body and auth headers', async () => {
    reply = json('text.json');
    await adapter.generate(full, { ...opts, headers: { 'x-trace-id': 'trace-1' } });
    const sent = server.requests[0]!;
    expect(sent.json).toEqual({
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'Weather in Paris and Tokyo?' },
            { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
            { fileData: { fileUri: 'https://example.com/map.jpg', mimeType: 'image/jpeg' } },
          ],
        },
        {
          role: 'model',
          parts: [
            { text: 'Checking.' },
            { functionCall: { name: 'weather', args: { location: 'Paris' } } },
            { functionCall: { name: 'weather', args: { location: 'Tokyo' }, id: 'fc_tokyo_1' } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'weather', response: { tempC: 18 } } },
            { functionResponse: { name: 'weather', response: { result: 'sunny, 24C' }, id: 'fc_tokyo_1' } },
            { text: 'Which is warmer?' },
          ],
        },
      ],
      systemInstruction: { parts: [{ text: 'Be terse.' }] },
      tools: [
        {
          functionDeclarations: [
            {
              name: 'weather',
              description: 'Current weather',
              parametersJsonSchema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
            },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['weather'] } },
      generationConfig: {
        maxOutputTokens: 256,
        temperature: 0.2,
        topP: 0.9,
        stopSequences: ['END'],
        seed: 7,
        responseMimeType: 'application/json',
        responseJsonSchema: { type: 'object', properties: { city: { type: 'string' } } },
        topK: 40,
      },
      safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
    });
    expect(sent.headers['x-goog-api-key']).toBe(API_KEY);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.headers['x-trace-id']).toBe('trace-1');
    expect(sent.headers['x-config-header']).toBe('cfg');
    expect(sent.url).not.toContain(API_KEY);
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('maps tool choices, json_object and data: URLs', () => {
    const base: ChatRequest = { messages: [{ role: 'user', content: 'hi' }] };
    const mode = (toolChoice: ChatRequest['toolChoice']) => toGeminiRequest('g', { ...base, toolChoice }).toolConfig;
    expect(mode('auto')).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    expect(mode('none')).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(mode('required')).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(toGeminiRequest('g', { ...base, responseFormat: { type: 'json_object' } }).generationConfig).toEqual({
      responseMimeType: 'application/json',
    });
    const body = toGeminiRequest('g', {
      messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/gif;base64,R0lGODdh' }] }],
    });
    expect(body.contents).toEqual([{ role: 'user', parts: [{ inlineData: { mimeType: 'image/gif', data: 'R0lGODdh' } }] }]);
  });

  it('rejects what the model or Gemini cannot do, before sending anything', async () => {
    const noTools: CallOptions = { ...opts, capabilities: ['streaming'] };
    const err = await rejection(adapter.generate(full, noTools));
    expect(err).toMatchObject({ kind: 'unsupported_feature', param: 'tools' });
    const parts = await drain(adapter.stream(full, noTools));
    expect(parts).toHaveLength(1);
    expect(errorOf(parts)).toMatchObject({ kind: 'unsupported_feature', param: 'tools' });

    const strict: ChatRequest = { ...hello, tools: [{ name: 't', parameters: { type: 'object' }, strict: true }] };
    expect(await rejection(adapter.generate(strict, opts))).toMatchObject({ kind: 'unsupported_feature', param: 'tools[0].strict' });

    const untypedUrl: ChatRequest = { messages: [{ role: 'user', content: [{ type: 'image', url: 'https://example.com/img' }] }] };
    const e2 = await rejection(adapter.generate(untypedUrl, opts));
    expect(e2).toMatchObject({ kind: 'unsupported_feature', param: 'messages[0].content[0]' });
    expect(e2.message).toContain('mimeType');
    const broken: ChatRequest = { messages: [{ role: 'user', content: [{ type: 'image', url: 'https://' }] }] };
    expect((await rejection(adapter.generate(broken, opts))).kind).toBe('invalid_request');
    const ftp: ChatRequest = { messages: [{ role: 'user', content: [{ type: 'image', url: 'ftp://example.com/a.png' }] }] };
    expect((await rejection(adapter.generate(ftp, opts))).kind).toBe('unsupported_feature');
    expect(server.requests).toHaveLength(0);
  });

  it('rejects history Gemini cannot express as invalid_request (stream: one error part)', async () => {
    const orphan: ChatRequest = { messages: [...hello.messages, { role: 'tool', toolCallId: 'nope', content: 'x' }] };
    const parts = await drain(adapter.stream(orphan, opts));
    expect(parts).toHaveLength(1);
    expect(errorOf(parts)).toMatchObject({ kind: 'invalid_request', param: 'messages[1].name' });
    const badArgs: ChatRequest = {
      messages: [...hello.messages, { role: 'assistant', toolCalls: [{ id: 'a', name: 'f', arguments: '[1,2]' }] }],
    };
    expect(await rejection(adapter.generate(badArgs, opts))).toMatchObject({ kind: 'invalid_request', param: 'messages[1].toolCalls[0].arguments' });
    expect(server.requests).toHaveLength(0);
  });
});

describe('gemini adapter: embeddings', () => {
  it('embeds via batchEmbedContents, in input order, with estimated usage', async () => {
    reply = json('synth-batch-embed.json');
    const res = await adapter.embed!(
      { input: ['hello world', 'a longer second input'], dimensions: 3, providerOptions: { gemini: { taskType: 'RETRIEVAL_QUERY' } } },
      { ...opts, model: 'gemini-embedding-001' },
    );
    expect(res).toEqual({
      embeddings: [
        [0.011, -0.024, 0.093],
        [-0.051, 0.007, 0.032],
      ],
      model: 'gemini-embedding-001',
      usage: { inputTokens: 3 + 6, estimated: true },
    });
    const sent = server.requests[0]!;
    expect(sent.url).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    expect(sent.headers['x-goog-api-key']).toBe(API_KEY);
    expect(sent.json).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hello world' }] }, outputDimensionality: 3, taskType: 'RETRIEVAL_QUERY' },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a longer second input' }] }, outputDimensionality: 3, taskType: 'RETRIEVAL_QUERY' },
      ],
    });
  });

  it('rejects a reply with the wrong number of vectors, and maps errors', async () => {
    reply = json('synth-batch-embed.json');
    expect((await rejection(adapter.embed!({ input: ['one'] }, opts))).kind).toBe('invalid_response');
    reply = json('error-400-invalid-key.json', 400);
    expect((await rejection(adapter.embed!({ input: ['one'] }, opts))).kind).toBe('provider_auth');
  });
});
