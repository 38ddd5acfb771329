import { createHash, randomBytes } from 'node:crypto';
import type { ErrorResponse, ProtocolSimulator, SimContext, SimErrorKind, SimRequest, StreamWriter } from './protocol.ts';
import { checkCurrentTurn, checkPartSignature, parseThinkingConfig, signReply, thoughtParts, type ThinkingConfig } from './gemini-thinking.ts';
import { chunkText, countTokens, planReply, type PlannedReply, type PrefixCache, type ToolOffer } from './reply.ts';
import { planThinking, type PlannedThinking, type ThoughtSigner } from './thinking.ts';

/**
 * Google Gemini API simulator ("ML Dev" REST surface), written from
 * /work/shared/provider-protocols/gemini.md, independent of src/providers/gemini.
 *
 * Routes (any of the API versions v1, v1beta, v1alpha — @google/genai 3.x defaults to `v1`, the reference to
 * `v1beta`):
 *   POST /{v}/models/{model}:generateContent
 *   POST /{v}/models/{model}:streamGenerateContent?alt=sse   (SSE `data:` lines; without alt=sse a streamed JSON array)
 *   POST /{v}/models/{model}:countTokens
 *   POST /{v}/models/{model}:embedContent | :batchEmbedContents
 *   GET  /{v}/models, GET /{v}/models/{model}
 *   POST /{v}/cachedContents, GET /{v}/cachedContents[/{id}], DELETE /{v}/cachedContents/{id}   (explicit caching)
 * Auth: `x-goog-api-key` header or `?key=`; a bad key is a 400 INVALID_ARGUMENT / API_KEY_INVALID (never 401).
 *
 * Token accounting (the same for streamed and non-streamed replies):
 * - prompt = countTokens(systemInstruction text) + 3 when given, + for each content: its parts' text
 *   (text; functionCall name + args JSON; functionResponse name + response JSON; inlineData/fileData count 0) + 3.
 * - Caching is explicit, through `cachedContent: "cachedContents/…"` naming a cache created with
 *   POST cachedContents (the cache's systemInstruction and contents come first). Its tokens are reported as
 *   `cachedContentTokenCount` (+ `cacheTokensDetails`) and are INCLUDED in `promptTokenCount`, as the API does.
 *   Creation goes through the simulator's PrefixCache (write), each use touches it again (read). Unlike the real
 *   API there is no minimum cache size, and implicit (automatic) caching is not simulated.
 * - candidatesTokenCount = planReply's outputTokens; totalTokenCount = prompt + candidates.
 * Streaming: intermediate chunks carry usage with the prompt counts only (as in the recorded 2.0 stream); the last
 * chunk carries finishReason and the final usage. With faults.omitEndMarker the last chunk is sent like an
 * intermediate one (no finishReason, no final usage; in JSON-array mode also no closing `]`).
 * Thinking (`generationConfig.thinkingConfig` with a non-zero budget): `thoughtsTokenCount` reports planThinking's
 * tokens (outside candidatesTokenCount, inside totalTokenCount), thought parts come first with `includeThoughts`,
 * and the reply is signed (thoughtSignature on its first function call, else on its text; the last text chunk
 * when streamed). Signatures sent back are checked (src/simulator/gemini-thinking.ts).
 */

type Json = Record<string, unknown>;

const VERSIONED = /^\/(v1|v1beta|v1alpha)\/(.*)$/;

class ApiFailure extends Error {
  readonly status: number;
  readonly kind: SimErrorKind;
  constructor(status: number, message: string, kind: SimErrorKind = 'bad_request') {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

function invalid(message: string): ApiFailure {
  return new ApiFailure(400, message, 'bad_request');
}

const fail = (message: string): never => {
  throw invalid(message);
};

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function randomId(length: number): string {
  let out = '';
  for (const b of randomBytes(length)) out += ID_CHARS[b % 64];
  return out;
}

/** Bare model id from a path segment or a `models/…` name. */
function bareModel(model: string): string {
  return model.startsWith('models/') ? model.slice('models/'.length) : model;
}

function modelNotFound(model: string, version: string, method: string): ApiFailure {
  return new ApiFailure(
    404,
    `models/${model} is not found for API version ${version}, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`,
    'not_found',
  );
}

/** Converts an OpenAPI-subset schema (`"type": "OBJECT"`) to JSON Schema casing; JSON Schema passes through. */
function normalizeSchema(schema: unknown): Json {
  if (!isObject(schema)) return {};
  const out: Json = { ...schema };
  if (typeof out.type === 'string') out.type = out.type.toLowerCase();
  if (isObject(out.properties)) {
    out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, v]) => [k, normalizeSchema(v)]));
  }
  if (out.items !== undefined) out.items = normalizeSchema(out.items);
  if (Array.isArray(out.anyOf)) out.anyOf = out.anyOf.map(normalizeSchema);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Request parsing

