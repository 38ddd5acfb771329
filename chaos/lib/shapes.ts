/**
 * Judging answers against the documented API shapes (README): OpenAI's error object on REST, Anthropic's on
 * /v1/messages, `errors[].extensions.code` on GraphQL; streams must end with their API's end marker or an
 * in-band error frame, never silently. Each judge records what it saw in the case's Tally.
 */
import type { HttpResult } from './http.ts';
import type { Tally } from './tally.ts';

/** Gateway error kinds a 5xx may legitimately carry: a provider's or the store's failure, or a drain. */
const MAPPED_5XX_KINDS = new Set(['invalid_response', 'provider_auth', 'overloaded', 'unavailable', 'timeout', 'shutting_down']);
const MAPPED_GRAPHQL_CODES = new Set([...MAPPED_5XX_KINDS].map((k) => k.toUpperCase()));

export interface Expect {
  /** The upstream broke: an answer that ends as a success hides that (a silent truncation for streams). */
  brokenUpstream?: boolean;
  /** A client-side mistake: anything but a 4xx is wrong (a 2xx means the gateway accepted garbage). */
  clientError?: boolean;
  /** Statuses the case accepts besides the judge's rules (documentation only; shapes are still checked). */
  note?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `{error: {message, type, code, param}}`, every key present (code and param may be null). */
export function openAiErrorProblem(v: unknown): string | null {
  if (!isObj(v) || !isObj(v.error)) return 'no error object';
  const e = v.error;
  if (typeof e.message !== 'string' || e.message === '') return 'error.message missing';
  if (typeof e.type !== 'string') return 'error.type missing';
  if (!('code' in e) || !(typeof e.code === 'string' || e.code === null)) return 'error.code missing';
  if (!('param' in e) || !(typeof e.param === 'string' || e.param === null)) return 'error.param missing';
  return null;
}

/** `{type: "error", error: {type, message}}`. */
export function anthropicErrorProblem(v: unknown): string | null {
  if (!isObj(v) || v.type !== 'error' || !isObj(v.error)) return 'not {type:"error", error:{…}}';
  if (typeof v.error.type !== 'string' || typeof v.error.message !== 'string') return 'error.type or error.message missing';
  return null;
}

/** Every `errors[]` entry has a message and a string `extensions.code`. */
export function graphqlErrorsProblem(errors: unknown): string | null {
  if (!Array.isArray(errors) || errors.length === 0) return 'errors is not a non-empty array';
  for (const e of errors) {
    if (!isObj(e) || typeof e.message !== 'string') return 'an error has no message';
    if (!isObj(e.extensions) || typeof e.extensions.code !== 'string') return `error without extensions.code: ${String(e.message).slice(0, 80)}`;
  }
  return null;
}

const snippet = (r: HttpResult) => r.body.toString('utf8', 0, Math.min(r.body.length, 160)).replace(/\s+/g, ' ');

/**
 * Node's own answers to a request line or headers it cannot take (431 headers too large, 408 request
 * timeout, 400 bad request, 413): sent before any handler runs, with no body. Documented (README "Limits on
 * input") and not an API error, so no API shape is owed.
 */
const NODE_LEVEL = new Set([400, 408, 413, 431]);
function nodeLevel(t: Tally, r: HttpResult): boolean {
  if (!NODE_LEVEL.has(r.status) || r.body.length > 0) return false;
  t.saw(r.status);
  return true;
}

/** No answer at all: a hang (timeout) or a dropped connection. True when the caller should stop judging. */
function noAnswer(t: Tally, label: string, r: HttpResult, allowDrop: boolean): boolean {
  if (r.status !== 0) return false;
  t.saw(r.timedOut ? 'timeout' : 'no-response');
  if (r.timedOut) t.fail('other', label, `no answer within ${Math.round(r.ms)} ms (hang)`);
  else if (!allowDrop) t.fail('wrongShape', label, `connection dropped without an answer (${r.error})`);
  return true;
}

export interface OpenAiSse {
  frames: unknown[];
  done: boolean;
  /** The last frame was `{error: …}`. */
  errorFrame: unknown;
  finishReason: string | null;
  badFrames: number;
}

export function readOpenAiSse(text: string): OpenAiSse {
  const out: OpenAiSse = { frames: [], done: false, errorFrame: undefined, finishReason: null, badFrames: 0 };
  for (const line of text.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '[DONE]') {
      out.done = true;
      continue;
    }
    const v = parse(data);
    if (v === undefined) {
      out.badFrames++;
      continue;
    }
    out.frames.push(v);
    if (isObj(v) && 'error' in v) out.errorFrame = v;
    const choice = isObj(v) && Array.isArray(v.choices) ? v.choices[0] : undefined;
    if (isObj(choice) && typeof choice.finish_reason === 'string') out.finishReason = choice.finish_reason;
  }
  return out;
}

