import type { StreamPart } from '../../core/index.ts';
import type { EventStreamSpec } from '../shared/stream-events.ts';
import { mapFinishReason, mapUsage } from './response.ts';
import { ChatCompletionChunkWire, type ToolCallChunkWire, type UsageWire } from './wire.ts';

interface Slot {
  ordinal: number;
  id?: string | undefined;
  idSent: boolean;
  nameSent: boolean;
}

/**
 * Turns tool-call chunks into tool-call-delta parts. OpenAI keys fragments by `index`; the ordinal we
 * emit is assigned on first sight, so servers that omit `index`, or reuse index 0 for a second call
 * with a new id, still produce one call per id, in order.
 */
class ToolCallSlots {
  private readonly byIndex = new Map<number, Slot>();
  private last: Slot | undefined;
  private next = 0;

  parts(tc: ToolCallChunkWire): StreamPart[] {
    const key = tc.index ?? undefined;
    const id = tc.id ?? undefined;
    let slot = key !== undefined ? this.byIndex.get(key) : undefined;
    if (slot && id && slot.id && slot.id !== id) slot = undefined;
    if (!slot && key === undefined && !id) slot = this.last;
    let first = false;
    if (!slot) {
      slot = { ordinal: this.next++, id, idSent: false, nameSent: false };
      if (key !== undefined) this.byIndex.set(key, slot);
      first = true;
    }
    this.last = slot;
    const name = tc.function?.name ?? undefined;
    const args = tc.function?.arguments ?? '';
    const sendId = id !== undefined && !slot.idSent;
    const sendName = name !== undefined && name !== '' && !slot.nameSent;
    if (!first && !sendId && !sendName && args === '') return [];
    if (sendId) {
      slot.idSent = true;
      slot.id = id;
    }
    if (sendName) slot.nameSent = true;
    return [
      {
        type: 'tool-call-delta',
        index: slot.ordinal,
        ...(sendId && { id }),
        ...(sendName && { name }),
        argumentsDelta: args,
      },
    ];
  }
}

/**
 * Chat Completions SSE. `data: [DONE]` is the only successful end: a body that closes without it is
 * invalid_response even if a finish_reason was seen. The finish part is built at [DONE] from what the
 * chunks said about the reply as a whole.
 */
export function chatStreamSpec(fallbackModel: string): EventStreamSpec<ChatCompletionChunkWire> {
  return {
    framing: 'sse',
    chunk: ChatCompletionChunkWire,
    doneData: '[DONE]',
    endMarker: 'data: [DONE]',
    requestIdHeader: 'x-request-id',
    mapper: (headerId) => {
      let id: string | undefined;
      let model: string | undefined;
      let finishRaw: string | undefined;
      let usage: UsageWire | undefined;
      const tools = new ToolCallSlots();
      return {
        parts(chunk) {
          id ??= chunk.id ?? undefined;
          model ??= chunk.model ?? undefined;
          // The include_usage chunk (choices: []) is normally last; vendors that send usage unasked put it on
          // the finishing chunk (or Groq's x_groq). Latest wins, since usage is cumulative.
          const u = chunk.usage ?? chunk.x_groq?.usage;
          if (u) usage = u;
          const parts: StreamPart[] = [];
          const choice = chunk.choices.find((c) => (c.index ?? 0) === 0);
          if (!choice) return parts;
          const d = choice.delta;
          if (d) {
            const reasoning = d.reasoning_content ?? d.reasoning;
            if (reasoning) parts.push({ type: 'reasoning-delta', text: reasoning, provider: 'openai' });
            if (d.content) parts.push({ type: 'text-delta', text: d.content });
            // Refusal text is the model's answer too (see response.ts).
            if (d.refusal) parts.push({ type: 'text-delta', text: d.refusal });
            for (const tc of d.tool_calls ?? []) parts.push(...tools.parts(tc));
          }
          if (choice.finish_reason) finishRaw = choice.finish_reason;
          return parts;
        },
        finish: () => ({
          type: 'finish',
          finishReason: mapFinishReason(finishRaw),
          rawFinishReason: finishRaw,
          usage: mapUsage(usage),
          model: model ?? fallbackModel,
          providerRequestId: headerId ?? id,
        }),
      };
    },
  };
}
