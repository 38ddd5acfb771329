import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimRequest } from '../../src/simulator/protocol.ts';
import type { Simulator } from '../../src/simulator/simulator-server.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

/**
 * Explicit pass-through on POST /v1/chat/completions, driven by the official openai client: every top-level
 * field is mapped, passed to the protocols that take it or refused by name; vendor parameters travel in
 * `switchboard.providerOptions`; an OpenAI-only parameter on a target of another protocol is refused, or
 * dropped and named in `x-switchboard-dropped-params` on a route with `unsupportedParams: drop`.
 */

const CLAUDE = { provider: 'sim-anthropic', model: 'claude-haiku-4-5' };
const GEMINI = { provider: 'sim-gemini', model: 'gemini-2.5-flash' };
const GPT = { provider: 'sim-openai', model: 'gpt-4o-mini' };

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack((c) => {
    c.routes = [
      ...(c.routes ?? []),
      { name: 'claude-drop', targets: [CLAUDE], unsupportedParams: 'drop' },
      { name: 'gemini-drop', targets: [GEMINI], unsupportedParams: 'drop' },
      { name: 'claude-strict', targets: [CLAUDE] },
      { name: 'claude-then-gpt', targets: [CLAUDE, GPT] },
    ];
  });
  client = new OpenAI({ apiKey: 'local', baseURL: `${stack.url}/v1`, maxRetries: 0 });
});
afterAll(() => stack.close());

/** The requests `sim` receives while `fn` runs (their bodies are parsed by the time the answer is back). */
async function received<T>(sim: Simulator, fn: () => Promise<T>): Promise<{ result: T; bodies: Array<Record<string, any>> }> {
  const seen: SimRequest[] = [];
  const on = (r: SimRequest) => seen.push(r);
  sim.events.on('request', on);
  try {
    const result = await fn();
    return { result, bodies: seen.map((r) => r.body as Record<string, any>) };
  } finally {
    sim.events.off('request', on);
  }
}

const upstreamCalls = () => Object.values(stack.sims).reduce((n, s) => n + s.stats.requests, 0);
const hi = [{ role: 'user' as const, content: 'hello there' }];
/** A body the SDK's types do not describe (a field it does not know, Switchboard's extension): sent as written. */
const raw = (body: Record<string, unknown>) => body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;
const rawStream = (body: Record<string, unknown>) => ({ ...body, stream: true }) as unknown as OpenAI.ChatCompletionCreateParamsStreaming;

const weather: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

describe('unknown top-level fields', () => {
  it('are refused by name, pointing at switchboard.providerOptions, before any upstream call', async () => {
    const before = upstreamCalls();
    const err = await client.chat.completions.create(raw({ model: 'default', messages: hi, top_k: 3 })).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('unsupported_feature');
    expect(err.param).toBe('top_k');
    expect(err.message).toMatch(/^400 top_k: .*switchboard\.providerOptions/);
    const streamed = await client.chat.completions.create(rawStream({ model: 'default', messages: hi, frobnicate: true })).catch((e) => e);
    expect(streamed).toBeInstanceOf(OpenAI.BadRequestError);
    expect(streamed.param).toBe('frobnicate');
    expect(upstreamCalls()).toBe(before);
  });

  it('parameters no target can honour are refused by name; their no-op values pass', async () => {
    for (const [field, value] of [['logprobs', true], ['top_logprobs', 2], ['modalities', ['text', 'audio']], ['n', 2], ['function_call', 'auto']] as const) {
      const err = await client.chat.completions.create(raw({ model: 'default', messages: hi, [field]: value })).catch((e) => e);
      expect(err, field).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.param).toBe(field);
      expect(err.code).toBe('unsupported_feature');
    }
    const res = await client.chat.completions.create({ model: 'default', messages: hi, logprobs: false, n: 1, modalities: ['text'], stream_options: null });
    expect(res.choices[0]!.message.content).toMatch(/\w/);
  });
});

