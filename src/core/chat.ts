import { z } from 'zod';
import { exceedsJsonDepth, jsonTextExceedsDepth, TOO_DEEP_MESSAGE } from './json-depth.ts';
import { ReasoningEffortSchema, ReasoningPartSchema } from './reasoning.ts';

/**
 * The normalized chat contract. Every API (GraphQL, OpenAI-compatible REST) turns its input into a
 * ChatRequest; every adapter turns its vendor's reply into a ChatResponse or StreamParts.
 * Types are inferred from these schemas so the contract and its validation cannot drift apart.
 */

/** Anthropic-style prompt-cache marker; adapters that cannot express it ignore it (it is a hint, not a feature). */
export const CacheControlSchema = z.object({
  type: z.literal('ephemeral'),
  ttl: z.enum(['5m', '1h']).optional(),
});

export const TextPartSchema = z.object({
  type: z.literal('text'),
  text: z.string(),
  cacheControl: CacheControlSchema.optional(),
});

/** An image either by URL (http(s) or data:) or as inline base64 data with its media type. */
export const ImagePartSchema = z
  .object({
    type: z.literal('image'),
    url: z.string().optional(),
    data: z.string().optional(),
    mediaType: z.string().optional(),
    detail: z.enum(['auto', 'low', 'high']).optional(),
    cacheControl: CacheControlSchema.optional(),
  })
  .refine((p) => Boolean(p.url) !== Boolean(p.data), { message: 'an image needs exactly one of url or data' })
  .refine((p) => !p.data || Boolean(p.mediaType), { message: 'inline image data needs a mediaType', path: ['mediaType'] });

export const ContentPartSchema = z.union([TextPartSchema, ImagePartSchema]);

export const ToolCallSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  /** JSON text exactly as the model produced it (never re-serialized, so nothing is lost). */
  arguments: z.string(),
});

/**
 * Free-form JSON of a request, refused past MAX_JSON_DEPTH (iteratively, before anything walks it
 * recursively). `z.unknown()` values are not walked by zod itself.
 */
const JsonObjectSchema = z.record(z.string(), z.unknown()).refine((v) => !exceedsJsonDepth(v), TOO_DEEP_MESSAGE);

/** A tool call sent back in a request: adapters parse its arguments (Anthropic, Gemini, Ollama want an object). */
const RequestToolCallSchema = ToolCallSchema.extend({ arguments: z.string().refine((t) => !jsonTextExceedsDepth(t), TOO_DEEP_MESSAGE) });

export const SystemMessageSchema = z.object({
  role: z.literal('system'),
  content: z.union([z.string(), z.array(TextPartSchema)]),
});
export const UserMessageSchema = z.object({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(ContentPartSchema)]),
});
export const AssistantMessageSchema = z.object({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(TextPartSchema)]).nullable().optional(),
  toolCalls: z.array(RequestToolCallSchema).optional(),
  /**
   * The reasoning of this turn as a reply returned it (ChatResponse.reasoningParts), sent back so a thinking
   * model can continue it: Anthropic and Gemini reject a tool-use turn whose signed reasoning is missing.
   */
  reasoningParts: z.array(ReasoningPartSchema).optional(),
});
export const ToolMessageSchema = z.object({
  role: z.literal('tool'),
  toolCallId: z.string().min(1),
  /** The called function's name; Gemini and Ollama address tool results by name, not id. */
  name: z.string().optional(),
  content: z.union([z.string(), z.array(TextPartSchema)]),
});

export const MessageSchema = z.discriminatedUnion('role', [
  SystemMessageSchema,
  UserMessageSchema,
  AssistantMessageSchema,
  ToolMessageSchema,
]);

export const ToolDefinitionSchema = z.object({
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'tool names are 1-64 letters, digits, _ or -'),
  description: z.string().optional(),
  /** JSON Schema of the arguments object. */
  parameters: JsonObjectSchema.default({ type: 'object', properties: {} }),
  strict: z.boolean().optional(),
  /** A prompt-cache breakpoint after this tool (tools come first in Anthropic's cache prefix); a hint like on text. */
  cacheControl: CacheControlSchema.optional(),
});

export const ToolChoiceSchema = z.union([
  z.enum(['auto', 'none', 'required']),
  z.object({ type: z.literal('tool'), name: z.string().min(1) }),
]);

export const ResponseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    name: z.string().default('response'),
    description: z.string().optional(),
    schema: JsonObjectSchema,
    strict: z.boolean().optional(),
  }),
]);

/** Body fields the gateway sets from routing; providerOptions may not override them. */
const ROUTING_OWNED = ['model', 'stream'] as const;

