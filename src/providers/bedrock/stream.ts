import type { StreamPart } from '../../core/index.ts';
import { invalidResponse, tryParseJson } from '../shared/http-errors.ts';
import type { EventStreamSpec, FinishPart } from '../shared/stream-events.ts';
import { finishReasonOf, reasoningDelta, redactedDelta, usageOf } from './response.ts';
import { StreamEventWire, type TokenUsageWire } from './wire.ts';

type BlockState = { kind: 'text' | 'reasoning'; closed: boolean } | { kind: 'tool'; closed: boolean; ordinal: number; args: string };

type Delta = NonNullable<StreamEventWire['contentBlockDelta']>['delta'];

/**
 * Folds ConverseStream events into StreamParts. Blocks are addressed by contentBlockIndex; text and reasoning blocks
 * have no start event (their first delta opens them), a tool block starts with its id and name. Our tool-call `index`
 * is the ordinal among tool blocks. The reply is complete once both `messageStop` (the stop reason) and `metadata`
 * (the usage, sent last) have arrived; a stream that ends before is an error, never a silent stop.
 */
export class ConverseStreamState {
  private readonly provider: string;
  private readonly model: string;
  private readonly requestId: string | undefined;
  private readonly blocks = new Map<number, BlockState>();
  private toolCount = 0;
  private stopReason: string | undefined;
  private usage: TokenUsageWire | undefined;

  constructor(provider: string, model: string, requestId: string | undefined) {
    this.provider = provider;
    this.model = model;
    this.requestId = requestId;
  }

  private fail(message: string): StreamPart[] {
    return [{ type: 'error', error: invalidResponse(this.provider, message) }];
  }

  parts(e: StreamEventWire): StreamPart[] {
    if (e.contentBlockStart) {
      const { contentBlockIndex: index, start } = e.contentBlockStart;
      if (this.blocks.has(index)) return this.fail(`content block ${index} started twice`);
      if (!start.toolUse) {
        this.blocks.set(index, { kind: 'text', closed: false });
        return [];
      }
      const ordinal = this.toolCount++;
      this.blocks.set(index, { kind: 'tool', closed: false, ordinal, args: '' });
      // Announce the call at once (id and name), so clients can show it before its arguments arrive.
      return [{ type: 'tool-call-delta', index: ordinal, id: start.toolUse.toolUseId, name: start.toolUse.name, argumentsDelta: '' }];
    }
    if (e.contentBlockDelta) return this.delta(e.contentBlockDelta.contentBlockIndex, e.contentBlockDelta.delta);
    if (e.contentBlockStop) return this.stopBlock(e.contentBlockStop.contentBlockIndex);
    if (e.messageStop) {
      this.stopReason = e.messageStop.stopReason;
      return this.finishIfComplete();
    }
    if (e.metadata) {
      this.usage = e.metadata.usage;
      return this.finishIfComplete();
    }
    // messageStart, and events we do not know.
    return [];
  }

  /** The finish part once the stop reason and the usage are both in; undefined before. */
  finish(): FinishPart | undefined {
    if (this.stopReason === undefined || this.usage === undefined) return undefined;
    return {
      type: 'finish',
      ...finishReasonOf(this.stopReason),
      usage: usageOf(this.usage),
      model: this.model,
      ...(this.requestId !== undefined && { providerRequestId: this.requestId }),
    };
  }

  private finishIfComplete(): StreamPart[] {
    const done = this.finish();
    return done ? [done] : [];
  }

  private delta(index: number, delta: Delta): StreamPart[] {
    let block = this.blocks.get(index);
    if (block?.closed) return this.fail(`delta for content block ${index}, which is closed`);
    if (typeof delta.text === 'string') {
      block ??= this.open(index, 'text');
      if (block.kind !== 'text') return this.fail(`text delta in a ${block.kind} block`);
      return delta.text ? [{ type: 'text-delta', text: delta.text }] : [];
    }
    if (delta.toolUse) {
      if (block?.kind !== 'tool') return this.fail(`tool input for content block ${index}, which is not a tool call`);
      if (delta.toolUse.input === '') return [];
      block.args += delta.toolUse.input;
      return [{ type: 'tool-call-delta', index: block.ordinal, argumentsDelta: delta.toolUse.input }];
    }
    const r = delta.reasoningContent;
    if (r) {
      block ??= this.open(index, 'reasoning');
      if (block.kind !== 'reasoning') return this.fail(`reasoning delta in a ${block.kind} block`);
      if (typeof r.redactedContent === 'string') return [{ type: 'reasoning-delta', ...redactedDelta(index, r.redactedContent) }];
      // The signature closes a reasoning block: without it the block cannot go back on the next turn.
      if (r.signature) return [{ type: 'reasoning-delta', ...reasoningDelta(index, '', r.signature) }];
      return r.text ? [{ type: 'reasoning-delta', ...reasoningDelta(index, r.text) }] : [];
    }
    // Citations, image deltas and the like: not in the contract.
    return [];
  }

  private open(index: number, kind: 'text' | 'reasoning'): BlockState {
    const block: BlockState = { kind, closed: false };
    this.blocks.set(index, block);
    return block;
  }

  private stopBlock(index: number): StreamPart[] {
    const block = this.blocks.get(index);
    // A block that carried nothing may never have been opened; closing it is harmless.
    if (!block) {
      this.blocks.set(index, { kind: 'text', closed: true });
      return [];
    }
    if (block.closed) return this.fail(`content block ${index} stopped twice`);
    block.closed = true;
    if (block.kind !== 'tool') return [];
    if (block.args === '') {
      // A call without arguments streams no input; send the object the non-streamed reply has.
      block.args = '{}';
      return [{ type: 'tool-call-delta', index: block.ordinal, argumentsDelta: '{}' }];
    }
    if (tryParseJson(block.args) === undefined) return this.fail(`arguments of tool call ${block.ordinal} are not valid JSON`);
    return [];
  }
}

/** ConverseStream: binary event-stream frames, `start` after OK headers, then the finish part or an error. */
export function converseStreamSpec(provider: string, model: string): EventStreamSpec<StreamEventWire> {
  return {
    framing: 'aws-eventstream',
    chunk: StreamEventWire,
    endMarker: 'messageStop and metadata',
    requestIdHeader: 'x-amzn-requestid',
    startModel: model,
    mapper: (requestId) => new ConverseStreamState(provider, model, requestId),
  };
}
