import {
  GatewayError,
  textOf,
  type ChatRequest,
  type EmbeddingRequest,
  type Message,
  type UserMessage,
} from '../../core/index.ts';
import type {
  OllamaChatRequest,
  OllamaEmbedRequest,
  OllamaOptions,
  OllamaRequestMessage,
  OllamaRequestToolCall,
  OllamaTool,
} from './wire.ts';

/**
 * ChatRequest → `/api/chat` body.
 *
 * Ollama silently drops the oldest messages when a prompt exceeds `num_ctx` instead of failing, so
 * this adapter cannot report context overflow for chat: the router enforces the model's context
 * window (from config) before a request gets here.
 *
 * Hints that change nothing the model is asked to do are not sent: `cacheControl` (Ollama reuses its
 * KV cache on its own), image `detail`, request `metadata` (never sent upstream), and a json_schema's
 * `name` / `strict` (the format is always enforced by grammar, so a schema is always strict).
 * Everything else that Ollama cannot express is rejected, never dropped.
 */
export function toChatBody(req: ChatRequest, model: string, stream: boolean, provider: string): OllamaChatRequest {
  const messages = req.messages.map((m, i) => toMessage(m, i, req.messages, provider));

  const body: OllamaChatRequest = { model, messages, stream };

  const choice = req.toolChoice ?? 'auto';
  if (choice === 'required' || typeof choice === 'object') {
    // There is no tool_choice field: the model always decides for itself.
    throw unsupported(provider, 'toolChoice', `toolChoice ${typeof choice === 'object' ? `{tool: ${choice.name}}` : `'${choice}'`}`);
  }
  if (choice === 'auto' && req.tools?.length) body.tools = req.tools.map((t) => toTool(t, provider));
  // 'none': the only way to keep the model from calling tools is to not offer any.

  const format = req.responseFormat;
  if (format?.type === 'json_object') body.format = 'json';
  if (format?.type === 'json_schema') {
    if (format.description !== undefined) {
      throw unsupported(provider, 'responseFormat.description', 'a json_schema description');
    }
    body.format = format.schema;
  }

  const options: OllamaOptions = {};
  if (req.maxOutputTokens !== undefined) options.num_predict = req.maxOutputTokens;
  if (req.temperature !== undefined) options.temperature = req.temperature;
  if (req.topP !== undefined) options.top_p = req.topP;
  if (req.stop !== undefined) options.stop = req.stop;
  if (req.seed !== undefined) options.seed = req.seed;
  if (Object.keys(options).length > 0) body.options = options;
  // Ollama has no effort levels for most thinking models (only gpt-oss takes one): thinking on is what it can honour.
  if (req.reasoningEffort !== undefined) body.think = true;

  return withProviderOptions(body, req.providerOptions?.['ollama'], ['model', 'stream']);
}

/**
 * `providerOptions.ollama` goes in as is (keep_alive, think, num_ctx under options…). `options` is
 * merged key by key so a passthrough `{options: {num_ctx}}` does not wipe our mapped parameters;
 * the fields the adapter depends on (model, and stream, which decides how the body is parsed) stay ours.
 */
function withProviderOptions<T extends Record<string, unknown>>(
  body: T,
  extra: Record<string, unknown> | undefined,
  fixed: ReadonlyArray<keyof T & string>,
): T {
  if (!extra) return body;
  const merged: Record<string, unknown> = { ...body, ...extra };
  const ours = body['options'];
  const theirs = extra['options'];
  if (isPlainObject(ours) && isPlainObject(theirs)) merged['options'] = { ...ours, ...theirs };
  for (const key of fixed) merged[key] = body[key];
  return merged as T;
}

