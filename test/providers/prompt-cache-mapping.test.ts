import { describe, expect, it } from 'vitest';
import { ChatRequestSchema, type ChatRequest, type ToolDefinition } from '../../src/core/index.ts';
import { countBreakpoints } from '../../src/providers/anthropic/cache-breakpoints.ts';
import { buildMessagesBody } from '../../src/providers/anthropic/request.ts';
import { OPENAI_DEFAULTS, OPENAI_PRESETS, PRESET_NAMES } from '../../src/providers/openai/presets.ts';
import { toChatBody } from '../../src/providers/openai/request.ts';
import type { PromptCachePolicy } from '../../src/providers/spec.ts';

/** How each adapter carries the contract's prompt-cache hints: breakpoints (Anthropic) and the cache key (OpenAI). */

const E = { type: 'ephemeral' };
const tool = (name: string, extra: Partial<ToolDefinition> = {}): ToolDefinition => ({ name, parameters: { type: 'object', properties: {} }, ...extra });
const BASE: ChatRequest = {
  messages: [
    { role: 'system', content: [{ type: 'text', text: 'You are terse.' }, { type: 'text', text: 'Answer in English.' }] },
    { role: 'user', content: 'hi' },
  ],
  tools: [tool('a'), tool('b')],
};

type Body = Record<string, any>;
const body = (req: ChatRequest, promptCache?: PromptCachePolicy): Body => buildMessagesBody(req, { model: 'claude', promptCache }, 'anthropic-test', false);
const marks = (b: Body) => ({
  system: (b.system as Body[]).map((x) => x.cache_control ?? null),
  tools: (b.tools as Body[]).map((x) => x.cache_control ?? null),
});

describe('anthropic: the promptCache policy', () => {
  it('marks the last system block and the last tool, each only when asked', () => {
    expect(marks(body(BASE))).toEqual({ system: [null, null], tools: [null, null] });
    expect(marks(body(BASE, { system: true, tools: true }))).toEqual({ system: [null, E], tools: [null, E] });
    expect(marks(body(BASE, { system: true }))).toEqual({ system: [null, E], tools: [null, null] });
    expect(marks(body(BASE, { tools: true }))).toEqual({ system: [null, null], tools: [null, E] });
    // Nothing to mark: no system prompt, no tools.
    const bare = body({ messages: [{ role: 'user', content: 'hi' }] }, { system: true, tools: true });
    expect(bare.system).toBeUndefined();
    expect(bare.tools).toBeUndefined();
  });

  it("keeps the request's own breakpoints and adds none where it placed one", () => {
    const own: ChatRequest = {
      messages: [{ role: 'system', content: [{ type: 'text', text: 'A', cacheControl: { type: 'ephemeral', ttl: '1h' } }, { type: 'text', text: 'B' }] }, { role: 'user', content: 'hi' }],
      tools: [tool('a', { cacheControl: { type: 'ephemeral' } }), tool('b')],
    };
    expect(marks(body(own, { system: true, tools: true }))).toEqual({ system: [{ type: 'ephemeral', ttl: '1h' }, null], tools: [E, null] });
  });

  it('never takes the request past four breakpoints, the system prompt first', () => {
    const marked = (n: number): ChatRequest => ({
      ...BASE,
      messages: [BASE.messages[0]!, { role: 'user', content: Array.from({ length: n }, (_, i) => ({ type: 'text' as const, text: `p${i}`, cacheControl: { type: 'ephemeral' as const } })) }],
    });
    const policy = { system: true, tools: true };
    expect(marks(body(marked(2), policy))).toEqual({ system: [null, E], tools: [null, E] });
    expect(marks(body(marked(3), policy))).toEqual({ system: [null, E], tools: [null, null] });
    expect(marks(body(marked(4), policy))).toEqual({ system: [null, null], tools: [null, null] });
    for (const n of [0, 1, 2, 3, 4]) expect(countBreakpoints(body(marked(n), policy))).toBe(Math.max(n, Math.min(4, n + 2)));
    // Anthropic's top-level (automatic) breakpoint takes a slot too.
    const auto = body({ ...marked(2), providerOptions: { anthropic: { cache_control: E } } }, policy);
    expect(marks(auto)).toEqual({ system: [null, E], tools: [null, null] });
  });

  it('counts breakpoints inside tool results', () => {
    const req: ChatRequest = {
      ...BASE,
      messages: [
        BASE.messages[0]!,
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, toolCalls: [{ id: 't1', name: 'a', arguments: '{}' }] },
        { role: 'tool', toolCallId: 't1', content: [{ type: 'text', text: '18C', cacheControl: E as { type: 'ephemeral' } }] },
      ],
    };
    expect(countBreakpoints(body(req))).toBe(1);
  });

  it('marks copies: tools passed through providerOptions stay as the caller sent them', () => {
    const passed = [{ name: 'x', input_schema: { type: 'object' } }, { name: 'y', input_schema: { type: 'object' } }];
    const req: ChatRequest = { ...BASE, providerOptions: { anthropic: { tools: passed } } };
    const b = body(req, { tools: true });
    expect(b.tools).toEqual([passed[0], { ...passed[1], cache_control: E }]);
    expect(passed[1]).not.toHaveProperty('cache_control');
    // …and a string system prompt from providerOptions becomes one marked block.
    expect(body({ ...BASE, providerOptions: { anthropic: { system: 'Be brief.' } } }, { system: true }).system).toEqual([{ type: 'text', text: 'Be brief.', cache_control: E }]);
  });
});

