import { z } from 'zod';
import {
  assertJsonDepth,
  ChatRequestSchema,
  GatewayError,
  ReasoningEffortSchema,
  invalidRequestOf,
  jsonTextExceedsDepth,
  tooDeepError,
  type ChatRequest,
  type ContentPart,
  type Message,
  type ReasoningPart,
} from '../../core/index.ts';
import type { GatewayRequest } from '../../gateway/gateway-request.ts';

/**
 * The inbound side of the OpenAI-compatible endpoint: an OpenAI Chat Completions body → GatewayRequest.
 * Independent of the openai adapter (which goes the other way) so a bug in one cannot hide in the other.
 */

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
const ImageUrlPart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() }),
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

const WireMessage = z.discriminatedUnion('role', [
  z.object({ role: z.enum(['system', 'developer']), content: TextContent, name: z.string().optional() }),
  z.object({ role: z.literal('user'), content: Content, name: z.string().optional() }),
  z.object({
    role: z.literal('assistant'),
    content: TextContent.nullable().optional(),
    tool_calls: z.array(WireToolCall).optional(),
    name: z.string().optional(),
    refusal: z.string().nullable().optional(),
    reasoning_content: z.string().nullable().optional(),
    thinking_blocks: z.array(ThinkingBlock).nullable().optional(),
  }),
  z.object({ role: z.literal('tool'), content: TextContent, tool_call_id: z.string() }),
]);

/** Parameters we accept but do not normalize: passed to OpenAI-protocol targets only (providerOptions.openai). */
const OPENAI_ONLY = [
  'frequency_penalty',
  'presence_penalty',
  'logit_bias',
  'parallel_tool_calls',
  'verbosity',
  'service_tier',
  'user',
  'safety_identifier',
  'store',
  'prediction',
] as const;

export const OpenAIChatBodySchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(WireMessage).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  n: z.number().int().nullable().optional(),
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
  /** Switchboard extension: pin a route explicitly (otherwise `model` names a route or a model). */
  route: z.string().optional(),
  /**
   * Switchboard extension: routing constraints, e.g. {"quality": "FAST", "deny": ["sim-openai"]}. Never sent
   * upstream. `quality` is FAST | BALANCED | BEST (any case); `allow`/`deny` take provider ids or
   * `provider/model` deployments; `task` is matched by route targets' `when.task`.
   */
  switchboard: z
    .strictObject({
      quality: z
        .string()
        .transform((q) => q.toLowerCase())
        .pipe(z.enum(['fast', 'balanced', 'best'], { error: 'expected FAST, BALANCED or BEST' }))
        .optional(),
      latencyBudgetMs: z.number().int().positive().optional(),
      costCeilingUsd: z.number().nonnegative().optional(),
      allow: z.array(z.string().min(1)).min(1, 'name at least one provider').optional(),
      deny: z.array(z.string().min(1)).optional(),
      task: z.string().min(1).optional(),
    })
    .optional(),
});

export type OpenAIChatBody = z.infer<typeof OpenAIChatBodySchema>;

/** Unsupported fields are refused by name rather than ignored: ignoring `n: 3` would return one answer for three. */
function refuseUnsupported(body: OpenAIChatBody): void {
  if (body.n != null && body.n !== 1) throw new GatewayError('unsupported_feature', 'n: only n=1 is supported', { param: 'n' });
  for (const field of ['logprobs', 'top_logprobs', 'functions', 'function_call', 'audio', 'modalities', 'web_search_options']) {
    const v = (body as Record<string, unknown>)[field];
    if (v !== undefined && v !== null && v !== false) {
      throw new GatewayError('unsupported_feature', `${field}: not supported by this gateway`, { param: field });
    }
  }
}

function imagePart(url: string, detail?: 'auto' | 'low' | 'high'): ContentPart {
  const m = url.match(/^data:([^;,]+);base64,(.*)$/s);
  if (m) return { type: 'image', data: m[2]!, mediaType: m[1]!, ...(detail && { detail }) };
  return { type: 'image', url, ...(detail && { detail }) };
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

function toMessage(m: z.infer<typeof WireMessage>): Message {
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: m.content };
    case 'user':
      return {
        role: 'user',
        content: typeof m.content === 'string' ? m.content : m.content.map((p) => (p.type === 'text' ? p : imagePart(p.image_url.url, p.image_url.detail))),
      };
    case 'assistant': {
      const reasoningParts = reasoningPartsOf(m);
      return {
        role: 'assistant',
        content: m.content ?? null,
        ...(m.tool_calls && { toolCalls: m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })) }),
        ...(reasoningParts && { reasoningParts }),
      };
    }
    case 'tool':
      return { role: 'tool', toolCallId: m.tool_call_id, content: m.content };
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
 * The body's free-form JSON — tool parameters, the response schema, tool-call arguments sent back, and the
 * OpenAI-only parameters passed through as they are — nested past MAX_JSON_DEPTH is refused here, on the raw
 * body, before anything walks it recursively (cache keys, idempotency hashes, the adapters' serializers).
 */
function refuseTooDeep(raw: unknown): void {
  if (!isRecord(raw)) return;
  for (const k of OPENAI_ONLY) assertJsonDepth(raw[k], k);
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

/** Parses and normalizes a request body; every problem is an invalid_request naming the field. */
export function parseChatBody(raw: unknown): { request: GatewayRequest; stream: boolean; includeUsage: boolean; body: OpenAIChatBody } {
  refuseTooDeep(raw);
  const parsed = OpenAIChatBodySchema.safeParse(raw);
  if (!parsed.success) throw invalidRequestOf(parsed.error.issues);
  const body = parsed.data;
  refuseUnsupported(body);
  const openaiOnly: Record<string, unknown> = {};
  for (const k of OPENAI_ONLY) if ((body as Record<string, unknown>)[k] != null) openaiOnly[k] = (body as Record<string, unknown>)[k];
  if (body.reasoning_effort === 'none') openaiOnly.reasoning_effort = 'none';
  const effort = body.reasoning_effort === 'none' ? undefined : body.reasoning_effort;
  const rf = body.response_format;
  const chat: ChatRequest = {
    messages: body.messages.map(toMessage),
    ...(body.tools && {
      tools: body.tools.map((t) => ({
        name: t.function.name,
        ...(t.function.description !== undefined && { description: t.function.description }),
        parameters: t.function.parameters ?? { type: 'object', properties: {} },
        ...(t.function.strict != null && { strict: t.function.strict }),
      })),
    }),
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
    ...(body.metadata && { metadata: body.metadata }),
    ...(Object.keys(openaiOnly).length > 0 && { providerOptions: { openai: openaiOnly } }),
  };
  // The normalized contract has rules the wire schema does not (tool names, image parts): check them too,
  // when the request has any of those parts (a second zod pass is a visible share of a plain request).
  let checkedChat = chat;
  if (needsContractCheck(body)) {
    const checked = ChatRequestSchema.safeParse(chat);
    if (!checked.success) throw invalidRequestOf(checked.error.issues);
    checkedChat = checked.data;
  }
  const { task, ...constraints } = body.switchboard ?? {};
  return {
    request: {
      chat: checkedChat,
      model: body.route === undefined ? body.model : undefined,
      route: body.route,
      ...(task !== undefined && { task }),
      ...(Object.keys(constraints).length > 0 && { constraints }),
    },
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    body,
  };
}