/** Token count and last-turn facts of a list of contents. */
interface ContentsInfo {
  tokens: number;
  prompt: string;
  toolResult: string | undefined;
  lastRole: string;
}

function partText(part: Json, where: string): { text: string; kind: 'text' | 'call' | 'response' | 'other' } {
  if (typeof part.text === 'string') return { text: part.text, kind: 'text' };
  if (isObject(part.functionCall)) {
    const fc = part.functionCall;
    if (typeof fc.name !== 'string') throw invalid(`* ${where}.function_call.name: Name cannot be empty.`);
    return { text: `${fc.name} ${JSON.stringify(fc.args ?? {})}`, kind: 'call' };
  }
  if (isObject(part.functionResponse)) {
    const fr = part.functionResponse;
    if (typeof fr.name !== 'string') throw invalid(`* ${where}.function_response.name: Name cannot be empty.`);
    return { text: `${fr.name} ${JSON.stringify(fr.response ?? {})}`, kind: 'response' };
  }
  if (isObject(part.inlineData) || isObject(part.fileData) || isObject(part.executableCode) || isObject(part.codeExecutionResult)) {
    return { text: '', kind: 'other' };
  }
  throw invalid(`* ${where}.data: required oneof field 'data' must have one initialized field`);
}

/** `signer`: model parts' thought signatures are checked against it (generate requests). */
function parseContents(contents: unknown, field: string, signer?: ThoughtSigner): ContentsInfo {
  if (!Array.isArray(contents)) throw invalid(`Invalid value at '${field}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), expected a list`);
  const info: ContentsInfo = { tokens: 0, prompt: '', toolResult: undefined, lastRole: 'user' };
  contents.forEach((c: unknown, i: number) => {
    const where = `GenerateContentRequest.${field}[${i}]`;
    if (!isObject(c)) throw invalid(`* ${where}: must be an object`);
    const role = c.role === undefined || c.role === '' ? 'user' : c.role;
    if (role !== 'user' && role !== 'model' && role !== 'function') throw invalid('Please use a valid role: user, model.');
    if (!Array.isArray(c.parts) || c.parts.length === 0) throw invalid(`* ${where}.parts: contents.parts must not be empty.`);
    let tokens = 3;
    const texts: string[] = [];
    const responses: string[] = [];
    c.parts.forEach((p: unknown, j: number) => {
      if (!isObject(p)) throw invalid(`* ${where}.parts[${j}]: must be an object`);
      const { text, kind } = partText(p, `${where}.parts[${j}]`);
      if (signer && role === 'model') checkPartSignature(p, signer, fail);
      tokens += countTokens(text);
      if (kind === 'text' && p.thought !== true) texts.push(text);
      if (kind === 'response') responses.push(JSON.stringify((p.functionResponse as Json).response ?? {}));
    });
    info.tokens += tokens;
    info.lastRole = role as string;
    if (role !== 'model') {
      if (texts.length > 0) info.prompt = texts.join('\n');
      info.toolResult = responses.length > 0 ? responses.join('\n') : undefined;
    }
  });
  if (info.lastRole === 'model') info.toolResult = undefined;
  return info;
}

function systemTokens(system: unknown): number {
  if (system === undefined || system === null) return 0;
  if (!isObject(system) || !Array.isArray(system.parts)) throw invalid("Invalid value at 'system_instruction': expected a Content with parts");
  const text = system.parts.map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : '')).join('\n');
  return countTokens(text) + 3;
}

