import autocannon from 'autocannon';
import { createClient, type Client as GqlClient } from 'graphql-ws';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { sleep, summarize, type Summary } from './stats.ts';

/** What one endpoint under test is, for a given request shape. */
export interface HttpTarget {
  /** direct | bare | gateway */
  name: string;
  origin: string;
  path: string;
  body: string;
}

// ------------------------------------------------------------------------------------------------
// Load: autocannon, with exact (sub-millisecond) response times collected from its `response` events —
// its own latency histogram has a resolution of 1 ms, too coarse for a 0.3 ms bar.

export interface LoadResult {
  /** Response times of the 2xx responses, ms. */
  samples: number[];
  latency: Summary;
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
}

export interface LoadOptions {
  connections: number;
  durationS: number;
  /** Requests per second over all connections (autocannon overallRate); closed loop when absent. */
  rate?: number;
}

export async function load(t: HttpTarget, o: LoadOptions): Promise<LoadResult> {
  const samples: number[] = [];
  const inst = autocannon({
    url: `${t.origin}${t.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: t.body,
    connections: o.connections,
    duration: o.durationS,
    pipelining: 1,
    timeout: 10,
    // Ends the run within 100 ms of its duration (by default autocannon stops on whole-second ticks).
    sampleInt: 100,
    ...(o.rate !== undefined && { overallRate: o.rate }),
  });
  inst.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) samples.push(ms);
  });
  const r = await inst;
  return {
    samples,
    latency: summarize(samples),
    rps: samples.length / r.duration,
    ok: samples.length,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    durationS: r.duration,
  };
}

/** Several runs of one target (interleaved rounds) as one. */
export function mergeLoads(parts: readonly LoadResult[]): LoadResult {
  const samples = parts.flatMap((p) => p.samples);
  const durationS = parts.reduce((a, p) => a + p.durationS, 0);
  return {
    samples,
    latency: summarize(samples),
    rps: samples.length / durationS,
    ok: samples.length,
    non2xx: parts.reduce((a, p) => a + p.non2xx, 0),
    errors: parts.reduce((a, p) => a + p.errors, 0),
    timeouts: parts.reduce((a, p) => a + p.timeouts, 0),
    durationS,
  };
}

/** One request before a scenario, so that a misconfigured target fails loudly rather than as fast 4xx/5xx. */
export async function preflight(
  t: HttpTarget,
  check: (status: number, headers: Record<string, unknown>, body: string) => string | undefined,
): Promise<void> {
  const pool = new Pool(t.origin, { connections: 1 });
  try {
    const res = await pool.request({ path: t.path, method: 'POST', headers: { 'content-type': 'application/json' }, body: t.body, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    const problem = check(res.statusCode, res.headers, text);
    if (problem) throw new Error(`preflight ${t.name} ${t.origin}${t.path}: ${problem}\n  HTTP ${res.statusCode}: ${text.slice(0, 500)}`);
  } finally {
    await pool.destroy();
  }
}

// ------------------------------------------------------------------------------------------------
// Streams: time to first token (first SSE event, or GraphQL TextDeltaEvent, with non-empty content).

export interface StreamSample {
  ok: boolean;
  ttftMs?: number;
  totalMs?: number;
  error?: string;
}

export interface StreamRunner {
  one(): Promise<StreamSample>;
  close(): Promise<void>;
}

/** What marks a stream's first content and its proper end, per wire format. */
export interface StreamFormat {
  /** True for an SSE `data:` payload that carries content. */
  isContent(json: unknown): boolean;
  /** Text the last bytes of a complete stream contain. */
  endMarker: string;
}

export const OPENAI_SSE: StreamFormat = {
  isContent: (json) => Boolean((json as { choices?: Array<{ delta?: { content?: string | null } }> }).choices?.[0]?.delta?.content),
  endMarker: '[DONE]',
};

/** The Anthropic Messages API stream: content is a `content_block_delta` with text; it ends with `message_stop`. */
export const ANTHROPIC_SSE: StreamFormat = {
  isContent: (json) => {
    const j = json as { type?: string; delta?: { type?: string; text?: string } };
    return j.type === 'content_block_delta' && j.delta?.type === 'text_delta' && Boolean(j.delta.text);
  },
  endMarker: 'message_stop',
};

function firstContent(buf: string, format: StreamFormat): boolean {
  let from = 0;
  for (;;) {
    const end = buf.indexOf('\n\n', from);
    if (end === -1) return false;
    const event = buf.slice(from, end);
    from = end + 2;
    for (const line of event.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') continue;
      try {
        if (format.isContent(JSON.parse(data))) return true;
      } catch {
        // not JSON: not content
      }
    }
  }
}

/** SSE over undici (OpenAI's by default); one keep-alive pool per target, sized for the 1,000-stream scenario. */
export function restStreamRunner(t: HttpTarget, connections = 1_100, timeoutMs = 60_000, format: StreamFormat = OPENAI_SSE): StreamRunner {
  const pool = new Pool(t.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  return {
    async one() {
      const t0 = performance.now();
      let ttftMs: number | undefined;
      try {
        const res = await pool.request({ path: t.path, method: 'POST', headers: { 'content-type': 'application/json' }, body: t.body });
        if (res.statusCode !== 200) {
          const text = await res.body.text();
          return { ok: false, error: `HTTP ${res.statusCode} ${text.slice(0, 120)}` };
        }
        res.body.setEncoding('utf8');
        let buf = '';
        let tail = '';
        for await (const chunk of res.body as AsyncIterable<string>) {
          if (ttftMs === undefined) {
            buf += chunk;
            if (firstContent(buf, format)) {
              ttftMs = performance.now() - t0;
              buf = '';
            }
          }
          tail = (tail + chunk).slice(-64);
        }
        const totalMs = performance.now() - t0;
        if (ttftMs === undefined) return { ok: false, totalMs, error: 'no content' };
        if (!tail.includes(format.endMarker)) return { ok: false, ttftMs, totalMs, error: `stream ended without ${format.endMarker}` };
        return { ok: true, ttftMs, totalMs };
      } catch (err) {
        return { ok: false, ...(ttftMs !== undefined && { ttftMs }), error: (err as Error).message };
      }
    },
    close: () => pool.destroy(),
  };
}

const SUBSCRIPTION = `subscription Bench {
  completionStream(input: { messages: [{ role: USER, content: "hi" }] }) {
    __typename
    ... on TextDeltaEvent { text }
    ... on CompletionErrorEvent { code message }
  }
}`;

/** completionStream over graphql-ws (graphql-transport-ws), all subscriptions multiplexed on one socket. */
export async function graphqlStreamRunner(wsUrl: string, timeoutMs = 60_000): Promise<StreamRunner> {
  let client: GqlClient | undefined;
  await new Promise<void>((ok, fail) => {
    client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: (e) => fail(new Error(`graphql-ws: could not connect to ${wsUrl}: ${describe(e)}`)),
    });
    client.on('connected', () => ok());
  });
  const c = client!;
  return {
    one() {
      return new Promise<StreamSample>((resolve) => {
        const t0 = performance.now();
        let ttftMs: number | undefined;
        let error: string | undefined;
        let settled = false;
        const settle = (s: StreamSample) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(s);
        };
        const timer = setTimeout(() => {
          unsubscribe();
          settle({ ok: false, ...(ttftMs !== undefined && { ttftMs }), error: 'timeout' });
        }, timeoutMs);
        const unsubscribe = c.subscribe<{ completionStream: { __typename: string; text?: string; code?: string; message?: string } }>(
          { query: SUBSCRIPTION },
          {
            next(r) {
              if (r.errors?.length) error ??= r.errors.map((e) => e.message).join('; ');
              const ev = r.data?.completionStream;
              if (!ev) return;
              if (ev.__typename === 'TextDeltaEvent' && ev.text && ttftMs === undefined) ttftMs = performance.now() - t0;
              if (ev.__typename === 'CompletionErrorEvent') error ??= `${ev.code}: ${ev.message}`;
            },
            error(e) {
              settle({ ok: false, ...(ttftMs !== undefined && { ttftMs }), error: describe(e) });
            },
            complete() {
              const totalMs = performance.now() - t0;
              if (error) settle({ ok: false, ...(ttftMs !== undefined && { ttftMs }), totalMs, error });
              else if (ttftMs === undefined) settle({ ok: false, totalMs, error: 'no TextDeltaEvent' });
              else settle({ ok: true, ttftMs, totalMs });
            },
          },
        );
      });
    },
    async close() {
      await c.dispose();
    },
  };
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (Array.isArray(e)) return e.map((x) => (x as { message?: string }).message ?? String(x)).join('; ');
  if (e && typeof e === 'object' && 'code' in e) return `socket closed ${(e as { code: number }).code} ${(e as { reason?: string }).reason ?? ''}`;
  return String(e);
}

// ------------------------------------------------------------------------------------------------
// Stream workloads

export interface StreamPhase {
  ttft: Summary;
  total: Summary;
  ok: number;
  errors: number;
  firstErrors: string[];
  wallS: number;
}

export function summarizeStreams(samples: readonly StreamSample[], wallS: number): StreamPhase {
  const errs = samples.filter((s) => !s.ok);
  return {
    ttft: summarize(samples.filter((s) => s.ok).map((s) => s.ttftMs!)),
    total: summarize(samples.filter((s) => s.ok).map((s) => s.totalMs!)),
    ok: samples.length - errs.length,
    errors: errs.length,
    firstErrors: [...new Set(errs.map((s) => s.error ?? 'unknown'))].slice(0, 3),
    wallS,
  };
}

/**
 * Paced: one stream started every 1000/rate ms for `durationS` (open loop, so a slow target does not slow
 * the arrivals), then all awaited. The first-token windows do not overlap; the streams' tails do.
 */
export async function pacedStreams(r: StreamRunner, ratePerS: number, durationS: number): Promise<StreamSample[]> {
  const t0 = performance.now();
  const pending: Array<Promise<StreamSample>> = [];
  const interval = 1000 / ratePerS;
  const count = Math.max(1, Math.round(durationS * ratePerS));
  for (let i = 0; i < count; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(r.one());
  }
  return Promise.all(pending);
}

/** Bursts: `size` streams started at once, awaited, `bursts` times. */
export async function burstStreams(r: StreamRunner, size: number, bursts: number): Promise<StreamSample[]> {
  const samples: StreamSample[] = [];
  for (let b = 0; b < bursts; b++) samples.push(...(await Promise.all(Array.from({ length: size }, () => r.one()))));
  return samples;
}
