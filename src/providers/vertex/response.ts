import type { EmbeddingResponse } from '../../core/index.ts';
import { invalidResponse } from '../shared/http-errors.ts';
import type { PredictEmbeddingsResponse } from './wire.ts';

/**
 * Chat replies are the publishers' own (src/providers/gemini/response.ts, src/providers/anthropic/response.ts);
 * this maps the `:predict` replies of one embeddings request, batch by batch in input order.
 */
export function toEmbeddingResponse(provider: string, replies: readonly PredictEmbeddingsResponse[], inputs: readonly string[], model: string): EmbeddingResponse {
  const predictions = replies.flatMap((r) => r.predictions);
  if (predictions.length !== inputs.length) throw invalidResponse(provider, `predict returned ${predictions.length} embeddings for ${inputs.length} inputs`);
  let tokens = 0;
  let counted = true;
  for (const p of predictions) {
    const n = p.embeddings.statistics?.token_count;
    if (n === undefined) counted = false;
    else tokens += n;
  }
  return {
    embeddings: predictions.map((p) => p.embeddings.values),
    model,
    // Vertex counts each input's tokens; were one missing, the whole count is ours (~4 characters a token).
    usage: counted ? { inputTokens: tokens } : { inputTokens: inputs.reduce((n, s) => n + Math.ceil(s.length / 4), 0), estimated: true },
  };
}
