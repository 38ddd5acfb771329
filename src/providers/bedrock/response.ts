import { ReasoningAccumulator, type ChatResponse, type FinishReason, type ReasoningDelta, type ToolCall, type Usage } from '../../core/index.ts';
import { PROTOCOL } from './request.ts';
import type { ConverseResponseWire, TokenUsageWire } from './wire.ts';

/** Converse stopReason → our finish reason; unknown values are a normal stop, kept raw. */
export function finishReasonOf(raw: string | null | undefined): { finishReason: FinishReason; rawFinishReason?: string } {
  if (raw == null) return { finishReason: 'stop' };
  switch (raw) {
    case 'end_turn':
    case 'stop_sequence':
      return { finishReason: 'stop', rawFinishReason: raw };
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return { finishReason: 'length', rawFinishReason: raw };
    case 'tool_use':
      return { finishReason: 'tool_calls', rawFinishReason: raw };
    case 'content_filtered':
    case 'guardrail_intervened':
      return { finishReason: 'content_filter', rawFinishReason: raw };
    case 'malformed_model_output':
    case 'malformed_tool_use':
      return { finishReason: 'error', rawFinishReason: raw };
    default:
      return { finishReason: 'stop', rawFinishReason: raw };
  }
}

/**
 * Bedrock reports cache reads and writes outside inputTokens (totalTokens = input + output + both); our inputTokens
 * is the whole prompt, so they are added back. Thinking is inside outputTokens and not broken out.
 */
export function usageOf(u: TokenUsageWire): Usage {
  const cacheRead = u.cacheReadInputTokens ?? 0;
  const cacheWrite = u.cacheWriteInputTokens ?? 0;
  return {
    inputTokens: u.inputTokens + cacheRead + cacheWrite,
    outputTokens: u.outputTokens,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: 0,
  };
}

/** A reasoning text fragment (or a signature alone) of content block `index`. */
export function reasoningDelta(index: number, text: string, signature?: string | null): Omit<ReasoningDelta, 'type'> {
  return { text, index, provider: PROTOCOL, ...(signature ? { signature } : {}) };
}

/** Redacted reasoning: no readable text, its encrypted bytes (base64) are what goes back. */
export function redactedDelta(index: number, data: string): Omit<ReasoningDelta, 'type'> {
  return { text: '', index, provider: PROTOCOL, redacted: true, signature: data };
}

/** A Converse reply → ChatResponse. Converse does not name the model, so the routed one is reported. */
export function toChatResponse(res: ConverseResponseWire, model: string, requestId: string | undefined): ChatResponse {
  let text = '';
  const reasoning = new ReasoningAccumulator();
  const toolCalls: ToolCall[] = [];
  for (const [index, block] of res.output.message.content.entries()) {
    if (typeof block.text === 'string') text += block.text;
    // Converse sends an object; the contract wants JSON text, serialized exactly once.
    else if (block.toolUse) toolCalls.push({ id: block.toolUse.toolUseId, name: block.toolUse.name, arguments: JSON.stringify(block.toolUse.input ?? {}) });
    else if (block.reasoningContent?.reasoningText) {
      const r = block.reasoningContent.reasoningText;
      reasoning.add(reasoningDelta(index, r.text, r.signature));
    } else if (block.reasoningContent?.redactedContent) reasoning.add(redactedDelta(index, block.reasoningContent.redactedContent));
    // Citations, images and other blocks have no place in the contract.
  }
  return {
    text,
    toolCalls,
    ...finishReasonOf(res.stopReason),
    usage: usageOf(res.usage),
    model,
    ...(requestId !== undefined && { providerRequestId: requestId }),
    ...reasoning.fields(),
  };
}
