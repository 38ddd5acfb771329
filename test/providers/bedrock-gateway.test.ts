/**
 * A Bedrock provider through the whole gateway: the out-of-the-box config with a `bedrock` provider added (static
 * keys, pointing at a Bedrock simulator started here), driven by the official openai SDK over REST and by GraphQL.
 * Usage must be exactly what Bedrock reported (checked against the AWS SDK's own call) and priced by the config.
 */
import { BedrockRuntimeClient, ConverseCommand, type ConverseCommandInput, type TokenUsage } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const UPSTREAM = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const KEYS = { accessKeyId: 'AKIAGATEWAYTEST00001', secretAccessKey: 'gateway-test-secret-key-00000000000000001' };
const PRICE = { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 };

let bedrock: Simulator;
let throttled: Simulator;
let stack: Stack;
let client: OpenAI;

const weather = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Current weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

/** What Bedrock itself reports for a one-message conversation, asked through the AWS SDK. */
async function bedrockUsage(text: string, toolConfig?: ConverseCommandInput['toolConfig']): Promise<TokenUsage> {
  const aws = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: bedrock.url, credentials: KEYS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  const res = await aws.send(new ConverseCommand({ modelId: UPSTREAM, messages: [{ role: 'user', content: [{ text }] }], ...(toolConfig && { toolConfig }) }));
  return res.usage!;
}

const costOf = (u: { inputTokens: number; outputTokens: number }) => (u.inputTokens * PRICE.input + u.outputTokens * PRICE.output) / 1e6;

