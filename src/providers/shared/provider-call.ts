import { GatewayError } from '../../core/index.ts';
import type { AdapterConfig, AdapterDeps, CallOptions } from '../spec.ts';
import { createHttpClient, type HttpClient, type HttpResponse } from './http-client.ts';
import type { ErrorMapper } from './http-errors.ts';

/**
 * The shared provider call layer (the role provider-utils plays in vercel/ai): one JSON call here and
 * one event-stream reader (stream-events.ts). They own the status check, aborts, schema validation and
 * the end-of-stream rule; an adapter brings its wire schemas, request and reply mapping, and errors.
 */

/** One adapter's way to reach its provider: the deployment's connection pool and its error mapper. */
export interface ProviderCall {
  http: HttpClient;
  /** The adapter id, for error messages and `GatewayError.provider`. */
  provider: string;
  errors: ErrorMapper;
}

/** One request to the provider. */
export interface WireRequest {
  path: string;
  /** Builds the JSON body. A throw (a feature the model lacks) fails the call like any other error. */
  body: () => unknown;
  /** The protocol's headers (credentials, version): they win over the call's own. */
  headers?: Record<string, string> | undefined;
  /** The caller's signal, timeouts and extra headers (tracing ids). */
  opts: Pick<CallOptions, 'signal' | 'timeouts' | 'headers'>;
}

/** A keep-alive pool for one configured deployment (`baseUrl` when the adapter resolved its own). */
export function createProviderCall(config: AdapterConfig, deps: AdapterDeps, errors: ErrorMapper, baseUrl = config.baseUrl): ProviderCall {
  const http = createHttpClient({
    baseUrl,
    provider: config.id,
    timeouts: config.timeouts,
    headers: config.headers,
    maxConnections: config.maxConnections,
    dispatcher: deps.dispatcher,
  });
  return { http, provider: config.id, errors };
}

export function send(call: ProviderCall, req: WireRequest): Promise<HttpResponse> {
  const { opts } = req;
  return call.http.request({
    path: req.path,
    json: req.body(),
    headers: opts.headers ? { ...opts.headers, ...req.headers } : { ...req.headers },
    signal: opts.signal,
    timeouts: opts.timeouts,
  });
}

/**
 * The error to report once the call was aborted: the request's own reason (caller cancel or total
 * timeout), or a cancel the request no longer saw because its body had already arrived.
 */
export function abortError(call: ProviderCall, res: HttpResponse, signal: AbortSignal | undefined): GatewayError | undefined {
  if (res.signal.aborted) return call.http.mapTransportError(res.signal.reason, res.signal, 'body');
  if (signal?.aborted) return new GatewayError('cancelled', `${call.provider}: request cancelled`, { provider: call.provider });
  return undefined;
}

/** The error for a non-2xx response. A body that cannot be read leaves the status to classify it. */
export async function statusError(call: ProviderCall, res: HttpResponse, signal: AbortSignal | undefined): Promise<GatewayError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    const stop = abortError(call, res, signal);
    if (stop) return stop;
  }
  return call.errors.http(res, text);
}

