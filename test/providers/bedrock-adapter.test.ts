/**
 * The Bedrock adapter (src/providers/bedrock) against the Bedrock simulator (src/simulator/bedrock-*.ts): real SigV4
 * over loopback, Converse and the binary ConverseStream, InvokeModel embeddings, and faults injected per request
 * through `x-sim-*` headers (sent as CallOptions.headers, and signed like every other header).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collectStream, type ChatRequest, type ChatResponse, type Message, type StreamPart } from '../../src/core/index.ts';
import { createBedrockAdapter } from '../../src/providers/bedrock/index.ts';
import type { AdapterConfig, CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import type { SimRequest } from '../../src/simulator/protocol.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { drainChecked, errorOf, rejection } from '../helpers/stream-contract.ts';

const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000, totalMs: 10000 };
const CLAUDE = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const KEYS = { accessKeyId: 'ASIAADAPTERTEST00001', secretAccessKey: 'adapter-test-secret-key-000000000000000001', sessionToken: 'adapter-test-session-token-0000000001' };
/** A 1x1 transparent PNG. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

let sim: Simulator;
let adapter: ProviderAdapter;
let seen: SimRequest[] = [];

const config = (extra: Partial<AdapterConfig> = {}): AdapterConfig => ({
  id: 'aws',
  baseUrl: sim.url,
  region: 'us-east-1',
  credentials: { type: 'aws', ...KEYS },
  timeouts: TIMEOUTS,
  ...extra,
});

const opts = (headers: Record<string, string> = {}, extra: Partial<CallOptions> = {}): CallOptions => ({
  model: CLAUDE,
  capabilities: ['tools', 'json_schema', 'vision', 'embeddings', 'prompt_caching', 'reasoning'],
  headers,
  ...extra,
});

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({ messages: [{ role: 'user', content }], ...extra });
const lastBody = (): Record<string, any> => seen.at(-1)!.body as Record<string, any>;
const textOf = (parts: StreamPart[]) => parts.flatMap((p) => (p.type === 'text-delta' ? [p.text] : [])).join('');

const weather = {
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

beforeAll(async () => {
  sim = await startSimulator({ protocol: 'bedrock', awsCredentials: [{ ...KEYS, expiresAt: Date.now() + 3_600_000 }] });
  sim.events.on('request', (r: SimRequest) => seen.push(r));
  adapter = createBedrockAdapter(config());
});
afterAll(async () => {
  await adapter.close();
  await sim.close();
});
beforeEach(() => {
  seen = [];
});

describe('chat through Converse and ConverseStream', () => {
  it('answers with exact usage, the request id, and the cross-region model id URL-encoded in the signed path', async () => {
    const r = await adapter.generate({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Describe the gateway' }] }, opts());
    expect(r.text).toMatch(/\w+/);
    expect(r.finishReason).toBe('stop');
    expect(r.rawFinishReason).toBe('end_turn');
    // The simulator's count: "Be terse." (3) + 3, "Describe the gateway" (3) + 3.
    expect(r.usage).toEqual({ inputTokens: 12, outputTokens: r.usage.outputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
    expect(r.usage.outputTokens).toBeGreaterThan(0);
    expect(r.model).toBe(CLAUDE);
    expect(r.providerRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[0]!.rawUrl).toBe('/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse');
    expect(String(seen[0]!.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAADAPTERTEST00001\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=.*host/);
    expect(seen[0]!.headers['x-amz-security-token']).toBe(KEYS.sessionToken);
    expect(lastBody()).toMatchObject({ system: [{ text: 'Be terse.' }], messages: [{ role: 'user', content: [{ text: 'Describe the gateway' }] }] });
  });

  it('streams the same text and usage as the whole reply, ending with one finish part', async () => {
    const req = ask('Tell me about routing', { maxOutputTokens: 300, temperature: 0.5, stop: ['zzz'] });
    const whole = await adapter.generate(req, opts());
    const parts = await drainChecked(adapter.stream(req, opts()));
    expect(parts[0]).toMatchObject({ type: 'start', model: CLAUDE });
    expect(parts.filter((p) => p.type === 'text-delta').length).toBeGreaterThan(3);
    expect(textOf(parts)).toBe(whole.text);
    expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop', usage: whole.usage });
    expect(seen[1]!.rawUrl).toMatch(/\/converse-stream$/);
    expect(lastBody().inferenceConfig).toEqual({ maxTokens: 300, temperature: 0.5, stopSequences: ['zzz'] });
  });

  it('runs a tool call round trip, streamed and not', async () => {
    const req = ask('call get_weather for Paris', { tools: [weather], toolChoice: 'auto' });
    const first = await adapter.generate(req, opts());
    expect(first.finishReason).toBe('tool_calls');
    expect(first.toolCalls).toEqual([{ id: expect.stringMatching(/^tooluse_/), name: 'get_weather', arguments: '{"city":"Paris"}' }]);
    expect(lastBody().toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'get_weather', description: 'Current weather for a city', inputSchema: { json: weather.parameters } } }],
      toolChoice: { auto: {} },
    });

    const streamed = await collectStream(adapter.stream(req, opts()));
    expect(streamed.toolCalls[0]).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(streamed.finishReason).toBe('tool_calls');

    const call = first.toolCalls[0]!;
    const messages: Message[] = [
      { role: 'user', content: 'call get_weather for Paris' },
      { role: 'assistant', content: '', toolCalls: [call] },
      { role: 'tool', toolCallId: call.id, content: 'sunny, 24 C' },
    ];
    const second = await adapter.generate({ messages, tools: [weather] }, opts());
    expect(second.text).toContain('sunny, 24 C');
    expect(lastBody().messages[1]).toEqual({ role: 'assistant', content: [{ toolUse: { toolUseId: call.id, name: 'get_weather', input: { city: 'Paris' } } }] });
    expect(lastBody().messages[2]).toEqual({ role: 'user', content: [{ toolResult: { toolUseId: call.id, content: [{ text: 'sunny, 24 C' }] } }] });
  });

  it('forces a tool with toolChoice required / a named tool', async () => {
    const r = await adapter.generate(ask('hello', { tools: [weather], toolChoice: { type: 'tool', name: 'get_weather' } }), opts());
    expect(r.toolCalls).toHaveLength(1);
    expect(lastBody().toolConfig.toolChoice).toEqual({ tool: { name: 'get_weather' } });
    await adapter.generate(ask('hello', { tools: [weather], toolChoice: 'required' }), opts());
    expect(lastBody().toolConfig.toolChoice).toEqual({ any: {} });
  });

  it('sends images as bytes (inline data and data: URLs); a web URL image fails closed before any request', async () => {
    const withImage = await adapter.generate(
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', data: PNG, mediaType: 'image/png' }] }] },
      opts(),
    );
    const plain = await adapter.generate(ask('What is this?'), opts());
    expect(withImage.usage.inputTokens).toBe(plain.usage.inputTokens + 85);
    await adapter.generate({ messages: [{ role: 'user', content: [{ type: 'image', url: `data:image/png;base64,${PNG}` }, { type: 'text', text: 'and this?' }] }] }, opts());
    expect(lastBody().messages[0].content[0]).toEqual({ image: { format: 'png', source: { bytes: PNG } } });

    const before = sim.stats.requests;
    const e = await rejection(adapter.generate({ messages: [{ role: 'user', content: [{ type: 'image', url: 'https://example.com/cat.png' }] }] }, opts()));
    expect(e).toMatchObject({ kind: 'unsupported_feature', param: 'image' });
    expect(errorOf(await drainChecked(adapter.stream({ messages: [{ role: 'user', content: [{ type: 'image', url: 'https://example.com/cat.png' }] }] }, opts()))).kind).toBe('unsupported_feature');
    expect(sim.stats.requests).toBe(before);
  });

  it('maps a JSON schema response format to outputConfig.textFormat; json_object and seed fail closed', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] };
    const r = await adapter.generate(ask('Weather plan for Rome', { responseFormat: { type: 'json_schema', name: 'plan', schema } }), opts());
    expect(Object.keys(JSON.parse(r.text) as object).sort()).toEqual(['city', 'days']);
    expect(lastBody().outputConfig).toEqual({ textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: JSON.stringify(schema), name: 'plan' } } } });
    expect((await rejection(adapter.generate(ask('x', { responseFormat: { type: 'json_object' } }), opts()))).kind).toBe('unsupported_feature');
    expect((await rejection(adapter.generate(ask('x', { seed: 1 }), opts()))).param).toBe('seed');
  });

  it('toolChoice none: leaves the tools out without tool history, fails closed with it', async () => {
    const r = await adapter.generate(ask('call get_weather for Paris', { tools: [weather], toolChoice: 'none' }), opts());
    expect(r.toolCalls).toEqual([]);
    expect(lastBody().toolConfig).toBeUndefined();
    const history: Message[] = [
      { role: 'user', content: 'call get_weather for Paris' },
      { role: 'assistant', content: null, toolCalls: [{ id: 'tooluse_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
      { role: 'tool', toolCallId: 'tooluse_1', content: 'sunny' },
    ];
    const e = await rejection(adapter.generate({ messages: history, tools: [weather], toolChoice: 'none' }, opts()));
    expect(e).toMatchObject({ kind: 'unsupported_feature', param: 'toolChoice' });
  });
});

describe('reasoning', () => {
  const thinking = (messages: Message[]): ChatRequest => ({ messages, tools: [weather], reasoningEffort: 'low', maxOutputTokens: 1000 });

  it('maps reasoningEffort to Claude thinking and carries the signed reasoning across a tool turn', async () => {
    const question: Message = { role: 'user', content: 'call get_weather for Lima' };
    const first = await adapter.generate(thinking([question]), opts());
    expect(lastBody().additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 2048 } });
    expect(lastBody().inferenceConfig.maxTokens).toBe(3048);
    expect(first.reasoning).toMatch(/Thinking it over/);
    expect(first.reasoningParts).toEqual([{ text: first.reasoning, signature: expect.any(String), provider: 'bedrock' }]);
    expect(first.toolCalls).toHaveLength(1);

    // Streamed, the same reasoning arrives in fragments with its signature.
    const streamed = await collectStream(adapter.stream(thinking([question]), opts()));
    expect(streamed.reasoningParts).toEqual(first.reasoningParts);

    const call = first.toolCalls[0]!;
    const turn: Message[] = [
      question,
      { role: 'assistant', content: null, toolCalls: [call], reasoningParts: first.reasoningParts },
      { role: 'tool', toolCallId: call.id, content: 'foggy' },
    ];
    const second = await adapter.generate(thinking(turn), opts());
    expect(second.text).toContain('foggy');
    expect(lastBody().messages[1].content[0]).toEqual({ reasoningContent: { reasoningText: { text: first.reasoning, signature: first.reasoningParts![0]!.signature } } });
    expect(lastBody().additionalModelRequestFields).toBeDefined();

    // A signature the simulator did not issue is refused, as Bedrock refuses a tampered one.
    const forged: Message[] = [...turn];
    forged[1] = { ...(turn[1] as Extract<Message, { role: 'assistant' }>), reasoningParts: [{ ...first.reasoningParts![0]!, signature: 'Zm9yZ2Vk' }] };
    const e = await rejection(adapter.generate(thinking(forged), opts()));
    expect(e.kind).toBe('invalid_request');
    expect(e.message).toMatch(/signature/);

    // A turn without its reasoning (made elsewhere) continues without thinking rather than failing.
    const unsigned = await adapter.generate(thinking([question, { role: 'assistant', content: null, toolCalls: [call] }, turn[2]!]), opts());
    expect(unsigned.text).toContain('foggy');
    expect(lastBody().additionalModelRequestFields).toBeUndefined();
  });

  it('sends redacted reasoning back as it came', async () => {
    const req = (messages: Message[]): ChatRequest => ({ messages, reasoningEffort: 'minimal' });
    const first = await adapter.generate(req([{ role: 'user', content: 'Think, and redact some of it' }]), opts());
    const redacted = first.reasoningParts!.find((p) => p.redacted);
    expect(redacted).toMatchObject({ text: '', redacted: true, provider: 'bedrock' });
    const again = await adapter.generate(
      req([{ role: 'user', content: 'Think, and redact some of it' }, { role: 'assistant', content: first.text, reasoningParts: first.reasoningParts }, { role: 'user', content: 'more' }]),
      opts(),
    );
    expect(again.finishReason).toBe('stop');
    expect(lastBody().messages[1].content[1]).toEqual({ reasoningContent: { redactedContent: redacted!.signature } });
  });

  it('fails closed for reasoningEffort on a model without a thinking mapping', async () => {
    const e = await rejection(adapter.generate(ask('hi', { reasoningEffort: 'low' }), opts({}, { model: 'meta.llama3-70b-instruct-v1:0' })));
    expect(e).toMatchObject({ kind: 'unsupported_feature', param: 'reasoningEffort' });
  });
});

describe('prompt caching', () => {
  it('turns cacheControl markers into cachePoint blocks; the repeated prefix is read from the cache', async () => {
    const system = 'You are the gateway assistant. '.repeat(20);
    const req: ChatRequest = {
      messages: [
        { role: 'system', content: [{ type: 'text', text: system, cacheControl: { type: 'ephemeral' } }] },
        { role: 'user', content: 'first question' },
      ],
    };
    const first = await adapter.generate(req, opts());
    expect(lastBody().system).toEqual([{ text: system }, { cachePoint: { type: 'default' } }]);
    expect(first.usage.cacheWriteTokens).toBeGreaterThan(100);
    expect(first.usage.cachedInputTokens).toBe(0);
    const second = await adapter.generate(req, opts());
    expect(second.usage.cachedInputTokens).toBe(first.usage.cacheWriteTokens);
    expect(second.usage.cacheWriteTokens).toBe(0);
    // inputTokens is the whole prompt, cache reads included.
    expect(second.usage.inputTokens).toBe(first.usage.inputTokens);
    const streamed = await collectStream(adapter.stream(req, opts()));
    expect(streamed.usage).toEqual(second.usage);
  });

  it('places the gateway policy checkpoints after the system prompt and the last tool, and none where the model does not cache', async () => {
    const req: ChatRequest = { messages: [{ role: 'system', content: 'Policy prompt for caching.' }, { role: 'user', content: 'hello' }], tools: [weather] };
    const first = await adapter.generate(req, opts({}, { promptCache: { system: true, tools: true } }));
    expect(lastBody().system).toEqual([{ text: 'Policy prompt for caching.' }, { cachePoint: { type: 'default' } }]);
    expect(lastBody().toolConfig.tools.at(-1)).toEqual({ cachePoint: { type: 'default' } });
    expect(first.usage.cacheWriteTokens).toBeGreaterThan(0);

    const llama = opts({}, { model: 'meta.llama3-70b-instruct-v1:0', capabilities: ['tools'], promptCache: { system: true } });
    const marked: ChatRequest = { messages: [{ role: 'system', content: [{ type: 'text', text: 'sys', cacheControl: { type: 'ephemeral', ttl: '1h' } }] }, { role: 'user', content: 'hi' }] };
    const r = await adapter.generate(marked, llama);
    expect(r.usage.cacheWriteTokens).toBe(0);
    expect(lastBody().system).toEqual([{ text: 'sys' }]);
  });
});

describe('embeddings through InvokeModel', () => {
  it('embeds a Titan batch as parallel calls with summed token counts', async () => {
    const r = await adapter.embed!({ input: ['hello world', 'the gateway routes', 'x'], dimensions: 256 }, opts({}, { model: 'amazon.titan-embed-text-v2:0' }));
    expect(r.embeddings).toHaveLength(3);
    for (const v of r.embeddings) expect(v).toHaveLength(256);
    expect(r.embeddings[0]).not.toEqual(r.embeddings[1]);
    expect(r.usage).toEqual({ inputTokens: 2 + 3 + 1 });
    expect(seen.map((s) => s.rawUrl)).toEqual(Array(3).fill('/model/amazon.titan-embed-text-v2%3A0/invoke'));
    expect(seen.map((s) => (s.body as { inputText: string }).inputText).sort()).toEqual(['hello world', 'the gateway routes', 'x']);
  });

  it('embeds with Cohere in one call, tokens from the reply header', async () => {
    const r = await adapter.embed!({ input: ['alpha beta', 'gamma'] }, opts({}, { model: 'cohere.embed-english-v3' }));
    expect(r.embeddings).toHaveLength(2);
    expect(r.embeddings[0]).toHaveLength(1024);
    expect(r.usage).toEqual({ inputTokens: 3 });
    expect(seen).toHaveLength(1);
    expect(lastBody()).toEqual({ texts: ['alpha beta', 'gamma'], input_type: 'search_document' });
  });

  it('refuses embeddings for a model that is not an embedding model', async () => {
    expect((await rejection(adapter.embed!({ input: ['a'] }, opts({}, { model: CLAUDE })))).kind).toBe('unsupported_feature');
  });
});

describe('errors', () => {
  async function both(headers: Record<string, string>, req: ChatRequest = ask('a prompt of a few words')) {
    const thrown = await rejection(adapter.generate(req, opts(headers)));
    const parts = await drainChecked(adapter.stream(req, opts(headers)));
    return [thrown, errorOf(parts)] as const;
  }

  it('ThrottlingException → rate_limited, retryable, with the retry-after', async () => {
    for (const e of await both({ 'x-sim-status': '429', 'x-sim-retry-after-s': '2' })) {
      expect(e).toMatchObject({ kind: 'rate_limited', retryable: true, retryAfterMs: 2000, status: 429, providerCode: 'ThrottlingException' });
    }
  });

  it('ServiceUnavailableException → unavailable, InternalServerException → retryable, ModelTimeoutException → timeout', async () => {
    for (const e of await both({ 'x-sim-status': '503' })) expect(e).toMatchObject({ kind: 'unavailable', retryable: true, providerCode: 'ServiceUnavailableException' });
    for (const e of await both({ 'x-sim-status': '500' })) expect(e).toMatchObject({ kind: 'unavailable', retryable: true, providerCode: 'InternalServerException' });
    for (const e of await both({ 'x-sim-status': '408' })) expect(e).toMatchObject({ kind: 'timeout', providerCode: 'ModelTimeoutException' });
  });

  it('ValidationException "Input is too long" → context_length_exceeded; a missing model → not_found', async () => {
    for (const e of await both({ 'x-sim-max-input-tokens': '3' })) expect(e).toMatchObject({ kind: 'context_length_exceeded', retryable: false, providerCode: 'ValidationException' });
    const missing = await rejection(adapter.generate(ask('hi'), opts({}, { model: 'missing-model-v1:0' })));
    expect(missing).toMatchObject({ kind: 'not_found', providerCode: 'ResourceNotFoundException' });
  });

  it('an exception frame mid-stream → an error part carrying the text already delivered', async () => {
    const full = await adapter.generate(ask('hello there'), opts());
    const parts = await drainChecked(adapter.stream(ask('hello there'), opts({ 'x-sim-error-after-chunks': '2' })));
    const delivered = textOf(parts);
    expect(delivered).toBe((full.text.match(/\S+\s*/g) ?? []).slice(0, 2).join(''));
    const e = errorOf(parts);
    expect(e).toMatchObject({ kind: 'unavailable', retryable: true, providerCode: 'ModelStreamErrorException', partialText: delivered });
  });

  it('a stream cut short (no metadata, or a dropped connection) is an error, never a finish', async () => {
    const noMeta = await drainChecked(adapter.stream(ask('hello there'), opts({ 'x-sim-omit-end-marker': 'true' })));
    expect(errorOf(noMeta).kind).toBe('invalid_response');
    const cut = await drainChecked(adapter.stream(ask('hello there'), opts({ 'x-sim-disconnect-after-chunks': '3' })));
    expect(textOf(cut).length).toBeGreaterThan(0);
    expect(errorOf(cut)).toMatchObject({ kind: 'invalid_response', retryable: true });
  });

  it('a wrong secret → provider_auth (InvalidSignatureException), and no secret in any error text', async () => {
    const wrong = createBedrockAdapter(config({ credentials: { type: 'aws', ...KEYS, secretAccessKey: 'wrong-secret-key-00000000000000000000000' } }));
    try {
      const e = await rejection(wrong.generate(ask('hi'), opts()));
      expect(e).toMatchObject({ kind: 'provider_auth', status: 403, providerCode: 'InvalidSignatureException' });
      expect(e.message).not.toContain('wrong-secret-key');
    } finally {
      await wrong.close();
    }
    // Upstreams that quote the request back (its headers, with the session token) are masked.
    const echo = { 'x-sim-echo-headers': 'true' };
    const quoted: string[] = [];
    for (const e of await both({ ...echo, 'x-sim-status': '500' })) quoted.push(e.message, String(e.stack), JSON.stringify(e));
    const mid = errorOf(await drainChecked(adapter.stream(ask('hello'), opts({ ...echo, 'x-sim-error-after-chunks': '1' }))));
    quoted.push(mid.message);
    expect(quoted.join('\n')).toMatch(/x-amz-date/);
    for (const secret of [KEYS.secretAccessKey, KEYS.sessionToken]) expect(quoted.join('\n')).not.toContain(secret);
  });
});

/** A reply that must be the same, whether read whole or streamed. */
function sameReply(a: ChatResponse, b: ChatResponse): void {
  expect(b.text).toBe(a.text);
  expect(b.usage).toEqual(a.usage);
}

describe('cross-region profile ids and ARNs', () => {
  it('encodes an ARN (with / and :) as one path segment and still signs it right', async () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0';
    const a = await adapter.generate(ask('hello arn'), opts({}, { model: arn }));
    const b = await collectStream(adapter.stream(ask('hello arn'), opts({}, { model: arn })));
    sameReply(a, b);
    expect(seen[0]!.rawUrl).toBe(`/model/${encodeURIComponent(arn)}/converse`);
  });
});
