import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
// The SDK talks HTTP/2 to Bedrock by default; the simulator serves HTTP/1.1, which the service also speaks.
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';

/**
 * The Bedrock simulator driven by the official @aws-sdk/client-bedrock-runtime: its SigV4 signatures verify against
 * the simulator's own implementation, its event-stream decoder reads the simulator's own frames, and its error
 * deserializer recognizes the simulator's AWS error shapes.
 */

const REGION = 'us-east-1';
const MODEL = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const GOOD = { accessKeyId: 'AKIDSIMULATOR0000001', secretAccessKey: 'sim-secret-key-0000000000000000000000001' };
const TEMP = { accessKeyId: 'ASIASIMULATOR000002', secretAccessKey: 'sim-secret-key-0000000000000000000000002', sessionToken: 'sim-session-token-2' };
const EXPIRED = { accessKeyId: 'ASIASIMULATOR000003', secretAccessKey: 'sim-secret-key-0000000000000000000000003', sessionToken: 'sim-session-token-3' };

let sim: Simulator;

function client(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, extra: Record<string, unknown> = {}): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ region: REGION, endpoint: sim.url, credentials, maxAttempts: 1, requestHandler: new NodeHttpHandler(), ...extra });
}

beforeAll(async () => {
  sim = await startSimulator({
    protocol: 'bedrock',
    awsCredentials: [GOOD, { ...TEMP, expiresAt: Date.now() + 3_600_000 }, { ...EXPIRED, expiresAt: Date.now() - 1000 }],
  });
});
afterAll(() => sim.close());

