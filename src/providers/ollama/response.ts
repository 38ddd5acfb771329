import type { ChatResponse, EmbeddingRequest, EmbeddingResponse, FinishReason, ToolCall, Usage } from '../../core/index.ts';
import { invalidResponse } from '../shared/http-errors.ts';
import type { OllamaChatChunk, OllamaEmbedResponse, OllamaToolCall } from './wire.ts';

/**
 * `/api/chat` (stream: false) body → ChatResponse. The mapping helpers are shared with stream.ts so
 * both paths agree on ids, argument text, finish reason and usage.
 */
export function toChatResponse(body: OllamaChatChunk, fallbackModel: string, provider: string): ChatResponse {
  if (!body.done) throw invalidResponse(provider, 'non-streamed reply is not marked done');
  const calls = body.message?.tool_calls ?? [];
  const toolCalls = calls.map((c, i) => toToolCall(c, i));
  const reasoning = body.message?.thinking ?? '';
  return {
    text: body.message?.content ?? '',
    toolCalls,
    ...finishOf(body.done_reason, toolCalls.length > 0),
    usage: usageOf(body),
    model: body.model ?? fallbackModel,
    ...(reasoning && { reasoning, reasoningParts: [{ text: reasoning, provider: 'ollama' }] }),
  };
}

/** Ollama sends no call ids on older servers: `call_<ordinal>` is stable within one reply. */
export function toToolCall(call: OllamaToolCall, index: number): ToolCall {
  return {
    id: call.id || `call_${index}`,
    name: call.function.name,
    // Arguments arrive as an object: serialized exactly once, so stream and non-stream agree.
    arguments: JSON.stringify(call.function.arguments ?? {}),
  };
}

/**
 * Ollama says `stop` even when the turn ended in tool calls; the calls themselves tell. `load` /
 * `unload` (and anything new) are not failures: `stop`, with the raw reason kept.
 */
export function finishOf(doneReason: string | undefined, hasToolCalls: boolean): { finishReason: FinishReason; rawFinishReason?: string } {
  const raw = doneReason !== undefined ? { rawFinishReason: doneReason } : {};
  if (doneReason === 'length') return { finishReason: 'length', ...raw };
  if (hasToolCalls) return { finishReason: 'tool_calls', ...raw };
  return { finishReason: 'stop', ...raw };
}

/**
 * Counts are omitted upstream when zero. `prompt_eval_cached_count` (newer servers) is already inside
 * `prompt_eval_count`; the max keeps cached ⊆ input even if a server reports them inconsistently.
 */
export function usageOf(body: Pick<OllamaChatChunk, 'prompt_eval_count' | 'prompt_eval_cached_count' | 'eval_count'>): Usage {
  const cached = body.prompt_eval_cached_count ?? 0;
  return {
    inputTokens: Math.max(body.prompt_eval_count ?? 0, cached),
    outputTokens: body.eval_count ?? 0,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    // Thinking tokens are inside eval_count and not reported apart.
    reasoningTokens: 0,
  };
}

/** `/api/embed` body → EmbeddingResponse, one vector per input in input order. */
export function toEmbeddingResponse(
  body: OllamaEmbedResponse,
  req: EmbeddingRequest,
  fallbackModel: string,
  provider: string,
): EmbeddingResponse {
  if (body.embeddings.length !== req.input.length) {
    throw invalidResponse(provider, `expected ${req.input.length} embeddings, got ${body.embeddings.length}`);
  }
  const usage =
    body.prompt_eval_count !== undefined
      ? { inputTokens: body.prompt_eval_count }
      : // Rough (≈4 characters per token) but marked as ours, for accounting that must not read 0.
        { inputTokens: req.input.reduce((n, s) => n + Math.ceil(s.length / 4), 0), estimated: true };
  return { embeddings: body.embeddings, model: body.model ?? fallbackModel, usage };
}
