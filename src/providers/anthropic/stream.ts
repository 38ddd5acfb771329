import type { StreamPart } from '../../core/index.ts';
import { invalidResponse, tryParseJson } from '../shared/http-errors.ts';
import type { EventStreamSpec } from '../shared/stream-events.ts';
import { streamError } from './errors.ts';
import { finishReasonOf, redactedDelta, thinkingDelta, usageOf } from './response.ts';
import { StreamEventWire, type UsageWire } from './wire.ts';

type BlockState =
  | { kind: 'text' | 'thinking' | 'other'; closed: boolean }
  | { kind: 'tool'; closed: boolean; ordinal: number; args: string; input: Record<string, unknown> };

/**
 * Folds Anthropic's SSE events into StreamParts. Content blocks are addressed by their content index,
 * but our tool-call `index` is the ordinal among tool_use blocks, so the two are mapped here.
 * `parts` returns the parts one event produces; a terminal part is always the last one.
 */
export class MessageStreamState {
  private readonly provider: string;
  private readonly requestId: string | undefined;
  private started = false;
  private id = '';
  private model = '';
  private usage: UsageWire = {};
  private stopReason: string | null | undefined;
  private readonly blocks = new Map<number, BlockState>();
  private toolCount = 0;

  constructor(provider: string, requestId: string | undefined) {
    this.provider = provider;
    this.requestId = requestId;
  }

  private fail(message: string): StreamPart[] {
    return [{ type: 'error', error: invalidResponse(this.provider, message) }];
  }

  parts(e: StreamEventWire): StreamPart[] {
    switch (e.type) {
      case 'ping':
      case 'unknown':
        return [];
      case 'error':
        return [{ type: 'error', error: streamError(this.provider, e.error) }];
      case 'message_start':
        this.started = true;
        this.id = e.message.id;
        this.model = e.message.model;
        this.mergeUsage(e.message.usage);
        return [];
      default:
        break;
    }
    if (!this.started) return this.fail(`${e.type} before message_start`);
    switch (e.type) {
      case 'content_block_start':
        return this.startBlock(e.index, e.content_block);
      case 'content_block_delta':
        return this.delta(e.index, e.delta);
      case 'content_block_stop':
        return this.stopBlock(e.index);
      case 'message_delta':
        if (e.delta.stop_reason != null) this.stopReason = e.delta.stop_reason;
        this.mergeUsage(e.usage);
        return [];
      case 'message_stop':
        return [
          {
            type: 'finish',
            ...finishReasonOf(this.stopReason),
            usage: usageOf(this.usage),
            model: this.model,
            providerRequestId: this.requestId ?? this.id,
          },
        ];
    }
  }

  /** message_delta usage is cumulative and may repeat (or update) the input and cache counts. */
  private mergeUsage(u: UsageWire | null | undefined): void {
    if (!u) return;
    for (const [k, v] of Object.entries(u)) if (v != null) (this.usage as Record<string, unknown>)[k] = v;
  }

  private startBlock(index: number, block: Extract<StreamEventWire, { type: 'content_block_start' }>['content_block']): StreamPart[] {
    if (this.blocks.has(index)) return this.fail(`content block ${index} started twice`);
    switch (block.type) {
      case 'text':
        this.blocks.set(index, { kind: 'text', closed: false });
        return this.emitText(block.text);
      case 'thinking':
        this.blocks.set(index, { kind: 'thinking', closed: false });
        return block.thinking || block.signature ? [{ type: 'reasoning-delta', ...thinkingDelta(index, block.thinking, block.signature) }] : [];
      case 'redacted_thinking':
        // Arrives whole in its start event; its data must go back verbatim with the turn.
        this.blocks.set(index, { kind: 'other', closed: false });
        return [{ type: 'reasoning-delta', ...redactedDelta(index, block.data) }];
      case 'tool_use': {
        const ordinal = this.toolCount++;
        this.blocks.set(index, { kind: 'tool', closed: false, ordinal, args: '', input: block.input });
        // Announce the call at once (id and name), so clients can show it before its arguments arrive.
        return [{ type: 'tool-call-delta', index: ordinal, id: block.id, name: block.name, argumentsDelta: '' }];
      }
      default:
        // Server-side tool blocks are not part of the contract.
        this.blocks.set(index, { kind: 'other', closed: false });
        return [];
    }
  }

  private delta(index: number, delta: Extract<StreamEventWire, { type: 'content_block_delta' }>['delta']): StreamPart[] {
    const block = this.blocks.get(index);
    if (!block || block.closed) return this.fail(`delta for content block ${index}, which is not open`);
    if (block.kind === 'other' || delta.type === 'unknown') return [];
    switch (delta.type) {
      case 'signature_delta':
        // Closes a thinking block: without it the block cannot be sent back on the next turn.
        if (block.kind !== 'thinking') break;
        return delta.signature ? [{ type: 'reasoning-delta', ...thinkingDelta(index, '', delta.signature) }] : [];
      case 'text_delta':
        if (block.kind !== 'text') break;
        return this.emitText(delta.text);
      case 'thinking_delta':
        if (block.kind !== 'thinking') break;
        return delta.thinking ? [{ type: 'reasoning-delta', ...thinkingDelta(index, delta.thinking) }] : [];
      case 'input_json_delta':
        if (block.kind !== 'tool') break;
        if (delta.partial_json === '') return [];
        block.args += delta.partial_json;
        return [{ type: 'tool-call-delta', index: block.ordinal, argumentsDelta: delta.partial_json }];
    }
    return this.fail(`${delta.type} in a ${block.kind} block`);
  }

  private stopBlock(index: number): StreamPart[] {
    const block = this.blocks.get(index);
    if (!block || block.closed) return this.fail(`content_block_stop for block ${index}, which is not open`);
    block.closed = true;
    if (block.kind !== 'tool') return [];
    if (block.args === '') {
      // A call without arguments streams only "" (or nothing); send the object the non-streamed reply has.
      const args = JSON.stringify(block.input);
      block.args = args;
      return [{ type: 'tool-call-delta', index: block.ordinal, argumentsDelta: args }];
    }
    if (tryParseJson(block.args) === undefined) return this.fail(`arguments of tool call ${block.ordinal} are not valid JSON`);
    return [];
  }

  private emitText(text: string): StreamPart[] {
    return text ? [{ type: 'text-delta', text }] : [];
  }
}

/** Messages SSE: `start` after OK headers, deltas, then `message_stop` (the finish part) or an error. */
export function messageStreamSpec(provider: string): EventStreamSpec<StreamEventWire> {
  return {
    framing: 'sse',
    chunk: StreamEventWire,
    ignoreEvents: ['ping'],
    endMarker: 'message_stop',
    requestIdHeader: 'request-id',
    mapper: (requestId) => new MessageStreamState(provider, requestId),
  };
}
