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
  /** Set for providers whose requests are signed or carry short-lived tokens (Bedrock, Vertex, Entra ID). */
  auth?: RequestAuth | undefined;
}

/** A request as it will go out: what a signer sees (SigV4 signs method, path, query, headers and body). */
export interface OutgoingRequest {
  method: 'POST' | 'GET';
  /** The origin the pool connects to (`https://host[:port]`). */
  origin: string;
  /** Path and query exactly as sent. */
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/**
 * Adds credentials to a request just before it is sent: the headers returned win over the request's own. It
 * may reject with a GatewayError (`auth` when no credentials can be found); it must never put a secret in
 * the error's message.
 */
export type RequestAuth = (req: OutgoingRequest) => Promise<Record<string, string>>;

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
export function createProviderCall(
  config: AdapterConfig,
  deps: AdapterDeps,
  errors: ErrorMapper,
  baseUrl = config.baseUrl,
  auth?: RequestAuth,
): ProviderCall {
  const http = createHttpClient({
    baseUrl,
    provider: config.id,
    timeouts: config.timeouts,
    headers: config.headers,
    maxConnections: config.maxConnections,
    dispatcher: deps.dispatcher,
  });
  return { http, provider: config.id, errors, auth };
}

export function send(call: ProviderCall, req: WireRequest): Promise<HttpResponse> {
  if (call.auth !== undefined) return sendWithAuth(call, call.auth, req);
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

/** The body is serialized here, once, so the bytes signed are the bytes sent. */
async function sendWithAuth(call: ProviderCall, auth: RequestAuth, req: WireRequest): Promise<HttpResponse> {
  const { opts } = req;
  const body = JSON.stringify(req.body());
  const headers: Record<string, string> = opts.headers ? { ...opts.headers, ...req.headers } : { ...req.headers };
  headers['content-type'] ??= 'application/json';
  const path = call.http.pathOf(req.path);
  const added = await auth({ method: 'POST', origin: call.http.origin, path, headers, body });
  return call.http.request({ path: req.path, body, headers: { ...headers, ...added }, signal: opts.signal, timeouts: opts.timeouts });
}