/** A REST answer of /v1/chat/completions (or any /v1 path): status, error shape, stream ending. */
export function judgeRest(t: Tally, label: string, r: HttpResult, x: Expect = {}): void {
  if (noAnswer(t, label, r, false) || nodeLevel(t, r)) return;
  t.saw(r.status);
  const text = r.body.toString('utf8');
  const ctype = String(r.headers['content-type'] ?? '');
  if (r.status >= 400) {
    const v = parse(text);
    const problem = openAiErrorProblem(v);
    if (problem) t.fail('wrongShape', label, `${r.status} ${problem}: ${snippet(r)}`);
    if (r.status >= 500) {
      const code = isObj(v) && isObj(v.error) ? String(v.error.code) : '?';
      if (!([502, 503, 504].includes(r.status) && MAPPED_5XX_KINDS.has(code))) t.fail('unexpected5xx', label, `${r.status} ${code}: ${snippet(r)}`);
      else if (x.clientError) t.fail('unexpected5xx', label, `${r.status} ${code} for a client mistake`);
    }
    return;
  }
  if (x.clientError) t.fail('other', label, `${r.status} accepted input that should be refused: ${snippet(r)}`);
  if (ctype.startsWith('text/event-stream')) {
    const s = readOpenAiSse(text);
    if (s.badFrames > 0) t.fail('wrongShape', label, `${s.badFrames} SSE frames are not JSON`);
    if (s.errorFrame !== undefined) {
      const problem = openAiErrorProblem(s.errorFrame);
      if (problem) t.fail('wrongShape', label, `error frame: ${problem}`);
      if (s.done) t.fail('wrongShape', label, 'an error frame followed by [DONE]');
    } else if (!s.done || s.finishReason === null) {
      t.fail('silentTruncation', label, `stream ended without ${s.done ? 'a finish_reason' : '[DONE]'} or an error frame (${s.frames.length} frames${r.error ? `, ${r.error}` : ''})`);
    } else if (x.brokenUpstream) {
      t.fail('silentTruncation', label, `the upstream broke but the stream ended with finish_reason ${s.finishReason} and [DONE]`);
    }
    return;
  }
  const v = parse(text);
  if (r.error) t.fail('silentTruncation', label, `response body cut (${r.error}) after ${r.body.length} bytes`);
  else if (!isObj(v) || !Array.isArray(v.choices) && !Array.isArray(v.data)) t.fail('wrongShape', label, `${r.status} body is not a completion: ${snippet(r)}`);
  else if (x.brokenUpstream) t.fail('other', label, `the upstream broke but the gateway answered ${r.status} as a success`);
}

/** Anthropic's SSE: `message_stop` or an `event: error` frame must close it. */
export function readAnthropicSse(text: string): { events: string[]; stop: boolean; error: unknown; badFrames: number } {
  const out = { events: [] as string[], stop: false, error: undefined as unknown, badFrames: 0 };
  for (const block of text.split('\n\n')) {
    const ev = /^event: (\S+)/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (!ev) continue;
    out.events.push(ev);
    if (data !== undefined && parse(data) === undefined) out.badFrames++;
    if (ev === 'message_stop') out.stop = true;
    if (ev === 'error') out.error = data === undefined ? null : parse(data);
  }
  return out;
}