describe('switchboard.providerOptions', () => {
  it('reaches the target of that protocol as it is, and only that one', async () => {
    const body = raw({ model: CLAUDE.model, messages: hi, switchboard: { providerOptions: { anthropic: { top_k: 5 }, openai: { top_k_openai: 1 } } } });
    const { bodies } = await received(stack.sims.anthropic, () => client.chat.completions.create(body));
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.top_k).toBe(5);
    expect(bodies[0]).not.toHaveProperty('top_k_openai');

    const openai = await received(stack.sims.openai, () =>
      client.chat.completions.create(raw({ model: GPT.model, messages: hi, switchboard: { providerOptions: { openai: { user: 'from-options' } } } })),
    );
    expect(openai.bodies[0]!.user).toBe('from-options');
  });

  it('merges over what the gateway maps, nested objects key by key', async () => {
    const body = raw({ model: GEMINI.model, messages: hi, frequency_penalty: 0.5, switchboard: { providerOptions: { gemini: { generationConfig: { topK: 7 } } } } });
    const { bodies } = await received(stack.sims.gemini, () => client.chat.completions.create(body));
    expect(bodies[0]!.generationConfig).toMatchObject({ topK: 7, frequencyPenalty: 0.5 });
  });

  it('is validated: protocol names, the model, nesting depth', async () => {
    const bad = async (providerOptions: unknown) =>
      client.chat.completions.create(raw({ model: 'default', messages: hi, switchboard: { providerOptions } })).catch((e) => e);
    const typo = await bad({ antrhopic: { top_k: 1 } });
    expect(typo).toBeInstanceOf(OpenAI.BadRequestError);
    expect(typo).toMatchObject({ code: 'invalid_request', param: 'switchboard.providerOptions.antrhopic' });
    expect(typo.message).toContain('not a protocol');
    const model = await bad({ openai: { model: 'gpt-4o' } });
    expect(model).toMatchObject({ code: 'invalid_request', param: 'switchboard.providerOptions.openai.model' });
    const notObject = await bad({ openai: 5 });
    expect(notObject).toMatchObject({ code: 'invalid_request', param: 'switchboard.providerOptions.openai' });
    const deep = await bad({ openai: { x: JSON.parse('['.repeat(100) + ']'.repeat(100)) } });
    expect(deep).toMatchObject({ code: 'invalid_request', param: 'switchboard.providerOptions' });
  });
});

