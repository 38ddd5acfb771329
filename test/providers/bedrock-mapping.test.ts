/**
 * The Bedrock adapter's pure parts: the Converse body it builds, the stream events it folds, the errors it reads and
 * the event-stream framing (read with the shared reader, written by the simulator's own encoder).
 */
import { describe, expect, it } from 'vitest';
import { GatewayError, type ChatRequest, type StreamPart } from '../../src/core/index.ts';
import { httpError, errorMapper, errorTypeName } from '../../src/providers/bedrock/errors.ts';
import { buildConverseBody, modelPath, type BodyOptions } from '../../src/providers/bedrock/request.ts';
import { ConverseStreamState } from '../../src/providers/bedrock/stream.ts';
import { StreamEventWire } from '../../src/providers/bedrock/wire.ts';
import { awsEventStreamFramer } from '../../src/providers/shared/stream-readers.ts';
import { encodeFrame, eventFrame, exceptionFrame } from '../../src/simulator/bedrock-eventstream.ts';

const CLAUDE = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const opts = (extra: Partial<BodyOptions> = {}): BodyOptions => ({ model: CLAUDE, capabilities: ['tools', 'prompt_caching', 'vision', 'reasoning'], ...extra });
const build = (req: ChatRequest, extra: Partial<BodyOptions> = {}) => buildConverseBody(req, opts(extra), 'aws') as Record<string, any>;
const thrown = (f: () => unknown): GatewayError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    return e as GatewayError;
  }
  throw new Error('expected a throw');
};

describe('the Converse body', () => {
  it('puts the model id in the path as the AWS SDK encodes it', () => {
    expect(modelPath('us.anthropic.claude-3-7-sonnet-20250219-v1:0', 'converse')).toBe('/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse');
    expect(modelPath("arn:aws:bedrock:us-east-1:1:application-inference-profile/a(b)*!'", 'converse-stream')).toBe(
      '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fa%28b%29%2A%21%27/converse-stream',
    );
  });

  it('merges neighbouring turns of one role, skips empty text, and keeps tool results in user turns', () => {
    const body = build({
      messages: [
        { role: 'system', content: 'one' },
        { role: 'system', content: [{ type: 'text', text: 'two' }] },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'a', name: 'f', arguments: '' }, { id: 'b', name: 'g', arguments: '{"x":1}' }] },
        { role: 'tool', toolCallId: 'a', content: 'ra' },
        { role: 'tool', toolCallId: 'b', content: [{ type: 'text', text: 'rb' }] },
      ],
      tools: [{ name: 'f', parameters: {} }, { name: 'g', parameters: {} }],
    });
    expect(body.system).toEqual([{ text: 'one' }, { text: 'two' }]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ text: 'q' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'a', name: 'f', input: {} } }, { toolUse: { toolUseId: 'b', name: 'g', input: { x: 1 } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'a', content: [{ text: 'ra' }] } }, { toolResult: { toolUseId: 'b', content: [{ text: 'rb' }] } }] },
    ]);
    expect(body.inferenceConfig).toBeUndefined();
  });

  it('refuses tool-call arguments that are not a JSON object', () => {
    const e = thrown(() => build({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', toolCalls: [{ id: 'a', name: 'f', arguments: '[1]' }] }] }));
    expect(e).toMatchObject({ kind: 'invalid_request', param: 'toolCalls' });
  });

  it('places a cachePoint after each marked part and tool, with the one-hour ttl when asked', () => {
    const body = build({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 's', cacheControl: { type: 'ephemeral', ttl: '1h' } }] },
        { role: 'user', content: [{ type: 'text', text: 'u', cacheControl: { type: 'ephemeral' } }, { type: 'text', text: 'v' }] },
      ],
      tools: [{ name: 'f', parameters: {}, cacheControl: { type: 'ephemeral' } }, { name: 'g', parameters: {} }],
    });
    expect(body.system).toEqual([{ text: 's' }, { cachePoint: { type: 'default', ttl: '1h' } }]);
    expect(body.messages[0].content).toEqual([{ text: 'u' }, { cachePoint: { type: 'default' } }, { text: 'v' }]);
    expect(body.toolConfig.tools.map((t: any) => Object.keys(t)[0])).toEqual(['toolSpec', 'cachePoint', 'toolSpec']);
  });

  it('adds policy checkpoints only where free, and never past four', () => {
    const marked = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'text' as const, text: `m${i}`, cacheControl: { type: 'ephemeral' as const } }));
    const req = (n: number): ChatRequest => ({ messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: marked(n) }], tools: [{ name: 'f', parameters: {} }] });
    const three = build(req(3), { promptCache: { system: true, tools: true } });
    expect(three.system.at(-1)).toEqual({ cachePoint: { type: 'default' } });
    expect(three.toolConfig.tools.at(-1)).toHaveProperty('toolSpec');
    const four = build(req(4), { promptCache: { system: true, tools: true } });
    expect(four.system).toEqual([{ text: 'sys' }]);
    const none = build(req(0), { promptCache: { system: true, tools: true }, capabilities: ['tools'] });
    expect(none.system).toEqual([{ text: 'sys' }]);
    expect(none.toolConfig.tools).toHaveLength(1);
  });

  it('maps thinking like the Anthropic adapter and refuses what Claude refuses with it', () => {
    const body = build({ messages: [{ role: 'user', content: 'q' }], reasoningEffort: 'medium', maxOutputTokens: 500 });
    expect(body.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 8192 } });
    expect(body.inferenceConfig).toEqual({ maxTokens: 8692 });
    expect(thrown(() => build({ messages: [{ role: 'user', content: 'q' }], reasoningEffort: 'low', temperature: 0.2 })).param).toBe('temperature');
    expect(thrown(() => build({ messages: [{ role: 'user', content: 'q' }], reasoningEffort: 'low', tools: [{ name: 'f', parameters: {} }], toolChoice: 'required' })).param).toBe('toolChoice');
    // Reasoning parts go first in their turn; another vendor's signature and unsigned text stay behind.
    const turn = build({
      messages: [
        { role: 'user', content: 'q' },
        {
          role: 'assistant',
          content: 'a',
          reasoningParts: [
            { text: 'mine', signature: 'sig', provider: 'bedrock' },
            { text: 'theirs', signature: 'x', provider: 'anthropic' },
            { text: 'unsigned', provider: 'bedrock' },
            { text: '', signature: 'ZGF0YQ==', redacted: true, provider: 'bedrock' },
          ],
        },
        { role: 'user', content: 'more' },
      ],
    });
    expect(turn.messages[1].content).toEqual([
      { reasoningContent: { reasoningText: { text: 'mine', signature: 'sig' } } },
      { reasoningContent: { redactedContent: 'ZGF0YQ==' } },
      { text: 'a' },
    ]);
  });

  it('merges providerOptions.bedrock one level deep', () => {
    const body = build({ messages: [{ role: 'user', content: 'q' }], reasoningEffort: 'low', providerOptions: { bedrock: { additionalModelRequestFields: { top_k: 5 }, performanceConfig: { latency: 'optimized' } } } });
    expect(body.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 2048 }, top_k: 5 });
    expect(body.performanceConfig).toEqual({ latency: 'optimized' });
  });
});

