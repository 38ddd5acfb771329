import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ollama, type ChatRequest, type ChatResponse, type Tool } from 'ollama';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';

// Acceptance tests: the Ollama simulator driven by the official `ollama` SDK (with Node's own fetch), which must
// parse every byte. The SDK always sends `stream` explicitly, so the "stream defaults to true" rule is checked
// with raw HTTP.

let sim: Simulator;
let client: Ollama;

/** A client whose every request carries these x-sim-* fault headers (the SDK has no per-request headers). */
function faulty(headers: Record<string, string>): Ollama {
  return new Ollama({ host: sim.url, fetch, headers });
}

beforeAll(async () => {
  sim = await startSimulator({ protocol: 'ollama', port: 0 });
  client = new Ollama({ host: sim.url, fetch });
});

afterAll(async () => {
  await sim.close();
});

const weatherTool: Tool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] },
  },
};

const basic: ChatRequest = {
  model: 'llama3.2',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Tell me about the gateway.' },
  ],
};

async function collect(stream: AsyncIterable<ChatResponse>): Promise<ChatResponse[]> {
  const out: ChatResponse[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

interface SdkResponseError extends Error {
  status_code: number;
  error: string;
}

describe('ollama simulator via the ollama SDK', () => {
  it('answers a non-streaming chat with metrics', async () => {
    const res = await client.chat({ ...basic, stream: false });
    expect(res.model).toBe('llama3.2');
    expect(res.done).toBe(true);
    expect(res.done_reason).toBe('stop');
    expect(res.message.role).toBe('assistant');
    expect(res.message.content).toMatch(/\w+/);
    expect(String(res.created_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    expect(res.prompt_eval_count).toBeGreaterThan(0);
    expect(res.eval_count).toBeGreaterThan(0);
    for (const k of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration'] as const) expect(res[k]).toBeGreaterThan(0);
    expect(res.total_duration).toBeGreaterThanOrEqual(res.load_duration + res.prompt_eval_duration + res.eval_duration);
  });

  it('streams NDJSON whose contents add up to the non-streamed text, with the same counts', async () => {
    const whole = await client.chat({ ...basic, stream: false });
    const chunks = await collect(await client.chat({ ...basic, stream: true }));
    const last = chunks[chunks.length - 1]!;
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.slice(0, -1).every((c) => c.done === false && c.eval_count === undefined)).toBe(true);
    expect(chunks.map((c) => c.message.content).join('')).toBe(whole.message.content);
    expect(last.done).toBe(true);
    expect(last.done_reason).toBe('stop');
    expect(last.message.content).toBe('');
    expect(last.prompt_eval_count).toBe(whole.prompt_eval_count);
    expect(last.eval_count).toBe(whole.eval_count);
  });

  it('streams by default when stream is absent (raw HTTP), as application/x-ndjson', async () => {
    const res = await fetch(`${sim.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', messages: basic.messages }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await res.text()).split('\n');
    expect(lines.pop()).toBe('');
    const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs.length).toBeGreaterThan(2);
    expect(objs[objs.length - 1]).toMatchObject({ done: true, done_reason: 'stop' });
    for (const k of ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration']) {
      expect(typeof objs[objs.length - 1]![k]).toBe('number');
    }
  });

  it('streams a tool call whole in one line with arguments as an object', async () => {
    const req: ChatRequest = { model: 'llama3.2', messages: [{ role: 'user', content: 'Use the tool: what is the weather in Tokyo?' }], tools: [weatherTool] };
    const chunks = await collect(await client.chat({ ...req, stream: true }));
    const withCalls = chunks.filter((c) => c.message.tool_calls?.length);
    expect(withCalls).toHaveLength(1);
    expect(withCalls[0]!.done).toBe(false);
    const call = withCalls[0]!.message.tool_calls![0]!;
    expect(call.function.name).toBe('get_weather');
    expect(call.function.arguments).toEqual({ city: 'Tokyo', days: expect.any(Number) });
    expect(Number.isInteger(call.function.arguments.days)).toBe(true);
    const last = chunks[chunks.length - 1]!;
    expect(last.done).toBe(true);
    expect(last.done_reason).toBe('stop'); // Ollama says stop after tool calls too

    const whole = await client.chat({ ...req, stream: false });
    expect(whole.message.tool_calls![0]!.function.arguments).toEqual(call.function.arguments);
    expect(whole.eval_count).toBe(last.eval_count);

    const after = await client.chat({
      model: 'llama3.2',
      stream: false,
      tools: [weatherTool],
      messages: [
        ...req.messages!,
        { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Tokyo' } } }] },
        { role: 'tool', content: '11 degrees celsius', tool_name: 'get_weather' },
      ],
    });
    expect(after.message.content).toContain('11 degrees celsius');
    expect(after.message.tool_calls).toBeUndefined();
  });

  it('returns JSON for format json / schema and stops at num_predict with done_reason length', async () => {
    const schema = await client.chat({
      ...basic,
      stream: false,
      format: { type: 'object', properties: { age: { type: 'integer' }, available: { type: 'boolean' } }, required: ['age', 'available'] },
    });
    const parsed = JSON.parse(schema.message.content) as Record<string, unknown>;
    expect(Number.isInteger(parsed.age)).toBe(true);
    expect(typeof parsed.available).toBe('boolean');
    expect(JSON.parse((await client.chat({ ...basic, stream: false, format: 'json' })).message.content)).toEqual({ answer: expect.any(String) });
    const cut = await client.chat({ ...basic, stream: false, options: { num_predict: 3 } });
    expect(cut.done_reason).toBe('length');
    expect(cut.eval_count).toBe(3);
  });

  it('maps an injected 429 to the SDK ResponseError with retry-after', async () => {
    const seen: Array<string | null> = [];
    const spyFetch: typeof fetch = async (input, init) => {
      const r = await fetch(input, init);
      seen.push(r.headers.get('retry-after'));
      return r;
    };
    const c = new Ollama({ host: sim.url, fetch: spyFetch, headers: { 'x-sim-status': '429', 'x-sim-retry-after-s': '3' } });
    const err = (await c.chat({ ...basic, stream: false }).catch((e: unknown) => e)) as SdkResponseError;
    expect(err.name).toBe('ResponseError');
    expect(err.status_code).toBe(429);
    expect(err.error).toBe('Rate limit reached (simulated).');
    expect(seen).toEqual(['3']);
    const busy = (await faulty({ 'x-sim-status': '503' }).chat({ ...basic, stream: true }).catch((e: unknown) => e)) as SdkResponseError;
    expect(busy.status_code).toBe(503);
    expect(busy.error).toBe('server busy, please try again.  maximum pending requests exceeded');
  });

  it('answers missing-* models with 404 and the pull hint, and a missing model name with 400', async () => {
    const err = (await client.chat({ ...basic, model: 'missing-llama', stream: false }).catch((e: unknown) => e)) as SdkResponseError;
    expect(err.status_code).toBe(404);
    expect(err.error).toBe('model "missing-llama" not found, try pulling it first');
    const streamed = (await client.chat({ ...basic, model: 'missing-llama', stream: true }).catch((e: unknown) => e)) as SdkResponseError;
    expect(streamed.status_code).toBe(404);
    const bad = (await client.chat({ ...basic, model: '', stream: false }).catch((e: unknown) => e)) as SdkResponseError;
    expect(bad.status_code).toBe(400);
    expect(bad.error).toBe('model is required');
  });

  it('rejects prompts over maxInputTokens with a 400 mentioning the context length (simulator fault)', async () => {
    const err = (await faulty({ 'x-sim-max-input-tokens': '5' }).chat({ ...basic, stream: false }).catch((e: unknown) => e)) as SdkResponseError;
    expect(err.status_code).toBe(400);
    expect(err.error).toMatch(/exceeds the context length/);
  });

  it('embeds a string or an array deterministically, honouring dimensions', async () => {
    const one = await client.embed({ model: 'nomic-embed-text', input: 'hello world' });
    expect(one.model).toBe('nomic-embed-text');
    expect(one.embeddings).toHaveLength(1);
    expect(one.embeddings[0]).toHaveLength(768);
    expect(one.prompt_eval_count).toBe(2);
    const many = await client.embed({ model: 'nomic-embed-text', input: ['hello world', 'goodbye'], dimensions: 16 });
    expect(many.embeddings).toHaveLength(2);
    expect(many.embeddings[1]).toHaveLength(16);
    const again = await client.embed({ model: 'nomic-embed-text', input: ['hello world'], dimensions: 16 });
    expect(again.embeddings[0]).toEqual(many.embeddings[0]);
    expect(Math.hypot(...again.embeddings[0]!)).toBeCloseTo(1, 4);
    const err = (await client.embed({ model: 'missing-embed', input: 'x' }).catch((e: unknown) => e)) as SdkResponseError;
    expect(err.status_code).toBe(404);
    const long = (await faulty({ 'x-sim-max-input-tokens': '1' }).embed({ model: 'nomic-embed-text', input: 'hello world', truncate: false }).catch((e: unknown) => e)) as SdkResponseError;
    expect(long.error).toBe('the input length exceeds the context length');
    const truncated = await faulty({ 'x-sim-max-input-tokens': '1' }).embed({ model: 'nomic-embed-text', input: 'hello world' });
    expect(truncated.prompt_eval_count).toBe(1);
  });

  it('lists local models', async () => {
    const { models } = await client.list();
    expect(models.map((m) => m.name)).toContain('llama3.2:latest');
    expect(models[0]!.details.format).toBe('gguf');
    expect((await client.version()).version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('surfaces a mid-stream error line as an SDK error', async () => {
    const stream = await faulty({ 'x-sim-error-after-chunks': '2' }).chat({ ...basic, stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of stream) seen.push(c.message.content);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('an error was encountered while running the model');
    expect(seen).toHaveLength(2);
  });

  it('surfaces a disconnect after N chunks and a missing done line as SDK errors', async () => {
    const cut = await collect(await faulty({ 'x-sim-disconnect-after-chunks': '2' }).chat({ ...basic, stream: true })).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(Error);
    const noEnd = await collect(await faulty({ 'x-sim-omit-end-marker': 'true' }).chat({ ...basic, stream: true })).catch((e: unknown) => e);
    expect((noEnd as Error).message).toMatch(/Did not receive done/);
  });

  it('counts a client abort in stats.aborted', async () => {
    const before = sim.stats.aborted;
    const aborted = once(sim.events, 'abort');
    const stream = await faulty({ 'x-sim-chunk-delay-ms': '200' }).chat({ ...basic, stream: true });
    const err = await (async () => {
      for await (const c of stream) {
        if (c.message.content) stream.abort();
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    await aborted;
    expect(sim.stats.aborted).toBe(before + 1);
  });
});