describe('OpenAI-only parameters on other protocols', () => {
  it('are refused by default, naming the parameter and the target, before the call', async () => {
    const before = stack.sims.anthropic.stats.requests;
    for (const model of [`${CLAUDE.provider}/${CLAUDE.model}`, 'claude-strict']) {
      const err = await client.chat.completions.create({ model, messages: hi, logit_bias: { '50256': -100 } }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({ code: 'unsupported_feature', param: 'logit_bias' });
      expect(err.message).toContain('sim-anthropic/claude-haiku-4-5 (anthropic)');
      expect(err.message).toContain('unsupportedParams: drop');
    }
    const streamed = await client.chat.completions.create({ model: 'claude-strict', messages: hi, stream: true, store: true }).catch((e) => e);
    expect(streamed).toBeInstanceOf(OpenAI.BadRequestError);
    expect(streamed).toMatchObject({ code: 'unsupported_feature', param: 'store' });
    expect(stack.sims.anthropic.stats.requests).toBe(before);
  });

  it('a fallback applies the rule per attempt: the refused target is skipped, the next one takes the parameter', async () => {
    const before = stack.sims.anthropic.stats.requests;
    const { result, bodies } = await received(stack.sims.openai, () =>
      client.chat.completions.create({ model: 'claude-then-gpt', messages: hi, logit_bias: { '50256': -100 } }).withResponse(),
    );
    expect(result.response.headers.get('x-switchboard-provider')).toBe('sim-openai');
    expect(result.response.headers.get('x-switchboard-attempt-log')).toMatch(/^sim-anthropic\/claude-haiku-4-5;status=unsupported_feature;.*sim-openai\/gpt-4o-mini;status=ok/);
    expect(result.response.headers.get('x-switchboard-dropped-params')).toBeNull();
    expect(bodies[0]!.logit_bias).toEqual({ '50256': -100 });
    expect(stack.sims.anthropic.stats.requests).toBe(before);
  });

  it('with unsupportedParams: drop the request succeeds and the header names what was dropped, streamed and not', async () => {
    const params = { logit_bias: { '50256': -100 }, seed: 7, store: true, presence_penalty: 0, user: 'u-1' };
    const { result, bodies } = await received(stack.sims.anthropic, () =>
      client.chat.completions.create({ model: 'claude-drop', messages: hi, ...params }).withResponse(),
    );
    expect(result.data.choices[0]!.message.content).toMatch(/\w/);
    // presence_penalty 0 asks for nothing; user maps to Anthropic's metadata.user_id.
    expect(result.response.headers.get('x-switchboard-dropped-params')).toBe('logit_bias, store, seed');
    expect(bodies[0]).not.toHaveProperty('logit_bias');
    expect(bodies[0]).not.toHaveProperty('seed');
    expect(bodies[0]!.metadata).toEqual({ user_id: 'u-1' });

    const { data: stream, response } = await client.chat.completions.create({ model: 'gemini-drop', messages: hi, stream: true, ...params }).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toMatch(/\w/);
    // Gemini has seed and penalties, not logit_bias, store or an end-user id.
    expect(response.headers.get('x-switchboard-dropped-params')).toBe('logit_bias, user, store');
  });

  it('an OpenAI-protocol target takes them all as they are, and nothing is dropped', async () => {
    const params = { logit_bias: { '50256': -100 }, store: true, service_tier: 'flex' as const, verbosity: 'low' as const, frequency_penalty: 0.3, safety_identifier: 'sid', prompt_cache_key: 'tenant-1' };
    const { result, bodies } = await received(stack.sims.openai, () => client.chat.completions.create({ model: GPT.model, messages: hi, ...params }).withResponse());
    expect(result.response.headers.get('x-switchboard-dropped-params')).toBeNull();
    expect(bodies[0]).toMatchObject(params);
  });

  it('parallel_tool_calls: false reaches Anthropic as disable_parallel_tool_use; Gemini has no equivalent', async () => {
    const ask = [{ role: 'user' as const, content: 'call get_weather for Paris' }];
    const { result, bodies } = await received(stack.sims.anthropic, () =>
      client.chat.completions.create({ model: 'claude-strict', messages: ask, tools: [weather], parallel_tool_calls: false }),
    );
    expect(bodies[0]!.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(result.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: 'get_weather' } });
    const forced = await received(stack.sims.anthropic, () =>
      client.chat.completions.create({ model: 'claude-strict', messages: ask, tools: [weather], tool_choice: 'required', parallel_tool_calls: false }),
    );
    expect(forced.bodies[0]!.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });

    const gemini = await client.chat.completions.create({ model: GEMINI.model, messages: ask, tools: [weather], parallel_tool_calls: false }).catch((e) => e);
    expect(gemini).toMatchObject({ code: 'unsupported_feature', param: 'parallel_tool_calls' });
    // true is every protocol's default: nothing to refuse.
    const ok = await client.chat.completions.create({ model: GEMINI.model, messages: ask, tools: [weather], parallel_tool_calls: true });
    expect(ok.choices[0]!.finish_reason).toBe('tool_calls');
  });
});

describe('prompt caching from REST', () => {
  it('cache_control on a text part reaches Anthropic as a breakpoint, and the second call reads the cache', async () => {
    const system = `You are a careful assistant. ${'Background fact number one. '.repeat(80)}`;
    const body = raw({
      model: CLAUDE.model,
      messages: [
        { role: 'system', content: [{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: 'summarize the background' },
      ],
    });
    const first = await received(stack.sims.anthropic, () => client.chat.completions.create(body));
    expect(first.bodies[0]!.system).toEqual([{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }]);
    expect(first.result.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    const second = await client.chat.completions.create(body);
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(100);
    expect(second.usage!.prompt_tokens).toBe(first.result.usage!.prompt_tokens);
  });

  it('cache_control on a tool and on a message marks the tool and the message’s last part', async () => {
    const body = raw({
      model: CLAUDE.model,
      messages: [{ role: 'user', content: 'what is the weather like', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      tools: [{ ...weather, cache_control: { type: 'ephemeral' } }],
    });
    const { bodies } = await received(stack.sims.anthropic, () => client.chat.completions.create(body));
    expect(bodies[0]!.tools[0].cache_control).toEqual({ type: 'ephemeral' });
    expect(bodies[0]!.messages[0].content).toEqual([{ type: 'text', text: 'what is the weather like', cache_control: { type: 'ephemeral', ttl: '1h' } }]);
    const bad = await client.chat.completions
      .create(raw({ model: CLAUDE.model, messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'persistent' } }] }] }))
      .catch((e) => e);
    expect(bad).toMatchObject({ code: 'invalid_request', param: 'messages[0].content' });
  });
});
