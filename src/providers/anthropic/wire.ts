import { z } from 'zod';

/**
 * Zod schemas of the Anthropic Messages payloads we read. Objects are loose so fields Anthropic adds
 * later pass through. Block, delta and event types are open sets ("clients should ignore unknown
 * ones"), so an unknown `type` is rewritten to `{type: 'unknown'}` before the discriminated union
 * runs: known types are still validated strictly, unknown ones are skipped without failing the reply.
 */

function openTypes<T extends string>(known: readonly T[]) {
  return (v: unknown): unknown => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const type = (v as { type?: unknown }).type;
      if (typeof type === 'string' && !(known as readonly string[]).includes(type)) {
        return { type: 'unknown', rawType: type };
      }
    }
    return v;
  };
}

const Unknown = z.looseObject({ type: z.literal('unknown'), rawType: z.string() });
const count = z.number().int().nonnegative().nullish();

/** Usage in a Message and in message_delta (where every field may be absent or null). */
export const UsageWire = z.looseObject({
  input_tokens: count,
  output_tokens: count,
  cache_creation_input_tokens: count,
  cache_read_input_tokens: count,
  output_tokens_details: z.looseObject({ thinking_tokens: count }).nullish(),
});

const TextBlock = z.looseObject({ type: z.literal('text'), text: z.string() });
const ToolUseBlock = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
});
/** `signature` is '' on a streamed block's start (it arrives as a signature_delta) and set on a whole reply's. */
const ThinkingBlock = z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string().nullish() });
/** The reasoning encrypted by the API; `data` goes back verbatim. */
const RedactedThinkingBlock = z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() });

export const ContentBlockWire = z.preprocess(
  openTypes(['text', 'tool_use', 'thinking', 'redacted_thinking']),
  z.discriminatedUnion('type', [TextBlock, ToolUseBlock, ThinkingBlock, RedactedThinkingBlock, Unknown]),
);

export const MessageWire = z.looseObject({
  id: z.string(),
  type: z.literal('message').optional(),
  model: z.string(),
  content: z.array(ContentBlockWire),
  stop_reason: z.string().nullish(),
  stop_sequence: z.string().nullish(),
  usage: UsageWire,
});

const DeltaWire = z.preprocess(
  openTypes(['text_delta', 'input_json_delta', 'thinking_delta', 'signature_delta']),
  z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('text_delta'), text: z.string() }),
    z.looseObject({ type: z.literal('input_json_delta'), partial_json: z.string() }),
    z.looseObject({ type: z.literal('thinking_delta'), thinking: z.string() }),
    z.looseObject({ type: z.literal('signature_delta'), signature: z.string() }),
    Unknown,
  ]),
);

export const ErrorObjectWire = z.looseObject({
  type: z.string(),
  message: z.string().optional(),
  details: z.looseObject({ error_code: z.string().optional() }).nullish(),
});

const index = z.number().int().nonnegative();

export const StreamEventWire = z.preprocess(
  openTypes([
    'message_start',
    'content_block_start',
    'content_block_delta',
    'content_block_stop',
    'message_delta',
    'message_stop',
    'ping',
    'error',
  ]),
  z.discriminatedUnion('type', [
    z.looseObject({
      type: z.literal('message_start'),
      // content is always empty here and stop_reason null, so only what we use is required.
      message: z.looseObject({ id: z.string(), model: z.string(), usage: UsageWire.nullish() }),
    }),
    z.looseObject({ type: z.literal('content_block_start'), index, content_block: ContentBlockWire }),
    z.looseObject({ type: z.literal('content_block_delta'), index, delta: DeltaWire }),
    z.looseObject({ type: z.literal('content_block_stop'), index }),
    z.looseObject({
      type: z.literal('message_delta'),
      delta: z.looseObject({ stop_reason: z.string().nullish(), stop_sequence: z.string().nullish() }),
      usage: UsageWire.nullish(),
    }),
    z.looseObject({ type: z.literal('message_stop') }),
    z.looseObject({ type: z.literal('ping') }),
    z.looseObject({ type: z.literal('error'), error: ErrorObjectWire }),
    Unknown,
  ]),
);

/** `{"type":"error","error":{type,message},"request_id"}`; `type` is optional so proxies' variants still parse. */
export const ErrorEnvelopeWire = z.looseObject({
  type: z.literal('error').optional(),
  error: ErrorObjectWire,
  request_id: z.string().nullish(),
});

export type UsageWire = z.infer<typeof UsageWire>;
export type ContentBlockWire = z.infer<typeof ContentBlockWire>;
export type MessageWire = z.infer<typeof MessageWire>;
export type StreamEventWire = z.infer<typeof StreamEventWire>;
export type ErrorObjectWire = z.infer<typeof ErrorObjectWire>;
