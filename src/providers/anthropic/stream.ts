import type { EventSourceMessage } from 'eventsource-parser';
import { GatewayError, toGatewayError, type StreamPart } from '../../core/index.ts';
import type { CallOptions } from '../spec.ts';
import { header, type HttpClient, type HttpResponse } from '../shared/http-client.ts';
import { tryParseJson } from '../shared/http-errors.ts';
import { readSse } from '../shared/stream-readers.ts';
import { httpError, invalidResponse, streamError } from './errors.ts';
import { finishReasonOf, usageOf } from './response.ts';
import { ErrorEnvelopeWire, StreamEventWire, type UsageWire } from './wire.ts';

type BlockState =
  | { kind: 'text' | 'thinking' | 'other'; closed: boolean }
  | { kind: 'tool'; closed: boolean; ordinal: number; args: string; input: Record<string, unknown> };

/**
 * Folds Anthropic's SSE events into StreamParts. Content blocks are addressed by their content index,
 * but our tool-call `index` is the ordinal among tool_use blocks, so the two are mapped here.
 * `accept` returns the parts one event produces; a terminal part is always the last one.
 */
export class MessageStreamState {
  /** Text delivered so far (kept for the partialText of a failure). */
  text = '';
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

  private fail(message: string, cause?: unknown): StreamPart[] {
    return [{ type: 'error', error: invalidResponse(this.provider, message, { partialText: this.text, cause }) }];
  }

  accept(evt: EventSourceMessage): StreamPart[] {
    if (evt.event === 'ping') return [];
    const json = tryParseJson(evt.data);
    if (json === undefined) return this.fail(`stream event ${evt.event ?? '(unnamed)'} is not JSON`);
    if (evt.event === 'error') {
      // Accept an error event whatever its inner framing, so the real failure is not hidden behind a parse error.
      const env = ErrorEnvelopeWire.safeParse(json);
      if (env.success) return [{ type: 'error', error: streamError(this.provider, env.data.error, this.text) }];
    }
    const parsed = StreamEventWire.safeParse(json);
    if (!parsed.success) {
      return this.fail(`unexpected stream event: ${parsed.error.issues[0]?.message ?? 'invalid'}`, parsed.error);
    }
    const e = parsed.data;
    switch (e.type) {
      case 'ping':
      case 'unknown':
        return [];
      case 'error':
        return [{ type: 'error', error: streamError(this.provider, e.error, this.text) }];
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
        return block.thinking ? [{ type: 'reasoning-delta', text: block.thinking }] : [];
      case 'tool_use': {
        const ordinal = this.toolCount++;
        this.blocks.set(index, { kind: 'tool', closed: false, ordinal, args: '', input: block.input });
        // Announce the call at once (id and name), so clients can show it before its arguments arrive.
        return [{ type: 'tool-call-delta', index: ordinal, id: block.id, name: block.name, argumentsDelta: '' }];
      }
      default:
        // redacted_thinking and server-side tool blocks are not part of the contract.
        this.blocks.set(index, { kind: 'other', closed: false });
        return [];
    }
  }

  private delta(index: number, delta: Extract<StreamEventWire, { type: 'content_block_delta' }>['delta']): StreamPart[] {
    const block = this.blocks.get(index);
    if (!block || block.closed) return this.fail(`delta for content block ${index}, which is not open`);
    if (block.kind === 'other' || delta.type === 'signature_delta' || delta.type === 'unknown') return [];
    switch (delta.type) {
      case 'text_delta':
        if (block.kind !== 'text') break;
        return this.emitText(delta.text);
      case 'thinking_delta':
        if (block.kind !== 'thinking') break;
        return delta.thinking ? [{ type: 'reasoning-delta', text: delta.thinking }] : [];
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
    if (!text) return [];
    this.text += text;
    return [{ type: 'text-delta', text }];
  }
}

export interface StreamCall {
  http: HttpClient;
  provider: string;
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  opts: CallOptions;
}

/** One streamed call: `start` after OK headers, deltas, then exactly one terminal part. Never throws. */
export async function* streamMessages(call: StreamCall): AsyncGenerator<StreamPart> {
  const { http, provider, opts } = call;
  const cancelled = (res?: HttpResponse, partialText?: string): StreamPart => {
    const reason: unknown = res?.signal.reason;
    const error =
      reason instanceof GatewayError && reason.kind === 'cancelled'
        ? reason
        : new GatewayError('cancelled', `${provider}: request cancelled`, { provider });
    return { type: 'error', error: partialText === undefined ? error : error.with({ partialText }) };
  };

  let res: HttpResponse;
  try {
    res = await http.request({ path: call.path, headers: call.headers, json: call.body, signal: opts.signal, timeouts: opts.timeouts });
  } catch (err) {
    yield { type: 'error', error: toGatewayError(err, provider) };
    return;
  }
  if (res.status < 200 || res.status >= 300) {
    let text = '';
    try {
      text = await res.text();
    } catch {
      // The status still says what went wrong, unless the caller gave up meanwhile.
      if (opts.signal?.aborted) {
        yield cancelled(res);
        return;
      }
    }
    yield { type: 'error', error: httpError(provider, res, text) };
    return;
  }

  const requestId = header(res.headers, 'request-id');
  yield { type: 'start', providerRequestId: requestId };
  const state = new MessageStreamState(provider, requestId);
  try {
    for await (const evt of readSse(res.body)) {
      for (const part of state.accept(evt)) {
        // Events already buffered must not leak out after the caller cancelled.
        if (opts.signal?.aborted) {
          yield cancelled(res, state.text);
          return;
        }
        yield part;
        if (part.type === 'finish' || part.type === 'error') return;
      }
    }
  } catch (err) {
    if (opts.signal?.aborted) {
      yield cancelled(res, state.text);
      return;
    }
    yield { type: 'error', error: http.mapTransportError(err, res.signal, 'body').with({ partialText: state.text }) };
    return;
  }
  if (opts.signal?.aborted) {
    yield cancelled(res, state.text);
    return;
  }
  yield { type: 'error', error: invalidResponse(provider, 'stream ended without message_stop', { partialText: state.text }) };
}
