import { describe, expect, it } from 'vitest';
import { ChatRequestSchema, GatewayError } from '../../src/core/index.ts';
import { parseCountTokensBody, parseMessagesBody } from '../../src/server/anthropic-compat/messages-request.ts';

/** How an Anthropic Messages body becomes the gateway's request: what maps onto the contract, what travels as provider options, what is refused. */

const base = { model: 'default', max_tokens: 100 };

function refusal(body: unknown): GatewayError {
  try {
    parseMessagesBody(body);
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('parseMessagesBody', () => {
  it('a request of text only skips the contract\'s second parse, and that changes nothing: its result is what the parse would give', () => {
    const bodies: { model: string; messages: unknown[]; system?: unknown; [k: string]: unknown }[] = [
      { ...base, messages: [{ role: 'user', content: 'hi' }] },
      { ...base, stream: true, system: 'be brief', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'more' }] },
      {
        ...base,
        system: [{ type: 'text', text: 'one', cache_control: { type: 'ephemeral', ttl: '1h' } }],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'a', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'b' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'c' }] },
          { role: 'user', content: [] },
        ],
        temperature: 1,
        top_p: 0,
        top_k: 5,
        stop_sequences: Array.from({ length: 16 }, (_, i) => `s${i}`),
        metadata: { user_id: 'u-1' },
        service_tier: 'auto',
        cache_control: { type: 'ephemeral' },
      },
    ];
    for (const body of bodies) {
      const { chat } = parseMessagesBody(body).request;
      expect(chat).toEqual(ChatRequestSchema.parse(chat));
      const counted = parseCountTokensBody({ model: body.model, messages: body.messages, ...(body.system !== undefined && { system: body.system }) }).chat;
      expect(counted).toEqual(ChatRequestSchema.parse(counted));
    }
  });

  it('maps system blocks, sampling parameters and metadata onto the contract', () => {
    const { request, stream } = parseMessagesBody({
      ...base,
      stream: true,
      system: [{ type: 'text', text: 'one', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'two', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.5,
      top_p: 0.9,
      stop_sequences: ['END'],
      metadata: { user_id: 'u-1' },
    });
    expect(stream).toBe(true);
    expect(request.model).toBe('default');
    expect(request.chat).toMatchObject({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'one', cacheControl: { type: 'ephemeral' } }, { type: 'text', text: 'two', cacheControl: { type: 'ephemeral', ttl: '1h' } }] },
        { role: 'user', content: 'hi' },
      ],
      maxOutputTokens: 100,
      temperature: 0.5,
      topP: 0.9,
      stop: ['END'],
      metadata: { userId: 'u-1' },
    });
    expect(request.chat.providerOptions).toBeUndefined();
  });

  it('turns tool_use and tool_result blocks into tool calls and named tool messages', () => {
    const { request } = parseMessagesBody({
      ...base,
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', is_error: true, content: [{ type: 'text', text: 'no network' }, { type: 'image', source: { type: 'url', url: 'https://x.test/a.png' } }], cache_control: { type: 'ephemeral' } },
            { type: 'text', text: 'try again' },
          ],
        },
      ],
    });
    expect(request.chat.messages.slice(1)).toEqual([
      { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }], toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
      { role: 'tool', toolCallId: 'toolu_1', name: 'get_weather', content: [{ type: 'text', text: 'Error:' }, { type: 'text', text: 'no network', cacheControl: { type: 'ephemeral' } }] },
      { role: 'user', content: [{ type: 'image', url: 'https://x.test/a.png' }, { type: 'text', text: 'try again' }] },
    ]);
  });

  it('maps tools (breakpoints included) and tool_choice, and passes what the contract has no field for as provider options', () => {
    const tool = { name: 'get_weather', description: 'd', input_schema: { type: 'object', properties: {} }, cache_control: { type: 'ephemeral' } };
    const { request } = parseMessagesBody({
      ...base,
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'x' }],
      tools: [tool],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      top_k: 5,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      cache_control: { type: 'ephemeral' },
      service_tier: 'standard_only',
      output_config: { effort: 'low', format: { type: 'json_schema', schema: { type: 'object' } } },
    });
    expect(request.chat.tools).toEqual([{ name: 'get_weather', description: 'd', parameters: { type: 'object', properties: {} }, cacheControl: { type: 'ephemeral' } }]);
    expect(request.chat.toolChoice).toBe('required');
    expect(request.chat.responseFormat).toEqual({ type: 'json_schema', name: 'response', schema: { type: 'object' } });
    expect(request.chat.providerOptions).toEqual({
      anthropic: {
        tool_choice: { disable_parallel_tool_use: true },
        top_k: 5,
        thinking: { type: 'enabled', budget_tokens: 2048 },
        max_tokens: 4096,
        cache_control: { type: 'ephemeral' },
        service_tier: 'standard_only',
        output_config: { effort: 'low' },
      },
      openai: { parallel_tool_calls: false },
      gemini: { generationConfig: { topK: 5 } },
      ollama: { options: { top_k: 5 } },
    });
    expect(parseMessagesBody({ ...base, messages: [{ role: 'user', content: 'x' }], tools: [tool], tool_choice: { type: 'tool', name: 'get_weather' } }).request.chat.toolChoice).toEqual({ type: 'tool', name: 'get_weather' });
  });

  it('maps thinking to a reasoning effort for every target and the exact budget for Anthropic', () => {
    const enabled = parseMessagesBody({ ...base, max_tokens: 16000, thinking: { type: 'enabled', budget_tokens: 10000 }, messages: [{ role: 'user', content: 'x' }] });
    // The contract's max output is the answer's share; Anthropic's max_tokens includes the thinking.
    expect(enabled.request.chat).toMatchObject({ reasoningEffort: 'medium', maxOutputTokens: 6000, providerOptions: { anthropic: { thinking: { type: 'enabled', budget_tokens: 10000 }, max_tokens: 16000 } } });
    expect(parseMessagesBody({ ...base, max_tokens: 40000, thinking: { type: 'enabled', budget_tokens: 31999 }, messages: [{ role: 'user', content: 'x' }] }).request.chat.reasoningEffort).toBe('high');
    expect(parseMessagesBody({ ...base, max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 1500 }, messages: [{ role: 'user', content: 'x' }] }).request.chat.reasoningEffort).toBe('minimal');
    const adaptive = parseMessagesBody({ ...base, thinking: { type: 'adaptive' }, messages: [{ role: 'user', content: 'x' }] }).request.chat;
    expect(adaptive.reasoningEffort).toBe('medium');
    expect(JSON.parse(JSON.stringify(adaptive.providerOptions!.anthropic!.thinking))).toEqual({ type: 'adaptive' });
    const off = parseMessagesBody({ ...base, thinking: { type: 'disabled' }, messages: [{ role: 'user', content: 'x' }] }).request.chat;
    expect(off.reasoningEffort).toBeUndefined();
    expect(off.providerOptions).toBeUndefined();
  });

  it('turns thinking blocks sent back into reasoning parts with their provenance', () => {
    const gemini = `switchboard.v1.${Buffer.from(JSON.stringify({ p: 'gemini', s: 'g-sig', t: 'call_1' })).toString('base64url')}`;
    const { request } = parseMessagesBody({
      ...base,
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hmm', signature: 'EqQBCkYIBxgC' },
            { type: 'redacted_thinking', data: 'EmwKAhgB' },
            { type: 'thinking', thinking: '', signature: gemini },
            { type: 'tool_use', id: 'call_1', name: 'f', input: {} },
          ],
        },
      ],
    });
    expect(request.chat.messages[1]).toMatchObject({
      reasoningParts: [
        { text: 'hmm', signature: 'EqQBCkYIBxgC', provider: 'anthropic' },
        { text: '', redacted: true, signature: 'EmwKAhgB', provider: 'anthropic' },
        { text: '', signature: 'g-sig', provider: 'gemini', toolCallId: 'call_1' },
      ],
    });
    const forged = refusal({ ...base, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'thinking', thinking: 'a', signature: 'switchboard.v1.!!' }] }] });
    expect(forged).toMatchObject({ kind: 'invalid_request', param: 'messages[1].content[0].signature' });
  });

  it('refuses unknown and unsupported parameters by name', () => {
    expect(refusal({ ...base, messages: [{ role: 'user', content: 'x' }], frobnicate: 1 })).toMatchObject({ kind: 'invalid_request', param: 'frobnicate' });
    expect(refusal({ ...base, messages: [{ role: 'user', content: 'x' }], container: 'c' })).toMatchObject({ kind: 'unsupported_feature', param: 'container' });
    expect(refusal({ ...base, messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] })).toMatchObject({ kind: 'unsupported_feature', param: 'tools[0]' });
    const file = refusal({ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }] });
    expect(file).toMatchObject({ kind: 'unsupported_feature', param: 'messages[0].content[0].source' });
    const block = refusal({ ...base, messages: [{ role: 'user', content: [{ type: 'search_result', source: 's' }] }] });
    expect(block.kind).toBe('invalid_request');
    expect(block.message).toMatch(/^messages\[0\]\.content\[0\]\.type: user content block type "search_result" is not supported/);
    // Inside a union (content: string | blocks), the error names the field at fault, not just "content".
    const nested = refusal({ ...base, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text' }] }] }] });
    expect(nested).toMatchObject({ kind: 'invalid_request', param: 'messages[0].content[0].content[0].text' });
  });

  it('refuses free-form JSON nested too deep before walking it', () => {
    let deep: Record<string, unknown> = { type: 'object' };
    for (let i = 0; i < 100; i++) deep = { properties: { a: deep } };
    expect(refusal({ ...base, messages: [{ role: 'user', content: 'x' }], tools: [{ name: 't', input_schema: deep }] })).toMatchObject({ kind: 'invalid_request', param: 'tools[0]' });
  });

  it('counts tokens without max_tokens, but not with sampling parameters', () => {
    expect(parseCountTokensBody({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).chat.maxOutputTokens).toBeUndefined();
    expect(() => parseCountTokensBody({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).toThrow(/max_tokens: unknown field/);
  });
});
