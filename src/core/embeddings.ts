import { z } from 'zod';

export const EmbeddingRequestSchema = z.object({
  input: z.array(z.string()).min(1, 'at least one input is required'),
  dimensions: z.number().int().positive().optional(),
  providerOptions: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

export const EmbeddingResponseSchema = z.object({
  embeddings: z.array(z.array(z.number())),
  model: z.string(),
  usage: z.object({ inputTokens: z.number().int().nonnegative(), estimated: z.boolean().optional() }),
});

export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;
export type EmbeddingResponse = z.infer<typeof EmbeddingResponseSchema>;
