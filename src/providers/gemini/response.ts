import type { ChatResponse, FinishReason, ToolCall, Usage } from '../../core/index.ts';
import { invalidResponse } from '../shared/http-errors.ts';
import { syntheticCallId } from './request.ts';
import type { FunctionCall, GenerateContentResponse, UsageMetadata } from './wire.ts';

/** Gemini GenerateContentResponse → ChatResponse, plus the mappings the stream shares. */

const CONTENT_FILTER = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

/**
 * Gemini has no tool finish reason: a reply that called functions ends with STOP, so the presence of
 * calls decides. MALFORMED_FUNCTION_CALL is the model failing, never a normal stop.
 */
export function mapFinishReason(raw: string, hasToolCalls: boolean): FinishReason {
  if (raw === 'STOP') return hasToolCalls ? 'tool_calls' : 'stop';
  if (raw === 'MAX_TOKENS') return 'length';
  if (CONTENT_FILTER.has(raw)) return 'content_filter';
  if (raw === 'MALFORMED_FUNCTION_CALL') return 'error';
  return 'stop';
}

/**
 * Gemini's counts → our normalized Usage:
 * - promptTokenCount already includes cachedContentTokenCount (cache hits are a part of the prompt);
 * - toolUsePromptTokenCount (results of Google-run tools fed back to the model) is prompt input kept
 *   outside promptTokenCount, so it is added to inputTokens rather than dropped;
 * - thoughtsTokenCount is NOT inside candidatesTokenCount (the reference's totalTokenCount
 *   9 + 28 + 244 = 281 shows it counted separately), so outputTokens = candidates + thoughts.
 */
export function mapUsage(u: UsageMetadata | undefined): Usage {
  const thoughts = u?.thoughtsTokenCount ?? 0;
  return {
    inputTokens: (u?.promptTokenCount ?? 0) + (u?.toolUsePromptTokenCount ?? 0),
    outputTokens: (u?.candidatesTokenCount ?? 0) + thoughts,
    cachedInputTokens: u?.cachedContentTokenCount ?? 0,
    cacheWriteTokens: 0,
    reasoningTokens: thoughts,
  };
}

/** Gemini sends each call whole, as an object; our contract wants its JSON text, serialized once. */
export function toToolCall(fc: FunctionCall, ordinal: number): ToolCall {
  return { id: fc.id || syntheticCallId(ordinal), name: fc.name, arguments: JSON.stringify(fc.args ?? {}) };
}

export function toChatResponse(
  provider: string,
  body: GenerateContentResponse,
  fallbackModel: string,
  requestIdHeader: string | undefined,
): ChatResponse {
  const candidate = body.candidates?.[0];
  const blockReason = body.promptFeedback?.blockReason;
  const base = {
    usage: mapUsage(body.usageMetadata),
    model: body.modelVersion ?? fallbackModel,
    ...((requestIdHeader ?? body.responseId) !== undefined && { providerRequestId: requestIdHeader ?? body.responseId }),
  };
  if (!candidate) {
    // A prompt blocked before generation has no candidate, only the reason it was blocked.
    if (blockReason) return { text: '', toolCalls: [], finishReason: 'content_filter', rawFinishReason: blockReason, ...base };
    throw invalidResponse(provider, 'response has no candidates');
  }
  let text = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const part of candidate.content?.parts ?? []) {
    if (part.functionCall) toolCalls.push(toToolCall(part.functionCall, toolCalls.length));
    else if (part.text !== undefined) {
      if (part.thought) reasoning += part.text;
      else text += part.text;
    }
  }
  const raw = candidate.finishReason ?? blockReason;
  if (raw === undefined) {
    throw invalidResponse(provider, 'response has no finishReason');
  }
  return {
    text,
    toolCalls,
    finishReason: candidate.finishReason ? mapFinishReason(raw, toolCalls.length > 0) : 'content_filter',
    rawFinishReason: raw,
    ...base,
    ...(reasoning && { reasoning }),
  };
}