describe('the stream mapper', () => {
  const fold = (events: unknown[]): StreamPart[] => {
    const state = new ConverseStreamState('aws', 'm', 'rid');
    return events.flatMap((e) => state.parts(StreamEventWire.parse(e)));
  };

  it('opens text and reasoning blocks on their first delta, gives argument-less tool calls {}, finishes on messageStop + metadata', () => {
    const parts = fold([
      { messageStart: { role: 'assistant' }, p: 'abc' },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: 'hm' } } } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig' } } } },
      { contentBlockStop: { contentBlockIndex: 0 } },
      { contentBlockDelta: { contentBlockIndex: 1, delta: { text: 'hi' } } },
      { contentBlockDelta: { contentBlockIndex: 1, delta: { citation: { title: 'x' } } } },
      { contentBlockStop: { contentBlockIndex: 1 } },
      { contentBlockStart: { contentBlockIndex: 2, start: { toolUse: { toolUseId: 't1', name: 'f' } } } },
      { contentBlockStop: { contentBlockIndex: 2 } },
      { somethingNew: {} },
      { metadata: { usage: { inputTokens: 3, outputTokens: 4, totalTokens: 17, cacheReadInputTokens: 10 } } },
      { messageStop: { stopReason: 'tool_use' } },
    ]);
    expect(parts).toEqual([
      { type: 'reasoning-delta', text: 'hm', index: 0, provider: 'bedrock' },
      { type: 'reasoning-delta', text: '', index: 0, provider: 'bedrock', signature: 'sig' },
      { type: 'text-delta', text: 'hi' },
      { type: 'tool-call-delta', index: 0, id: 't1', name: 'f', argumentsDelta: '' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '{}' },
      {
        type: 'finish',
        finishReason: 'tool_calls',
        rawFinishReason: 'tool_use',
        usage: { inputTokens: 13, outputTokens: 4, cachedInputTokens: 10, cacheWriteTokens: 0, reasoningTokens: 0 },
        model: 'm',
        providerRequestId: 'rid',
      },
    ]);
  });

  it('fails on tool input for a block that is not a tool call, and on arguments that are not JSON', () => {
    expect(fold([{ contentBlockDelta: { contentBlockIndex: 0, delta: { toolUse: { input: '{' } } } }])[0]).toMatchObject({ type: 'error' });
    const bad = fold([
      { contentBlockStart: { contentBlockIndex: 0, start: { toolUse: { toolUseId: 't', name: 'f' } } } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { toolUse: { input: '{"a":' } } } },
      { contentBlockStop: { contentBlockIndex: 0 } },
    ]);
    expect(bad.at(-1)).toMatchObject({ type: 'error', error: { kind: 'invalid_response' } });
  });
});

