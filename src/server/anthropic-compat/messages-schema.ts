import { z } from 'zod';
import { SwitchboardConstraintsSchema } from '../openai-compat/switchboard-extension.ts';

/**
 * The inbound Anthropic Messages API body (`POST /v1/messages`, `/v1/messages/count_tokens`), as zod
 * schemas. Blocks are loose (a newer SDK may add a field we do not read); the top level is checked by
 * name in messages-request.ts, so an unknown parameter is refused rather than dropped.
 */

const unknownType = (what: string) => (iss: { code: string; options?: unknown; input?: unknown }) => {
  if (iss.code !== 'invalid_union' || !Array.isArray(iss.options)) return undefined;
  const type = (iss.input as { type?: unknown } | undefined)?.type;
  return `${what} type ${JSON.stringify(type ?? null)} is not supported here (expected ${iss.options.join(', ')})`;
};

export const CacheControlSchema = z
  .strictObject({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() })
  .nullable()
  .optional();

export const TextBlockSchema = z.looseObject({
  type: z.literal('text'),
  text: z.string(),
  cache_control: CacheControlSchema,
});

const ImageSourceSchema = z.discriminatedUnion(
  'type',
  [
    z.looseObject({ type: z.literal('base64'), media_type: z.string().regex(/^image\/[\w.+-]+$/, 'expected an image media type'), data: z.string().min(1) }),
    z.looseObject({ type: z.literal('url'), url: z.string().regex(/^https?:\/\//i, 'expected an http(s) URL') }),
    z.looseObject({ type: z.literal('file'), file_id: z.string() }),
  ],
  { error: unknownType('image source') },
);

export const ImageBlockSchema = z.looseObject({ type: z.literal('image'), source: ImageSourceSchema, cache_control: CacheControlSchema });

/** PDFs and plain-text documents: parsed so the refusal can name the block (the contract has no document part). */
export const DocumentBlockSchema = z.looseObject({ type: z.literal('document'), source: z.unknown(), cache_control: CacheControlSchema });

export const ToolUseBlockSchema = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  cache_control: CacheControlSchema,
});

export const ToolResultBlockSchema = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z
    .union([z.string(), z.array(z.discriminatedUnion('type', [TextBlockSchema, ImageBlockSchema, DocumentBlockSchema], { error: unknownType('tool_result content block') }))])
    .optional(),
  is_error: z.boolean().optional(),
  cache_control: CacheControlSchema,
});

export const ThinkingBlockSchema = z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() });
export const RedactedThinkingBlockSchema = z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() });

const UserBlockSchema = z.discriminatedUnion('type', [TextBlockSchema, ImageBlockSchema, DocumentBlockSchema, ToolResultBlockSchema], {
  error: unknownType('user content block'),
});
const AssistantBlockSchema = z.discriminatedUnion('type', [TextBlockSchema, ToolUseBlockSchema, ThinkingBlockSchema, RedactedThinkingBlockSchema], {
  error: unknownType('assistant content block'),
});

export const MessageSchema = z.discriminatedUnion(
  'role',
  [
    z.looseObject({ role: z.literal('user'), content: z.union([z.string(), z.array(UserBlockSchema)]) }),
    z.looseObject({ role: z.literal('assistant'), content: z.union([z.string(), z.array(AssistantBlockSchema)]) }),
  ],
  { error: (iss) => (iss.code === 'invalid_union' ? 'role must be "user" or "assistant" (the system prompt goes in the top-level `system`)' : undefined) },
);

export const ToolSchema = z.looseObject({
  type: z.literal('custom').optional(),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'tool names are 1-64 letters, digits, _ or -'),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()),
  strict: z.boolean().optional(),
  cache_control: CacheControlSchema,
});

const parallel = { disable_parallel_tool_use: z.boolean().optional() };
export const ToolChoiceSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('auto'), ...parallel }),
    z.strictObject({ type: z.literal('any'), ...parallel }),
    z.strictObject({ type: z.literal('tool'), name: z.string().min(1), ...parallel }),
    z.strictObject({ type: z.literal('none') }),
  ],
  { error: unknownType('tool_choice') },
);

export const ThinkingSchema = z.discriminatedUnion(
  'type',
  [
    z.looseObject({ type: z.literal('enabled'), budget_tokens: z.number().int().min(1024, 'budget_tokens must be at least 1024') }),
    z.looseObject({ type: z.literal('disabled') }),
    z.looseObject({ type: z.literal('adaptive') }),
  ],
  { error: unknownType('thinking') },
);

const SystemSchema = z.union([z.string(), z.array(TextBlockSchema)], { error: 'system must be a string or a list of text blocks' });

/** What `/v1/messages` and `/v1/messages/count_tokens` share. */
const common = {
  model: z.string().min(1),
  messages: z.array(MessageSchema).min(1, 'at least one message is required'),
  system: SystemSchema.optional(),
  tools: z.array(ToolSchema).optional(),
  tool_choice: ToolChoiceSchema.optional(),
  thinking: ThinkingSchema.optional(),
  output_config: z
    .looseObject({
      format: z.strictObject({ type: z.literal('json_schema'), schema: z.record(z.string(), z.unknown()) }).nullable().optional(),
      effort: z.string().optional(),
    })
    .optional(),
  /** Anthropic's automatic caching: a breakpoint on the whole prompt. */
  cache_control: CacheControlSchema,
};

export const MessagesBodySchema = z.object({
  ...common,
  max_tokens: z.number({ error: 'max_tokens is required: an integer above 0' }).int().positive(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().nonnegative().optional(),
  stop_sequences: z.array(z.string()).max(16, 'at most 16 stop sequences').optional(),
  metadata: z.strictObject({ user_id: z.string().nullable().optional() }).optional(),
  service_tier: z.enum(['auto', 'standard_only']).optional(),
  /** Switchboard extension, as on REST: routing constraints ({"quality": "FAST", "deny": ["sim-openai"]}); never sent upstream. */
  switchboard: SwitchboardConstraintsSchema.optional(),
});

export const CountTokensBodySchema = z.object(common);

export type MessagesBody = z.infer<typeof MessagesBodySchema>;
export type CountTokensBody = z.infer<typeof CountTokensBodySchema>;
export type InboundMessage = z.infer<typeof MessageSchema>;
export type InboundTool = z.infer<typeof ToolSchema>;
export type InboundTextBlock = z.infer<typeof TextBlockSchema>;
export type InboundImageBlock = z.infer<typeof ImageBlockSchema>;
export type InboundCacheControl = z.infer<typeof CacheControlSchema>;

/** Parameters of the real API this gateway cannot honour on any target: refused by name (unsupported_feature). */
export const UNSUPPORTED_FIELDS: Readonly<Record<string, string>> = {
  container: 'code-execution containers are an Anthropic server feature the gateway does not proxy',
  mcp_servers: 'the MCP connector is an Anthropic server feature the gateway does not proxy',
  context_management: 'server-side context editing is an Anthropic server feature the gateway does not proxy',
  inference_geo: 'inference location cannot be honoured across targets',
};
