/**
 * The suite's HTTP client: node:http with bodies given as raw bytes (so a case can send invalid UTF-8 or a
 * never-ending chunked body), every call bounded by a timeout, and network failures returned rather than
 * thrown so a case can judge them.
 */
import { Agent, request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';

export interface HttpResult {
  /** 0 when no response arrived. */
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
  /** A network failure: before any response (`status` 0), or while the body was read (the body is partial). */
  error?: string;
  /** No answer within the call's timeout (the socket was then destroyed). */
  timedOut?: boolean;
}

export interface SendOptions {
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  /** The whole body, or a writer that streams one (it must call `req.end()` itself, or never: a body that never ends). */
  body?: string | Buffer | ((req: ClientRequest) => void);
  timeoutMs?: number;
  agent?: Agent | false;
  /** Called when the response headers arrive (for streams: with the first token). */
  onResponse?: () => void;
}

const shared = new Agent({ keepAlive: true, maxSockets: 256 });

/** Closes the keep-alive sockets of the shared agent (end of a run, or before a gateway restart). */
export function resetAgent(): void {
  shared.destroy();
}

export function send(baseUrl: string, opts: SendOptions): Promise<HttpResult> {
  const url = new URL(baseUrl);
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const finish = (extra: Partial<HttpResult> = {}) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, headers, body: Buffer.concat(chunks), ms: performance.now() - t0, ...extra });
    };
    const body = opts.body;
    const fixed = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.isBuffer(body) ? body : undefined;
    const req = request({
      host: url.hostname,
      port: url.port,
      path: opts.path,
      method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
      agent: opts.agent ?? shared,
      headers: { ...(fixed && { 'content-length': fixed.length }), ...opts.headers },
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ timedOut: true, error: 'timeout' });
    }, opts.timeoutMs ?? 30_000);
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      headers = res.headers;
      opts.onResponse?.();
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish());
      res.on('error', (e) => finish({ error: errText(e) }));
      // 'aborted' with no 'error' on some paths (the server reset the socket mid-body).
      res.on('close', () => {
        if (!res.complete) finish({ error: 'response closed before it was complete' });
      });
    });
    req.on('error', (e) => {
      // A response that already arrived wins over an error writing the rest of our body (EPIPE after a 413).
      if (status !== 0) return;
      finish({ error: errText(e) });
    });
    if (typeof body === 'function') body(req);
    else req.end(fixed);
  });
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}` : String(err.message ?? e);
}

export const json = (r: HttpResult): unknown => {
  try {
    return JSON.parse(r.body.toString('utf8'));
  } catch {
    return undefined;
  }
};

/** A raw TCP connection to the gateway, for requests node:http will not send (trickled headers, a paused reader). */
export function rawConnect(baseUrl: string): Promise<Socket> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const s = connect(Number(url.port), url.hostname);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the socket closes (true) or after `ms` (false). */
export function closedWithin(s: Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or 'timeout' once `ms` have passed (the timer is cleared either way, so it never holds the process). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` over `items` with at most `n` at once. */
export async function pool<T, R>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
