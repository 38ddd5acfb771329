import { GatewayError, type StreamPart } from '../../core/index.ts';
import type { HttpClient, HttpResponse } from '../shared/http-client.ts';
import { readLines } from '../shared/stream-readers.ts';
import { describeIssue, invalidResponse, ollamaBodyError } from './errors.ts';
import { finishOf, toToolCall, usageOf } from './response.ts';
import { OllamaChatChunkSchema, OllamaErrorSchema } from './wire.ts';

export interface ChatStreamContext {
  provider: string;
  /** The model asked for, reported on `start` until the server names the one that answered. */
  model: string;
  client: Pick<HttpClient, 'mapTransportError'>;
}

/**
 * A 2xx `/api/chat` NDJSON body → StreamParts. Each line is a whole JSON object: text in
 * `message.content`, reasoning in `message.thinking`, tool calls complete (never fragmented) in
 * `message.tool_calls`; the line with `done: true` carries the finish reason and usage and ends the
 * reply. No such line means the reply was cut off, whatever else arrived.
 */
export async function* readChatStream(res: HttpResponse, ctx: ChatStreamContext): AsyncGenerator<StreamPart> {
  const { provider } = ctx;
  let text = '';
  let toolCallCount = 0;

  // After the caller aborts (or the total timeout fires), lines already buffered must not be
  // delivered: the signal's reason is the one part that may follow.
  const stopped = (): GatewayError | undefined => {
    if (!res.signal.aborted) return undefined;
    const reason: unknown = res.signal.reason;
    const err = reason instanceof GatewayError ? reason : new GatewayError('cancelled', `${provider}: request cancelled`, { provider });
    return text ? err.with({ partialText: text }) : err;
  };

  yield { type: 'start', model: ctx.model };

  try {
    for await (const line of readLines(res.body)) {
      const halt = stopped();
      if (halt) {
        yield { type: 'error', error: halt };
        return;
      }

      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (cause) {
        yield { type: 'error', error: invalidResponse(provider, 'stream line is not JSON', text, cause) };
        return;
      }
      const failure = OllamaErrorSchema.safeParse(json);
      if (failure.success) {
        yield { type: 'error', error: ollamaBodyError(provider, failure.data.error, text) };
        return;
      }
      const parsed = OllamaChatChunkSchema.safeParse(json);
      if (!parsed.success) {
        yield {
          type: 'error',
          error: invalidResponse(provider, `stream line does not match the chat chunk schema (${describeIssue(parsed.error)})`, text),
        };
        return;
      }
      const chunk = parsed.data;
      const message = chunk.message;

      const parts: StreamPart[] = [];
      if (message?.thinking) parts.push({ type: 'reasoning-delta', text: message.thinking });
      if (message?.content) parts.push({ type: 'text-delta', text: message.content });
      for (const call of message?.tool_calls ?? []) {
        const index = toolCallCount++;
        const { id, name, arguments: args } = toToolCall(call, index);
        parts.push({ type: 'tool-call-delta', index, id, name, argumentsDelta: args });
      }
      if (chunk.done) {
        parts.push({
          type: 'finish',
          ...finishOf(chunk.done_reason, toolCallCount > 0),
          usage: usageOf(chunk),
          model: chunk.model ?? ctx.model,
        });
      }

      for (const part of parts) {
        const late = stopped();
        if (late) {
          yield { type: 'error', error: late };
          return;
        }
        if (part.type === 'text-delta') text += part.text;
        yield part;
      }
      // Anything after the done line is ignored; returning closes the body.
      if (chunk.done) return;
    }
  } catch (err) {
    const mapped = ctx.client.mapTransportError(err, res.signal, 'body');
    yield { type: 'error', error: text ? mapped.with({ partialText: text }) : mapped };
    return;
  }

  yield {
    type: 'error',
    error: stopped() ?? invalidResponse(provider, 'stream ended without a done line (reply cut off)', text),
  };
}