/** A /v1/messages answer. A 500 is mapped when the attempt log names a provider failure (Anthropic's vocabulary has no 502). */
export function judgeMessages(t: Tally, label: string, r: HttpResult, x: Expect = {}): void {
  if (noAnswer(t, label, r, false) || nodeLevel(t, r)) return;
  t.saw(r.status);
  const text = r.body.toString('utf8');
  if (r.status >= 400) {
    const problem = anthropicErrorProblem(parse(text));
    if (problem) t.fail('wrongShape', label, `${r.status} ${problem}: ${snippet(r)}`);
    if (r.status >= 500) {
      const log = String(r.headers['x-switchboard-attempt-log'] ?? '');
      const mapped = r.status === 529 || r.status === 504 || (r.status === 500 && /status=(invalid_response|provider_auth)/.test(log));
      if (!mapped || x.clientError) t.fail('unexpected5xx', label, `${r.status} (attempts: ${log || 'none'}): ${snippet(r)}`);
    }
    return;
  }
  if (x.clientError) t.fail('other', label, `${r.status} accepted input that should be refused: ${snippet(r)}`);
  if (String(r.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    const s = readAnthropicSse(text);
    if (s.badFrames > 0) t.fail('wrongShape', label, `${s.badFrames} SSE frames are not JSON`);
    if (s.error !== undefined) {
      const problem = anthropicErrorProblem(s.error);
      if (problem) t.fail('wrongShape', label, `error event: ${problem}`);
    } else if (!s.stop) t.fail('silentTruncation', label, `stream ended without message_stop or an error event (last: ${s.events.at(-1) ?? 'none'})`);
    else if (x.brokenUpstream) t.fail('silentTruncation', label, 'the upstream broke but the stream ended with message_stop');
    return;
  }
  const v = parse(text);
  if (!isObj(v) || v.type !== 'message') t.fail('wrongShape', label, `${r.status} body is not a message: ${snippet(r)}`);
  else if (x.brokenUpstream) t.fail('other', label, `the upstream broke but the gateway answered ${r.status} as a success`);
}

/** A GraphQL-over-HTTP answer: JSON, errors shaped, no 5xx but mapped store/provider codes. */
export function judgeGraphQL(t: Tally, label: string, r: HttpResult, x: Expect = {}): { data?: unknown; errors?: unknown } | undefined {
  if (noAnswer(t, label, r, false) || nodeLevel(t, r)) return undefined;
  t.saw(r.status);
  const v = parse(r.body.toString('utf8'));
  if (!isObj(v)) {
    t.fail('wrongShape', label, `${r.status} body is not a GraphQL response: ${snippet(r)}`);
    if (r.status >= 500) t.fail('unexpected5xx', label, `${r.status}: ${snippet(r)}`);
    return undefined;
  }
  if ('errors' in v) {
    const problem = graphqlErrorsProblem(v.errors);
    if (problem) t.fail('wrongShape', label, `${r.status} ${problem}`);
  } else if (r.status >= 400) t.fail('wrongShape', label, `${r.status} without errors[]`);
  if (r.status >= 500) {
    const codes = Array.isArray(v.errors) ? v.errors.map((e) => (isObj(e) && isObj(e.extensions) ? String(e.extensions.code) : '?')) : [];
    if (x.clientError || codes.length === 0 || !codes.every((c) => MAPPED_GRAPHQL_CODES.has(c))) t.fail('unexpected5xx', label, `${r.status} ${codes.join(',')}: ${snippet(r)}`);
  }
  if (Array.isArray(v.errors)) {
    for (const e of v.errors) {
      if (isObj(e) && isObj(e.extensions) && e.extensions.code === 'INTERNAL_SERVER_ERROR') t.fail('unexpected5xx', label, `INTERNAL_SERVER_ERROR: ${String(e.message).slice(0, 120)}`);
    }
  }
  if (x.clientError && !('errors' in v)) t.fail('other', label, `${r.status} accepted input that should be refused`);
  if (x.brokenUpstream && !('errors' in v)) t.fail('other', label, 'the upstream broke but the operation succeeded');
  return v as { data?: unknown; errors?: unknown };
}