function toMessage(m: Message, i: number, all: readonly Message[], provider: string): OllamaRequestMessage {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: textOf(m.content) };
    case 'user':
      return toUserMessage(m, i, provider);
    case 'assistant': {
      const out: OllamaRequestMessage = { role: 'assistant', content: textOf(m.content) };
      if (m.toolCalls?.length) {
        out.tool_calls = m.toolCalls.map((c, j) => toRequestToolCall(c.name, c.arguments, `messages[${i}].toolCalls[${j}].arguments`, provider));
      }
      return out;
    }
    case 'tool': {
      // Ollama matches a result to its call by function name, not id.
      const name = m.name ?? nameOfCall(m.toolCallId, all.slice(0, i));
      if (name === undefined) {
        throw new GatewayError(
          'invalid_request',
          `${provider}: tool result messages[${i}] needs a name: no earlier assistant tool call has id ${m.toolCallId}`,
          { provider, param: `messages[${i}].name` },
        );
      }
      return { role: 'tool', content: textOf(m.content), tool_name: name };
    }
  }
}

function toUserMessage(m: UserMessage, i: number, provider: string): OllamaRequestMessage {
  if (typeof m.content === 'string') return { role: 'user', content: m.content };
  const images: string[] = [];
  for (const part of m.content) {
    if (part.type !== 'image') continue;
    if (part.data !== undefined) {
      // Ollama sniffs the image format from the bytes, so the media type is not needed.
      images.push(part.data);
      continue;
    }
    const inline = base64OfDataUrl(part.url ?? '');
    if (inline === undefined) {
      // Ollama takes inline bytes only and fetches nothing.
      throw unsupported(provider, 'image_url', `an image by URL (messages[${i}]); send it as inline base64 data`);
    }
    images.push(inline);
  }
  const out: OllamaRequestMessage = { role: 'user', content: textOf(m.content) };
  if (images.length > 0) out.images = images;
  return out;
}

/** The base64 payload of a `data:…;base64,…` URL (inline data in URL form), else undefined. */
function base64OfDataUrl(url: string): string | undefined {
  const match = /^data:[^,]*;base64,(.*)$/is.exec(url);
  return match?.[1];
}

function nameOfCall(id: string, before: readonly Message[]): string | undefined {
  for (let k = before.length - 1; k >= 0; k--) {
    const m = before[k];
    if (m?.role !== 'assistant') continue;
    const call = m.toolCalls?.find((c) => c.id === id);
    if (call) return call.name;
  }
  return undefined;
}

/** Our arguments are JSON text; Ollama wants the object itself. */
function toRequestToolCall(name: string, args: string, param: string, provider: string): OllamaRequestToolCall {
  // Some models emit an empty string for a call without arguments.
  if (args.trim() === '') return { function: { name, arguments: {} } };
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new GatewayError('invalid_request', `${provider}: tool call arguments are not valid JSON (${param})`, { provider, param });
  }
  if (!isPlainObject(parsed)) {
    throw new GatewayError('invalid_request', `${provider}: tool call arguments must be a JSON object (${param})`, { provider, param });
  }
  return { function: { name, arguments: parsed } };
}

function toTool(t: NonNullable<ChatRequest['tools']>[number], provider: string): OllamaTool {
  if (t.strict === true) {
    // Ollama does not constrain tool arguments to the schema; a strict promise cannot be kept.
    throw unsupported(provider, 'tools.strict', `strict tool schemas (tool ${t.name})`);
  }
  return {
    type: 'function',
    function: {
      name: t.name,
      ...(t.description !== undefined && { description: t.description }),
      parameters: t.parameters,
    },
  };
}

/** EmbeddingRequest → `/api/embed` body. */
export function toEmbedBody(req: EmbeddingRequest, model: string): OllamaEmbedRequest {
  const body: OllamaEmbedRequest = {
    model,
    input: req.input,
    // Ollama's default truncates an over-long input silently and embeds the prefix; asking it to
    // fail instead makes that a context_length_exceeded error (providerOptions may turn it back on).
    truncate: false,
  };
  if (req.dimensions !== undefined) body.dimensions = req.dimensions;
  return withProviderOptions(body, req.providerOptions?.['ollama'], ['model', 'input']);
}

function unsupported(provider: string, param: string, what: string): GatewayError {
  return new GatewayError('unsupported_feature', `${provider} (ollama) cannot express ${what}`, { provider, param });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
