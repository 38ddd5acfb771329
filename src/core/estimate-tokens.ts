import type { ChatRequest } from './chat.ts';

/**
 * A fast, conservative estimate of a request's input tokens, for routing decisions (context-window fit,
 * expected cost) made before any provider has counted. About 4 characters per token for English prose,
 * rounded up, plus per-message overhead; images count a flat 85 tokens (a low-detail tile).
 */
export function estimateInputTokens(req: ChatRequest): number {
  let chars = 0;
  let extra = 3;
  for (const m of req.messages) {
    extra += 4;
    const content = m.content;
    if (typeof content === 'string') chars += content.length;
    else if (Array.isArray(content)) {
      for (const p of content) {
        if (p.type === 'text') chars += p.text.length;
        else extra += 85;
      }
    }
    if (m.role === 'assistant' && m.toolCalls) for (const c of m.toolCalls) chars += c.name.length + c.arguments.length;
    // Reasoning sent back is read again by the model (Anthropic bills the current turn's thinking as input).
    if (m.role === 'assistant' && m.reasoningParts) for (const r of m.reasoningParts) chars += r.text.length;
  }
  for (const t of req.tools ?? []) chars += t.name.length + (t.description?.length ?? 0) + JSON.stringify(t.parameters).length;
  if (req.responseFormat?.type === 'json_schema') chars += JSON.stringify(req.responseFormat.schema).length;
  return Math.ceil(chars / 4) + extra;
}
