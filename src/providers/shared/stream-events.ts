import { z } from 'zod';
import { presentKeysParser, type GatewayError, type StreamPart } from '../../core/index.ts';
import { header, type HttpResponse } from './http-client.ts';
import { asProviderError, describeIssue, invalidResponse, tryParseJson } from './http-errors.ts';
import { abortError, send, statusError, type ProviderCall, type WireRequest } from './provider-call.ts';
import { awsEventStreamFramer, ndjsonFramer, sseFramer, type Framer } from './stream-readers.ts';

export type FinishPart = Extract<StreamPart, { type: 'finish' }>;

/** Folds one reply's chunks into parts; one mapper per stream. */
export interface ChunkMapper<C> {
  /** The parts one chunk adds. A `finish` or `error` part ends the stream: nothing after it is read. */
  parts(chunk: C): StreamPart[];
  /**
   * The finish part once the end marker arrived (`doneData`) or, for a protocol without one, once the
   * body closed; undefined when what arrived is not a complete reply.
   */
  finish?(): FinishPart | undefined;
}

export interface EventStreamSpec<C> {
  /**
   * Server-sent events (eventsource-parser), newline-delimited JSON, or AWS binary event-stream frames (Bedrock:
   * the frame's event type is the event name, failure frames are named `exception:…` / `error:…`).
   */
  framing: 'sse' | 'ndjson' | 'aws-eventstream';
  /** The wire schema of one chunk: an event's data, or a line. */
  chunk: z.ZodType<C>;
  /** Event names that carry nothing to read (Anthropic's `ping`). */
  ignoreEvents?: readonly string[];
  /** The data of the event that marks a complete reply (OpenAI's `[DONE]`); `finish()` then gives the finish part. */
  doneData?: string;
  /** What a complete reply ends with, named in the error for a stream that ends without it. */
  endMarker: string;
  /** The response header carrying the provider's request id. */
  requestIdHeader?: string;
  /** The model reported on `start`, for protocols that name it only later. */
  startModel?: string;
  mapper(requestId: string | undefined): ChunkMapper<C>;
}

/**
 * One streamed call → StreamParts. Never throws: a request that cannot be built or sent, an error
 * status, an error chunk, a chunk outside the schema, a transport failure or an abort each end the
 * stream with one `error` part, carrying the text already delivered. After an abort (caller cancel or
 * total timeout) nothing already buffered is delivered. The end-of-stream rule: the reply is complete
 * only with a `finish` part from the mapper, the end marker, or (protocols without a marker) a body
 * that closes once the mapper can finish; a stream that ends otherwise yields exactly one error part.
 */
export async function* streamEvents<C>(call: ProviderCall, req: WireRequest, spec: EventStreamSpec<C>): AsyncGenerator<StreamPart> {
  const { provider } = call;
  let res: HttpResponse;
  try {
    res = await send(call, req);
  } catch (err) {
    yield { type: 'error', error: asProviderError(err, provider) };
    return;
  }
  const signal = req.opts.signal;
  let text = '';
  const fail = (error: GatewayError): StreamPart => ({
    type: 'error',
    error: text !== '' && error.partialText === undefined ? error.with({ partialText: text }) : error,
  });
  try {
    if (res.status < 200 || res.status >= 300) {
      yield fail(await statusError(call, res, signal));
      return;
    }
    const idHeader = spec.requestIdHeader;
    const requestId = idHeader === undefined ? undefined : header(res.headers, idHeader);
    yield { type: 'start', ...(spec.startModel !== undefined && { model: spec.startModel }), ...(idHeader !== undefined && { providerRequestId: requestId }) };
    const mapper = spec.mapper(requestId);
    const parseChunk = chunkParser(spec.chunk);
    let marked = false;
    try {
      const framer: Framer<string | { data: string; event?: string | undefined }> =
        spec.framing === 'sse' ? sseFramer() : spec.framing === 'aws-eventstream' ? await awsEventStreamFramer() : ndjsonFramer();
      const body = res.body;
      let ended = false;
      read: while (!ended) {
        const r = await body.next();
        ended = r.done === true;
        const messages = r.done === true ? framer.end() : framer.feed(r.value);
        for (let i = 0; i < messages.length; i++) {
          const message = messages[i]!;
          const data = typeof message === 'string' ? message : message.data;
          const event = typeof message === 'string' ? undefined : message.event;
          const stop = abortError(call, res, signal);
          if (stop) {
            yield fail(stop);
            return;
          }
          if (data === spec.doneData) {
            marked = true;
            break read;
          }
          if ((event !== undefined && spec.ignoreEvents?.includes(event)) || data.trim() === '') continue;
          for (const part of partsOf(call, parseChunk, mapper, data, event)) {
            const late = abortError(call, res, signal);
            if (late) {
              yield fail(late);
              return;
            }
            if (part.type === 'error') {
              yield fail(part.error);
              return;
            }
            if (part.type === 'text-delta') text += part.text;
            yield part;
            if (part.type === 'finish') return;
          }
        }
      }
    } catch (err) {
      const stop = abortError(call, res, signal);
      // A reset after the finishing chunk of a protocol without an end marker loses nothing.
      const done = stop === undefined && spec.doneData === undefined ? mapper.finish?.() : undefined;
      yield done ?? fail(stop ?? call.http.mapTransportError(err, res.signal, 'body'));
      return;
    }
    const stop = abortError(call, res, signal);
    if (stop) {
      yield fail(stop);
      return;
    }
    const done = marked || spec.doneData === undefined ? mapper.finish?.() : undefined;
    yield done ?? fail(invalidResponse(provider, `stream ended without ${spec.endMarker}`));
  } catch (err) {
    yield fail(asProviderError(err, provider));
  } finally {
    // Releases the connection when the stream stops early (an error part, the consumer breaking off).
    if (!res.body.destroyed) res.body.destroy();
  }
}

/** One chunk: the protocol's error chunk, or JSON within the chunk schema, folded by the mapper. */
function partsOf<C>(call: ProviderCall, parseChunk: ChunkParse<C>, mapper: ChunkMapper<C>, data: string, event: string | undefined): StreamPart[] {
  const json = tryParseJson(data);
  const failure = call.errors.chunk?.(json, event, data);
  if (failure) return [{ type: 'error', error: failure }];
  if (json === undefined) return [{ type: 'error', error: invalidResponse(call.provider, 'stream chunk is not JSON') }];
  const parsed = parseChunk(json);
  if (!parsed.success) {
    return [{ type: 'error', error: invalidResponse(call.provider, `unexpected stream chunk (${describeIssue(parsed.error)})`, parsed.error) }];
  }
  return mapper.parts(parsed.data);
}

type ChunkParse<C> = (raw: unknown) => z.ZodSafeParseResult<C>;
const chunkParsers = new WeakMap<z.ZodType, ChunkParse<unknown>>();

/**
 * A chunk schema's parse, made once per schema: an object schema parses on a copy narrowed to the keys the
 * chunk carries (presentKeysParser: the same result, without a `{ value, issues: [] }` for each absent
 * optional key, such as a Chat Completions chunk's `usage` and `x_groq` on every chunk but the last).
 */
function chunkParser<C>(schema: z.ZodType<C>): ChunkParse<C> {
  let parse = chunkParsers.get(schema);
  if (parse === undefined) {
    parse = schema instanceof z.ZodObject ? (presentKeysParser(schema) as ChunkParse<unknown>) : (raw) => schema.safeParse(raw);
    chunkParsers.set(schema, parse);
  }
  return parse as ChunkParse<C>;
}
