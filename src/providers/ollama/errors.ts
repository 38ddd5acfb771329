import { GatewayError, type ErrorKind } from '../../core/index.ts';
import type { HttpResponse } from '../shared/http-client.ts';
import { looksLikeContextLength, providerHttpError, tryParseJson, type ErrorMapper } from '../shared/http-errors.ts';
import { OllamaErrorSchema } from './wire.ts';

/**
 * Ollama's errors carry no code, only `{"error": "<text>"}`, so the status decides first and the
 * text refines it: the same words can come with different statuses across versions (a missing model
 * is 404 on the chat path but can surface from the scheduler or a proxy with another status).
 */

/** The kind an error text names on its own, whatever the status. */
function kindOfMessage(message: string): ErrorKind | undefined {
  if (looksLikeContextLength(message)) return 'context_length_exceeded';
  // "<model> does not support tools|thinking|chat|insert|vision": the model lacks a capability.
  if (/does not support \w+/i.test(message)) return 'unsupported_feature';
  // "model 'x' not found" / `model "x" not found, try pulling it first`
  if (/model\s+['"]?[^'"]*['"]?\s+not found/i.test(message)) return 'not_found';
  if (/server busy|maximum pending requests/i.test(message)) return 'overloaded';
  return undefined;
}

function kindOfOllamaStatus(status: number): ErrorKind | undefined {
  // 403 (cloud models disabled on this server) is the status's provider_auth: this deployment refuses the
  // gateway, which is no fault of the client's key, and another target may serve.
  // 499: the server saw the client go away; only a proxy would relay it to us.
  if (status === 499) return 'cancelled';
  return undefined;
}

function capabilityOf(message: string): string | undefined {
  return /does not support (\w+)/i.exec(message)?.[1];
}

/** A non-2xx response → GatewayError. Never includes request headers (the key may be one). */
export function ollamaHttpError(provider: string, res: Pick<HttpResponse, 'status' | 'headers'>, bodyText: string): GatewayError {
  const parsed = OllamaErrorSchema.safeParse(tryParseJson(bodyText));
  // A proxy in front of Ollama may answer with HTML or plain text; keep a short excerpt.
  const message = parsed.success ? parsed.data.error : bodyText.trim().slice(0, 300);
  const kind = kindOfMessage(message) ?? kindOfOllamaStatus(res.status);
  const capability = kind === 'unsupported_feature' ? capabilityOf(message) : undefined;
  return providerHttpError(provider, res, { message, ...(capability !== undefined && { param: capability }) }, kind);
}

/**
 * An `{"error": …}` line after a 200 (the model runner failed part-way) or a 200 body that is an error.
 * Without a status, a failure of the runner is the server being unable to serve right now.
 */
export function ollamaBodyError(provider: string, message: string): GatewayError {
  const kind = kindOfMessage(message) ?? 'unavailable';
  const capability = kind === 'unsupported_feature' ? capabilityOf(message) : undefined;
  return new GatewayError(kind, `${provider}: ${message}`, {
    provider,
    ...(capability !== undefined && { param: capability }),
  });
}

/** This protocol's errors for the shared call layer: `{"error": "<text>"}` as a 200 body or a stream line. */
export function errorMapper(provider: string): ErrorMapper {
  const bodyError = (json: unknown): GatewayError | undefined => {
    const failure = OllamaErrorSchema.safeParse(json);
    return failure.success ? ollamaBodyError(provider, failure.data.error) : undefined;
  };
  return { http: (res, text) => ollamaHttpError(provider, res, text), body: bodyError, chunk: bodyError };
}
