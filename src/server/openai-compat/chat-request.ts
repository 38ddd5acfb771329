import { z } from 'zod';
import {
  assertJsonDepth,
  ChatRequestSchema,
  GatewayError,
  ReasoningEffortSchema,
  invalidRequestOf,
  jsonTextExceedsDepth,
  presentKeysParser,
  tooDeepError,
  type CacheControl,
  type ChatRequest,
  type ContentPart,
  type Message,
  type ReasoningPart,
  type TextPart as ContractTextPart,
  type ToolDefinition,
} from '../../core/index.ts';
import type { GatewayRequest } from '../../gateway/gateway-request.ts';
import type { ProtocolParam } from '../../gateway/protocol-params.ts';
import { mapPassedParams, mergeInto, PASSED_NAMES, REFUSED, type ProviderOptions } from './openai-params.ts';
import { SwitchboardSchema } from './switchboard-extension.ts';

/**
 * The inbound side of the OpenAI-compatible endpoint: an OpenAI Chat Completions body → GatewayRequest.
 * Independent of the openai adapter (which goes the other way) so a bug in one cannot hide in the other.
 */

/** A prompt-cache breakpoint, Anthropic's form as LiteLLM takes it on OpenAI parts and tools: the contract's cacheControl. */
const CacheControlWire = z.strictObject({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() });
const cache = { cache_control: CacheControlWire.optional() };

const TextPart = z.object({ type: z.literal('text'), text: z.string(), ...cache });
const ImageUrlPart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() }),
  ...cache,
});
const Content = z.union([z.string(), z.array(z.union([TextPart, ImageUrlPart]))]);
const TextContent = z.union([z.string(), z.array(TextPart)]);

const WireToolCall = z.object({
  id: z.string(),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

/**
 * Reasoning sent back on an assistant message, LiteLLM's convention (what this endpoint returns): the signed
 * blocks, with our `provider` and `tool_call_id` when the response had them.
 */
const ThinkingBlock = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('thinking'),
    thinking: z.string(),
    signature: z.string().min(1).nullable().optional(),
    provider: z.string().min(1).optional(),
    tool_call_id: z.string().min(1).optional(),
  }),
  z.object({ type: z.literal('redacted_thinking'), data: z.string().min(1), provider: z.string().min(1).optional() }),
]);

/** `cache_control` on a message (LiteLLM's form) marks its last content part. */
const WireMessage = z.discriminatedUnion('role', [
  z.object({ role: z.enum(['system', 'developer']), content: TextContent, name: z.string().optional(), ...cache }),
  z.object({ role: z.literal('user'), content: Content, name: z.string().optional(), ...cache }),
  z.object({
    role: z.literal('assistant'),
    ...cache,
    content: TextContent.nullable().optional(),
    tool_calls: z.array(WireToolCall).optional(),
    name: z.string().optional(),
    refusal: z.string().nullable().optional(),
    reasoning_content: z.string().nullable().optional(),
    thinking_blocks: z.array(ThinkingBlock).nullable().optional(),
  }),
  z.object({ role: z.literal('tool'), content: TextContent, tool_call_id: z.string(), ...cache }),
]);

const penalty = z.number().min(-2).max(2).nullable().optional();
const text = z.string().nullable().optional();

export const OpenAIChatBodySchema = z.object({
  model: z.string().min(1),
  messages: z.array(WireMessage).min(1),
  stream: z.boolean().nullable().optional(),
  /** The gateway adds no obfuscation padding to chunks, with or without `include_obfuscation`. */
  stream_options: z.strictObject({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() }).nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  /**
   * Mapped for every protocol: OpenAI as is, Anthropic and Gemini to a thinking budget (README: Reasoning).
   * `none` (GPT-5.1: no reasoning) goes to OpenAI-protocol targets as is; the others do not think by default.
   */
  reasoning_effort: z.union([ReasoningEffortSchema, z.literal('none')]).nullable().optional(),
  tools: z
    .array(
      z.object({
        type: z.literal('function'),
        function: z.object({
          name: z.string(),
          description: z.string().optional(),
          parameters: z.record(z.string(), z.unknown()).optional(),
          strict: z.boolean().nullable().optional(),
        }),
        ...cache,
      }),
    )
    .optional(),
  tool_choice: z
    .union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) })])
    .optional(),
  response_format: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('text') }),
      z.object({ type: z.literal('json_object') }),
      z.object({
        type: z.literal('json_schema'),
        json_schema: z.object({
          name: z.string(),
          description: z.string().optional(),
          schema: z.record(z.string(), z.unknown()).optional(),
          strict: z.boolean().nullable().optional(),
        }),
      }),
    ])
    .optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  /** The contract's promptCacheKey: a hint OpenAI-protocol targets get, others leave out. */
  prompt_cache_key: z.string().min(1).max(1024).nullable().optional(),
  // Not normalized: passed to OpenAI-protocol targets, mapped or bound to protocols by openai-params.ts.
  frequency_penalty: penalty,
  presence_penalty: penalty,
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  user: text,
  safety_identifier: text,
  store: z.boolean().nullable().optional(),
  service_tier: text,
  verbosity: text,
  prediction: z.record(z.string(), z.unknown()).nullable().optional(),
  prompt_cache_retention: text,
  /** Switchboard extension: pin a route explicitly (otherwise `model` names a route or a model). */
  route: z.string().optional(),
  switchboard: SwitchboardSchema.optional(),
});