export const ChatRequestSchema = z.object({
  messages: z.array(MessageSchema).min(1, 'at least one message is required'),
  tools: z.array(ToolDefinitionSchema).optional(),
  toolChoice: ToolChoiceSchema.optional(),
  responseFormat: ResponseFormatSchema.optional(),
  maxOutputTokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  topP: z.number().min(0).max(1).optional(),
  stop: z.array(z.string()).max(16).optional(),
  seed: z.number().int().optional(),
  /**
   * How hard a reasoning model should think: OpenAI `reasoning_effort`, an Anthropic thinking budget, a Gemini
   * thinking budget (REASONING_BUDGET_TOKENS). Reasoning comes back on ChatResponse.reasoning / reasoningParts.
   */
  reasoningEffort: ReasoningEffortSchema.optional(),
  /**
   * OpenAI `prompt_cache_key`: requests sharing it are routed to the same prompt cache. A hint: sent where the
   * vendor takes it (OpenAI), left out elsewhere.
   */
  promptCacheKey: z.string().min(1).max(1024).optional(),
  /** Caller's labels; never sent upstream except where a vendor has a metadata field. */
  metadata: z.record(z.string(), z.string()).optional(),
  /**
   * Vendor-only parameters, keyed by protocol (`openai`, `anthropic`, `gemini`, `ollama`). The adapter
   * of that protocol merges its entry into the request body as is; other adapters ignore it.
   */
  providerOptions: z
    .record(
      z.string(),
      z.record(z.string(), z.unknown().refine((v) => !exceedsJsonDepth(v), TOO_DEEP_MESSAGE)).superRefine((o, ctx) => {
        // Merged over the vendor body: a `model` there would replace the routed deployment (around the key's
        // access rules, billed at the routed model's price), a `stream` would change the reply's framing.
        for (const k of ROUTING_OWNED) if (Object.hasOwn(o, k)) ctx.addIssue({ code: 'custom', path: [k], message: `\`${k}\` is the gateway's to set, not a provider option` });
      }),
    )
    .optional(),
});

/** `other`: the provider ended without a reason we can name (an OpenAI-compatible `finish_reason: null`). */
export const FinishReasonSchema = z.enum(['stop', 'length', 'tool_calls', 'content_filter', 'error', 'other']);

/**
 * Token usage, normalized so that every protocol means the same thing:
 * - inputTokens counts every prompt token, including cache reads and cache writes
 *   (Anthropic reports those outside input_tokens; adapters add them back);
 * - cachedInputTokens and cacheWriteTokens are parts of inputTokens;
 * - outputTokens includes reasoningTokens.
 * `estimated` is set when the provider reported nothing and the numbers are ours.
 */
export const UsageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cachedInputTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
  reasoningTokens: z.number().int().nonnegative(),
  estimated: z.boolean().optional(),
});

export const ChatResponseSchema = z.object({
  text: z.string(),
  toolCalls: z.array(ToolCallSchema),
  finishReason: FinishReasonSchema,
  /** The vendor's own finish reason, kept for debugging and for reasons our vocabulary folds together. */
  rawFinishReason: z.string().optional(),
  usage: UsageSchema,
  /** The model name the provider says answered (may differ from the requested alias). */
  model: z.string(),
  /** The provider's id for this response or request (`chatcmpl-…`, `msg_…`, `request-id` header). */
  providerRequestId: z.string().optional(),
  /** The readable reasoning, all parts' text concatenated; absent when the model showed none. */
  reasoning: z.string().optional(),
  /** The reasoning block by block, with the signatures a client needs to send the turn back; absent when none. */
  reasoningParts: z.array(ReasoningPartSchema).optional(),
});

export type CacheControl = z.infer<typeof CacheControlSchema>;
export type TextPart = z.infer<typeof TextPartSchema>;
export type ImagePart = z.infer<typeof ImagePartSchema>;
export type ContentPart = z.infer<typeof ContentPartSchema>;
export type ToolCall = z.infer<typeof ToolCallSchema>;
export type Message = z.infer<typeof MessageSchema>;
export type SystemMessage = z.infer<typeof SystemMessageSchema>;
export type UserMessage = z.infer<typeof UserMessageSchema>;
export type AssistantMessage = z.infer<typeof AssistantMessageSchema>;
export type ToolMessage = z.infer<typeof ToolMessageSchema>;
export type ToolDefinition = z.infer<typeof ToolDefinitionSchema>;
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;
export type ResponseFormat = z.infer<typeof ResponseFormatSchema>;
export type ChatRequest = z.infer<typeof ChatRequestSchema>;
export type FinishReason = z.infer<typeof FinishReasonSchema>;
export type Usage = z.infer<typeof UsageSchema>;
export type ChatResponse = z.infer<typeof ChatResponseSchema>;

export const emptyUsage = (): Usage => ({
  inputTokens: 0,
  outputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
});

/** Text parts of a message's content, as a list (a bare string is one text part). */
export function partsOf(content: string | ContentPart[] | null | undefined): ContentPart[] {
  if (content == null) return [];
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

/** All the text of a message's content, concatenated (images are skipped). */
export function textOf(content: string | ContentPart[] | null | undefined): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  let out = '';
  for (const p of content) if (p.type === 'text') out += p.text;
  return out;
}