beforeAll(async () => {
  bedrock = await startSimulator({ protocol: 'bedrock', awsCredentials: [KEYS] });
  throttled = await startSimulator({ protocol: 'bedrock', awsCredentials: [KEYS], faults: { status: 429 } });
  const model = { id: 'claude-bedrock', upstream: UPSTREAM, price: PRICE, capabilities: ['tools' as const, 'vision' as const, 'prompt_caching' as const] };
  stack = await startStack((c) => {
    c.providers!.push(
      { id: 'aws', protocol: 'bedrock', region: 'us-east-1', baseUrl: bedrock.url, credentials: { type: 'aws', ...KEYS }, models: [model] },
      { id: 'aws-throttled', protocol: 'bedrock', region: 'us-east-1', baseUrl: throttled.url, credentials: { type: 'aws', ...KEYS }, models: [{ ...model, id: 'claude-throttled' }] },
    );
    c.routes!.push({
      name: 'bedrock-first',
      strategy: 'priority',
      targets: [
        { provider: 'aws-throttled', model: 'claude-throttled' },
        { provider: 'sim-openai', model: 'gpt-4o-mini' },
      ],
    });
  });
  client = new OpenAI({ apiKey: 'unused', baseURL: `${stack.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await stack.close();
  await bedrock.close();
  await throttled.close();
});

describe('bedrock through the gateway', () => {
  it('answers an openai SDK chat completion with Bedrock exact usage and the configured cost', async () => {
    const text = 'Describe the Bedrock gateway path';
    const expected = await bedrockUsage(text);
    const { data, response } = await client.chat.completions.create({ model: 'claude-bedrock', messages: [{ role: 'user', content: text }] }).withResponse();
    expect(response.headers.get('x-switchboard-provider')).toBe('aws');
    expect(data.choices[0]!.message.content).toMatch(/\w+/);
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: expected.inputTokens, completion_tokens: expected.outputTokens, total_tokens: expected.totalTokens });
    const cost = Number(response.headers.get('x-switchboard-cost-usd'));
    expect(cost).toBeCloseTo(costOf({ inputTokens: expected.inputTokens!, outputTokens: expected.outputTokens! }), 12);
    expect(cost).toBeGreaterThan(0);
  });

  it('streams through the openai SDK: the text of the whole answer, usage in the last chunk', async () => {
    const messages = [{ role: 'user' as const, content: 'stream the gateway story' }];
    const whole = await client.chat.completions.create({ model: 'claude-bedrock', messages });
    const stream = await client.chat.completions.create({ model: 'claude-bedrock', messages, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let chunks = 0;
    let id = '';
    for await (const chunk of stream) {
      chunks++;
      id = chunk.id;
      if (chunk.usage) usage = chunk.usage;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toBe(whole.choices[0]!.message.content);
    const expected = await bedrockUsage('stream the gateway story');
    expect(usage).toMatchObject({ prompt_tokens: expected.inputTokens, completion_tokens: expected.outputTokens });
    // The streamed completion's record, priced like the non-streamed one.
    const r = await stack.gql('query($id: ID!) { completion(id: $id) { provider { id } usage { inputTokens outputTokens } costUsd } }', { id });
    expect(r.errors).toBeUndefined();
    expect(r.data.completion).toMatchObject({ provider: { id: 'aws' }, usage: { inputTokens: expected.inputTokens, outputTokens: expected.outputTokens } });
    expect(r.data.completion.costUsd).toBeCloseTo(costOf({ inputTokens: expected.inputTokens!, outputTokens: expected.outputTokens! }), 12);
  });

  it('returns a tool call, streamed and not, and takes its result back', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'call get_weather for Paris' }];
    const { data: res, response } = await client.chat.completions.create({ model: 'claude-bedrock', messages, tools: [weather] }).withResponse();
    const call = res.choices[0]!.message.tool_calls![0]!;
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
    const expected = await bedrockUsage('call get_weather for Paris', {
      tools: [{ toolSpec: { name: 'get_weather', description: weather.function.description, inputSchema: { json: weather.function.parameters } } }],
    });
    expect(res.usage).toMatchObject({ prompt_tokens: expected.inputTokens, completion_tokens: expected.outputTokens });
    expect(Number(response.headers.get('x-switchboard-cost-usd'))).toBeCloseTo(costOf({ inputTokens: expected.inputTokens!, outputTokens: expected.outputTokens! }), 12);
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });

    const stream = await client.chat.completions.create({ model: 'claude-bedrock', messages, tools: [weather], stream: true });
    let args = '';
    let name: string | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta.tool_calls?.[0];
      if (d?.function?.name) name = d.function.name;
      args += d?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
    expect(finish).toBe('tool_calls');

    const answer = await client.chat.completions.create({
      model: 'claude-bedrock',
      tools: [weather],
      messages: [...messages, res.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny, 21 C' }],
    });
    expect(answer.choices[0]!.message.content).toContain('sunny, 21 C');
  });

  it('answers GraphQL createCompletion with usage and cost', async () => {
    const expected = await bedrockUsage('hi from graphql');
    const r = await stack.gql(
      'mutation { createCompletion(input: { model: "aws/claude-bedrock", messages: [{ role: USER, content: "hi from graphql" }] }) { provider { id } message { content } usage { inputTokens outputTokens } costUsd attempts { status } } }',
    );
    expect(r.errors).toBeUndefined();
    const c = r.data.createCompletion;
    expect(c.provider.id).toBe('aws');
    expect(c.message.content).toMatch(/\w+/);
    expect(c.usage).toEqual({ inputTokens: expected.inputTokens, outputTokens: expected.outputTokens });
    expect(c.costUsd).toBeCloseTo(costOf({ inputTokens: expected.inputTokens!, outputTokens: expected.outputTokens! }), 12);
    expect(c.attempts).toEqual([{ status: 'OK' }]);
  });

  it('fails over from a throttled Bedrock target (ThrottlingException) to the next target', async () => {
    const before = throttled.stats.requests;
    const { data, response } = await client.chat.completions.create({ model: 'bedrock-first', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
    expect(data.choices[0]!.message.content).toMatch(/\w+/);
    expect(response.headers.get('x-switchboard-provider')).toBe('sim-openai');
    expect(Number(response.headers.get('x-switchboard-attempts'))).toBeGreaterThanOrEqual(2);
    expect(response.headers.get('x-switchboard-attempt-log')).toMatch(/aws-throttled.*rate_limited/);
    expect(throttled.stats.requests).toBeGreaterThan(before);
  });
});