export type OpenAIChatBody = z.infer<typeof OpenAIChatBodySchema>;

const parseBody = presentKeysParser(OpenAIChatBodySchema);

const KNOWN_FIELDS = new Set([...Object.keys(OpenAIChatBodySchema.shape), ...Object.keys(REFUSED)]);

/**
 * Every top-level field is one the gateway decided on (openai-params.ts): an unknown one, or one no target
 * can honour through the gateway, is refused by name rather than ignored (ignoring `n: 3` would return one
 * answer for three). A vendor parameter the gateway does not know goes in `switchboard.providerOptions`.
 */
function refuseUnknownFields(raw: Record<string, unknown>): void {
  for (const k of Object.keys(raw)) {
    if (!KNOWN_FIELDS.has(k)) {
      throw new GatewayError(
        'unsupported_feature',
        `${k}: not a Chat Completions parameter this gateway knows; to send a vendor's own parameter, put it in ` +
          `switchboard.providerOptions under the protocol that takes it, e.g. {"switchboard": {"providerOptions": {"openai": {"${k}": …}}}}`,
        { param: k },
      );
    }
    const why = Object.hasOwn(REFUSED, k) && raw[k] != null ? REFUSED[k]!(raw[k]) : undefined;
    if (why !== undefined) throw new GatewayError('unsupported_feature', `${k}: ${why}`, { param: k });
  }
}

const cacheOf = (c: z.infer<typeof CacheControlWire> | undefined): { cacheControl?: CacheControl } =>
  c ? { cacheControl: c.ttl !== undefined ? { type: 'ephemeral', ttl: c.ttl } : { type: 'ephemeral' } } : {};

function imagePart(p: z.infer<typeof ImageUrlPart>): ContentPart {
  const { url, detail } = p.image_url;
  const m = url.match(/^data:([^;,]+);base64,(.*)$/s);
  if (m) return { type: 'image', data: m[2]!, mediaType: m[1]!, ...(detail && { detail }), ...cacheOf(p.cache_control) };
  return { type: 'image', url, ...(detail && { detail }), ...cacheOf(p.cache_control) };
}

const textPart = (p: z.infer<typeof TextPart>): ContractTextPart => ({ type: 'text', text: p.text, ...cacheOf(p.cache_control) });

/** Text content with its breakpoints; a message-level `cache_control` marks the last part. */
function textContent(content: z.infer<typeof TextContent>, marker: z.infer<typeof CacheControlWire> | undefined): string | ContractTextPart[] {
  if (!marker) return typeof content === 'string' ? content : content.map(textPart);
  const parts = typeof content === 'string' ? [{ type: 'text' as const, text: content }] : content.map(textPart);
  return withLastMarked(parts, marker);
}

function withLastMarked<P extends ContentPart>(parts: P[], marker: z.infer<typeof CacheControlWire>): P[] {
  const last = parts.at(-1);
  if (last) parts[parts.length - 1] = { ...last, ...cacheOf(marker) };
  return parts;
}

/** `thinking_blocks` when given (they carry the signatures), else `reasoning_content` as one unsigned part. */
function reasoningPartsOf(m: Extract<z.infer<typeof WireMessage>, { role: 'assistant' }>): ReasoningPart[] | undefined {
  if (m.thinking_blocks?.length) {
    return m.thinking_blocks.map((b) =>
      b.type === 'redacted_thinking'
        ? { text: '', redacted: true, signature: b.data, ...(b.provider !== undefined && { provider: b.provider }) }
        : {
            text: b.thinking,
            ...(b.signature != null && { signature: b.signature }),
            ...(b.provider !== undefined && { provider: b.provider }),
            ...(b.tool_call_id !== undefined && { toolCallId: b.tool_call_id }),
          },
    );
  }
  return m.reasoning_content ? [{ text: m.reasoning_content }] : undefined;
}

