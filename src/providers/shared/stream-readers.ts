import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { GatewayError } from '../../core/gateway-error.ts';

/**
 * Server-sent events from a byte stream (eventsource-parser does the framing: `\n`, `\r\n`,
 * multi-line data, comments). Yields events in order as chunks arrive; no buffering beyond one event.
 */
export async function* readSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => pending.push(e) });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    while (pending.length > 0) yield pending.shift()!;
  }
  parser.feed(decoder.decode());
  while (pending.length > 0) yield pending.shift()!;
}

/** Newline-delimited JSON lines (Ollama), as raw strings; blank lines are skipped. */
export async function* readLines(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield line;
    }
  }
  buf += decoder.decode();
  if (buf.trim()) yield buf.trim();
}

/** One frame of an AWS event stream, named and with its payload as text (see readAwsEventStream). */
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
 * that ends mid-frame throws an `invalid_response` GatewayError.
 */
export async function* readAwsEventStream(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<AwsEventMessage> {
  const [{ EventStreamCodec }, { fromUtf8, toUtf8 }] = await Promise.all([import('@smithy/eventstream-codec'), import('@smithy/util-utf8')]);
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const damaged = (why: string) => new GatewayError('invalid_response', `malformed event stream: ${why}`);
  const decoder = new TextDecoder();
  let buf: Buffer = Buffer.alloc(0);
  for await (const chunk of body) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    buf = buf.length === 0 ? bytes : Buffer.concat([buf, bytes]);
    while (buf.length >= 4) {
      const total = buf.readUInt32BE(0);
      if (total < AWS_FRAME_OVERHEAD) throw damaged(`frame length ${total}`);
      if (buf.length < total) break;
      // A copy: the codec reads through the frame's ArrayBuffer, which a pooled Buffer shares with others.
      const frame = new Uint8Array(buf.subarray(0, total));
      buf = buf.subarray(total);
      let message: { headers: Record<string, { type: string; value: unknown }>; body: Uint8Array };
      try {
        message = codec.decode(frame);
      } catch (err) {
        throw damaged(err instanceof Error ? err.message : String(err));
      }
      const header = (name: string): string => {
        const h = message.headers[name];
        return h !== undefined && h.type === 'string' ? String(h.value) : '';
      };
      const type = header(':message-type');
      if (type === 'error') {
        yield { event: `error:${header(':error-code') || 'UnknownError'}`, data: JSON.stringify({ message: header(':error-message') }) };
      } else if (type === 'exception') {
        yield { event: `exception:${header(':exception-type')}`, data: decoder.decode(message.body) };
      } else {
        const event = header(':event-type');
        const payload = decoder.decode(message.body);
        yield { event, data: `{${JSON.stringify(event)}:${payload.trim() === '' ? '{}' : payload}}` };
      }
    }
  }
  if (buf.length > 0) throw damaged('the body ended inside a frame');
}