describe('anthropic: cacheControl on tools and images', () => {
  it('sends them as cache_control', () => {
    const req = ChatRequestSchema.parse({
      messages: [{ role: 'user', content: [{ type: 'image', data: 'AAAA', mediaType: 'image/png', cacheControl: { type: 'ephemeral', ttl: '1h' } }] }],
      tools: [{ name: 'a', cacheControl: { type: 'ephemeral' } }],
    });
    const b = body(req);
    expect(b.tools).toEqual([{ name: 'a', input_schema: { type: 'object', properties: {} }, cache_control: E }]);
    expect(b.messages[0].content).toEqual([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' }, cache_control: { type: 'ephemeral', ttl: '1h' } }]);
  });
});

describe('openai: promptCacheKey', () => {
  const req: ChatRequest = { messages: [{ role: 'user', content: 'hi' }], promptCacheKey: 'tenant-7' };
  const opts = { model: 'gpt-4o-mini', capabilities: [] };

  it('goes out as prompt_cache_key to OpenAI', () => {
    const ctx = { provider: 'openai', preset: OPENAI_DEFAULTS, maxTokensField: OPENAI_DEFAULTS.maxTokensField };
    expect(toChatBody(req, opts, ctx, false).prompt_cache_key).toBe('tenant-7');
    expect(toChatBody({ messages: req.messages }, opts, ctx, false)).not.toHaveProperty('prompt_cache_key');
  });

  it('is left out for compatible vendors that do not document it (Mistral would reject the extra field)', () => {
    for (const name of PRESET_NAMES) {
      const preset = OPENAI_PRESETS[name];
      const b = toChatBody(req, opts, { provider: name, preset, presetName: name, maxTokensField: preset.maxTokensField }, false);
      expect(b, name).not.toHaveProperty('prompt_cache_key');
    }
  });

  it('is 1 to 1024 characters', () => {
    expect(ChatRequestSchema.safeParse({ ...req, promptCacheKey: '' }).success).toBe(false);
    expect(ChatRequestSchema.safeParse({ ...req, promptCacheKey: 'k'.repeat(1025) }).success).toBe(false);
    expect(ChatRequestSchema.safeParse({ ...req, promptCacheKey: 'k'.repeat(1024) }).success).toBe(true);
  });
});
