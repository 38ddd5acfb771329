import { z } from 'zod';

/**
 * Vertex AI's own payloads. Chat bodies are the Gemini API's (src/providers/gemini/wire.ts) and Anthropic's
 * (src/providers/anthropic/wire.ts); what is Vertex's alone is the text-embeddings `:predict` reply.
 */

/** `{predictions: [{embeddings: {values, statistics: {token_count, truncated}}}], metadata}`, one per instance. */
export const PredictEmbeddingsResponseSchema = z.looseObject({
  predictions: z.array(
    z.looseObject({
      embeddings: z.looseObject({
        values: z.array(z.number()),
        statistics: z
          .looseObject({
            // An int64 in proto JSON: a number from the service, accepted as a string too.
            token_count: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
            truncated: z.boolean().optional(),
          })
          .optional(),
      }),
    }),
  ),
});

export type PredictEmbeddingsResponse = z.infer<typeof PredictEmbeddingsResponseSchema>;
