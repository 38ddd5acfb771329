import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { GatewayError } from '../../core/gateway-error.ts';

/**
 * Cuts a response body into messages as its chunks arrive, synchronously: `feed` returns the messages a
 * chunk completes and `end` those the end of the body completes (or throws for a body that ends inside
 * one). The caller's loop reads the body and handles each message itself, so a streamed chunk passes no
 * async-generator layer of its own on its way to the client (one promise turn and an iterator result per
 * chunk per layer).
 */
export interface Framer<M> {
  feed(chunk: Uint8Array | string): readonly M[];
  end(): readonly M[];
}

const NONE: readonly never[] = Object.freeze([]);
/** Hoisted: an options literal per decoded chunk is garbage on every chunk of every stream. */
const STREAM = { stream: true } as const;

/** What one call of a framer completes: no array at all for none (most chunks complete one message). */
class Batch<M> {
  #out: M[] | undefined;
  add(m: M): void {
    if (this.#out === undefined) this.#out = [m];
    else this.#out.push(m);
  }
  take(): readonly M[] {
    const out = this.#out ?? NONE;
    this.#out = undefined;
    return out;
  }
}

/**
 * Server-sent events (eventsource-parser does the framing: `\n`, `\r\n`, multi-line data, comments), in
 * order; nothing is held beyond one unfinished event.
 */
export function sseFramer(): Framer<EventSourceMessage> {
  const out = new Batch<EventSourceMessage>();
  const parser = createParser({ onEvent: (e) => out.add(e) });
  const decoder = new TextDecoder();
  return {
    feed(chunk) {
      parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, STREAM));
      return out.take();
    },
    end() {
      parser.feed(decoder.decode());
      return out.take();
    },
  };
}

/** Newline-delimited JSON lines (Ollama), as raw strings; blank lines are skipped. */
export function ndjsonFramer(): Framer<string> {
  const out = new Batch<string>();
  const decoder = new TextDecoder();
  let buf = '';
  return {
    feed(chunk) {
      buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, STREAM);
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) out.add(line);
      }
      return out.take();
    },
    end() {
      buf += decoder.decode();
      if (buf.trim()) out.add(buf.trim());
      buf = '';
      return out.take();
    },
  };
}

/** One frame of an AWS event stream, named and with its payload as text (see awsEventStreamFramer). */
export interface AwsEventMessage {
  event: string;
  data: string;
}

/** Length prelude, header length and prelude CRC, then the message CRC: the smallest possible frame. */
const AWS_FRAME_OVERHEAD = 16;

/**
 * AWS event-stream frames (`application/vnd.amazon.eventstream`: a length prelude, typed headers, the payload and
 * two CRC32s) from a byte stream, reassembled across chunks and decoded with their checksums verified by
 * @smithy/eventstream-codec, which is loaded on first use so that a gateway without Bedrock never loads it.
 * `event` is the frame's `:event-type` and `data` the event as a one-member object keyed by that type, the SDK's
 * union form (`{"messageStart":{"role":"assistant"}}`), so one chunk schema can tell the events apart (their
 * payloads do not name their type). Failure frames are named so no event can be mistaken for them: an
 * exception (`:message-type: exception`) is `exception:<:exception-type>` with its JSON payload, an error
 * (`:message-type: error`) is `error:<:error-code>` with `{"message": <:error-message>}`. A damaged frame or a body
 * that ends mid-frame throws an `invalid_response` GatewayError; a damaged frame from the call after the one
 * that returned the frames before it.
 */
export async function awsEventStreamFramer(): Promise<Framer<AwsEventMessage>> {
  const [{ EventStreamCodec }, { fromUtf8, toUtf8 }] = await Promise.all([import('@smithy/eventstream-codec'), import('@smithy/util-utf8')]);
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const damaged = (why: string) => new GatewayError('invalid_response', `malformed event stream: ${why}`);
  const decoder = new TextDecoder();
  const out = new Batch<AwsEventMessage>();
  let buf: Buffer = Buffer.alloc(0);
  let failure: GatewayError | undefined;
  const header = (message: { headers: Record<string, { type: string; value: unknown }> }, name: string): string => {
    const h = message.headers[name];
    return h !== undefined && h.type === 'string' ? String(h.value) : '';
  };
  /** The whole frames at the front of `buf`, decoded into `out`. */
  const frames = (): void => {
    while (buf.length >= 4) {
      const total = buf.readUInt32BE(0);
      if (total < AWS_FRAME_OVERHEAD) throw damaged(`frame length ${total}`);
      if (buf.length < total) return;
      // A copy: the codec reads through the frame's ArrayBuffer, which a pooled Buffer shares with others.
      const frame = new Uint8Array(buf.subarray(0, total));
      buf = buf.subarray(total);
      let message: { headers: Record<string, { type: string; value: unknown }>; body: Uint8Array };
      try {
        message = codec.decode(frame);
      } catch (err) {
        throw damaged(err instanceof Error ? err.message : String(err));
      }
      const type = header(message, ':message-type');
      if (type === 'error') {
        out.add({ event: `error:${header(message, ':error-code') || 'UnknownError'}`, data: JSON.stringify({ message: header(message, ':error-message') }) });
      } else if (type === 'exception') {
        out.add({ event: `exception:${header(message, ':exception-type')}`, data: decoder.decode(message.body) });
      } else {
        const event = header(message, ':event-type');
        const payload = decoder.decode(message.body);
        out.add({ event, data: `{${JSON.stringify(event)}:${payload.trim() === '' ? '{}' : payload}}` });
      }
    }
  };
  return {
    feed(chunk) {
      if (failure) throw failure;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      buf = buf.length === 0 ? bytes : Buffer.concat([buf, bytes]);
      try {
        frames();
      } catch (err) {
        // The frames before the damaged one still go out, in order; the failure comes with the next call.
        failure = err as GatewayError;
        buf = Buffer.alloc(0);
      }
      return out.take();
    },
    end() {
      if (failure) throw failure;
      if (buf.length > 0) throw damaged('the body ended inside a frame');
      return NONE;
    },
  };
}
