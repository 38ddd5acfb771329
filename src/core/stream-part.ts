import type { ChatResponse, FinishReason, ToolCall, Usage } from './chat.ts';
import { GatewayError } from './gateway-error.ts';

/**
 * One piece of a streamed reply. An adapter's stream yields `start` once the provider accepted the
 * request, then deltas, then exactly one terminal part (`finish` or `error`) and nothing after it.
 * Streams never throw: a failure at any point is an `error` part, so every consumer handles one path.
 */
export type StreamPart =
  | { type: 'start'; model?: string | undefined; providerRequestId?: string | undefined }
  | { type: 'text-delta'; text: string }
  | { type: 'reasoning-delta'; text: string }
  | {
      type: 'tool-call-delta';
      /** Position of the call in this reply; fragments of one call share it. */
      index: number;
      /** Set on the first fragment of a call. */
      id?: string | undefined;
      /** Set on the first fragment of a call. */
      name?: string | undefined;
      argumentsDelta: string;
    }
  | {
      type: 'finish';
      finishReason: FinishReason;
      rawFinishReason?: string | undefined;
      usage: Usage;
      model?: string | undefined;
      providerRequestId?: string | undefined;
    }
  | { type: 'error'; error: GatewayError };

export type TerminalPart = Extract<StreamPart, { type: 'finish' | 'error' }>;

/** Accumulates tool-call fragments by index, in order of first appearance. */
export class ToolCallAccumulator {
  private readonly calls = new Map<number, { id: string; name: string; arguments: string }>();

  add(part: Extract<StreamPart, { type: 'tool-call-delta' }>): void {
    const existing = this.calls.get(part.index);
    if (existing) {
      if (part.id) existing.id = part.id;
      if (part.name) existing.name = part.name;
      existing.arguments += part.argumentsDelta;
    } else {
      this.calls.set(part.index, { id: part.id ?? '', name: part.name ?? '', arguments: part.argumentsDelta });
    }
  }

  get size(): number {
    return this.calls.size;
  }

  toArray(): ToolCall[] {
    return [...this.calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => ({ ...c }));
  }
}

/**
 * Folds a stream into the ChatResponse a non-streaming call would have returned. Throws the
 * stream's GatewayError (with the partial text) if it ended in an error, and treats a stream that
 * ends without a terminal part as an invalid response — never as success.
 */
export async function collectStream(parts: AsyncIterable<StreamPart>): Promise<ChatResponse> {
  let text = '';
  let reasoning = '';
  let model = '';
  let providerRequestId: string | undefined;
  const tools = new ToolCallAccumulator();
  for await (const part of parts) {
    switch (part.type) {
      case 'start':
        if (part.model) model = part.model;
        if (part.providerRequestId) providerRequestId = part.providerRequestId;
        break;
      case 'text-delta':
        text += part.text;
        break;
      case 'reasoning-delta':
        reasoning += part.text;
        break;
      case 'tool-call-delta':
        tools.add(part);
        break;
      case 'finish':
        return {
          text,
          toolCalls: tools.toArray(),
          finishReason: part.finishReason,
          ...(part.rawFinishReason !== undefined && { rawFinishReason: part.rawFinishReason }),
          usage: part.usage,
          model: part.model ?? model,
          ...((part.providerRequestId ?? providerRequestId) !== undefined && {
            providerRequestId: part.providerRequestId ?? providerRequestId,
          }),
          ...(reasoning && { reasoning }),
        };
      case 'error':
        throw part.error.partialText === undefined ? part.error.with({ partialText: text }) : part.error;
    }
  }
  throw new GatewayError('invalid_response', 'stream ended without a finish or error part', { partialText: text });
}
