import {
  exceedsJsonDepth,
  GatewayError,
  partsOf,
  REASONING_BUDGET_TOKENS,
  reasoningPartsFor,
  textOf,
  type AssistantMessage,
  type ChatRequest,
  type ImagePart,
  type Message,
} from '../../core/index.ts';
import type { Content, GenerateContentRequest, GenerationConfig, RequestPart } from './wire.ts';

/**
 * ChatRequest → Gemini `GenerateContentRequest`. Anything Gemini cannot express is rejected with
 * unsupported_feature (never dropped); malformed history (tool arguments that are not JSON, a tool
 * result whose call cannot be found) is an invalid_request, since Gemini would only guess.
 */

/** Ids we invent for Gemini's id-less calls (see response.ts); they mean nothing to Gemini, so they are not sent back. */
export const SYNTHETIC_CALL_ID = /^call_\d+$/;
export const syntheticCallId = (ordinal: number): string => `call_${ordinal}`;

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
};

function unsupported(provider: string, param: string, what: string): GatewayError {
  return new GatewayError('unsupported_feature', `${provider}: ${what}`, { provider, param });
}

function invalid(provider: string, param: string, what: string): GatewayError {
  return new GatewayError('invalid_request', `${provider}: ${what}`, { provider, param });
}

function imagePart(provider: string, img: ImagePart, param: string): RequestPart {
  if (img.data !== undefined) return { inlineData: { mimeType: img.mediaType ?? '', data: img.data } };
  const url = img.url ?? '';
  const dataUrl = /^data:([^;,]+)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (dataUrl) {
    const [, mimeType = '', params = '', payload = ''] = dataUrl;
    if (/;base64$/i.test(params)) return { inlineData: { mimeType, data: payload } };
    try {
      return { inlineData: { mimeType, data: Buffer.from(decodeURIComponent(payload)).toString('base64') } };
    } catch {
      throw invalid(provider, param, 'the image data: URL is not valid percent-encoding');
    }
  }
  if (/^https?:\/\//i.test(url)) {
    // Gemini fetches external files named in fileData, but only with a MIME type; guess one from a plain
    // image extension, otherwise refuse rather than send a part Gemini would reject or misread.
    let pathname: string;
    try {
      pathname = new URL(url).pathname;
    } catch {
      throw invalid(provider, param, 'the image URL is not a valid URL');
    }
    const ext = /\.([a-z0-9]+)$/i.exec(pathname)?.[1]?.toLowerCase();
    const mimeType = img.mediaType ?? (ext ? IMAGE_TYPES[ext] : undefined);
    if (!mimeType) throw unsupported(provider, param, 'an image URL without a known media type (Gemini fileData needs mimeType)');
    return { fileData: { fileUri: url, mimeType } };
  }
  throw unsupported(provider, param, 'image URLs other than http(s) or data: cannot be sent to Gemini');
}

function parseArgs(provider: string, text: string, param: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw invalid(provider, param, 'tool call arguments are not valid JSON');
  }
  // functionCall.args is a protobuf Struct: only a JSON object can be sent.
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(provider, param, 'tool call arguments must be a JSON object for Gemini');
  }
  return value as Record<string, unknown>;
}

/**
 * functionResponse.response is a protobuf Struct, so it must be a JSON object. A tool's text that
 * parses to an object is sent as that object (the model sees its fields, as the tool meant); anything
 * else — plain text, an array, a number, or an object nested past MAX_JSON_DEPTH (whose serialization
 * would overflow the stack) — is wrapped as `{result: text}` so nothing is lost or rejected.
 */
function toolResponse(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !exceedsJsonDepth(v)) return v as Record<string, unknown>;
  } catch {
    // not JSON: wrapped below
  }
  return { result: text };
}

/**
 * A model turn as Gemini returned it: thoughts first (`thought: true`, with their signatures), then the text and
 * the calls. Gemini signs the first function call of a step (or the text when there is none) rather than a
 * thought, so a signature that belonged to a call goes back on that call, and one that belonged to the text on
 * the first text part. Gemini 3 rejects a tool-use turn whose call lost its signature. Only Gemini's own
 * reasoning is sent (reasoningPartsFor): another vendor's signature means nothing here.
 */
function modelParts(provider: string, m: AssistantMessage, at: string, callNames: Map<string, string>): RequestPart[] {
  const reasoning = reasoningPartsFor(m.reasoningParts, 'gemini', true);
  const callSignatures = new Map<string, string>();
  const loose: string[] = [];
  const thoughts: RequestPart[] = [];
  const calls = new Set((m.toolCalls ?? []).map((c) => c.id));
  for (const r of reasoning) {
    if (r.redacted === true) continue;
    if (r.text !== '') thoughts.push({ text: r.text, thought: true, ...(r.signature !== undefined && { thoughtSignature: r.signature }) });
    else if (r.toolCallId !== undefined && calls.has(r.toolCallId) && r.signature !== undefined) callSignatures.set(r.toolCallId, r.signature);
    else if (r.signature !== undefined) loose.push(r.signature);
  }
  const text: Array<{ text: string; thoughtSignature?: string }> = partsOf(m.content).flatMap((p) => (p.type === 'text' && p.text ? [{ text: p.text }] : []));
  const fnParts: Array<Extract<RequestPart, { functionCall: unknown }>> = [];
  for (const [j, call] of (m.toolCalls ?? []).entries()) {
    callNames.set(call.id, call.name);
    const args = parseArgs(provider, call.arguments, `${at}.toolCalls[${j}].arguments`);
    const signature = callSignatures.get(call.id);
    fnParts.push({
      functionCall: { name: call.name, args, ...(!SYNTHETIC_CALL_ID.test(call.id) && { id: call.id }) },
      ...(signature !== undefined && { thoughtSignature: signature }),
    });
  }
  // A signature tied to no call: the text's (or, with no text, the first unsigned call's).
  for (const signature of loose) {
    const host = text.find((p) => p.thoughtSignature === undefined) ?? fnParts.find((p) => p.thoughtSignature === undefined);
    if (host) host.thoughtSignature = signature;
  }
  return [...thoughts, ...text, ...fnParts];
}

