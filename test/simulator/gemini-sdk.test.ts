import { ApiError, FunctionCallingConfigMode, GoogleGenAI, Type, type GenerateContentParameters, type GenerateContentResponse } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';

const MODEL = 'gemini-2.5-flash';
const WEATHER_TOOL = {
  functionDeclarations: [
    {
      name: 'get_weather',
      description: 'Get the current weather in a given location',
      parametersJsonSchema: {
        type: 'object',
        properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
        required: ['location', 'unit'],
      },
    },
  ],
};

let sim: Simulator;
let ai: GoogleGenAI;

beforeAll(async () => {
  sim = await startSimulator({ protocol: 'gemini', port: 0 });
  ai = new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: sim.url } });
});

afterAll(async () => {
  await sim.close();
});

/** Per-request fault headers, the SDK's way. */
function faults(headers: Record<string, string>) {
  return { httpOptions: { headers } };
}

async function collect(params: GenerateContentParameters): Promise<GenerateContentResponse[]> {
  const chunks: GenerateContentResponse[] = [];
  for await (const chunk of await ai.models.generateContentStream(params)) chunks.push(chunk);
  return chunks;
}

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe('gemini simulator driven by @google/genai', () => {
  it('answers generateContent with a GenerateContentResponse', async () => {
    const res = await ai.models.generateContent({ model: MODEL, contents: 'Hello there', config: { systemInstruction: 'Be brief.' } });
    expect(res.text?.length).toBeGreaterThan(0);
    const cand = res.candidates?.[0];
    expect(cand?.finishReason).toBe('STOP');
    expect(cand?.content?.role).toBe('model');
    expect(res.modelVersion).toBe(MODEL);
    expect(res.responseId).toMatch(/^[\w-]{23}$/);
    const u = res.usageMetadata!;
    expect(u.promptTokenCount).toBeGreaterThan(0);
    expect(u.candidatesTokenCount).toBeGreaterThan(0);
    expect(u.totalTokenCount).toBe(u.promptTokenCount! + u.candidatesTokenCount!);
    expect(u.promptTokensDetails).toEqual([{ modality: 'TEXT', tokenCount: u.promptTokenCount }]);
    expect(u.cachedContentTokenCount).toBeUndefined();
  });

  it('accepts the v1beta path, ?key= auth and the SDK default api version alike', async () => {
    const body = { contents: [{ role: 'user', parts: [{ text: 'Hello there' }] }], systemInstruction: { parts: [{ text: 'Be brief.' }] } };
    const res = await fetch(`${sim.url}/v1beta/models/${MODEL}:generateContent?key=abc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { candidates: Array<{ content: { parts: Array<{ text: string }> } }> };
    const viaSdk = await ai.models.generateContent({ model: MODEL, contents: 'Hello there', config: { systemInstruction: 'Be brief.' } });
    expect(json.candidates[0]!.content.parts[0]!.text).toBe(viaSdk.text);
  });

  it('streams text over SSE whose concatenation and final usage equal the non-streamed reply', async () => {
    const params = { model: MODEL, contents: 'Tell me about routing', config: { maxOutputTokens: 500 } };
    const plain = await ai.models.generateContent(params);
    const chunks = await collect({ ...params, config: { ...params.config, ...faults({ 'x-sim-chunk-count': '4' }) } });
    expect(chunks).toHaveLength(4);
    expect(chunks.map((c) => c.text ?? '').join('')).toBe(plain.text);
    expect(chunks.slice(0, -1).every((c) => c.candidates?.[0]?.finishReason === undefined)).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.candidates?.[0]?.finishReason).toBe('STOP');
    expect(last.usageMetadata).toEqual(plain.usageMetadata);
    expect(new Set(chunks.map((c) => c.responseId)).size).toBe(1);
  });

  it('frames the stream as data: lines, and as a JSON array without alt=sse', async () => {
    const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'frames' }] }] });
    const init = { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k', 'x-sim-chunk-count': '3' }, body };
    const sse = await fetch(`${sim.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, init);
    expect(sse.headers.get('content-type')).toBe('text/event-stream');
    const events = (await sse.text()).split('\n\n').filter(Boolean);
    expect(events).toHaveLength(3);
    for (const e of events) expect(e).toMatch(/^data: \{.*\}$/);

    const arr = await fetch(`${sim.url}/v1beta/models/${MODEL}:streamGenerateContent`, init);
    const parsed = JSON.parse(await arr.text()) as Array<{ candidates: Array<{ finishReason?: string }> }>;
    expect(parsed).toHaveLength(3);
    expect(parsed[2]!.candidates[0]!.finishReason).toBe('STOP');
  });

  it('returns a whole function call (args object) in one chunk', async () => {
    const params = { model: MODEL, contents: "What's the weather in Paris? Use the tool.", config: { tools: [WEATHER_TOOL] } };
    const plain = await ai.models.generateContent(params);
    expect(plain.functionCalls).toHaveLength(1);
    const call = plain.functionCalls![0]!;
    expect(call.name).toBe('get_weather');
    expect(typeof call.args?.location).toBe('string');
    expect(['celsius', 'fahrenheit']).toContain(call.args?.unit);
    expect(plain.candidates?.[0]?.finishReason).toBe('STOP');

    const chunks = await collect(params);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.functionCalls).toEqual(plain.functionCalls);
    expect(chunks[0]!.candidates?.[0]?.finishReason).toBe('STOP');
    expect(chunks[0]!.usageMetadata).toEqual(plain.usageMetadata);
  });

  it('honours functionCallingConfig ANY / NONE, OpenAPI-typed parameters, and answers a functionResponse', async () => {
    const legacy = {
      functionDeclarations: [
        { name: 'get_time', description: 'time', parameters: { type: Type.OBJECT, properties: { zone: { type: Type.STRING }, offset: { type: Type.INTEGER } } } },
      ],
    };
    const forced = await ai.models.generateContent({
      model: MODEL,
      contents: 'Hello',
      config: { tools: [WEATHER_TOOL, legacy], toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ['get_time'] } } },
    });
    expect(forced.functionCalls?.map((c) => c.name)).toEqual(['get_time']);
    expect(typeof forced.functionCalls![0]!.args?.zone).toBe('string');
    expect(Number.isInteger(forced.functionCalls![0]!.args?.offset)).toBe(true);

    const none = await ai.models.generateContent({
      model: MODEL,
      contents: 'Use the get_weather tool',
      config: { tools: [WEATHER_TOOL], toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.NONE } } },
    });
    expect(none.functionCalls).toBeUndefined();
    expect(none.text?.length).toBeGreaterThan(0);

    const answer = await ai.models.generateContent({
      model: MODEL,
      contents: [
        { role: 'user', parts: [{ text: 'weather in Paris?' }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { location: 'Paris', unit: 'celsius' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: '18C clear' } } }] },
      ],
      config: { tools: [WEATHER_TOOL] },
    });
    expect(answer.functionCalls).toBeUndefined();
    expect(answer.text).toContain('18C clear');
  });

  it('answers responseMimeType application/json with JSON following responseJsonSchema or responseSchema', async () => {
    const withJsonSchema = await ai.models.generateContent({
      model: MODEL,
      contents: 'Weather in Rome as JSON',
      config: { responseMimeType: 'application/json', responseJsonSchema: { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'integer' } }, required: ['city', 'temp'] } },
    });
    const a = JSON.parse(withJsonSchema.text!) as { city: unknown; temp: unknown };
    expect(typeof a.city).toBe('string');
    expect(Number.isInteger(a.temp)).toBe(true);

    const withSchema = await ai.models.generateContent({
      model: MODEL,
      contents: 'List as JSON',
      config: { responseMimeType: 'application/json', responseSchema: { type: Type.OBJECT, properties: { items: { type: Type.ARRAY, items: { type: Type.STRING } } } } },
    });
    const b = JSON.parse(withSchema.text!) as { items: unknown[] };
    expect(Array.isArray(b.items)).toBe(true);
  });

  it('stops at maxOutputTokens with MAX_TOKENS and at stop sequences with STOP', async () => {
    const cut = await ai.models.generateContent({ model: MODEL, contents: 'a long answer please', config: { maxOutputTokens: 3, ...faults({ 'x-sim-reply-words': '30' }) } });
    expect(cut.candidates?.[0]?.finishReason).toBe('MAX_TOKENS');
    expect(cut.usageMetadata?.candidatesTokenCount).toBe(3);

    const full = await ai.models.generateContent({ model: MODEL, contents: 'stop here' });
    const word = full.text!.split(' ')[2]!;
    const stopped = await ai.models.generateContent({ model: MODEL, contents: 'stop here', config: { stopSequences: [word] } });
    expect(stopped.candidates?.[0]?.finishReason).toBe('STOP');
    expect(full.text!.startsWith(stopped.text!)).toBe(true);
    expect(stopped.text!.length).toBeLessThan(full.text!.length);
  });

  it('maps an injected 429 to RESOURCE_EXHAUSTED with RetryInfo and retry-after', async () => {
    const err = await apiError(ai.models.generateContent({ model: MODEL, contents: 'hi', config: faults({ 'x-sim-status': '429', 'x-sim-retry-after-s': '7' }) }));
    expect(err.status).toBe(429);
    const body = JSON.parse(err.message) as { error: { code: number; status: string; details: Array<Record<string, unknown>> } };
    expect(body.error.code).toBe(429);
    expect(body.error.status).toBe('RESOURCE_EXHAUSTED');
    expect(body.error.details).toContainEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' });

    const raw = await fetch(`${sim.url}/v1beta/models/${MODEL}:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sim-status': '429', 'x-sim-retry-after-s': '7' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('7');
  });

  it('maps injected 503 and 500 to UNAVAILABLE and INTERNAL', async () => {
    const unavailable = await apiError(ai.models.generateContent({ model: MODEL, contents: 'hi', config: faults({ 'x-sim-status': '503' }) }));
    expect(unavailable.status).toBe(503);
    expect(JSON.parse(unavailable.message)).toEqual({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } });
    const internal = await apiError(ai.models.generateContent({ model: MODEL, contents: 'hi', config: faults({ 'x-sim-status': '500' }) }));
    expect(internal.status).toBe(500);
    expect((JSON.parse(internal.message) as { error: { status: string } }).error.status).toBe('INTERNAL');
  });

  it('rejects a prompt over maxInputTokens with the INVALID_ARGUMENT token-count error', async () => {
    const err = await apiError(ai.models.generateContent({ model: MODEL, contents: 'one two three four five six seven eight', config: faults({ 'x-sim-max-input-tokens': '5' }) }));
    expect(err.status).toBe(400);
    const body = JSON.parse(err.message) as { error: { message: string; status: string } };
    expect(body.error.status).toBe('INVALID_ARGUMENT');
    expect(body.error.message).toMatch(/^The input token count \(\d+\) exceeds the maximum number of tokens allowed \(5\)\.$/);

    const streamed = await apiError(collect({ model: MODEL, contents: 'one two three four five six seven eight', config: faults({ 'x-sim-max-input-tokens': '5' }) }));
    expect(streamed.status).toBe(400);
    expect(streamed.message).toContain('exceeds the maximum number of tokens allowed (5)');
  });

  it('answers an unknown (missing-) model with 404 NOT_FOUND and empty contents with 400', async () => {
    const err = await apiError(ai.models.generateContent({ model: 'missing-gemini', contents: 'hi' }));
    expect(err.status).toBe(404);
    const body = JSON.parse(err.message) as { error: { message: string; status: string } };
    expect(body.error.status).toBe('NOT_FOUND');
    expect(body.error.message).toMatch(/^models\/missing-gemini is not found for API version v1\w*, or is not supported for generateContent\./);

    const streamed = await apiError(collect({ model: 'missing-gemini', contents: 'hi' }));
    expect(streamed.status).toBe(404);

    // The SDK refuses empty contents itself, so send that one raw.
    const empty = await fetch(`${sim.url}/v1beta/models/${MODEL}:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [] }),
    });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toEqual({ error: { code: 400, message: '* GenerateContentRequest.contents: contents is not specified', status: 'INVALID_ARGUMENT' } });
  });

  it('rejects a bad key with 400 API_KEY_INVALID, via header or ?key=', async () => {
    const locked = await startSimulator({ protocol: 'gemini', port: 0, apiKey: 'right-key' });
    try {
      const bad = new GoogleGenAI({ apiKey: 'wrong-key', httpOptions: { baseUrl: locked.url } });
      const err = await apiError(bad.models.generateContent({ model: MODEL, contents: 'hi' }));
      expect(err.status).toBe(400);
      const body = JSON.parse(err.message) as { error: { status: string; message: string; details: Array<{ reason?: string }> } };
      expect(body.error.status).toBe('INVALID_ARGUMENT');
      expect(body.error.message).toBe('API key not valid. Please pass a valid API key.');
      expect(body.error.details[0]?.reason).toBe('API_KEY_INVALID');

      const good = new GoogleGenAI({ apiKey: 'right-key', httpOptions: { baseUrl: locked.url } });
      expect((await good.models.generateContent({ model: MODEL, contents: 'hi' })).text).toBeTruthy();
      const viaQuery = await fetch(`${locked.url}/v1beta/models/${MODEL}:generateContent?key=right-key`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
      });
      expect(viaQuery.status).toBe(200);
    } finally {
      await locked.close();
    }
  });

  it('reports cachedContentTokenCount for requests using a cachedContent', async () => {
    const cache = await ai.caches.create({
      model: MODEL,
      config: { systemInstruction: 'You are the caching test bot.', contents: [{ role: 'user', parts: [{ text: 'Long shared document. '.repeat(50) }] }], ttl: '600s' },
    });
    expect(cache.name).toMatch(/^cachedContents\//);
    expect(cache.usageMetadata?.totalTokenCount).toBeGreaterThan(100);

    const params = { model: MODEL, contents: 'Summarise the document', config: { cachedContent: cache.name! } };
    const first = await ai.models.generateContent(params);
    const u = first.usageMetadata!;
    expect(u.cachedContentTokenCount).toBe(cache.usageMetadata?.totalTokenCount);
    expect(u.promptTokenCount).toBeGreaterThan(u.cachedContentTokenCount!);
    expect(u.cacheTokensDetails).toEqual([{ modality: 'TEXT', tokenCount: u.cachedContentTokenCount }]);
    expect(u.totalTokenCount).toBe(u.promptTokenCount! + u.candidatesTokenCount!);

    const chunks = await collect(params);
    expect(chunks.at(-1)!.usageMetadata).toEqual(u);

    const uncached = await ai.models.generateContent({ model: MODEL, contents: 'Summarise the document' });
    expect(uncached.usageMetadata?.cachedContentTokenCount).toBeUndefined();
    expect(uncached.usageMetadata!.promptTokenCount).toBe(u.promptTokenCount! - u.cachedContentTokenCount!);

    await ai.caches.delete({ name: cache.name! });
    const gone = await apiError(ai.models.generateContent(params));
    expect(gone.status).toBe(403);
  });

  it('embeds deterministically with the requested dimensions', async () => {
    const res = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['alpha', 'beta', 'alpha'], config: { outputDimensionality: 64 } });
    expect(res.embeddings).toHaveLength(3);
    const [a, b, a2] = res.embeddings!.map((e) => e.values!);
    expect(a).toHaveLength(64);
    expect(a).toEqual(a2);
    expect(a).not.toEqual(b);
    const norm = Math.sqrt(a!.reduce((s, v) => s + v * v, 0));
    expect(norm).toBeCloseTo(1, 5);

    const single = await fetch(`${sim.url}/v1beta/models/gemini-embedding-001:embedContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: { parts: [{ text: 'alpha' }] }, outputDimensionality: 64 }),
    });
    const json = (await single.json()) as { embedding: { values: number[] } };
    expect(json.embedding.values).toEqual(a);

    const defaults = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'alpha' });
    expect(defaults.embeddings![0]!.values).toHaveLength(768);
  });

  it('surfaces a mid-stream error chunk as an ApiError', async () => {
    const seen: string[] = [];
    const err = await apiError(
      (async () => {
        for await (const c of await ai.models.generateContentStream({ model: MODEL, contents: 'stream then fail', config: faults({ 'x-sim-error-after-chunks': '2' }) })) seen.push(c.text ?? '');
      })(),
    );
    expect(err.status).toBe(503);
    expect(err.message).toContain('UNAVAILABLE');
    expect(seen).toHaveLength(2);
  });

  it('surfaces a disconnect after N chunks as an SDK error', async () => {
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of await ai.models.generateContentStream({ model: MODEL, contents: 'cut me off', config: faults({ 'x-sim-disconnect-after-chunks': '3' }) })) seen.push(c.text ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen).toHaveLength(3);
  });

  it('sends no finishReason on the last chunk when omitEndMarker is set', async () => {
    const chunks = await collect({ model: MODEL, contents: 'no end', config: faults({ 'x-sim-omit-end-marker': 'true', 'x-sim-chunk-count': '2' }) });
    expect(chunks).toHaveLength(2);
    expect(chunks.every((c) => c.candidates?.[0]?.finishReason === undefined)).toBe(true);
  });

  it('counts a client abort in stats.aborted', async () => {
    const before = sim.stats.aborted;
    const controller = new AbortController();
    const stream = await ai.models.generateContentStream({
      model: MODEL,
      contents: 'slow stream',
      config: { abortSignal: controller.signal, ...faults({ 'x-sim-chunk-delay-ms': '50', 'x-sim-reply-words': '60' }) },
    });
    const err = await (async () => {
      for await (const _chunk of stream) controller.abort();
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    await vi.waitFor(() => expect(sim.stats.aborted).toBe(before + 1), { timeout: 5000 });
  });

  it('lists models and counts tokens', async () => {
    const pager = await ai.models.list();
    const names = pager.page.map((m) => m.name);
    expect(names).toContain(`models/${MODEL}`);
    const counted = await ai.models.countTokens({ model: MODEL, contents: 'count these tokens' });
    const res = await ai.models.generateContent({ model: MODEL, contents: 'count these tokens' });
    expect(counted.totalTokens).toBe(res.usageMetadata?.promptTokenCount);
  });
});
