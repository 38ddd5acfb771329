import { z } from 'zod';

/**
 * Zod schemas of the Bedrock Runtime payloads we read (Converse, ConverseStream, InvokeModel embeddings, errors).
 * Objects are loose so fields AWS adds later pass through. Converse's unions (a content block, a delta, a stream
 * event) are objects with exactly one member set; they are modelled as objects whose members are all optional,
 * so a member we do not know (citations, an image delta) is skipped instead of failing the reply.
 */

const count = z.number().int().nonnegative();

export const TokenUsageWire = z.looseObject({
  /** Excludes cache reads and writes (as Anthropic's input_tokens does). */
  inputTokens: count,
  outputTokens: count,
  totalTokens: count.nullish(),
  cacheReadInputTokens: count.nullish(),
  cacheWriteInputTokens: count.nullish(),
});

const ReasoningContentWire = z.looseObject({
  reasoningText: z.looseObject({ text: z.string(), signature: z.string().nullish() }).nullish(),
  /** Base64 (a JSON blob): encrypted reasoning that goes back verbatim. */
  redactedContent: z.string().nullish(),
});

export const ContentBlockWire = z.looseObject({
  text: z.string().nullish(),
  toolUse: z
    .looseObject({
      toolUseId: z.string().min(1),
      name: z.string().min(1),
      input: z.unknown(),
    })
    .nullish(),
  reasoningContent: ReasoningContentWire.nullish(),
});

export const ConverseResponseWire = z.looseObject({
  output: z.looseObject({
    message: z.looseObject({ role: z.string(), content: z.array(ContentBlockWire) }),
  }),
  stopReason: z.string(),
  usage: TokenUsageWire,
});

const blockIndex = z.number().int().nonnegative();

/** One ConverseStream event in the SDK's union form (`{"messageStart": {...}}`), as the event-stream reader gives it. */
export const StreamEventWire = z.looseObject({
  messageStart: z.looseObject({ role: z.string().nullish() }).nullish(),
  contentBlockStart: z
    .looseObject({
      contentBlockIndex: blockIndex,
      start: z.looseObject({ toolUse: z.looseObject({ toolUseId: z.string().min(1), name: z.string().min(1) }).nullish() }),
    })
    .nullish(),
  contentBlockDelta: z
    .looseObject({
      contentBlockIndex: blockIndex,
      delta: z.looseObject({
        text: z.string().nullish(),
        toolUse: z.looseObject({ input: z.string() }).nullish(),
        reasoningContent: z
          .looseObject({ text: z.string().nullish(), signature: z.string().nullish(), redactedContent: z.string().nullish() })
          .nullish(),
      }),
    })
    .nullish(),
  contentBlockStop: z.looseObject({ contentBlockIndex: blockIndex }).nullish(),
  messageStop: z.looseObject({ stopReason: z.string() }).nullish(),
  metadata: z.looseObject({ usage: TokenUsageWire }).nullish(),
});

/**
 * An error body: `{"message": …}` with the type in the `x-amzn-errortype` header, or the type in `__type`
 * (`com.amazon.coral.validate#ValidationException`) or `code`; some services capitalize `Message`.
 */
export const ErrorBodyWire = z.looseObject({
  message: z.string().nullish(),
  Message: z.string().nullish(),
  __type: z.string().nullish(),
  code: z.string().nullish(),
});

/** Titan text embeddings (v1 and v2) through InvokeModel: one input per call. */
export const TitanEmbeddingWire = z.looseObject({
  embedding: z.array(z.number()),
  inputTextTokenCount: count.nullish(),
});

/** Cohere embed through InvokeModel: floats as a list, or by type (`{"float": [...]}`) when embedding_types was set. */
export const CohereEmbeddingWire = z.looseObject({
  embeddings: z.union([z.array(z.array(z.number())), z.looseObject({ float: z.array(z.array(z.number())) })]),
});

export type TokenUsageWire = z.infer<typeof TokenUsageWire>;
export type ContentBlockWire = z.infer<typeof ContentBlockWire>;
export type ConverseResponseWire = z.infer<typeof ConverseResponseWire>;
export type StreamEventWire = z.infer<typeof StreamEventWire>;
export type ErrorBodyWire = z.infer<typeof ErrorBodyWire>;