function parseTools(tools: unknown): ToolOffer[] {
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) throw invalid("Invalid value at 'tools': expected a list");
  const out: ToolOffer[] = [];
  tools.forEach((t: unknown, i: number) => {
    if (!isObject(t)) throw invalid(`* GenerateContentRequest.tools[${i}]: must be an object`);
    if (t.functionDeclarations === undefined) return; // googleSearch, codeExecution, …: nothing to call here
    if (!Array.isArray(t.functionDeclarations)) throw invalid(`* GenerateContentRequest.tools[${i}].function_declarations: expected a list`);
    t.functionDeclarations.forEach((d: unknown, j: number) => {
      if (!isObject(d) || typeof d.name !== 'string' || d.name === '') {
        throw invalid(`* GenerateContentRequest.tools[${i}].function_declarations[${j}].name: Name cannot be empty.`);
      }
      if (d.parameters !== undefined && d.parametersJsonSchema !== undefined) {
        throw invalid(`* GenerateContentRequest.tools[${i}].function_declarations[${j}]: parameters and parameters_json_schema cannot both be set.`);
      }
      const parameters = isObject(d.parametersJsonSchema) ? d.parametersJsonSchema : isObject(d.parameters) ? normalizeSchema(d.parameters) : undefined;
      out.push({ name: d.name, parameters });
    });
  });
  return out;
}

interface GenerateRequest {
  model: string;
  promptTokens: number;
  cachedTokens: number;
  prompt: string;
  toolResult: string | undefined;
  tools: ToolOffer[];
  toolsDisabled: boolean;
  forcedTool: string | undefined;
  json: 'json' | Json | undefined;
  maxTokens: number | undefined;
  stopSequences: string[];
  thinking: ThinkingConfig | undefined;
}

interface CacheEntry {
  name: string;
  model: string;
  displayName: string | undefined;
  contents: unknown[];
  systemInstruction: unknown;
  tools: unknown;
  toolConfig: unknown;
  tokens: number;
  key: string;
  createTime: string;
  expireTime: string;
}

/** Explicit caches, per simulator (keyed by its PrefixCache, the one per-simulator object a handler sees). */
const CACHE_STORES = new WeakMap<PrefixCache, Map<string, CacheEntry>>();

function cacheStore(ctx: SimContext): Map<string, CacheEntry> {
  let store = CACHE_STORES.get(ctx.prefixCache);
  if (!store) {
    store = new Map();
    CACHE_STORES.set(ctx.prefixCache, store);
  }
  for (const [name, entry] of store) if (Date.parse(entry.expireTime) <= Date.now()) store.delete(name);
  return store;
}