function contentsOf(provider: string, messages: Message[]): { system: string[]; contents: Content[] } {
  const system: string[] = [];
  const contents: Content[] = [];
  const callNames = new Map<string, string>();
  const push = (role: Content['role'], parts: RequestPart[]) => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    // Gemini wants turns to alternate; consecutive same-role turns (several tool results, a user
    // message after tool results) are one turn with all their parts.
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  for (const [i, m] of messages.entries()) {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
        // Gemini has one systemInstruction; every system message goes there, in order.
        system.push(textOf(m.content));
        break;
      case 'user':
        push(
          'user',
          partsOf(m.content).map((p, j) =>
            p.type === 'text' ? { text: p.text } : imagePart(provider, p, `${at}.content[${j}]`),
          ),
        );
        break;
      case 'assistant':
        push('model', modelParts(provider, m, at, callNames));
        break;
      case 'tool': {
        // Gemini matches results to calls by function name; the id only helps us find that name.
        const name = m.name ?? callNames.get(m.toolCallId);
        if (!name) throw invalid(provider, `${at}.name`, `tool result ${m.toolCallId} has no name and matches no earlier tool call`);
        push('user', [
          {
            functionResponse: {
              name,
              response: toolResponse(textOf(m.content)),
              ...(!SYNTHETIC_CALL_ID.test(m.toolCallId) && { id: m.toolCallId }),
            },
          },
        ]);
        break;
      }
    }
  }
  return { system, contents };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * providerOptions.gemini is merged over the body: nested objects merge (so `generationConfig.topK`
 * adds to our generationConfig instead of replacing it), anything else — arrays included — replaces.
 */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const cur = out[k];
    out[k] = isPlainObject(cur) && isPlainObject(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

export function toGeminiRequest(provider: string, req: ChatRequest): Record<string, unknown> {
  const { system, contents } = contentsOf(provider, req.messages);
  if (contents.length === 0) throw invalid(provider, 'messages', 'Gemini needs at least one user or assistant message');

  const body: GenerateContentRequest = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system.map((text) => ({ text })) };

  if (req.tools?.length) {
    const strict = req.tools.findIndex((t) => t.strict === true);
    // Gemini has no per-tool strict flag; accepting it would promise schema-exact arguments we cannot ensure.
    if (strict >= 0) throw unsupported(provider, `tools[${strict}].strict`, 'strict tool schemas are not supported by Gemini');
    body.tools = [
      {
        functionDeclarations: req.tools.map((t) => ({
          name: t.name,
          ...(t.description !== undefined && { description: t.description }),
          // parametersJsonSchema takes plain JSON Schema (the older `parameters` wants Gemini's OpenAPI subset).
          parametersJsonSchema: t.parameters,
        })),
      },
    ];
  }

  if (req.toolChoice !== undefined) {
    const tc = req.toolChoice;
    body.toolConfig = {
      functionCallingConfig:
        tc === 'auto'
          ? { mode: 'AUTO' }
          : tc === 'none'
            ? { mode: 'NONE' }
            : tc === 'required'
              ? { mode: 'ANY' }
              : { mode: 'ANY', allowedFunctionNames: [tc.name] },
    };
  }

  const gc: GenerationConfig = {};
  if (req.maxOutputTokens !== undefined) gc.maxOutputTokens = req.maxOutputTokens;
  if (req.temperature !== undefined) gc.temperature = req.temperature;
  if (req.topP !== undefined) gc.topP = req.topP;
  if (req.stop?.length) gc.stopSequences = req.stop;
  if (req.seed !== undefined) gc.seed = req.seed;
  const rf = req.responseFormat;
  if (rf?.type === 'json_object') gc.responseMimeType = 'application/json';
  if (rf?.type === 'json_schema') {
    gc.responseMimeType = 'application/json';
    // Gemini decodes against responseJsonSchema, so `strict` holds by construction; the schema's `name` is
    // only a label with no Gemini field. A description is carried in the schema where the model reads it.
    gc.responseJsonSchema =
      rf.description !== undefined && rf.schema.description === undefined ? { description: rf.description, ...rf.schema } : rf.schema;
  }
  if (req.reasoningEffort !== undefined) {
    // Thoughts count against maxOutputTokens, so the budget is added to the answer's own allowance.
    const budget = REASONING_BUDGET_TOKENS[req.reasoningEffort];
    gc.thinkingConfig = { thinkingBudget: budget, includeThoughts: true };
    if (gc.maxOutputTokens !== undefined) gc.maxOutputTokens += budget;
  }
  if (Object.keys(gc).length > 0) body.generationConfig = gc;

  const extra = req.providerOptions?.gemini;
  return extra ? deepMerge(body, extra) : { ...body };
}
