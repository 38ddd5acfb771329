/**
 * Every OpenAI-compatible preset against the OpenAI simulator over loopback: what each one puts on the wire
 * (path, auth header, max-tokens field, stream_options) follows its row in src/providers/openai/presets.ts,
 * and what a vendor cannot take is refused by name before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStream, GatewayError, type ChatRequest } from '../../src/core/index.ts';
import { PROVIDER_PROTOCOLS, type PresetProtocol } from '../../src/core/protocols.ts';
import { createOpenAIAdapter, OPENAI_PRESETS, PRESET_NAMES, type PresetName } from '../../src/providers/openai/index.ts';
import type { PresetFeature } from '../../src/providers/openai/presets.ts';
import type { CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import type { SimRequest } from '../../src/simulator/protocol.ts';

const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000, totalMs: 10_000 };
const KEY = 'sk-preset-secret';
const hello: ChatRequest = { messages: [{ role: 'user', content: 'Hello there' }], maxOutputTokens: 32 };
const opts: CallOptions = { model: 'some-model', capabilities: ['tools', 'json_schema', 'vision', 'streaming', 'embeddings', 'reasoning'] };

let sim: Simulator;
const seen: SimRequest[] = [];
const adapters: ProviderAdapter[] = [];

beforeAll(async () => {
  sim = await startSimulator({ protocol: 'openai', port: 0 });
  sim.events.on('request', (r: SimRequest) => seen.push(r));
});
afterAll(async () => {
  await Promise.all(adapters.map((a) => a.close()));
  await sim.close();
});

function presetAdapter(preset: PresetName): ProviderAdapter {
  const a = createOpenAIAdapter({ id: `p-${preset}`, baseUrl: `${sim.url}/v1`, apiKey: KEY, timeouts: TIMEOUTS, options: { preset } });
  adapters.push(a);
  return a;
}

const lastSeen = () => seen.at(-1)!;
const body = (r: SimRequest) => r.body as Record<string, unknown>;

/** A request that uses exactly one feature a preset may refuse. */
const USING: Record<PresetFeature, ChatRequest | 'embeddings'> = {
  seed: { ...hello, seed: 7 },
  json_schema: { ...hello, responseFormat: { type: 'json_schema', name: 'x', schema: { type: 'object', properties: {} } } },
  tools: { ...hello, tools: [{ name: 'lookup', parameters: { type: 'object', properties: {} } }] },
  images: {
    messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image', mediaType: 'image/png', data: 'iVBORw0KGgo=' }] }],
  },
  reasoning_effort: { ...hello, reasoningEffort: 'low' },
  embeddings: 'embeddings',
};

describe.each(PRESET_NAMES.filter((p) => p !== 'azure'))('preset %s', (name) => {
  const preset = OPENAI_PRESETS[name];

  it('answers a chat and a stream with usage, sending its own auth header, max-tokens field and stream options', async () => {
    const a = presetAdapter(name);
    const res = await a.generate(hello, opts);
    expect(res.text).not.toBe('');
    expect(res.usage.inputTokens).toBeGreaterThan(0);
    const sent = lastSeen();
    expect(sent.path).toBe('/v1/chat/completions');
    if (preset.apiVersion) expect(sent.query.get('api-version')).toBe(preset.apiVersion);
    else expect(sent.query.has('api-version')).toBe(false);
    if (preset.auth === 'api-key') {
      expect(sent.headers['api-key']).toBe(KEY);
      expect(sent.headers.authorization).toBeUndefined();
    } else {
      expect(sent.headers.authorization).toBe(`Bearer ${KEY}`);
    }
    expect(body(sent)[preset.maxTokensField]).toBe(32);
    const other = preset.maxTokensField === 'max_tokens' ? 'max_completion_tokens' : 'max_tokens';
    expect(body(sent)).not.toHaveProperty(other);

    const streamed = await collectStream(a.stream(hello, opts));
    expect(streamed.text).not.toBe('');
    const sentStream = lastSeen();
    if (preset.streamOptions) expect(body(sentStream).stream_options).toEqual({ include_usage: true });
    else expect(body(sentStream)).not.toHaveProperty('stream_options');
  });

  it.each(Object.keys(USING) as PresetFeature[])('%s: refused by name when the vendor cannot take it, else sent', async (feature) => {
    const a = presetAdapter(name);
    const before = seen.length;
    const req = USING[feature];
    const attempt = req === 'embeddings' ? (a.embed ? a.embed({ input: ['x'] }, opts) : undefined) : a.generate(req, opts);
    if (!preset.unsupported.includes(feature)) {
      // Sent: whatever the simulator answers, the request left the gateway.
      if (attempt) await attempt.catch(() => undefined);
      expect(seen.length).toBe(before + 1);
      return;
    }
    if (attempt === undefined) {
      expect(a.embed).toBeUndefined();
    } else {
      const err = await attempt.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).kind).toBe('unsupported_feature');
      expect((err as GatewayError).message).toContain(name);
    }
    expect(seen.length).toBe(before);
  });
});

describe('the preset table', () => {
  const hosted: Partial<Record<PresetProtocol, string>> = {
    xai: 'api.x.ai',
    fireworks: 'api.fireworks.ai',
    cerebras: 'api.cerebras.ai',
    perplexity: 'api.perplexity.ai',
    deepinfra: 'api.deepinfra.com',
    sambanova: 'api.sambanova.ai',
    together: 'api.together.xyz',
    openrouter: 'openrouter.ai',
  };
  it.each(Object.entries(hosted))('%s has its vendor host as the default base URL', (name, host) => {
    const info = PROVIDER_PROTOCOLS[name as PresetProtocol] as { defaultBaseUrl?: string };
    expect(new URL(info.defaultBaseUrl!).host).toBe(host);
  });

  it('local servers default to loopback; Azure and AI Foundry have no default host', () => {
    expect(new URL(PROVIDER_PROTOCOLS.lmstudio.defaultBaseUrl).hostname).toBe('127.0.0.1');
    expect(new URL(PROVIDER_PROTOCOLS.llamacpp.defaultBaseUrl).hostname).toBe('127.0.0.1');
    expect('defaultBaseUrl' in PROVIDER_PROTOCOLS.azure).toBe(false);
    expect('defaultBaseUrl' in PROVIDER_PROTOCOLS['azure-foundry']).toBe(false);
    expect(() => createOpenAIAdapter({ id: 'f', baseUrl: '', timeouts: TIMEOUTS, options: { preset: 'azure-foundry' } })).toThrow(/baseUrl/);
  });
});
