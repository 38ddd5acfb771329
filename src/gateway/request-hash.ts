import { hash } from 'node:crypto';
import { assertNever, type ChatRequest, type ContentPart, type Message } from '../core/index.ts';
import type { GatewayRequest } from './gateway-request.ts';

/** Where a request goes as the client named it (ResolvedRequest has these, with a route named in `model` moved to `namedRoute`). */
export interface NamedTarget {
  readonly namedRoute: string | undefined;
  readonly namedModel: string | undefined;
  /** The resolved route's version: an answer cached before `upsertRoute` changed the targets is not served after. */
  readonly version?: number | undefined;
}

/** Output text already made, as opposed to a value still to serialize (see canonicalJson). */
class Emit {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}
const COMMA = new Emit(',');
const CLOSE_ARRAY = new Emit(']');
const CLOSE_OBJECT = new Emit('}');

/**
 * JSON with object keys sorted and undefined members dropped, so two requests that differ only in key
 * order or whitespace serialize alike. Arrays keep their order (message and tool order mean something).
 * Iterative (a stack of work, not recursion): request bodies are bounded in depth at the APIs, but a hash
 * must not be what overflows the stack if one ever is not.
 */
export function canonicalJson(value: unknown): string {
  let out = '';
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const v = todo.pop();
    if (v instanceof Emit) {
      out += v.text;
    } else if (v === null || typeof v !== 'object') {
      out += JSON.stringify(v) ?? 'null';
    } else if (Array.isArray(v)) {
      out += '[';
      todo.push(CLOSE_ARRAY);
      // Pushed last to first, so they come off the stack in order.
      for (let i = v.length - 1; i >= 0; i--) {
        todo.push(v[i]);
        if (i > 0) todo.push(COMMA);
      }
    } else {
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      out += '{';
      todo.push(CLOSE_OBJECT);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, x] = entries[i]!;
        todo.push(x, new Emit(`${JSON.stringify(k)}:`));
        if (i > 0) todo.push(COMMA);
      }
    }
  }
  return out;
}

/** Tool-call arguments are JSON text: compare what they say, not how they are spaced. */
function canonicalArguments(args: string): string {
  try {
    return canonicalJson(JSON.parse(args));
  } catch {
    return args;
  }
}

/**
 * Content as what the model sees: a lone text part is the same prompt as a string, and prompt-cache
 * markers are hints to the provider that do not change the answer.
 */
function normalizeContent(content: string | readonly ContentPart[] | null | undefined): unknown {
  if (content == null || typeof content === 'string') return content ?? null;
  const parts = content.map((p) => (p.type === 'text' ? { type: 'text', text: p.text } : { ...p }));
  if (parts.length === 1 && parts[0]!.type === 'text') return (parts[0] as { text: string }).text;
  return parts;
}

function normalizeMessage(m: Message): unknown {
  switch (m.role) {
    case 'system':
    case 'user':
      return { role: m.role, content: normalizeContent(m.content) };
    case 'assistant':
      return {
        role: m.role,
        content: normalizeContent(m.content),
        toolCalls: m.toolCalls?.length ? m.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: canonicalArguments(c.arguments) })) : undefined,
        // The model continues from its signed reasoning, so it is part of the prompt.
        reasoningParts: m.reasoningParts?.length ? m.reasoningParts : undefined,
      };
    case 'tool':
      return { role: m.role, toolCallId: m.toolCallId, name: m.name, content: normalizeContent(m.content) };
    default:
      return assertNever(m);
  }
}

/** Everything in a chat request that can change the answer (labels in `metadata` cannot). */
function normalizeChat(chat: ChatRequest): unknown {
  return {
    messages: chat.messages.map(normalizeMessage),
    tools: chat.tools?.length ? chat.tools : undefined,
    toolChoice: chat.toolChoice,
    responseFormat: chat.responseFormat,
    maxOutputTokens: chat.maxOutputTokens,
    temperature: chat.temperature,
    topP: chat.topP,
    stop: chat.stop?.length ? chat.stop : undefined,
    seed: chat.seed,
    reasoningEffort: chat.reasoningEffort,
    providerOptions: chat.providerOptions,
  };
}

/**
 * What an embeddings request adds to its inputs (which its chat view already holds): its presence keeps
 * it apart from any chat request, and dimensions change the vectors. Undefined for chat, so chat keys
 * are what they always were.
 */
function embeddingsOptions(req: GatewayRequest): unknown {
  const e = req.embeddings;
  return e && { dimensions: e.dimensions ?? null, providerOptions: e.providerOptions };
}

function sha256(s: string): string {
  return hash('sha256', s, 'hex');
}

/**
 * The response-cache key: a hash of the normalized request and where it goes (route, or pinned model),
 * as resolved (`at`: the request's resolution; the request's own fields when there is none).
 * `partition` separates callers that must not share answers (e.g. per team); none by default.
 */
export function cacheKeyOf(req: GatewayRequest, partition?: string, at: NamedTarget = { namedRoute: req.route, namedModel: req.model }): string {
  const target = at.namedModel !== undefined ? { model: at.namedModel, route: at.namedRoute } : { route: at.namedRoute ?? '', version: at.version };
  // Task and constraints choose among targets, so they decide which model answers.
  const routing = { task: req.task, constraints: req.constraints };
  return sha256(canonicalJson({ v: 1, target, routing, partition, chat: normalizeChat(req.chat), embeddings: embeddingsOptions(req) }));
}

/** The idempotency body hash: like the cache key, but every field counts, labels included. */
export function bodyHashOf(req: GatewayRequest, at: NamedTarget = { namedRoute: req.route, namedModel: req.model }): string {
  return sha256(canonicalJson({ v: 1, route: at.namedRoute, model: at.namedModel, task: req.task, constraints: req.constraints, chat: { ...(normalizeChat(req.chat) as object), metadata: req.chat.metadata }, embeddings: embeddingsOptions(req) }));
}
