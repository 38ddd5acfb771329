import { GatewayError, REASONING_BUDGET_TOKENS, reasoningPartsFor, type ChatRequest, type Message } from '../../core/index.ts';

/**
 * Claude's extended thinking, wherever Claude is served (Anthropic's API, Bedrock's Converse): the same effort →
 * budget mapping and the same rules, so a request is refused or sent alike on both.
 */

/**
 * A tool result answering an assistant turn that called a tool without signed thinking of this protocol: Claude
 * refuses to think on such a continuation, so thinking is left off for it.
 */
function continuesUnsignedToolTurn(messages: readonly Message[], protocol: string): boolean {
  if (messages.at(-1)?.role !== 'tool') return false;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'assistant') return (m.toolCalls?.length ?? 0) > 0 && reasoningPartsFor(m.reasoningParts, protocol).length === 0;
    if (m.role !== 'tool') return false;
  }
  return false;
}

/**
 * reasoningEffort → extended thinking with the effort's budget (REASONING_BUDGET_TOKENS). Claude counts thinking
 * inside max tokens and wants them above the budget, so the budget is added on top of the answer's own allowance:
 * the request's max tokens keep bounding the visible answer. Thinking does not work with a changed temperature, a
 * top_p under 0.95 or a forced tool choice; such a request is refused here (unsupported_feature, so a route tries
 * its next target) instead of sent for a 400.
 */
export function claudeThinking(
  provider: string,
  protocol: string,
  req: ChatRequest,
  answerTokens: number,
): { thinking: { type: 'enabled'; budget_tokens: number }; maxTokens: number } | undefined {
  if (req.reasoningEffort === undefined || continuesUnsignedToolTurn(req.messages, protocol)) return undefined;
  const refuse = (param: string, why: string) => new GatewayError('unsupported_feature', `${provider}: Claude extended thinking (reasoningEffort) ${why}`, { provider, param });
  if (req.temperature !== undefined && req.temperature !== 1) throw refuse('temperature', 'works only with temperature 1');
  if (req.topP !== undefined && req.topP < 0.95) throw refuse('topP', 'needs top_p of 0.95 or more');
  if (req.toolChoice === 'required' || typeof req.toolChoice === 'object') throw refuse('toolChoice', 'cannot force a tool call');
  const budget = REASONING_BUDGET_TOKENS[req.reasoningEffort];
  return { thinking: { type: 'enabled', budget_tokens: budget }, maxTokens: budget + answerTokens };
}
