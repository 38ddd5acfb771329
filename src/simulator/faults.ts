import { z } from 'zod';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Faults a simulator injects. Set per simulator (CLI flags / options) and overridable per request with
 * the `x-sim-faults` header (a JSON object of these fields) or one `x-sim-<kebab-name>` header per field,
 * so a test can make one request fail without touching the others.
 */
export const FaultsSchema = z.object({
  /** Delay before the response headers (time to first byte). */
  latencyMs: z.number().int().nonnegative().default(0),
  /** Answer with this error status instead of a reply (429, 500, 503, Anthropic 529, …). */
  status: z.number().int().min(400).max(599).optional(),
  /** Seconds sent in `retry-after` (and the vendor's own retry fields) with 429/503/529. */
  retryAfterS: z.number().nonnegative().optional(),
  /** Probability (0-1) that a request fails with `status` (500 when no status is set). */
  errorRate: z.number().min(0).max(1).default(0),
  /** Accept the request and never answer. */
  hang: z.boolean().default(false),
  /** Streaming: close the socket abruptly after this many content chunks. */
  disconnectAfterChunks: z.number().int().nonnegative().optional(),
  /** Streaming: send the protocol's mid-stream error event after this many content chunks. */
  errorAfterChunks: z.number().int().nonnegative().optional(),
  /** Streaming: end the response cleanly but without the protocol's end marker. */
  omitEndMarker: z.boolean().default(false),
  /** Reject prompts above this many input tokens with the protocol's context-length error. */
  maxInputTokens: z.number().int().positive().optional(),
  /** Streaming: how many content chunks the reply text is split into (default: about one per word). */
  chunkCount: z.number().int().positive().optional(),
  /** Streaming: delay between chunks. */
  chunkDelayMs: z.number().int().nonnegative().default(0),
  /** Words in a generated reply. */
  replyWords: z.number().int().positive().default(12),
  /**
   * Streaming: send each content chunk this many times over — a reply of any length from a short plan
   * (backpressure tests). The reported usage stays the planned reply's; chunk-counting faults count once.
   */
  repeatChunks: z.number().int().positive().default(1),
  /**
   * Injected errors quote the request back, as careless upstreams and proxies do: a 401/403 names the
   * credential it was given (`Incorrect API key provided: Bearer sk-…`), any other error (including the
   * mid-stream one) lists the request headers. For testing that a gateway never passes such text on.
   */
  echoHeaders: z.boolean().default(false),
  /** The answer is blocked by a content filter (OpenAI: finish_reason content_filter with no content). */
  contentFilter: z.boolean().default(false),
});

export type Faults = z.infer<typeof FaultsSchema>;
export type FaultsInput = z.input<typeof FaultsSchema>;

const NUMERIC = new Set(['latencyMs', 'status', 'retryAfterS', 'errorRate', 'disconnectAfterChunks', 'errorAfterChunks', 'maxInputTokens', 'chunkCount', 'chunkDelayMs', 'replyWords', 'repeatChunks']);
const BOOLEAN = new Set(['hang', 'omitEndMarker', 'echoHeaders', 'contentFilter']);

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Per-request overrides from headers, merged over the simulator's own faults. Bad values are a 400 upstream of this. */
export function resolveFaults(base: Faults, headers: IncomingHttpHeaders): Faults {
  const overrides: Record<string, unknown> = {};
  const json = headers['x-sim-faults'];
  if (typeof json === 'string' && json.trim()) Object.assign(overrides, JSON.parse(json) as object);
  for (const key of Object.keys(FaultsSchema.shape)) {
    const v = headers[`x-sim-${kebab(key)}`];
    if (typeof v !== 'string') continue;
    overrides[key] = NUMERIC.has(key) ? Number(v) : BOOLEAN.has(key) ? v === 'true' || v === '1' : v;
  }
  if (Object.keys(overrides).length === 0) return base;
  return FaultsSchema.parse({ ...base, ...overrides });
}

/** CLI flag names (`--latency-ms 200`) for every fault, for `switchboard simulate --help`. */
export function faultFlags(): Array<{ flag: string; key: keyof Faults; kind: 'number' | 'boolean' }> {
  return Object.keys(FaultsSchema.shape).map((key) => ({
    flag: `--${kebab(key)}`,
    key: key as keyof Faults,
    kind: BOOLEAN.has(key) ? 'boolean' : 'number',
  }));
}

/** The text an `echoHeaders` error carries: the credential header for an auth failure, else every request header. */
export function echoedRequest(status: number | undefined, headers: IncomingHttpHeaders): string {
  if (status === 401 || status === 403) {
    const credential = headers.authorization ?? headers['x-api-key'] ?? headers['x-goog-api-key'] ?? headers['api-key'];
    return `Incorrect API key provided: ${String(credential ?? '(none)')}`;
  }
  return `Request headers were: ${JSON.stringify(headers)}`;
}
