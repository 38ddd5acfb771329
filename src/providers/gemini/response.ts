import { ReasoningAccumulator, type ChatResponse, type FinishReason, type ReasoningDelta, type ToolCall, type Usage } from '../../core/index.ts';
import { invalidResponse } from '../shared/http-errors.ts';
import { syntheticCallId } from './request.ts';
import type { FunctionCall, GenerateContentResponse, UsageMetadata } from './wire.ts';

type ResponsePart = NonNullable<NonNullable<NonNullable<GenerateContentResponse['candidates']>[number]['content']>['parts']>[number];

/**
 * Numbers Gemini's reasoning as reasoning fragments (ReasoningDelta) part by part. Consecutive thought chunks
 * form one reasoning part until a signature closes it; a signature on a text or function-call part is a part of
 * its own (tied to the call by `toolCallId`), so it can go back on the part that carried it.
 */
export class GeminiReasoning {
  private index = 0;
  private open = false;

  /** The fragments of one response part; `callId` is set for a function-call part. */
  of(part: ResponsePart, callId?: string): ReasoningDelta[] {
    const signature = part.thoughtSignature || undefined;
    if (part.thought === true && part.functionCall === undefined) {
      if (!part.text && signature === undefined) return [];
      const d = this.delta(part.text ?? '', signature);
      this.open = signature === undefined;
      if (!this.open) this.index++;
      return [d];
    }
    if (this.open) {
      this.index++;
      this.open = false;
    }
    if (signature === undefined) return [];
    const d = { ...this.delta('', signature), ...(callId !== undefined && { toolCallId: callId }) };
    this.index++;
    return [d];
  }

  private delta(text: string, signature: string | undefined): ReasoningDelta {
    return { type: 'reasoning-delta', text, index: this.index, provider: 'gemini', ...(signature !== undefined && { signature }) };
  }
}

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
  const reasoning = new ReasoningAccumulator();
  const signed = new GeminiReasoning();
  const toolCalls: ToolCall[] = [];
  for (const part of candidate.content?.parts ?? []) {
    let callId: string | undefined;
    if (part.functionCall) {
      const call = toToolCall(part.functionCall, toolCalls.length);
      toolCalls.push(call);
      callId = call.id;
    } else if (part.text !== undefined && !part.thought) text += part.text;
    for (const d of signed.of(part, callId)) reasoning.add(d);
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
    ...reasoning.fields(),
  };
}
