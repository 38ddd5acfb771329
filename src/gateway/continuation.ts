import type { ChatRequest, StreamPart } from '../core/index.ts';
import { protocolInfo } from '../core/protocols.ts';

/**
 * How a broken stream is continued on another target (`resumeStreams: true`). The text the client
 * already has is appended as an assistant message, in the protocol's continuation style (the
 * protocol table, src/core/protocols.ts):
 * - `prefill` (Anthropic) continues a trailing assistant message natively; it rejects one ending in
 *   whitespace, so the prefill is trimmed at the end;
 * - `instruction` (OpenAI and its presets, Gemini, Ollama) treats a trailing assistant message as a
 *   finished turn, so a user message asks the model to continue exactly where it stopped.
 * Either way the model is not guaranteed to pick up mid-word; `spliceContinuation` drops a leading
 * space the client already has, and nothing else is rewritten.
 */
export const CONTINUE_INSTRUCTION =
  'Your previous message was cut off. Continue it exactly where it stopped: output only the rest, without repeating anything and without any preface.';

export function continuationRequest(chat: ChatRequest, partialText: string, protocol: string): ChatRequest {
  if (protocolInfo(protocol)?.continuation === 'prefill') {
    return { ...chat, messages: [...chat.messages, { role: 'assistant', content: partialText.trimEnd() }] };
  }
  return {
    ...chat,
    messages: [...chat.messages, { role: 'assistant', content: partialText }, { role: 'user', content: CONTINUE_INSTRUCTION }],
  };
}

/** The continuation's parts, with leading whitespace of its first text dropped when the partial text already ends in some. */
export async function* spliceContinuation(parts: AsyncIterable<StreamPart>, partialText: string): AsyncGenerator<StreamPart> {
  let first = !/\s$/.test(partialText);
  for await (const p of parts) {
    if (!first && p.type === 'text-delta') {
      const text = p.text.replace(/^\s+/, '');
      if (text === '') continue;
      first = true;
      yield { ...p, text };
      continue;
    }
    yield p;
  }
}
