import { z } from 'zod';

/**
 * Ollama's native payloads (`/api/chat`, `/api/embed`). Response schemas are loose objects: servers
 * add fields between versions (`logprobs`, `function.index`, durations) and those must not fail
 * validation. Metric fields are `omitempty` upstream, so every count is optional.
 */

const count = z.number().int().nonnegative();

// ---- Request (built by request.ts; typed here so the body shape lives next to the response shape)

export const OllamaRequestToolCallSchema = z.object({
  function: z.object({ name: z.string(), arguments: z.record(z.string(), z.unknown()) }),
});

export const OllamaRequestMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  images: z.array(z.string()).optional(),
  tool_calls: z.array(OllamaRequestToolCallSchema).optional(),
  tool_name: z.string().optional(),
});

export const OllamaToolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string(),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()),
  }),
});

export const OllamaOptionsSchema = z.object({
  num_predict: z.number().int().optional(),
  temperature: z.number().optional(),
  top_p: z.number().optional(),
  stop: z.array(z.string()).optional(),
  seed: z.number().int().optional(),
});

export const OllamaChatRequestSchema = z.looseObject({
  model: z.string(),
  messages: z.array(OllamaRequestMessageSchema),
  tools: z.array(OllamaToolSchema).optional(),
  format: z.union([z.literal('json'), z.record(z.string(), z.unknown())]).optional(),
  options: z.looseObject(OllamaOptionsSchema.shape).optional(),
  /** Thinking models: return the reasoning in `message.thinking` (gpt-oss also takes low / medium / high). */
  think: z.union([z.boolean(), z.enum(['low', 'medium', 'high'])]).optional(),
  stream: z.boolean(),
});

export const OllamaEmbedRequestSchema = z.looseObject({
  model: z.string(),
  input: z.array(z.string()),
  dimensions: z.number().int().positive().optional(),
  truncate: z.boolean().optional(),
});

// ---- Responses

export const OllamaToolCallSchema = z.looseObject({
  /** Newer servers send an id; older ones do not (we then make `call_<index>`). */
  id: z.string().optional(),
  function: z.looseObject({
    index: z.number().int().optional(),
    name: z.string().min(1),
    /** A JSON object (Go map); null/absent for a call without arguments. */
    arguments: z.record(z.string(), z.unknown()).nullish(),
  }),
});

export const OllamaResponseMessageSchema = z.looseObject({
  role: z.string().optional(),
  content: z.string().nullish(),
  thinking: z.string().nullish(),
  images: z.unknown().optional(),
  tool_calls: z.array(OllamaToolCallSchema).nullish(),
});

/** One `/api/chat` reply: the whole body when `stream: false`, one NDJSON line when streaming. */
export const OllamaChatChunkSchema = z.looseObject({
  model: z.string().optional(),
  created_at: z.string().optional(),
  message: OllamaResponseMessageSchema.optional(),
  done: z.boolean(),
  done_reason: z.string().optional(),
  prompt_eval_count: count.optional(),
  /** Newer servers: prompt tokens served from the KV cache, a part of prompt_eval_count. */
  prompt_eval_cached_count: count.optional(),
  eval_count: count.optional(),
});

/** The error envelope of every status, and the last line of a stream that failed part-way. */
export const OllamaErrorSchema = z.looseObject({ error: z.string() });

export const OllamaEmbedResponseSchema = z.looseObject({
  model: z.string().optional(),
  embeddings: z.array(z.array(z.number())),
  prompt_eval_count: count.optional(),
});

export type OllamaRequestMessage = z.infer<typeof OllamaRequestMessageSchema>;
export type OllamaRequestToolCall = z.infer<typeof OllamaRequestToolCallSchema>;
export type OllamaTool = z.infer<typeof OllamaToolSchema>;
export type OllamaOptions = z.infer<typeof OllamaOptionsSchema>;
export type OllamaChatRequest = z.infer<typeof OllamaChatRequestSchema>;
export type OllamaEmbedRequest = z.infer<typeof OllamaEmbedRequestSchema>;
export type OllamaToolCall = z.infer<typeof OllamaToolCallSchema>;
export type OllamaChatChunk = z.infer<typeof OllamaChatChunkSchema>;
export type OllamaEmbedResponse = z.infer<typeof OllamaEmbedResponseSchema>;
