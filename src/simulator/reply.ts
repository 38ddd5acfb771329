import { createHash } from 'node:crypto';

/**
 * Protocol-neutral reply planning for the simulators: deterministic text from the prompt, tool calls
 * when tools are offered and the prompt asks for one, JSON when a JSON format is requested, and token
 * counts that add up the same whether the reply is streamed or not.
 */

/** A cheap deterministic tokenizer: words and punctuation marks (≈ real BPE counts for English). */
export function countTokens(text: string): number {
  return text.match(/[A-Za-z0-9]+|[^\sA-Za-z0-9]/g)?.length ?? 0;
}

/** Splits text into pieces that concatenate back to it exactly: `count` pieces, or one per word. */
export function chunkText(text: string, count?: number): string[] {
  if (!text) return [];
  const words = text.match(/\S+\s*|\s+/g) ?? [text];
  if (count === undefined || count >= words.length) {
    if (count === undefined || count === words.length) return words;
    // More chunks than words: split characters evenly so the count is honoured.
    const pieces: string[] = [];
    const size = Math.max(1, Math.ceil(text.length / count));
    for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
    return pieces;
  }
  const out: string[] = [];
  const per = Math.ceil(words.length / count);
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(''));
  return out;
}

/** Splits a string into n roughly equal fragments (tool-call argument streaming). */
export function fragment(text: string, n: number): string[] {
  if (n <= 1 || text.length <= 1) return [text];
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const WORDS = [
  'switchboard', 'routes', 'every', 'request', 'to', 'a', 'healthy', 'provider', 'and', 'streams', 'tokens', 'back',
  'quickly', 'with', 'exact', 'usage', 'accounting', 'for', 'each', 'model', 'the', 'gateway', 'keeps', 'answers',
];

function seedOf(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

export interface ToolOffer {
  name: string;
  parameters?: Record<string, unknown> | undefined;
}

export interface ReplyInput {
  /** Text of the last user message. */
  prompt: string;
  /** Set when the last message is a tool result: its text. */
  toolResult?: string | undefined;
  tools?: ToolOffer[] | undefined;
  /** True when the request forbids tool calls (tool_choice none). */
  toolsDisabled?: boolean | undefined;
  /** Forced tool name (tool_choice naming one) or '*' for "any tool". */
  forcedTool?: string | undefined;
  /** 'json' for a JSON object, or a JSON schema the reply must satisfy. */
  json?: 'json' | Record<string, unknown> | undefined;
  maxTokens?: number | undefined;
  replyWords: number;
}

export interface PlannedReply {
  text: string;
  toolCalls: Array<{ name: string; arguments: Record<string, unknown> }>;
  /** 'length' when maxTokens cut the text. */
  finish: 'stop' | 'length' | 'tool_calls';
  outputTokens: number;
}

/**
 * The reply a simulator gives. Rules (documented in the README):
 * - tool result as last message → "Tool <…> returned: <result>";
 * - tools offered and the prompt names one of them, says "tool"/"call", or tool choice forces one → a call with
 *   arguments built from the tool's JSON schema (strings taken from the prompt);
 * - JSON format → a JSON document (following the schema's properties when given);
 * - otherwise a deterministic sentence seeded by the prompt, `replyWords` long, cut at maxTokens.
 */
export function planReply(input: ReplyInput): PlannedReply {
  const tools = input.toolsDisabled ? [] : (input.tools ?? []);
  if (input.toolResult === undefined && tools.length > 0) {
    const lower = input.prompt.toLowerCase();
    const named = tools.filter((t) => lower.includes(t.name.toLowerCase()));
    const forced = input.forcedTool && input.forcedTool !== '*' ? tools.filter((t) => t.name === input.forcedTool) : [];
    const asks = /\b(tool|call|use)\b/.test(lower) || input.forcedTool !== undefined;
    const chosen = forced.length > 0 ? forced : named.length > 0 ? named : asks ? tools.slice(0, 1) : [];
    if (chosen.length > 0) {
      const toolCalls = chosen.map((t) => ({ name: t.name, arguments: argumentsFor(t.parameters, input.prompt) }));
      const outputTokens = toolCalls.reduce((n, c) => n + countTokens(c.name) + countTokens(JSON.stringify(c.arguments)), 0);
      return { text: '', toolCalls, finish: 'tool_calls', outputTokens };
    }
  }
  let text: string;
  if (input.json !== undefined) {
    text = JSON.stringify(input.json === 'json' ? { answer: sentence(input.prompt, Math.min(input.replyWords, 6)) } : valueFor(input.json, input.prompt));
  } else if (input.toolResult !== undefined) {
    text = `The tool returned: ${input.toolResult}`;
  } else {
    text = sentence(input.prompt, input.replyWords);
  }
  let outputTokens = countTokens(text);
  let finish: PlannedReply['finish'] = 'stop';
  if (input.maxTokens !== undefined && outputTokens > input.maxTokens) {
    text = truncateToTokens(text, input.maxTokens);
    outputTokens = countTokens(text);
    finish = 'length';
  }
  return { text, toolCalls: [], finish, outputTokens };
}

export function sentence(prompt: string, words: number): string {
  let s = seedOf(prompt);
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.push(WORDS[s % WORDS.length]!);
  }
  const first = out[0] ?? 'ok';
  out[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return `${out.join(' ')}.`;
}

function truncateToTokens(text: string, max: number): string {
  const re = /[A-Za-z0-9]+|[^\sA-Za-z0-9]/g;
  let m: RegExpExecArray | null;
  let n = 0;
  let end = 0;
  while ((m = re.exec(text)) && n < max) {
    n++;
    end = m.index + m[0].length;
  }
  return text.slice(0, end);
}

function argumentsFor(schema: Record<string, unknown> | undefined, prompt: string): Record<string, unknown> {
  const v = valueFor(schema ?? { type: 'object' }, prompt);
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
}

/** A value satisfying a (simple) JSON schema: objects with all properties, enums' first value, typed scalars. */
export function valueFor(schema: Record<string, unknown>, prompt: string): unknown {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      const out: Record<string, unknown> = {};
      for (const [k, sub] of Object.entries(props)) out[k] = valueFor(sub, `${prompt} ${k}`);
      return out;
    }
    case 'array':
      return [valueFor((schema.items ?? { type: 'string' }) as Record<string, unknown>, prompt)];
    case 'integer':
      return 1 + (seedOf(prompt) % 100);
    case 'number':
      return (seedOf(prompt) % 1000) / 10;
    case 'boolean':
      return seedOf(prompt) % 2 === 0;
    case 'null':
      return null;
    default: {
      // A string: the prompt's most specific word, so "weather in Paris" gives "Paris".
      const words = prompt.match(/[A-Z][a-zA-Z]+/g) ?? prompt.match(/[a-zA-Z]+/g) ?? ['value'];
      return words[words.length - 1] ?? 'value';
    }
  }
}

