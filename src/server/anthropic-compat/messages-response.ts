import { GatewayError, type Completion, type FinishReason, type ReasoningPart, type ToolCall, type Usage } from '../../core/index.ts';
import { thinkingBlocksOf } from './thinking-blocks.ts';

/**
 * A Completion as an Anthropic `message` object. Whatever protocol answered, the client reads what
 * Anthropic would have sent: content blocks, Anthropic's stop reasons and its usage split.
 */

/** `msg_…` with the completion's own random part, so the ledger's `cmpl_…` id and this one are one request. */
export function messageIdOf(completionId: string): string {
  return `msg_${completionId.replace(/^cmpl_/, '')}`;
}

/**
 * Our finish reason → Anthropic's stop_reason. A reply with tool calls is `tool_use` whatever the provider
 * called it: an Anthropic client runs the tools only on that reason. Our vocabulary folds `stop_sequence`
 * into `stop`, so a stop is `end_turn`. `error` and `other` (the provider named no reason) are also a stop:
 * Anthropic has no failed stop reason, and a failed call is an error, not a completion.
 */
export function stopReasonOf(reason: FinishReason, hasToolCalls: boolean): string {
  if (hasToolCalls) return 'tool_use';
  switch (reason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    case 'stop':
    case 'error':
    case 'other':
      return 'end_turn';
  }
}

/**
 * Anthropic's usage: `input_tokens` excludes cache reads and writes, which have their own counts (our
 * inputTokens is the whole prompt, cache included), and output_tokens includes thinking.
 */
export function usageBody(u: Usage): { input_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number; output_tokens: number } {
  return {
    input_tokens: Math.max(0, u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens),
    cache_creation_input_tokens: u.cacheWriteTokens,
    cache_read_input_tokens: u.cachedInputTokens,
    output_tokens: u.outputTokens,
  };
}

/** A tool call's JSON text as the object Anthropic's `input` is; anything else is a broken answer, not `{}`. */
export function toolInputOf(call: ToolCall): Record<string, unknown> {
  if (call.arguments.trim() === '') return {};
  let input: unknown;
  try {
    input = JSON.parse(call.arguments);
  } catch {
    input = undefined;
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new GatewayError('invalid_response', `the model's arguments for tool call ${call.id} (${call.name}) are not a JSON object`);
  }
  return input as Record<string, unknown>;
}

/** A completion's reasoning as parts (a provider that reported text only gives one unsigned part). */
export function reasoningPartsOf(message: Completion['message']): ReasoningPart[] {
  if (message.reasoningParts?.length) return message.reasoningParts;
  return message.reasoning ? [{ text: message.reasoning }] : [];
}

/** Thinking blocks first, as Anthropic sends them (and wants them back), then the text and the tool calls. */
export function messageBody(c: Completion): Record<string, unknown> {
  const content: Record<string, unknown>[] = thinkingBlocksOf(reasoningPartsOf(c.message));
  const text = c.message.content ?? '';
  if (text !== '') content.push({ type: 'text', text });
  for (const t of c.message.toolCalls) content.push({ type: 'tool_use', id: t.id, name: t.name, input: toolInputOf(t) });
  return {
    id: messageIdOf(c.id),
    type: 'message',
    role: 'assistant',
    model: c.model,
    content,
    stop_reason: stopReasonOf(c.finishReason, c.message.toolCalls.length > 0),
    stop_sequence: null,
    usage: usageBody(c.usage),
  };
}