describe('errors', () => {
  it('reads the error type from the header, __type or code', () => {
    expect(errorTypeName('ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/')).toBe('ThrottlingException');
    expect(errorTypeName('com.amazon.coral.validate#ValidationException')).toBe('ValidationException');
    expect(errorTypeName('throttlingException')).toBe('ThrottlingException');
    const byBody = httpError('aws', { status: 400, headers: {} }, JSON.stringify({ __type: 'com.amazon.coral.validate#ValidationException', message: 'Input is too long for requested model.' }));
    expect(byBody).toMatchObject({ kind: 'context_length_exceeded', providerCode: 'ValidationException' });
    const other = httpError('aws', { status: 400, headers: { 'x-amzn-errortype': 'ValidationException:x' } }, '{"message":"messages.0: bad"}');
    expect(other).toMatchObject({ kind: 'invalid_request', message: 'aws: messages.0: bad' });
    expect(httpError('aws', { status: 403, headers: {} }, '{"Message":"User is not authorized","__type":"AccessDeniedException"}')).toMatchObject({ kind: 'provider_auth' });
    expect(httpError('aws', { status: 429, headers: {} }, '{"message":"Model is getting ready","__type":"ModelNotReadyException"}')).toMatchObject({ kind: 'unavailable', retryable: true });
    expect(httpError('aws', { status: 502, headers: {} }, '<html>bad gateway</html>')).toMatchObject({ kind: 'unavailable' });
  });

  it('reads exception and error frames of a stream as failures', () => {
    const m = errorMapper('aws');
    expect(m.chunk!({ message: 'slow down' }, 'exception:throttlingException', '')).toMatchObject({ kind: 'rate_limited', providerCode: 'ThrottlingException' });
    expect(m.chunk!({ message: 'Input is too long' }, 'exception:validationException', '')).toMatchObject({ kind: 'context_length_exceeded' });
    expect(m.chunk!(undefined, 'exception:internalServerException', 'not json')).toMatchObject({ kind: 'unavailable' });
    expect(m.chunk!({ message: 'boom' }, 'error:InternalFailure', '')).toMatchObject({ kind: 'unavailable', providerCode: 'InternalFailure' });
    expect(m.chunk!({}, 'messageStop', '')).toBeUndefined();
  });
});

describe('the event-stream framer', () => {
  async function* chunks(bytes: Buffer, size: number) {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }
  const read = async (source: AsyncIterable<Uint8Array>) => {
    const framer = await awsEventStreamFramer();
    const out = [];
    for await (const chunk of source) out.push(...framer.feed(chunk));
    out.push(...framer.end());
    return out;
  };

  it('reassembles frames split anywhere and names failures', async () => {
    const bytes = Buffer.concat([
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'héllo' } }),
      exceptionFrame('throttlingException', 'slow down'),
      encodeFrame({ ':message-type': 'error', ':error-code': 'InternalFailure', ':error-message': 'boom' }, Buffer.alloc(0)),
    ]);
    for (const size of [1, 7, 64, bytes.length]) {
      const msgs = await read(chunks(bytes, size));
      expect(msgs.map((m) => m.event)).toEqual(['messageStart', 'contentBlockDelta', 'exception:throttlingException', 'error:InternalFailure']);
      expect(JSON.parse(msgs[1]!.data).contentBlockDelta.delta.text).toBe('héllo');
      expect(JSON.parse(msgs[2]!.data)).toEqual({ message: 'slow down' });
      expect(JSON.parse(msgs[3]!.data)).toEqual({ message: 'boom' });
    }
  });

  it('refuses a damaged frame and a body that ends inside one', async () => {
    const frame = eventFrame('messageStop', { stopReason: 'end_turn' });
    const damaged = Buffer.from(frame);
    damaged[damaged.length - 6]! ^= 0xff;
    await expect(read(chunks(damaged, 16))).rejects.toMatchObject({ kind: 'invalid_response' });
    await expect(read(chunks(frame.subarray(0, frame.length - 3), 16))).rejects.toMatchObject({ kind: 'invalid_response' });
  });

  it('returns the frames before a damaged one in the same chunk, then refuses', async () => {
    const good = eventFrame('messageStart', { role: 'assistant' });
    const damaged = Buffer.from(eventFrame('messageStop', { stopReason: 'end_turn' }));
    damaged[damaged.length - 6]! ^= 0xff;
    const framer = await awsEventStreamFramer();
    expect(framer.feed(Buffer.concat([good, damaged])).map((m) => m.event)).toEqual(['messageStart']);
    expect(() => framer.end()).toThrow(expect.objectContaining({ kind: 'invalid_response' }) as Error);
  });
});