const weather = {
  toolSpec: {
    name: 'get_weather',
    description: 'Current weather for a city',
    inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
};

async function collect(stream: AsyncIterable<ConverseStreamOutput> | undefined): Promise<ConverseStreamOutput[]> {
  const events: ConverseStreamOutput[] = [];
  for await (const e of stream ?? []) events.push(e);
  return events;
}

describe('bedrock simulator driven by @aws-sdk/client-bedrock-runtime', () => {
  it('answers Converse with a message, a stop reason and usage that adds up', async () => {
    const res = await client(GOOD).send(
      new ConverseCommand({
        modelId: MODEL,
        system: [{ text: 'You are terse.' }],
        messages: [{ role: 'user', content: [{ text: 'Describe the gateway' }] }],
        inferenceConfig: { maxTokens: 200 },
      }),
    );
    expect(res.$metadata.httpStatusCode).toBe(200);
    expect(res.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const content = res.output?.message?.content ?? [];
    expect(res.output?.message?.role).toBe('assistant');
    expect(content[0]?.text).toMatch(/\w+/);
    expect(res.stopReason).toBe('end_turn');
    const u = res.usage!;
    expect(u.inputTokens).toBeGreaterThan(0);
    expect(u.outputTokens).toBeGreaterThan(0);
    expect(u.totalTokens).toBe(u.inputTokens! + u.outputTokens!);
  });

  it('accepts temporary keys with their session token', async () => {
    const res = await client(TEMP).send(new ConverseCommand({ modelId: 'amazon.nova-lite-v1:0', messages: [{ role: 'user', content: [{ text: 'hi' }] }] }));
    expect(res.stopReason).toBe('end_turn');
  });

  it('streams text through ConverseStream: the SDK decodes every frame, and the deltas make the Converse answer', async () => {
    const input = { modelId: MODEL, messages: [{ role: 'user' as const, content: [{ text: 'Tell me about routing' }] }] };
    const whole = await client(GOOD).send(new ConverseCommand(input));
    const res = await client(GOOD).send(new ConverseStreamCommand(input));
    const events = await collect(res.stream);
    expect(events[0]?.messageStart?.role).toBe('assistant');
    const text = events.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('');
    expect(events.filter((e) => e.contentBlockDelta).length).toBeGreaterThan(3);
    expect(text).toBe(whole.output?.message?.content?.[0]?.text);
    expect(events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe('end_turn');
    const meta = events.at(-1)?.metadata;
    expect(meta?.usage).toEqual(whole.usage);
  });

  it('streams a tool call: contentBlockStart names it, the input fragments parse to the arguments', async () => {
    const res = await client(GOOD).send(
      new ConverseStreamCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'call get_weather for Paris' }] }],
        toolConfig: { tools: [weather] },
      }),
    );
    const events = await collect(res.stream);
    const start = events.find((e) => e.contentBlockStart)?.contentBlockStart;
    expect(start?.start?.toolUse?.name).toBe('get_weather');
    expect(start?.start?.toolUse?.toolUseId).toMatch(/^tooluse_/);
    const input = events
      .filter((e) => e.contentBlockDelta?.contentBlockIndex === start?.contentBlockIndex)
      .map((e) => e.contentBlockDelta?.delta?.toolUse?.input ?? '')
      .join('');
    expect(JSON.parse(input)).toEqual({ city: 'Paris' });
    expect(events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe('tool_use');
  });

  it('runs a tool round trip through Converse', async () => {
    const c = client(GOOD);
    const first = await c.send(
      new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'call get_weather for Oslo' }] }], toolConfig: { tools: [weather] } }),
    );
    const use = first.output?.message?.content?.find((b) => b.toolUse)?.toolUse;
    expect(use?.input).toEqual({ city: 'Oslo' });
    const second = await c.send(
      new ConverseCommand({
        modelId: MODEL,
        toolConfig: { tools: [weather] },
        messages: [
          { role: 'user', content: [{ text: 'call get_weather for Oslo' }] },
          { role: 'assistant', content: first.output!.message!.content! },
          { role: 'user', content: [{ toolResult: { toolUseId: use!.toolUseId!, content: [{ text: 'rainy, 8 C' }] } }] },
        ],
      }),
    );
    expect(second.output?.message?.content?.[0]?.text).toContain('rainy, 8 C');
  });

  it('reads the redacted reasoning blob and takes it back', async () => {
    const c = client(GOOD);
    const input = {
      modelId: MODEL,
      messages: [{ role: 'user' as const, content: [{ text: 'Think, and redact some of it' }] }],
      inferenceConfig: { maxTokens: 4000 },
      additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1024 } },
    };
    const first = await c.send(new ConverseCommand(input));
    const blocks = first.output!.message!.content!;
    expect(blocks[0]?.reasoningContent?.reasoningText?.signature).toMatch(/\S+/);
    expect(blocks[1]?.reasoningContent?.redactedContent).toBeInstanceOf(Uint8Array);
    const again = await c.send(
      new ConverseCommand({
        ...input,
        messages: [...input.messages, { role: 'assistant', content: blocks }, { role: 'user', content: [{ text: 'go on' }] }],
      }),
    );
    expect(again.stopReason).toBe('end_turn');
  });

  it('embeds with Titan and Cohere through InvokeModel', async () => {
    const titan = await client(GOOD).send(
      new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v2:0', contentType: 'application/json', body: JSON.stringify({ inputText: 'hello world', dimensions: 256 }) }),
    );
    const t = JSON.parse(new TextDecoder().decode(titan.body)) as { embedding: number[]; inputTextTokenCount: number };
    expect(t.embedding).toHaveLength(256);
    expect(t.inputTextTokenCount).toBe(2);
    const cohere = await client(GOOD).send(
      new InvokeModelCommand({ modelId: 'cohere.embed-english-v3', body: JSON.stringify({ texts: ['a b', 'c'], input_type: 'search_document' }) }),
    );
    const c = JSON.parse(new TextDecoder().decode(cohere.body)) as { embeddings: number[][] };
    expect(c.embeddings).toHaveLength(2);
  });

  it('rejects a client with a wrong secret key: InvalidSignatureException (403)', async () => {
    const err = await client({ ...GOOD, secretAccessKey: 'not-the-right-secret-key-000000000000000' })
      .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }))
      .catch((e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode: number } });
    expect(err).toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403 } });
    expect((err as Error).message).toMatch(/signature we calculated does not match/);
  });

  it('rejects an unknown access key and a session token that does not belong to the key: UnrecognizedClientException', async () => {
    for (const creds of [{ ...GOOD, accessKeyId: 'AKIDUNKNOWN000000000' }, { ...TEMP, sessionToken: 'some-other-token' }]) {
      const err = await client(creds)
        .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }))
        .catch((e: unknown) => e as Error);
      expect(err).toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 403 } });
    }
  });

  it('rejects an expired session token: ExpiredTokenException (403)', async () => {
    const err = await client(EXPIRED)
      .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }))
      .catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ name: 'ExpiredTokenException', $metadata: { httpStatusCode: 403 } });
  });

  it('rejects a signature dated more than five minutes off: "Signature expired"', async () => {
    const err = await client(GOOD, { systemClockOffset: -10 * 60_000 })
      .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }))
      .catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403 } });
    expect((err as Error).message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
  });

  it('speaks AWS error shapes the SDK recognizes: ThrottlingException, ServiceUnavailableException, ValidationException', async () => {
    const cases: Array<[Record<string, string>, string, number]> = [
      [{ 'x-sim-status': '429' }, 'ThrottlingException', 429],
      [{ 'x-sim-status': '503' }, 'ServiceUnavailableException', 503],
      [{ 'x-sim-max-input-tokens': '2' }, 'ValidationException', 400],
    ];
    for (const [headers, name, status] of cases) {
      const c = client(GOOD);
      c.middlewareStack.add((next) => (args) => {
        Object.assign((args.request as { headers: Record<string, string> }).headers, headers);
        return next(args);
      }, { step: 'build' });
      const err = await c
        .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'a prompt of several tokens' }] }] }))
        .catch((e: unknown) => e as Error);
      expect(err).toMatchObject({ name, $metadata: { httpStatusCode: status } });
    }
  });

  it('ends a stream with a modelStreamErrorException the SDK throws, after the first deltas', async () => {
    const c = client(GOOD);
    c.middlewareStack.add((next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-sim-error-after-chunks'] = '2';
      return next(args);
    }, { step: 'build' });
    const res = await c.send(new ConverseStreamCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hello' }] }] }));
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of res.stream!) if (e.contentBlockDelta?.delta?.text) seen.push(e.contentBlockDelta.delta.text);
    })().catch((e: unknown) => e as Error);
    expect(seen).toHaveLength(2);
    expect(err).toMatchObject({ name: 'ModelStreamErrorException' });
  });
});