/**
 * Remembers prompt prefixes a simulator has seen, to report cache reads for a prefix the client marked
 * cacheable (or, for OpenAI, any long prefix) the second time it is sent, and cache writes the first time.
 */
export class PrefixCache {
  /** Prefix digest → when it expires (ms); Infinity for caches without a lifetime. */
  private readonly seen = new Map<string, number>();

  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /**
   * Returns 'write' the first time a prefix is seen (or once its entry expired) and 'read' afterwards. With a
   * `ttlMs`, each touch renews the entry's lifetime, as Anthropic's cache refreshes an entry on every hit.
   */
  touch(prefix: string, ttlMs = Infinity): 'read' | 'write' {
    const key = createHash('sha256').update(prefix).digest('hex');
    const now = this.now();
    const expires = this.seen.get(key);
    const hit = expires !== undefined && expires > now;
    if (!hit && this.seen.size >= 10_000) this.seen.clear();
    this.seen.set(key, now + ttlMs);
    return hit ? 'read' : 'write';
  }
}

/** A deterministic unit vector for a text: a hash-seeded pseudo-random sequence, L2-normalised. */
export function embeddingOf(text: string, dims: number): number[] {
  let s = createHash('sha256').update(text).digest().readUInt32BE(0) || 1;
  const v: number[] = [];
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const x = s / 0x80000000 - 1;
    v.push(x);
    norm += x * x;
  }
  const scale = 1 / Math.sqrt(norm || 1);
  return v.map((x) => Math.fround(x * scale));
}

/** Cuts a planned text reply at the first stop sequence, as providers do (the sequence itself is not sent). */
export function applyStop(plan: PlannedReply, stop: string[]): PlannedReply {
  if (stop.length === 0 || !plan.text) return plan;
  let cut = -1;
  for (const s of stop) {
    const i = plan.text.indexOf(s);
    if (i >= 0 && (cut < 0 || i < cut)) cut = i;
  }
  if (cut < 0) return plan;
  const text = plan.text.slice(0, cut);
  return { ...plan, text, finish: 'stop', outputTokens: countTokens(text) };
}
