import { emptyUsage, type ChatResponse, type FinishReason, type Usage } from '../../core/index.ts';
import { invalidResponse } from '../shared/http-errors.ts';
import type { ChatCompletionWire, UsageWire } from './wire.ts';

/**
 * finish_reason → our vocabulary (README mapping table). `function_call` is the deprecated name of
 * tool_calls. Unknown values (DeepSeek's insufficient_system_resource, vendor extras) are `stop`, with
 * the raw value kept by the caller. No reason at all (`null`, or a stream that never sent one) is
 * `other`: passing it off as a normal stop would hide an answer that may be cut short.
 */
export function mapFinishReason(raw: string | null | undefined): FinishReason {
  if (raw === null || raw === undefined) return 'other';
  switch (raw) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/**
 * OpenAI usage is already in our shape: cached (and cache-write) tokens are inside prompt_tokens,
 * reasoning tokens inside completion_tokens. No usage at all → zeros marked estimated, so the
 * usage layer knows to count for itself.
 */
export function mapUsage(u: UsageWire | null | undefined): Usage {
  if (!u) return { ...emptyUsage(), estimated: true };
  return {
    inputTokens: u.prompt_tokens ?? 0,
    outputTokens: u.completion_tokens ?? 0,
    cachedInputTokens: u.prompt_tokens_details?.cached_tokens ?? u.prompt_cache_hit_tokens ?? 0,
    cacheWriteTokens: u.prompt_tokens_details?.cache_write_tokens ?? 0,
    reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

/** A chat.completion body → ChatResponse. Throws invalid_response when it has no first choice. */
export function toChatResponse(
  provider: string,
  res: ChatCompletionWire,
  fallback: { model: string; requestId?: string | undefined },
): ChatResponse {
  // With n > 1 (passed through providerOptions) only the first choice is ours to return.
  const choice = res.choices.find((c) => (c.index ?? 0) === 0);
  if (!choice) throw invalidResponse(provider, 'chat completion without choices');
  const msg = choice.message;
  // A refusal is the model's answer: keep its text. Whether it is a content filter is finish_reason's call.
  const text = (msg.content ?? '') + (msg.refusal ?? '');
  const reasoning = msg.reasoning_content ?? msg.reasoning ?? '';
  const requestId = fallback.requestId ?? res.id ?? undefined;
  return {
    text,
    toolCalls: (msg.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })),
    finishReason: mapFinishReason(choice.finish_reason),
    ...(choice.finish_reason != null && { rawFinishReason: choice.finish_reason }),
    usage: mapUsage(res.usage),
    model: res.model ?? fallback.model,
    ...(requestId !== undefined && { providerRequestId: requestId }),
    // Unsigned: OpenAI-compatible servers return reasoning as text only (and take none back).
    ...(reasoning !== '' && { reasoning, reasoningParts: [{ text: reasoning, provider: 'openai' }] }),
  };
}
