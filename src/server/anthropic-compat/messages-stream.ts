import { randomBytes } from 'node:crypto';
import { GatewayError, type Completion, type ReasoningDelta } from '../../core/index.ts';
import { anthropicErrorEvent } from './anthropic-errors.ts';
import { stopReasonOf, usageBody } from './messages-response.ts';
import { signatureOf } from './thinking-blocks.ts';

/**
 * Encodes a streamed completion as Anthropic's SSE event sequence: message_start, ping, then per content
 * block content_block_start → content_block_delta… (text_delta, input_json_delta, thinking_delta and one
 * signature_delta) → content_block_stop, then message_delta (stop reason
 * and the whole usage) and message_stop; or, after the first event, one `error` event and nothing more.
 *
 * The gateway's deltas carry no block boundaries, so this opens a block when the kind of delta changes
 * (text, tool call i, reasoning part i) and closes the open one first. Each method returns the frames to write.
 */

/** A thinking block collects its signature and provenance: one signature_delta, sent when it closes. */
interface ThinkingBlock {
  kind: 'thinking';
  part: number;
  signature?: string | undefined;
  provider?: string | undefined;
  toolCallId?: string | undefined;
}

type OpenBlock = { kind: 'text' } | { kind: 'tool'; call: number } | { kind: 'redacted' } | ThinkingBlock;

function frame(event: string, data: Record<string, unknown>): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** `toolu_` + 24 base62 characters, for a call whose provider sent no id (the block must have one). */
function toolUseId(): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let id = 'toolu_';
  for (const b of randomBytes(24)) id += alphabet[b % 62];
  return id;
}

export class MessageStreamEncoder {
  private readonly id: string;
  private readonly model: string;
  private readonly requestId: string;
  /** Index of the next content block. */
  private next = 0;
  private open: OpenBlock | undefined;
  private readonly toolsSeen = new Set<number>();

  /** `model`: the deployment's model; `requestId`: put on an error event, as on an error response. */
  constructor(id: string, model: string, requestId: string) {
    this.id = id;
    this.model = model;
    this.requestId = requestId;
  }

  /**
   * message_start and a ping. Input and cache counts are final only at the end (other protocols report
   * them last), so here they are the gateway's estimate and message_delta carries the real ones — which
   * current Anthropic SDKs take over the start's.
   */
  start(estimatedInputTokens: number): string {
    const message = {
      id: this.id,
      type: 'message',
      role: 'assistant',
      model: this.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: estimatedInputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
    };
    return frame('message_start', { type: 'message_start', message }) + frame('ping', { type: 'ping' });
  }

  private close(): string {
    const open = this.open;
    if (!open) return '';
    this.open = undefined;
    let out = '';
    if (open.kind === 'thinking') {
      // The SDK keeps the last signature_delta of a block, not their sum: the whole signature, once.
      const signature = signatureOf(open);
      if (signature !== '') out = this.delta({ type: 'signature_delta', signature });
    }
    return out + frame('content_block_stop', { type: 'content_block_stop', index: this.next - 1 });
  }

  private begin(block: OpenBlock, contentBlock: Record<string, unknown>): string {
    const out = this.close();
    this.open = block;
    return out + frame('content_block_start', { type: 'content_block_start', index: this.next++, content_block: contentBlock });
  }

  private delta(delta: Record<string, unknown>): string {
    return frame('content_block_delta', { type: 'content_block_delta', index: this.next - 1, delta });
  }

  /**
   * A reasoning fragment: text goes out as thinking_delta at once, the signature when the block closes. A
   * redacted part arrives whole and is a block of its own. Fragments of a part whose block has closed
   * (no protocol we speak sends them) open a new block rather than being lost.
   */
  reasoning(d: ReasoningDelta): string {
    if (d.redacted === true) return this.begin({ kind: 'redacted' }, { type: 'redacted_thinking', data: signatureOf(d) }) + this.close();
    const part = d.index ?? 0;
    let head = '';
    if (this.open?.kind !== 'thinking' || this.open.part !== part) head = this.begin({ kind: 'thinking', part }, { type: 'thinking', thinking: '', signature: '' });
    const block = this.open as ThinkingBlock;
    if (d.signature !== undefined) block.signature = (block.signature ?? '') + d.signature;
    if (d.provider !== undefined) block.provider = d.provider;
    if (d.toolCallId !== undefined) block.toolCallId = d.toolCallId;
    return head + (d.text === '' ? '' : this.delta({ type: 'thinking_delta', thinking: d.text }));
  }

  text(text: string): string {
    const head = this.open?.kind === 'text' ? '' : this.begin({ kind: 'text' }, { type: 'text', text: '' });
    return head + this.delta({ type: 'text_delta', text });
  }

  /**
   * A fragment of tool call `call`. Anthropic cannot go back to a closed block, so a provider that
   * interleaves the fragments of two calls is a broken answer here (no protocol we speak does).
   */
  toolCall(call: number, id: string | undefined, name: string | undefined, argumentsDelta: string): string {
    let head = '';
    if (this.open?.kind !== 'tool' || this.open.call !== call) {
      if (this.toolsSeen.has(call)) throw new GatewayError('invalid_response', `the provider interleaved the fragments of tool call ${call} with another block`);
      this.toolsSeen.add(call);
      head = this.begin({ kind: 'tool', call }, { type: 'tool_use', id: id ?? toolUseId(), name: name ?? '', input: {} });
    }
    return argumentsDelta === '' && head === '' ? '' : head + this.delta({ type: 'input_json_delta', partial_json: argumentsDelta });
  }

  /** The end of a stream that completed: the open block's stop, message_delta and message_stop. */
  finish(c: Completion): string {
    const delta = { stop_reason: stopReasonOf(c.finishReason, c.message.toolCalls.length > 0), stop_sequence: null };
    return this.close() + frame('message_delta', { type: 'message_delta', delta, usage: usageBody(c.usage) }) + frame('message_stop', { type: 'message_stop' });
  }

  /** The end of a stream that failed after its first event: no block stop, no message_stop — it did not complete. */
  error(e: GatewayError): string {
    return anthropicErrorEvent(e, this.requestId);
  }
}