function toMessage(m: z.infer<typeof WireMessage>, i: number): Message {
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textContent(m.content, m.cache_control) };
    case 'user': {
      if (typeof m.content === 'string' && !m.cache_control) return { role: 'user', content: m.content };
      const parts: ContentPart[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content.map((p) => (p.type === 'text' ? textPart(p) : imagePart(p)));
      return { role: 'user', content: m.cache_control ? withLastMarked(parts, m.cache_control) : parts };
    }
    case 'assistant': {
      const reasoningParts = reasoningPartsOf(m);
      if (m.cache_control && (m.content == null || m.content === '' || (Array.isArray(m.content) && m.content.length === 0))) {
        throw new GatewayError('unsupported_feature', `messages[${i}].cache_control: an assistant message without text has no part to mark`, {
          param: `messages[${i}].cache_control`,
        });
      }
      return {
        role: 'assistant',
        content: m.content == null ? null : textContent(m.content, m.cache_control),
        ...(m.tool_calls && { toolCalls: m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })) }),
        ...(reasoningParts && { reasoningParts }),
      };
    }
    case 'tool':
      return { role: 'tool', toolCallId: m.tool_call_id, content: textContent(m.content, m.cache_control) };
  }
}

/**
 * Whether the normalized request could break a rule of ChatRequestSchema that OpenAIChatBodySchema does not
 * already enforce (tool names, tool-call and tool-result ids, a named tool choice, image parts). Text
 * messages and sampling parameters are checked by the same bounds in both schemas.
 */
