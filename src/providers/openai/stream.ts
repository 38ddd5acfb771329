import { toGatewayError, type GatewayError, type StreamPart } from '../../core/index.ts';
import { streamError, httpError, invalidResponse } from './errors.ts';
import { header, readSse, tryParseJson, type HttpClient, type HttpResponse } from './http.ts';
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

/** What the stream has told us so far about the reply as a whole. */
interface StreamState {
  id?: string | undefined;
  model?: string | undefined;
  finishRaw?: string | undefined;
  usage?: UsageWire | undefined;
}

type EventResult = { parts: StreamPart[]; error?: GatewayError };

function onEvent(provider: string, event: string | undefined, data: string, state: StreamState, tools: ToolCallSlots): EventResult {
  const json = tryParseJson(data);
  // The SDK treats both an `error` event name and a top-level `error` key as a failed stream.
  if (event === 'error') return { parts: [], error: streamError(provider, json ?? { message: data }) };
  if (json === undefined) return { parts: [], error: invalidResponse(provider, 'stream chunk is not JSON') };
  if (typeof json === 'object' && json !== null && (json as { error?: unknown }).error != null) {
    return { parts: [], error: streamError(provider, json) };
  }
  const parsed = ChatCompletionChunkWire.safeParse(json);
  if (!parsed.success) {
    return { parts: [], error: invalidResponse(provider, `unexpected stream chunk (${parsed.error.issues[0]?.message})`, parsed.error) };
  }
  const chunk = parsed.data;
  state.id ??= chunk.id ?? undefined;
  state.model ??= chunk.model ?? undefined;
  // The include_usage chunk (choices: []) is normally last; vendors that send usage unasked put it on
  // the finishing chunk (or Groq's x_groq). Latest wins, since usage is cumulative.
  const usage = chunk.usage ?? chunk.x_groq?.usage;
  if (usage) state.usage = usage;
  const parts: StreamPart[] = [];
  const choice = chunk.choices.find((c) => (c.index ?? 0) === 0);
  if (!choice) return { parts };
  const d = choice.delta;
  if (d) {
    const reasoning = d.reasoning_content ?? d.reasoning;
    if (reasoning) parts.push({ type: 'reasoning-delta', text: reasoning });
    if (d.content) parts.push({ type: 'text-delta', text: d.content });
    // Refusal text is the model's answer too (see response.ts).
    if (d.refusal) parts.push({ type: 'text-delta', text: d.refusal });
    for (const tc of d.tool_calls ?? []) parts.push(...tools.parts(tc));
  }
  if (choice.finish_reason) state.finishRaw = choice.finish_reason;
  return { parts };
}

/**
 * Chat Completions SSE → StreamParts. Never throws: `open` failing, an error status, a bad chunk, a
 * transport failure or an abort each end the stream with one `error` part. `data: [DONE]` is the only
 * successful end; a body that closes without it is invalid_response even if a finish_reason was seen.
 */
export async function* streamChat(
  provider: string,
  http: HttpClient,
  fallbackModel: string,
  open: () => Promise<HttpResponse>,
): AsyncGenerator<StreamPart> {
  let res: HttpResponse;
  try {
    res = await open();
  } catch (err) {
    yield { type: 'error', error: toGatewayError(err, provider) };
    return;
  }
  const aborted = (): GatewayError | undefined =>
    res.signal.aborted ? http.mapTransportError(res.signal.reason, res.signal, 'body') : undefined;
  try {
    if (res.status < 200 || res.status >= 300) {
      let text = '';
      try {
        text = await res.text();
      } catch {
        // The status alone still classifies the failure.
      }
      yield { type: 'error', error: httpError(provider, res, text) };
      return;
    }
    const headerId = header(res.headers, 'x-request-id');
    yield { type: 'start', providerRequestId: headerId };

    const state: StreamState = {};
    const tools = new ToolCallSlots();
    let done = false;
    try {
      for await (const ev of readSse(res.body)) {
        if (ev.data === '[DONE]') {
          done = true;
          break;
        }
        const { parts, error } = onEvent(provider, ev.event, ev.data, state, tools);
        for (const part of parts) {
          const stop = aborted();
          if (stop) {
            yield { type: 'error', error: stop };
            return;
          }
          yield part;
        }
        if (error) {
          yield { type: 'error', error };
          return;
        }
      }
    } catch (err) {
      yield { type: 'error', error: http.mapTransportError(err, res.signal, 'body') };
      return;
    }
    const stop = aborted();
    if (stop) {
      yield { type: 'error', error: stop };
      return;
    }
    if (!done) {
      yield { type: 'error', error: invalidResponse(provider, 'stream ended without data: [DONE]') };
      return;
    }
    yield {
      type: 'finish',
      finishReason: mapFinishReason(state.finishRaw),
      rawFinishReason: state.finishRaw,
      usage: mapUsage(state.usage),
      model: state.model ?? fallbackModel,
      providerRequestId: headerId ?? state.id,
    };
  } catch (err) {
    yield { type: 'error', error: toGatewayError(err, provider) };
  } finally {
    // Releases the socket when we stop early ([DONE], an error, or the consumer breaking off).
    if (!res.body.destroyed) res.body.destroy();
  }
}
