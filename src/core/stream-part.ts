import type { ChatResponse, FinishReason, ToolCall, Usage } from './chat.ts';
import { GatewayError } from './gateway-error.ts';
import type { ReasoningPart } from './reasoning.ts';

/**
 * A fragment of one reasoning part (ReasoningPart). Fragments with the same `index` (default 0) build one part,
 * in order of first appearance: their text and signature fragments are concatenated, and the other fields are
 * set by whichever fragment carries them. A fragment may carry only a signature (text '').
 */
export interface ReasoningDelta {
  type: 'reasoning-delta';
  text: string;
  index?: number | undefined;
  signature?: string | undefined;
  redacted?: boolean | undefined;
  provider?: string | undefined;
  toolCallId?: string | undefined;
}

/**
 * One piece of a streamed reply. An adapter's stream yields `start` once the provider accepted the
 * request, then deltas, then exactly one terminal part (`finish` or `error`) and nothing after it.
 * Streams never throw: a failure at any point is an `error` part, so every consumer handles one path.
 */
export type StreamPart =
  | { type: 'start'; model?: string | undefined; providerRequestId?: string | undefined }
  | { type: 'text-delta'; text: string }
  | ReasoningDelta
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
 * Builds ReasoningParts from reasoning fragments (see ReasoningDelta). `newSegment` starts fresh indexes: a
 * resumed stream's parts come from another call and must not merge into the broken one's.
 */
export class ReasoningAccumulator {
  private readonly parts = new Map<string, ReasoningPart>();
  private segment = 0;
  private chars = '';

  add(d: Omit<ReasoningDelta, 'type'>): void {
    const key = `${this.segment}:${d.index ?? 0}`;
    let p = this.parts.get(key);
    if (!p) {
      p = { text: '' };
      this.parts.set(key, p);
    }
    p.text += d.text;
    if (d.redacted !== true) this.chars += d.text;
    if (d.signature !== undefined) p.signature = (p.signature ?? '') + d.signature;
    if (d.redacted !== undefined) p.redacted = d.redacted;
    if (d.provider !== undefined) p.provider = d.provider;
    if (d.toolCallId !== undefined) p.toolCallId = d.toolCallId;
  }

  newSegment(): void {
    this.segment++;
  }

  /** The readable reasoning so far. */
  get text(): string {
    return this.chars;
  }

  get size(): number {
    return this.parts.size;
  }

  /** The parts, without empty ones (no text and no signature). */
  toArray(): ReasoningPart[] {
    const out: ReasoningPart[] = [];
    for (const p of this.parts.values()) if (p.text !== '' || p.signature !== undefined) out.push({ ...p });
    return out;
  }

  /** `reasoning` and `reasoningParts` of a ChatResponse, or nothing when there was no reasoning. */
  fields(): Pick<ChatResponse, 'reasoning' | 'reasoningParts'> {
    const parts = this.toArray();
    return {
      ...(this.chars !== '' && { reasoning: this.chars }),
      ...(parts.length > 0 && { reasoningParts: parts }),
    };
  }
}

/** Whole parts as the fragments a live stream would have carried, one per part (replays, cascades). */
export function* reasoningDeltas(parts: readonly ReasoningPart[] | undefined): Generator<ReasoningDelta> {
  for (const [index, p] of (parts ?? []).entries()) yield { type: 'reasoning-delta', index, ...p };
}

/**
 * Folds a stream into the ChatResponse a non-streaming call would have returned. Throws the
 * stream's GatewayError (with the partial text) if it ended in an error, and treats a stream that
 * ends without a terminal part as an invalid response — never as success.
 */
export async function collectStream(parts: AsyncIterable<StreamPart>): Promise<ChatResponse> {
  let text = '';
  const reasoning = new ReasoningAccumulator();
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
        reasoning.add(part);
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
          ...reasoning.fields(),
        };
      case 'error':
        throw part.error.partialText === undefined ? part.error.with({ partialText: text }) : part.error;
    }
  }
  throw new GatewayError('invalid_response', 'stream ended without a finish or error part', { partialText: text });
}