function needsContractCheck(body: OpenAIChatBody): boolean {
  if (body.tools !== undefined || body.tool_choice !== undefined) return true;
  for (const m of body.messages) {
    if (m.role === 'tool' || (m.role === 'assistant' && m.tool_calls !== undefined)) return true;
    if (m.role === 'user' && typeof m.content !== 'string' && m.content.some((p) => p.type === 'image_url')) return true;
  }
  return false;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The body's free-form JSON — tool parameters, the response schema, tool-call arguments sent back, the
 * OpenAI-only parameters passed through as they are and `switchboard.providerOptions` — nested past
 * MAX_JSON_DEPTH is refused here, on the raw body, before anything walks it recursively (cache keys,
 * idempotency hashes, the adapters' serializers).
 */
function refuseTooDeep(raw: Record<string, unknown>): void {
  for (const k of PASSED_NAMES) assertJsonDepth(raw[k], k);
  if (isRecord(raw.switchboard)) assertJsonDepth(raw.switchboard.providerOptions, 'switchboard.providerOptions');
  if (Array.isArray(raw.tools)) {
    raw.tools.forEach((t: unknown, i) => {
      if (isRecord(t) && isRecord(t.function)) assertJsonDepth(t.function.parameters, `tools[${i}].function.parameters`);
    });
  }
  const rf = raw.response_format;
  if (isRecord(rf) && isRecord(rf.json_schema)) assertJsonDepth(rf.json_schema.schema, 'response_format.json_schema.schema');
  if (!Array.isArray(raw.messages)) return;
  raw.messages.forEach((m: unknown, i) => {
    if (!isRecord(m) || !Array.isArray(m.tool_calls)) return;
    m.tool_calls.forEach((c: unknown, j) => {
      const args = isRecord(c) && isRecord(c.function) ? c.function.arguments : undefined;
      if (typeof args === 'string' && jsonTextExceedsDepth(args)) throw tooDeepError(`messages[${i}].tool_calls[${j}].function.arguments`);
    });
  });
}

/**
 * The provider options of a body and the parameters bound to some protocols: the OpenAI-only parameters
 * (passed, mapped, bound: openai-params.ts), `reasoning_effort: none` for OpenAI, then the client's own
 * `switchboard.providerOptions` over them (what the client wrote there wins). `seed` is the contract's, but
 * Anthropic has none, so it is bound too: a route that drops unsupported parameters drops it there.
 */
function vendorParams(body: OpenAIChatBody): { options: ProviderOptions; params: ProtocolParam[] } {
  const { options, params } = mapPassedParams(body as Record<string, unknown>, {
    tools: (body.tools?.length ?? 0) > 0,
    toolChoice: body.tool_choice,
    user: body.user ?? undefined,
    safetyIdentifier: body.safety_identifier ?? undefined,
  });
  if (body.reasoning_effort === 'none') (options.openai ??= {}).reasoning_effort = 'none';
  if (body.seed != null) params.push({ name: 'seed', protocols: ['openai', 'gemini', 'ollama'], chatField: 'seed' });
  for (const [protocol, own] of Object.entries(body.switchboard?.providerOptions ?? {})) mergeInto((options[protocol] ??= {}), own);
  return { options, params };
}

function toolOf(t: NonNullable<OpenAIChatBody['tools']>[number]): ToolDefinition {
  return {
    name: t.function.name,
    ...(t.function.description !== undefined && { description: t.function.description }),
    parameters: t.function.parameters ?? { type: 'object', properties: {} },
    ...(t.function.strict != null && { strict: t.function.strict }),
    ...cacheOf(t.cache_control),
  };
}

/** Parses and normalizes a request body; every problem is an invalid_request or unsupported_feature naming the field. */
type SwitchboardBody = NonNullable<OpenAIChatBody['switchboard']>;

export function parseChatBody(raw: unknown): { request: GatewayRequest; stream: boolean; includeUsage: boolean; body: OpenAIChatBody } {
  if (isRecord(raw)) {
    refuseUnknownFields(raw);
    refuseTooDeep(raw);
  }
  const parsed = parseBody(raw);
  if (!parsed.success) throw invalidRequestOf(parsed.error.issues);
  const body = parsed.data;
  const { options, params } = vendorParams(body);
  const effort = body.reasoning_effort === 'none' ? undefined : body.reasoning_effort;
  const rf = body.response_format;
  const chat: ChatRequest = {
    messages: body.messages.map(toMessage),
    ...(body.tools && { tools: body.tools.map(toolOf) }),
    ...(body.tool_choice !== undefined && {
      toolChoice: typeof body.tool_choice === 'string' ? body.tool_choice : { type: 'tool' as const, name: body.tool_choice.function.name },
    }),
    ...(rf && {
      responseFormat:
        rf.type === 'json_schema'
          ? {
              type: 'json_schema' as const,
              name: rf.json_schema.name,
              schema: rf.json_schema.schema ?? {},
              ...(rf.json_schema.description !== undefined && { description: rf.json_schema.description }),
              ...(rf.json_schema.strict != null && { strict: rf.json_schema.strict }),
            }
          : { type: rf.type },
    }),
    ...((body.max_completion_tokens ?? body.max_tokens) != null && { maxOutputTokens: (body.max_completion_tokens ?? body.max_tokens)! }),
    ...(body.temperature != null && { temperature: body.temperature }),
    ...(body.top_p != null && { topP: body.top_p }),
    ...(body.stop != null && { stop: typeof body.stop === 'string' ? [body.stop] : body.stop }),
    ...(body.seed != null && { seed: body.seed }),
    ...(effort != null && { reasoningEffort: effort }),
    ...(body.prompt_cache_key != null && { promptCacheKey: body.prompt_cache_key }),
    ...(body.metadata && { metadata: body.metadata }),
    ...(Object.keys(options).length > 0 && { providerOptions: options }),
  };
  // The normalized contract has rules the wire schema does not (tool names, image parts): check them too,
  // when the request has any of those parts (a second zod pass is a visible share of a plain request).
  let checkedChat = chat;
  if (needsContractCheck(body)) {
    const checked = ChatRequestSchema.safeParse(chat);
    if (!checked.success) throw invalidRequestOf(checked.error.issues);
    checkedChat = checked.data;
  }
  // Rest destructuring is a runtime call in V8: only for a body that has a switchboard object.
  let task: SwitchboardBody['task'];
  let constraints: Omit<SwitchboardBody, 'task' | 'providerOptions'> | undefined;
  if (body.switchboard !== undefined) {
    const { task: named, providerOptions: _options, ...rest } = body.switchboard;
    task = named;
    constraints = rest;
  }
  return {
    request: {
      chat: checkedChat,
      model: body.route === undefined ? body.model : undefined,
      route: body.route,
      ...(task !== undefined && { task }),
      ...(constraints !== undefined && Object.keys(constraints).length > 0 && { constraints }),
      ...(params.length > 0 && { protocolParams: params }),
    },
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    body,
  };
}
