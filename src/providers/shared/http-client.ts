import type { Dispatcher } from 'undici';
// The pool alone: undici's index also loads fetch, WebSocket, the mock and cache layers (~20 MiB resident in all),
// none of which the gateway uses. undici has no exports map, so the file is as public as its index.
import Pool from 'undici/lib/dispatcher/pool.js';
import { Call, type ResponseBody } from './http-call.ts';
import { GatewayError } from '../../core/index.ts';
import type { Timeouts } from '../spec.ts';

export interface HttpRequest {
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A JSON body, serialized here. */
  json?: unknown;
  /** A body already serialized (a signed request's exact bytes); `json` wins when both are set. */
  body?: string | undefined;
  signal?: AbortSignal | undefined;
  timeouts?: Partial<Timeouts> | undefined;
}

/** What a request's abort looks like to readers: `reason` is the GatewayError to report once `aborted`. */
export interface AbortState {
  readonly aborted: boolean;
  readonly reason: unknown;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as bytes; iterate it once. Errors thrown while reading go through `mapTransportError`. */
  body: ResponseBody;
  /** Aborted on total timeout or caller cancel; its reason is the GatewayError to report. */
  signal: AbortState;
  /** Reads the whole body as text, mapping transport failures to GatewayErrors. */
  text(): Promise<string>;
}

export interface HttpClient {
  readonly origin: string;
  /** The path and query a request path is sent to (the base URL's path and query applied): what a signer signs. */
  pathOf(path: string): string;
  request(req: HttpRequest): Promise<HttpResponse>;
  /** Maps an error thrown while reading this client's bodies (socket reset, idle timeout, abort). */
  mapTransportError(err: unknown, signal: AbortState, phase: 'connect' | 'body'): GatewayError;
  close(): Promise<void>;
}

export interface HttpClientOptions {
  /** Base URL; its path is prefixed to every request path. */
  baseUrl: string;
  provider: string;
  timeouts: Timeouts;
  headers?: Record<string, string> | undefined;
  maxConnections?: number | undefined;
  dispatcher?: Dispatcher | undefined;
}

/**
 * One keep-alive pool per provider deployment, with the four timeouts kept apart: connect (pool),
 * first byte (undici headersTimeout), idle between chunks (bodyTimeout) and total (our timer, which
 * aborts the request with a `timeout` GatewayError as the abort reason). Requests go through undici's
 * `dispatch` with our own handler (http-call.ts) rather than `request()`, whose Readable body and
 * per-request AbortController cost a fifth of a small request's CPU.
 */
export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const url = new URL(opts.baseUrl);
  const origin = url.origin;
  const basePath = url.pathname.replace(/\/+$/, '');
  const baseSearch = url.searchParams;
  const dispatcher =
    opts.dispatcher ??
    new Pool(origin, {
      connections: opts.maxConnections ?? 128,
      connectTimeout: opts.timeouts.connectMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      pipelining: 1,
    });

  function mapTransportError(err: unknown, signal: AbortState, phase: 'connect' | 'body'): GatewayError {
    if (err instanceof GatewayError) return err;
    if (signal.aborted && signal.reason instanceof GatewayError) return signal.reason;
    const code = errorCode(err);
    const provider = opts.provider;
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new GatewayError('timeout', `${provider}: connect timed out`, { provider, cause: err });
      case 'UND_ERR_HEADERS_TIMEOUT':
        return new GatewayError('timeout', `${provider}: no response within the first-byte timeout`, { provider, cause: err });
      case 'UND_ERR_BODY_TIMEOUT':
        return new GatewayError('timeout', `${provider}: response stalled longer than the idle timeout`, { provider, cause: err });
      case 'ECONNREFUSED':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new GatewayError('unavailable', `${provider}: cannot connect (${code})`, { provider, cause: err });
      default:
        break;
    }
    if (phase === 'body') {
      return new GatewayError('invalid_response', `${provider}: connection closed mid-response`, { provider, cause: err });
    }
    return new GatewayError('unavailable', `${provider}: request failed (${code ?? 'network error'})`, { provider, cause: err });
  }

  function pathOf(reqPath: string): string {
    const path = basePath + reqPath;
    if (baseSearch.size === 0) return path;
    const [p, q] = path.split('?', 2) as [string, string | undefined];
    const search = new URLSearchParams(q);
    for (const [k, v] of baseSearch) if (!search.has(k)) search.set(k, v);
    return `${p}?${search.toString()}`;
  }

  function request(req: HttpRequest): Promise<HttpResponse> {
    const totalMs = req.timeouts?.totalMs ?? opts.timeouts.totalMs;
    const path = pathOf(req.path);
    const headers: Record<string, string> = opts.headers ? { ...opts.headers, ...req.headers } : { ...req.headers };
    let body: string | undefined = req.body;
    if (req.json !== undefined) body = JSON.stringify(req.json);
    if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    return new Promise<HttpResponse>((resolve, reject) => {
      const call = new Call(opts.provider, totalMs, req.signal, resolve, reject, mapTransportError);
      if (call.aborted) return;
      try {
        dispatcher.dispatch(
        {
          origin,
          path,
          method: req.method ?? (body === undefined ? 'GET' : 'POST'),
          headers,
          body,
          headersTimeout: req.timeouts?.firstByteMs ?? opts.timeouts.firstByteMs,
          bodyTimeout: req.timeouts?.idleMs ?? opts.timeouts.idleMs,
        },
          call,
        );
      } catch (err) {
        call.onResponseError(undefined, err as Error);
      }
    });
  }

  return { origin, pathOf, request, mapTransportError, close: () => dispatcher.close() };
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Reads a header as one string (undici gives arrays for repeated headers). */
export function header(headers: HttpResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