function parseGenerate(ctx: SimContext, model: string, body: unknown): GenerateRequest {
  if (!isObject(body)) throw invalid('Invalid JSON payload received. Expected an object.');
  if (body.contents === undefined || (Array.isArray(body.contents) && body.contents.length === 0)) {
    throw invalid('* GenerateContentRequest.contents: contents is not specified');
  }

  let cached: CacheEntry | undefined;
  if (body.cachedContent !== undefined && body.cachedContent !== null) {
    if (typeof body.cachedContent !== 'string') throw invalid("Invalid value at 'cached_content': expected a string");
    if (body.systemInstruction !== undefined || body.tools !== undefined || body.toolConfig !== undefined) {
      throw invalid('CachedContent can not be used with GenerateContent request setting system_instruction, tools or tool_config.\n\nProposed fix: move those values to CachedContent from GenerateContent request.');
    }
    cached = cacheStore(ctx).get(body.cachedContent);
    if (!cached) throw new ApiFailure(403, 'CachedContent not found (or permission denied)', 'auth');
    if (cached.model !== `models/${model}`) {
      throw invalid(`Model used by GenerateContent request (models/${model}) and CachedContent (${cached.model}) has to be the same.`);
    }
  }

  const own = parseContents(body.contents, 'contents', ctx.signer);
  const systemInstruction = cached ? cached.systemInstruction : body.systemInstruction;
  const cachedTokens = cached ? cached.tokens : 0;
  const promptTokens = cachedTokens + (cached ? 0 : systemTokens(systemInstruction)) + own.tokens;
  if (cached) ctx.prefixCache.touch(cached.key);

  let tools = parseTools(cached ? cached.tools : body.tools);
  let toolsDisabled = false;
  let forcedTool: string | undefined;
  const toolConfig = cached ? cached.toolConfig : body.toolConfig;
  if (isObject(toolConfig) && isObject(toolConfig.functionCallingConfig)) {
    const fcc = toolConfig.functionCallingConfig;
    const allowed = Array.isArray(fcc.allowedFunctionNames) ? fcc.allowedFunctionNames.filter((n): n is string => typeof n === 'string') : [];
    const mode = fcc.mode ?? 'AUTO';
    if (allowed.length > 0 && mode !== 'ANY' && mode !== 'VALIDATED') {
      throw invalid('* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: allowed_function_names is only allowed when the mode is ANY or VALIDATED.');
    }
    switch (mode) {
      case 'AUTO':
      case 'MODE_UNSPECIFIED':
        break;
      case 'NONE':
        toolsDisabled = true;
        break;
      case 'ANY':
      case 'VALIDATED':
        if (allowed.length > 0) {
          for (const n of allowed) {
            if (!tools.some((t) => t.name === n)) throw invalid(`* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: function ${n} is not declared.`);
          }
          tools = tools.filter((t) => allowed.includes(t.name));
        }
        if (mode === 'ANY') forcedTool = allowed.length === 1 ? allowed[0] : '*';
        break;
      default:
        throw invalid(`Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), "${String(mode)}"`);
    }
  }

  let json: GenerateRequest['json'];
  let maxTokens: number | undefined;
  let stopSequences: string[] = [];
  let thinking: ThinkingConfig | undefined;
  if (body.generationConfig !== undefined) {
    const gc = body.generationConfig;
    if (!isObject(gc)) throw invalid("Invalid value at 'generation_config': expected an object");
    if (gc.maxOutputTokens !== undefined) {
      if (typeof gc.maxOutputTokens !== 'number' || !Number.isInteger(gc.maxOutputTokens)) throw invalid(`Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), ${JSON.stringify(gc.maxOutputTokens)}`);
      if (gc.maxOutputTokens > 0) maxTokens = gc.maxOutputTokens;
    }
    if (gc.stopSequences !== undefined) {
      if (!Array.isArray(gc.stopSequences) || !gc.stopSequences.every((s) => typeof s === 'string')) throw invalid("Invalid value at 'generation_config.stop_sequences': expected a list of strings");
      stopSequences = (gc.stopSequences as string[]).filter((s) => s !== '');
    }
    const hasSchema = gc.responseSchema !== undefined || gc.responseJsonSchema !== undefined;
    if (gc.responseSchema !== undefined && gc.responseJsonSchema !== undefined) {
      throw invalid('* GenerateContentRequest.generation_config.response_schema: response_schema and response_json_schema cannot both be set.');
    }
    if (hasSchema && gc.responseMimeType !== 'application/json' && gc.responseMimeType !== 'text/x.enum') {
      throw invalid(`* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are \`application/json\` and \`text/x.enum\` when response_schema is set.`);
    }
    thinking = parseThinkingConfig(gc, fail);
    if (gc.responseMimeType === 'application/json') {
      json = isObject(gc.responseJsonSchema) ? gc.responseJsonSchema : isObject(gc.responseSchema) ? normalizeSchema(gc.responseSchema) : 'json';
    }
  }

  if (thinking) checkCurrentTurn(body.contents as unknown[], fail);

  return {
    model,
    promptTokens,
    cachedTokens,
    prompt: own.prompt,
    toolResult: own.toolResult,
    tools,
    toolsDisabled,
    forcedTool,
    json,
    maxTokens,
    stopSequences,
    thinking,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Replies

interface Outcome {
  reply: PlannedReply;
  finishReason: 'STOP' | 'MAX_TOKENS';
  thinking?: PlannedThinking | undefined;
}

function plan(req: GenerateRequest, replyWords: number): Outcome {
  const thinking = req.thinking ? planThinking(req.prompt, req.toolResult, replyWords) : undefined;
  // Thoughts count against maxOutputTokens.
  const maxTokens = req.maxTokens === undefined ? undefined : Math.max(1, req.maxTokens - (thinking?.tokens ?? 0));
  // The parsed request carries the reply's inputs under the same names.
  return { ...answer(req, planReply({ ...req, maxTokens, replyWords })), thinking };
}

function answer(req: GenerateRequest, reply: PlannedReply): Outcome {
  if (reply.toolCalls.length === 0 && req.json === undefined && req.stopSequences.length > 0) {
    let cut = -1;
    for (const s of req.stopSequences) {
      const at = reply.text.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const text = reply.text.slice(0, cut);
      return { reply: { ...reply, text, outputTokens: countTokens(text), finish: 'stop' }, finishReason: 'STOP' };
    }
  }
  return { reply, finishReason: reply.finish === 'length' ? 'MAX_TOKENS' : 'STOP' };
}

function usageMetadata(req: GenerateRequest, candidates: number | undefined, thoughts = 0): Json {
  const u: Json = { promptTokenCount: req.promptTokens };
  if (candidates !== undefined) u.candidatesTokenCount = candidates;
  if (thoughts > 0) u.thoughtsTokenCount = thoughts;
  u.totalTokenCount = req.promptTokens + (candidates ?? 0) + thoughts;
  if (req.cachedTokens > 0) u.cachedContentTokenCount = req.cachedTokens;
  u.promptTokensDetails = [{ modality: 'TEXT', tokenCount: req.promptTokens }];
  if (req.cachedTokens > 0) u.cacheTokensDetails = [{ modality: 'TEXT', tokenCount: req.cachedTokens }];
  if (candidates !== undefined && candidates > 0) u.candidatesTokensDetails = [{ modality: 'TEXT', tokenCount: candidates }];
  return u;
}

function functionCallParts(reply: PlannedReply): Json[] {
  return reply.toolCalls.map((c) => ({ functionCall: { name: c.name, args: c.arguments } }));
}

function responseChunk(parts: Json[], finishReason: string | undefined, usage: Json, model: string, responseId: string): Json {
  const candidate: Json = { content: { parts, role: 'model' } };
  if (finishReason !== undefined) candidate.finishReason = finishReason;
  candidate.index = 0;
  return { candidates: [candidate], usageMetadata: usage, modelVersion: model, responseId };
}

const MID_STREAM_ERROR = { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } };

async function handleGenerate(ctx: SimContext, version: string, model: string, stream: boolean): Promise<void> {
  const method = stream ? 'streamGenerateContent' : 'generateContent';
  if (model.startsWith('missing-')) throw modelNotFound(model, version, method);
  const req = parseGenerate(ctx, model, ctx.req.body);
  const max = ctx.faults.maxInputTokens;
  if (max !== undefined && req.promptTokens > max) {
    throw invalid(`The input token count (${req.promptTokens}) exceeds the maximum number of tokens allowed (${max}).`);
  }
  const outcome = plan(req, ctx.faults.replyWords);
  const responseId = randomId(23);
  const { reply } = outcome;
  const thinking = outcome.thinking;
  const thoughts = thinking && req.thinking?.includeThoughts ? thoughtParts(thinking, []) : [];
  if (!stream) {
    const texts: Json[] = reply.text !== '' || reply.toolCalls.length === 0 ? [{ text: reply.text }] : [];
    const calls = functionCallParts(reply);
    if (thinking) signReply(texts, calls, reply.text, ctx.signer);
    const parts = [...thoughts, ...texts, ...calls];
    ctx.sendJson(200, responseChunk(parts, outcome.finishReason, usageMetadata(req, reply.outputTokens, thinking?.tokens), model, responseId), { 'content-type': 'application/json; charset=UTF-8' });
    return;
  }

  const sse = ctx.req.query.get('alt') === 'sse';
  const w: StreamWriter = ctx.stream();
  w.begin({
    'content-type': sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
    'content-disposition': 'attachment',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  let first = true;
  const frame = (obj: unknown): string => {
    const json = JSON.stringify(obj);
    if (sse) return `data: ${json}\n\n`;
    const out = `${first ? '[' : ',\r\n'}${json}`;
    first = false;
    return out;
  };

  // Content frames: thought pieces, text pieces, then all function calls whole in one chunk.
  const textFrames: Json[][] = chunkText(reply.text, ctx.faults.chunkCount).map((piece) => [{ text: piece }]);
  const calls = functionCallParts(reply);
  if (textFrames.length === 0 && calls.length === 0) textFrames.push([{ text: '' }]);
  if (thinking) signReply(textFrames.map((f) => f[0]!), calls, reply.text, ctx.signer);
  const frames: Json[][] = [
    ...(thoughts.length > 0 && thinking ? thoughtParts(thinking, chunkText(thinking.text, ctx.faults.chunkCount)).map((p) => [p]) : []),
    ...textFrames,
    ...(calls.length > 0 ? [calls] : []),
  ];
  const running = usageMetadata(req, undefined);
  const final = usageMetadata(req, reply.outputTokens, thinking?.tokens);

  for (let i = 0; i < frames.length; i++) {
    const last = i === frames.length - 1 && !ctx.faults.omitEndMarker;
    const chunk = responseChunk(frames[i]!, last ? outcome.finishReason : undefined, last ? final : running, model, responseId);
    // Checked before the first frame too: errorAfterChunks 0 means an error before any content.
    if (i === 0 && w.errorDue) {
      await w.write(frame(MID_STREAM_ERROR));
      if (!sse) await w.write(']');
      w.end();
      return;
    }
    if (!(await w.write(frame(chunk), true))) return;
    if (w.errorDue) {
      await w.write(frame(MID_STREAM_ERROR));
      if (!sse) await w.write(']');
      w.end();
      return;
    }
  }
  if (!sse && !ctx.faults.omitEndMarker) await w.write(']');
  w.end();
}

function handleCountTokens(ctx: SimContext, version: string, model: string): void {
  if (model.startsWith('missing-')) throw modelNotFound(model, version, 'countTokens');
  const body = ctx.req.body;
  if (!isObject(body)) throw invalid('Invalid JSON payload received. Expected an object.');
  const inner = isObject(body.generateContentRequest) ? body.generateContentRequest : { contents: body.contents };
  const req = parseGenerate(ctx, model, inner);
  const out: Json = { totalTokens: req.promptTokens };
  if (req.cachedTokens > 0) out.cachedContentTokenCount = req.cachedTokens;
  out.promptTokensDetails = [{ modality: 'TEXT', tokenCount: req.promptTokens }];
  ctx.sendJson(200, out);
}

// ---------------------------------------------------------------------------------------------------------------
// Embeddings

const DEFAULT_DIMENSIONS = 768;

/** A deterministic unit vector from a hash of the text. */
function embed(text: string, dimensions: number): number[] {
  const values: number[] = [];
  let block = 0;
  while (values.length < dimensions) {
    const digest = createHash('sha256').update(`${block++}\u0000${text}`).digest();
    for (let i = 0; i + 2 <= digest.length && values.length < dimensions; i += 2) values.push(digest.readUInt16BE(i) / 32767.5 - 1);
  }
  const norm = Math.sqrt(values.reduce((s, v) => s + v * v, 0)) || 1;
  return values.map((v) => Math.round((v / norm) * 1e8) / 1e8);
}

function embedOne(ctx: SimContext, request: unknown, where: string): Json {
  if (!isObject(request)) throw invalid(`* ${where}: must be an object`);
  if (!isObject(request.content)) throw invalid(`* ${where}.content: content is not specified`);
  const info = parseContents([request.content], `${where}.content`);
  const text = info.prompt;
  const max = ctx.faults.maxInputTokens;
  const tokens = countTokens(text);
  if (max !== undefined && tokens > max) throw invalid(`The input token count (${tokens}) exceeds the maximum number of tokens allowed (${max}).`);
  let dims = DEFAULT_DIMENSIONS;
  if (request.outputDimensionality !== undefined) {
    if (typeof request.outputDimensionality !== 'number' || !Number.isInteger(request.outputDimensionality) || request.outputDimensionality < 1) {
      throw invalid(`* ${where}.output_dimensionality: must be a positive integer`);
    }
    dims = Math.min(1536, Math.max(8, request.outputDimensionality));
  }
  return { values: embed(text, dims) };
}

function handleEmbed(ctx: SimContext, version: string, model: string, batch: boolean): void {
  if (model.startsWith('missing-')) throw modelNotFound(model, version, batch ? 'batchEmbedContents' : 'embedContent');
  const body = ctx.req.body;
  if (!isObject(body)) throw invalid('Invalid JSON payload received. Expected an object.');
  if (!batch) {
    ctx.sendJson(200, { embedding: embedOne(ctx, body, 'EmbedContentRequest') });
    return;
  }
  if (!Array.isArray(body.requests) || body.requests.length === 0) throw invalid('* BatchEmbedContentsRequest.requests: requests is not specified');
  if (body.requests.length > 100) throw invalid('* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch');
  const embeddings = body.requests.map((r: unknown, i: number) => {
    if (isObject(r) && typeof r.model === 'string' && bareModel(r.model) !== model) {
      throw invalid(`* BatchEmbedContentsRequest.requests[${i}].model: model \`${r.model}\` does not match the batch model \`models/${model}\`.`);
    }
    return embedOne(ctx, r, `BatchEmbedContentsRequest.requests[${i}]`);
  });
  ctx.sendJson(200, { embeddings });
}

// ---------------------------------------------------------------------------------------------------------------
// Models and cached contents

const MODELS: Array<{ id: string; embed: boolean }> = [
  { id: 'gemini-2.5-flash', embed: false },
  { id: 'gemini-2.5-pro', embed: false },
  { id: 'gemini-2.0-flash', embed: false },
  { id: 'gemini-embedding-001', embed: true },
  { id: 'text-embedding-004', embed: true },
];

function modelInfo(id: string, embedModel = /embed/.test(id)): Json {
  return {
    name: `models/${id}`,
    version: '001',
    displayName: id,
    description: `Simulated ${id}`,
    inputTokenLimit: embedModel ? 2048 : 1048576,
    outputTokenLimit: embedModel ? 1 : 65536,
    supportedGenerationMethods: embedModel ? ['embedContent', 'countTextTokens', 'countTokens'] : ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
  };
}

function parseTtl(ttl: unknown): number {
  if (ttl === undefined) return 3600;
  const m = typeof ttl === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(ttl) : null;
  if (!m) throw invalid(`Invalid value at 'cached_content.ttl' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(ttl)}`);
  return Number(m[1]);
}

function cachePublic(e: CacheEntry): Json {
  const out: Json = { name: e.name, model: e.model, createTime: e.createTime, updateTime: e.createTime, expireTime: e.expireTime };
  if (e.displayName !== undefined) out.displayName = e.displayName;
  out.usageMetadata = { totalTokenCount: e.tokens };
  return out;
}

function createCache(ctx: SimContext, version: string): void {
  const body = ctx.req.body;
  if (!isObject(body)) throw invalid('Invalid JSON payload received. Expected an object.');
  if (typeof body.model !== 'string' || body.model === '') throw invalid('* CachedContent.model: model is not specified');
  const model = bareModel(body.model);
  if (model.startsWith('missing-')) throw modelNotFound(model, version, 'createCachedContent');
  const contents = body.contents ?? [];
  const info = parseContents(contents, 'cached_content.contents');
  const tokens = systemTokens(body.systemInstruction) + info.tokens;
  if (tokens === 0) throw invalid('Cached content is too small. total_token_count=0, min_total_token_count=1');
  parseTools(body.tools);
  let expire: number;
  if (typeof body.expireTime === 'string') {
    expire = Date.parse(body.expireTime);
    if (Number.isNaN(expire)) throw invalid(`Invalid value at 'cached_content.expire_time' (type.googleapis.com/google.protobuf.Timestamp), "${body.expireTime}"`);
  } else {
    expire = Date.now() + parseTtl(body.ttl) * 1000;
  }
  const now = new Date().toISOString();
  const entry: CacheEntry = {
    name: `cachedContents/${randomId(12).toLowerCase().replace(/[-_]/g, 'x')}`,
    model: `models/${model}`,
    displayName: typeof body.displayName === 'string' ? body.displayName : undefined,
    contents: contents as unknown[],
    systemInstruction: body.systemInstruction,
    tools: body.tools,
    toolConfig: body.toolConfig,
    tokens,
    key: `gemini\u0001${model}\u0001${JSON.stringify([body.systemInstruction ?? null, contents, body.tools ?? null, body.toolConfig ?? null])}`,
    createTime: now,
    expireTime: new Date(expire).toISOString(),
  };
  ctx.prefixCache.touch(entry.key);
  const store = cacheStore(ctx);
  if (store.size >= 1000) store.delete(store.keys().next().value!);
  store.set(entry.name, entry);
  ctx.sendJson(200, cachePublic(entry));
}

function handleCaches(ctx: SimContext, version: string, rest: string): boolean {
  const { method } = ctx.req;
  if (rest === 'cachedContents') {
    if (method === 'POST') createCache(ctx, version);
    else if (method === 'GET') ctx.sendJson(200, { cachedContents: [...cacheStore(ctx).values()].map(cachePublic) });
    else return false;
    return true;
  }
  const m = /^cachedContents\/([^/]+)$/.exec(rest);
  if (!m) return false;
  const name = `cachedContents/${m[1]!}`;
  const store = cacheStore(ctx);
  const entry = store.get(name);
  if (method !== 'GET' && method !== 'DELETE' && method !== 'PATCH') return false;
  if (!entry) throw new ApiFailure(403, 'CachedContent not found (or permission denied)', 'auth');
  if (method === 'GET') ctx.sendJson(200, cachePublic(entry));
  else if (method === 'DELETE') {
    store.delete(name);
    ctx.sendJson(200, {});
  } else {
    const body = isObject(ctx.req.body) ? ctx.req.body : {};
    if (typeof body.expireTime === 'string' && !Number.isNaN(Date.parse(body.expireTime))) entry.expireTime = new Date(Date.parse(body.expireTime)).toISOString();
    else if (body.ttl !== undefined) entry.expireTime = new Date(Date.now() + parseTtl(body.ttl) * 1000).toISOString();
    ctx.sendJson(200, cachePublic(entry));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** Google's RPC status name for an HTTP status (the Vertex simulator's envelope uses it too). */
export function statusName(status: number): string {
  switch (status) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 499:
      return 'CANCELLED';
    case 501:
      return 'UNIMPLEMENTED';
    case 503:
    case 529:
      return 'UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
  }
  return status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT';
}

const BAD_KEY = 'API key not valid. Please pass a valid API key.';

function geminiError(status: number, message: string, kind: SimErrorKind, retryAfterS?: number): ErrorResponse {
  let code = status;
  let text = message;
  let details: Json[] | undefined;
  if (kind === 'auth' && status === 401) {
    // The Gemini API has no 401 for a bad key: it is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID.
    code = 400;
    text = BAD_KEY;
    details = [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: BAD_KEY },
    ];
  } else if (status === 429) {
    text = 'You exceeded your current quota, please check your plan.';
    details = [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] }];
    if (retryAfterS !== undefined) details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterS}s` });
  } else if (status === 503 || status === 529 || kind === 'overloaded') {
    text = 'The model is overloaded. Please try again later.';
  } else if (status === 500 && !message.startsWith('simulator error')) {
    text = 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting';
  } else if (status === 504) {
    text = 'The request timed out. Please try again.';
  }
  const error: Json = { code, message: text, status: statusName(code) };
  if (details) error.details = details;
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8', 'x-content-type-options': 'nosniff' };
  if (retryAfterS !== undefined && (status === 429 || status === 503 || status === 529)) headers['retry-after'] = String(Math.ceil(retryAfterS));
  return { status: code, headers, body: JSON.stringify({ error }) };
}

// ---------------------------------------------------------------------------------------------------------------

async function route(ctx: SimContext): Promise<boolean> {
  const m = VERSIONED.exec(ctx.req.path);
  if (!m) return false;
  const version = m[1]!;
  const rest = m[2]!;
  const { method } = ctx.req;
  if (rest.startsWith('cachedContents')) return handleCaches(ctx, version, rest);
  if (rest === 'models') {
    if (method !== 'GET') return false;
    ctx.sendJson(200, { models: MODELS.map((x) => modelInfo(x.id, x.embed)) });
    return true;
  }
  const call = /^models\/([^/:]+):([A-Za-z]+)$/.exec(rest);
  if (call) {
    if (method !== 'POST') return false;
    const model = decodeURIComponent(call[1]!);
    switch (call[2]) {
      case 'generateContent':
        await handleGenerate(ctx, version, model, false);
        return true;
      case 'streamGenerateContent':
        await handleGenerate(ctx, version, model, true);
        return true;
      case 'countTokens':
        handleCountTokens(ctx, version, model);
        return true;
      case 'embedContent':
        handleEmbed(ctx, version, model, false);
        return true;
      case 'batchEmbedContents':
        handleEmbed(ctx, version, model, true);
        return true;
      default:
        return false;
    }
  }
  const get = /^models\/([^/:]+)$/.exec(rest);
  if (get && method === 'GET') {
    const model = decodeURIComponent(get[1]!);
    if (model.startsWith('missing-')) throw modelNotFound(model, version, 'generateContent');
    ctx.sendJson(200, modelInfo(model));
    return true;
  }
  return false;
}

export const geminiSimulator: ProtocolSimulator = {
  protocol: 'gemini',

  async handle(ctx) {
    try {
      return await route(ctx);
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      const e = geminiError(err.status, err.message, err.kind, ctx.faults.retryAfterS);
      // Recorded: an error answering a streamGenerateContent request keeps `Content-Type: text/event-stream`
      // while the body is the plain JSON error object (not an SSE event).
      if (ctx.req.path.endsWith(':streamGenerateContent') && ctx.req.query.get('alt') === 'sse') e.headers['content-type'] = 'text/event-stream';
      if (!ctx.res.headersSent) ctx.res.writeHead(e.status, e.headers).end(e.body);
      return true;
    }
  },

  errorResponse: geminiError,

  apiKeyOf(req: SimRequest) {
    const header = req.headers['x-goog-api-key'];
    if (typeof header === 'string' && header !== '') return header;
    return req.query.get('key') ?? undefined;
  },
};
