import { ReasoningAccumulator, type ChatResponse, type FinishReason, type ToolCall, type Usage } from '../../core/index.ts';
import type { MessageWire, UsageWire } from './wire.ts';

/** stop_reason → our finish reason (table in the protocol README); unknown values are a normal stop. */
export function finishReasonOf(raw: string | null | undefined): { finishReason: FinishReason; rawFinishReason?: string } {
  if (raw == null) return { finishReason: 'stop' };
  switch (raw) {
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return { finishReason: 'stop', rawFinishReason: raw };
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return { finishReason: 'length', rawFinishReason: raw };
    case 'tool_use':
      return { finishReason: 'tool_calls', rawFinishReason: raw };
    case 'refusal':
      return { finishReason: 'content_filter', rawFinishReason: raw };
    default:
      return { finishReason: 'stop', rawFinishReason: raw };
  }
}

/**
 * Anthropic reports cache reads and writes outside input_tokens; our inputTokens is the whole prompt,
 * so they are added back. output_tokens already includes thinking tokens.
 */
export function usageOf(u: UsageWire | undefined): Usage {
  const cacheRead = u?.cache_read_input_tokens ?? 0;
  const cacheWrite = u?.cache_creation_input_tokens ?? 0;
  return {
    inputTokens: (u?.input_tokens ?? 0) + cacheRead + cacheWrite,
    outputTokens: u?.output_tokens ?? 0,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: u?.output_tokens_details?.thinking_tokens ?? 0,
  };
}

/** Who signed the reasoning parts this adapter reads (ReasoningPart.provider). */
export const PROTOCOL = 'anthropic';

/** A thinking block (or its streamed pieces) as a reasoning fragment; the content index keeps blocks apart. */
export function thinkingDelta(index: number, thinking: string, signature?: string | null) {
  return { text: thinking, index, provider: PROTOCOL, ...(signature ? { signature } : {}) };
}

/** A redacted_thinking block: no readable text, its encrypted data is what goes back. */
export function redactedDelta(index: number, data: string) {
  return { text: '', index, provider: PROTOCOL, redacted: true, signature: data };
}

/** A Message body → ChatResponse. */
export function toChatResponse(msg: MessageWire, requestIdHeader: string | undefined): ChatResponse {
  let out = '';
  const reasoning = new ReasoningAccumulator();
  const toolCalls: ToolCall[] = [];
  for (const [index, block] of msg.content.entries()) {
    if (block.type === 'text') out += block.text;
    else if (block.type === 'thinking') reasoning.add(thinkingDelta(index, block.thinking, block.signature));
    else if (block.type === 'redacted_thinking') reasoning.add(redactedDelta(index, block.data));
    // Anthropic sends an object; the contract wants JSON text, serialized exactly once.
    else if (block.type === 'tool_use') toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input) });
    // Server-side tool blocks (web search, code execution) have no place in the contract.
  }
  return {
    text: out,
    toolCalls,
    ...finishReasonOf(msg.stop_reason),
    usage: usageOf(msg.usage),
    model: msg.model,
    providerRequestId: requestIdHeader ?? msg.id,
    ...reasoning.fields(),
  };
}
