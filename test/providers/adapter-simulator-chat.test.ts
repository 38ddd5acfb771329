/**
 * Cross-check: each provider adapter (src/providers/<p>) driven against the simulator of its protocol
 * (src/simulator). Both sides were written independently from the same wire transcripts, so any
 * disagreement here means one of them misreads the protocol. This file: replies, tool calls, prompt
 * caching and embeddings. Faults are in adapter-simulator-faults.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStream, type ChatRequest, type ChatResponse, type StreamPart, type ToolCall } from '../../src/core/index.ts';
import type { CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { ADAPTER_CASES as CASES, SIM_TIMEOUTS as TIMEOUTS, textRequest } from '../helpers/adapter-cases.ts';
import { drainChecked as consume } from '../helpers/stream-contract.ts';

async function* replay(parts: StreamPart[]): AsyncIterable<StreamPart> {
  yield* parts;
}

/** collectStream over a stream whose contract was checked first. */
async function collectChecked(stream: AsyncIterable<StreamPart>): Promise<{ res: ChatResponse; parts: StreamPart[] }> {
  const parts = await consume(stream);
  return { res: await collectStream(replay(parts)), parts };
}

const parsedCalls = (calls: ToolCall[]) => calls.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) as unknown }));

const weatherTool = {
  name: 'get_weather',
  description: 'Get the weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const timeTool = {
  name: 'get_time',
  description: 'Get the local time in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/** A 1×1 transparent PNG. */
const PIXEL_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const toolRequest: ChatRequest = {
  messages: [{ role: 'user', content: 'call get_weather for Paris' }],
  tools: [weatherTool],
};

/** Long, distinct prose (about `n` tokens) so a prompt is well past any caching threshold. */
function longText(n: number, seed: string): string {
  return Array.from({ length: n }, (_, i) => `${seed}${i % 97}`).join(' ');
}

describe.each(CASES)('$protocol adapter against the $protocol simulator', (c) => {
  let sim: Simulator;
  let adapter: ProviderAdapter;

  const opts = (extra: Partial<CallOptions> = {}): CallOptions => ({
    model: c.model,
    capabilities: ['tools', 'json_schema', 'vision', 'embeddings', 'prompt_caching'],
    ...extra,
  });

  beforeAll(async () => {
    sim = await startSimulator({ protocol: c.protocol, port: 0 });
    adapter = c.create({ id: `${c.protocol}-sim`, baseUrl: c.baseUrl(sim.url), apiKey: 'test-key', timeouts: TIMEOUTS });
  });

  afterAll(async () => {
    await sim.close();
    await adapter.close();
  });

  it('gives the same text, finish reason and usage streamed and non-streamed', async () => {
    const generated = await adapter.generate(textRequest, opts());
    const { res: streamed } = await collectChecked(adapter.stream(textRequest, opts()));
    expect(generated.text.length).toBeGreaterThan(0);
    expect(generated.finishReason).toBe('stop');
    expect(streamed.text).toBe(generated.text);
    expect(streamed.finishReason).toBe(generated.finishReason);
    expect(streamed.toolCalls).toEqual([]);
    expect(generated.toolCalls).toEqual([]);
    expect(streamed.usage).toEqual(generated.usage);
    expect(generated.usage.inputTokens).toBeGreaterThan(0);
    expect(generated.usage.outputTokens).toBeGreaterThan(0);
    expect(generated.usage.estimated).toBeUndefined();
  });

  it('gives the same text and usage streamed and non-streamed for a reply cut at max tokens', async () => {
    const req: ChatRequest = { ...textRequest, maxOutputTokens: 3 };
    const generated = await adapter.generate(req, opts());
    const { res: streamed } = await collectChecked(adapter.stream(req, opts()));
    expect(generated.finishReason).toBe('length');
    expect(streamed.finishReason).toBe('length');
    expect(streamed.text).toBe(generated.text);
    expect(streamed.usage).toEqual(generated.usage);
    expect(generated.usage.outputTokens).toBe(3);
  });

  it('gives the same tool calls and usage streamed and non-streamed', async () => {
    const generated = await adapter.generate(toolRequest, opts());
    const { res: streamed, parts } = await collectChecked(adapter.stream(toolRequest, opts()));
    expect(parsedCalls(generated.toolCalls)).toEqual([{ name: 'get_weather', arguments: { city: 'Paris' } }]);
    expect(parsedCalls(streamed.toolCalls)).toEqual(parsedCalls(generated.toolCalls));
    for (const call of [...generated.toolCalls, ...streamed.toolCalls]) expect(call.id).not.toBe('');
    expect(generated.finishReason).toBe('tool_calls');
    expect(streamed.finishReason).toBe('tool_calls');
    expect(streamed.text).toBe(generated.text);
    expect(streamed.usage).toEqual(generated.usage);
    if (c.protocol === 'openai' || c.protocol === 'anthropic') {
      // These protocols stream a call's arguments in fragments; each is its own delta.
      expect(parts.filter((p) => p.type === 'tool-call-delta').length).toBeGreaterThan(1);
    }
  });

  it('gives the same parallel tool calls, in order, streamed and non-streamed', async () => {
    const req: ChatRequest = {
      messages: [{ role: 'user', content: 'call get_weather and get_time for Paris' }],
      tools: [weatherTool, timeTool],
    };
    const generated = await adapter.generate(req, opts());
    const { res: streamed } = await collectChecked(adapter.stream(req, opts()));
    expect(generated.toolCalls.map((t) => t.name)).toEqual(['get_weather', 'get_time']);
    expect(parsedCalls(streamed.toolCalls)).toEqual(parsedCalls(generated.toolCalls));
    expect(new Set(streamed.toolCalls.map((t) => t.id)).size).toBe(2);
    expect(streamed.usage).toEqual(generated.usage);
  });

  if (c.protocol !== 'ollama') {
    // Ollama has no tool_choice field (its adapter rejects a forced choice as unsupported_feature).
    it('follows a forced tool choice the same way streamed and non-streamed', async () => {
      const req: ChatRequest = {
        messages: [{ role: 'user', content: 'What is it like in Rome?' }],
        tools: [timeTool, weatherTool],
        toolChoice: { type: 'tool', name: 'get_weather' },
      };
      const generated = await adapter.generate(req, opts());
      const { res: streamed } = await collectChecked(adapter.stream(req, opts()));
      expect(parsedCalls(generated.toolCalls)).toEqual([{ name: 'get_weather', arguments: { city: 'Rome' } }]);
      expect(parsedCalls(streamed.toolCalls)).toEqual(parsedCalls(generated.toolCalls));
      expect(streamed.usage).toEqual(generated.usage);
    });
  }

  it('sends a tool result the simulator reads back, the same streamed and non-streamed', async () => {
    const req: ChatRequest = {
      messages: [
        { role: 'user', content: 'call get_weather for Paris' },
        { role: 'assistant', content: null, toolCalls: [{ id: 'call_abc123', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
        { role: 'tool', toolCallId: 'call_abc123', name: 'get_weather', content: '{"temperature_c":21}' },
      ],
      tools: [weatherTool],
    };
    const generated = await adapter.generate(req, opts());
    const { res: streamed } = await collectChecked(adapter.stream(req, opts()));
    expect(generated.toolCalls).toEqual([]);
    expect(generated.finishReason).toBe('stop');
    expect(generated.text).toMatch(/^The tool returned: .*temperature_c.*21/);
    expect(streamed.text).toBe(generated.text);
    expect(streamed.finishReason).toBe('stop');
    expect(streamed.usage).toEqual(generated.usage);
  });

  it('returns JSON following a json_schema response format, the same streamed and non-streamed', async () => {
    const req: ChatRequest = {
      messages: [{ role: 'user', content: 'Describe the weather in Oslo as JSON.' }],
      responseFormat: {
        type: 'json_schema',
        name: 'weather',
        schema: { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'integer' } }, required: ['city', 'temp'] },
      },
    };
    const generated = await adapter.generate(req, opts());
    const { res: streamed } = await collectChecked(adapter.stream(req, opts()));
    const doc = JSON.parse(generated.text) as Record<string, unknown>;
    expect(typeof doc.city).toBe('string');
    expect(Number.isInteger(doc.temp)).toBe(true);
    expect(streamed.text).toBe(generated.text);
    expect(streamed.usage).toEqual(generated.usage);
  });

  it('accepts an inline image the way the adapter encodes it, the same streamed and non-streamed', async () => {
    const req: ChatRequest = {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image', data: PIXEL_PNG, mediaType: 'image/png' },
          ],
        },
      ],
    };
    const generated = await adapter.generate(req, opts());
    const { res: streamed } = await collectChecked(adapter.stream(req, opts()));
    expect(generated.text.length).toBeGreaterThan(0);
    expect(streamed.text).toBe(generated.text);
    expect(streamed.usage).toEqual(generated.usage);
  });

  it('cuts the reply at a stop sequence the same way streamed and non-streamed', async () => {
    const full = await adapter.generate(textRequest, opts());
    const stopAt = full.text.split(' ')[3]!;
    const req: ChatRequest = { ...textRequest, stop: [stopAt] };
    const generated = await adapter.generate(req, opts());
    const { res: streamed } = await collectChecked(adapter.stream(req, opts()));
    expect(generated.text).toBe(full.text.slice(0, full.text.indexOf(stopAt)));
    expect(generated.finishReason).toBe('stop');
    expect(streamed.text).toBe(generated.text);
    expect(streamed.finishReason).toBe('stop');
    expect(streamed.usage).toEqual(generated.usage);
    expect(generated.usage.outputTokens).toBeLessThan(full.usage.outputTokens);
  });

  if (c.protocol === 'openai') {
    it('reports cached input tokens when a long prompt is sent again (automatic caching)', async () => {
      const req: ChatRequest = {
        messages: [
          { role: 'system', content: longText(1300, 'openaicache') },
          { role: 'user', content: 'Summarize the above.' },
        ],
      };
      const first = await adapter.generate(req, opts());
      const second = await adapter.generate(req, opts());
      expect(first.usage.cachedInputTokens).toBe(0);
      expect(first.usage.inputTokens).toBeGreaterThan(1024);
      expect(second.usage.cachedInputTokens).toBeGreaterThan(0);
      expect(second.usage.cachedInputTokens).toBeLessThanOrEqual(second.usage.inputTokens);
      expect(second.usage.inputTokens).toBe(first.usage.inputTokens);
      // A third time, streamed: the same cache hit, reported the same way.
      const { res: third } = await collectChecked(adapter.stream(req, opts()));
      expect(third.usage).toEqual(second.usage);
    });
  }

  if (c.protocol === 'anthropic') {
    it('reports a cache write, then a cache read, for a system prompt marked cacheable', async () => {
      const req: ChatRequest = {
        messages: [
          { role: 'system', content: [{ type: 'text', text: longText(300, 'anthropiccache'), cacheControl: { type: 'ephemeral' } }] },
          { role: 'user', content: 'Summarize the above.' },
        ],
      };
      const first = await adapter.generate(req, opts());
      const second = await adapter.generate(req, opts());
      expect(first.usage.cacheWriteTokens).toBeGreaterThan(0);
      expect(first.usage.cachedInputTokens).toBe(0);
      expect(second.usage.cachedInputTokens).toBeGreaterThan(0);
      expect(second.usage.cacheWriteTokens).toBe(0);
      // Normalized: inputTokens includes cache reads and writes, so it is the whole prompt both times.
      expect(second.usage.inputTokens).toBe(first.usage.inputTokens);
      expect(second.usage.cachedInputTokens).toBe(first.usage.cacheWriteTokens);
      expect(first.usage.cacheWriteTokens).toBeLessThan(first.usage.inputTokens);
      const { res: third } = await collectChecked(adapter.stream(req, opts()));
      expect(third.usage).toEqual(second.usage);
    });
  }

  if (c.embedModel !== undefined) {
    const embedModel = c.embedModel;
    it('returns embeddings in input order with the requested dimensions', async () => {
      const input = ['the first text', 'a second, different text', 'third'];
      const batch = await adapter.embed!({ input, dimensions: 64 }, opts({ model: embedModel }));
      expect(batch.embeddings).toHaveLength(3);
      for (const v of batch.embeddings) expect(v).toHaveLength(64);
      // Each vector belongs to its own input: embedding the texts one by one gives the same vectors.
      for (const [i, text] of input.entries()) {
        const one = await adapter.embed!({ input: [text], dimensions: 64 }, opts({ model: embedModel }));
        expect(one.embeddings).toEqual([batch.embeddings[i]]);
      }
      expect(batch.embeddings[0]).not.toEqual(batch.embeddings[1]);
      expect(batch.usage.inputTokens).toBeGreaterThan(0);
      const plain = await adapter.embed!({ input: ['no dimensions asked'] }, opts({ model: embedModel }));
      expect(plain.embeddings[0]!.length).toBeGreaterThan(64);
    });
  }
});
