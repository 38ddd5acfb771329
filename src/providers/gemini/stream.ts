import { GatewayError, type StreamPart, type Usage } from '../../core/index.ts';
import type { CallOptions } from '../spec.ts';
import { header, type HttpClient, type HttpRequest, type HttpResponse } from '../shared/http-client.ts';
import { tryParseJson } from '../shared/http-errors.ts';
import { readSse } from '../shared/stream-readers.ts';
import { httpError, streamChunkError } from './errors.ts';
import { mapFinishReason, mapUsage, toToolCall } from './response.ts';
import { ErrorEnvelopeSchema, GenerateContentResponseSchema, type UsageMetadata } from './wire.ts';

/**
 * `:streamGenerateContent?alt=sse` → StreamParts. Gemini has no end marker: the server just closes the
 * connection, so the only proof of a complete reply is a candidate that carried a finishReason (or a
 * prompt block). A close before that is a truncated stream, reported as invalid_response.
 */
export async function* geminiStream(
  client: HttpClient,
  provider: string,
  http: HttpRequest,
  opts: CallOptions,
): AsyncGenerator<StreamPart> {
  let res: HttpResponse;
  try {
    res = await client.request(http);
  } catch (err) {
    yield { type: 'error', error: asGatewayError(err, provider) };
    return;
  }

  let text = '';
  const fail = (error: GatewayError): StreamPart => ({ type: 'error', error: error.with({ partialText: text }) });
  try {
    if (res.status < 200 || res.status >= 300) {
      // Gemini answers a failed stream request with a plain JSON error body even under text/event-stream.
      let body: string;
      try {
        body = await res.text();
      } catch (err) {
        yield { type: 'error', error: asGatewayError(err, provider) };
        return;
      }
      yield { type: 'error', error: httpError(provider, res, body) };
      return;
    }

    const requestIdHeader = header(res.headers, 'x-goog-request-id');
    yield { type: 'start', model: opts.model, providerRequestId: requestIdHeader };

    let usage: UsageMetadata | undefined;
    let rawFinish: string | undefined;
    let blocked = false;
    let toolCalls = 0;
    let modelVersion: string | undefined;
    let responseId: string | undefined;
    try {
      for await (const event of readSse(res.body)) {
        // Events already parsed when the caller aborted must not leak out after the abort.
        if (res.signal.aborted) {
          yield fail(client.mapTransportError(res.signal.reason, res.signal, 'body'));
          return;
        }
        const data = event.data.trim();
        if (data === '') continue;
        const json = tryParseJson(data);
        if (json === undefined) {
          yield fail(new GatewayError('invalid_response', `${provider}: stream chunk is not JSON`, { provider }));
          return;
        }
        if (json !== null && typeof json === 'object' && 'error' in json) {
          const env = ErrorEnvelopeSchema.safeParse(json);
          yield fail(
            env.success
              ? streamChunkError(provider, env.data)
              : new GatewayError('invalid_response', `${provider}: malformed error chunk in stream`, { provider }),
          );
          return;
        }
        const chunk = GenerateContentResponseSchema.safeParse(json);
        if (!chunk.success) {
          yield fail(
            new GatewayError('invalid_response', `${provider}: stream chunk does not match GenerateContentResponse`, {
              provider,
              cause: chunk.error,
            }),
          );
          return;
        }
        const c = chunk.data;
        // Every chunk repeats usage with running totals; the last one is final.
        if (c.usageMetadata) usage = c.usageMetadata;
        if (c.modelVersion) modelVersion = c.modelVersion;
        if (c.responseId) responseId = c.responseId;
        const candidate = c.candidates?.find((cand) => (cand.index ?? 0) === 0);
        const out: StreamPart[] = [];
        for (const part of candidate?.content?.parts ?? []) {
          if (part.functionCall) {
            // A Gemini call arrives whole: one delta carries its id, name and complete arguments.
            const call = toToolCall(part.functionCall, toolCalls);
            out.push({ type: 'tool-call-delta', index: toolCalls++, id: call.id, name: call.name, argumentsDelta: call.arguments });
          } else if (part.text) {
            out.push(part.thought ? { type: 'reasoning-delta', text: part.text } : { type: 'text-delta', text: part.text });
          }
        }
        for (const part of out) {
          if (res.signal.aborted) {
            yield fail(client.mapTransportError(res.signal.reason, res.signal, 'body'));
            return;
          }
          if (part.type === 'text-delta') text += part.text;
          yield part;
        }
        if (candidate?.finishReason) rawFinish = candidate.finishReason;
        else if (!candidate && c.promptFeedback?.blockReason) {
          rawFinish = c.promptFeedback.blockReason;
          blocked = true;
        }
      }
    } catch (err) {
      const error = client.mapTransportError(err, res.signal, 'body');
      // A reset after the finishing chunk loses nothing (usage came with it); anything else is a failure.
      if (rawFinish === undefined || res.signal.aborted) {
        yield fail(error);
        return;
      }
    }
    if (res.signal.aborted) {
      yield fail(client.mapTransportError(res.signal.reason, res.signal, 'body'));
      return;
    }
    if (rawFinish === undefined) {
      yield fail(new GatewayError('invalid_response', `${provider}: stream closed before a finishReason`, { provider }));
      return;
    }
    const finalUsage: Usage = mapUsage(usage);
    yield {
      type: 'finish',
      finishReason: blocked ? 'content_filter' : mapFinishReason(rawFinish, toolCalls > 0),
      rawFinishReason: rawFinish,
      usage: finalUsage,
      model: modelVersion ?? opts.model,
      providerRequestId: requestIdHeader ?? responseId,
    };
  } finally {
    // Stopping early (consumer break, error part) must release the upstream connection.
    if (!res.body.destroyed) res.body.destroy();
  }
}

function asGatewayError(err: unknown, provider: string): GatewayError {
  return err instanceof GatewayError
    ? err
    : new GatewayError('internal', `${provider}: ${err instanceof Error ? err.message : String(err)}`, { provider, cause: err });
}
