import { anthropicSimulator } from './anthropic-simulator.ts';
import { geminiSimulator, statusName } from './gemini-simulator.ts';
import { kindOfInjectedStatus, type ErrorResponse, type ProtocolSimulator, type SimContext, type SimErrorKind, type StreamWriter } from './protocol.ts';
import { countTokens, embeddingOf } from './reply.ts';
import { bearerOf, bearerRefusal, handleToken, SERVICE_ACCOUNT_PATH, sendServiceAccount, TOKEN_PATH } from './vertex-auth.ts';

export { saveServiceAccount } from './vertex-auth.ts';

/**
 * Google Vertex AI simulator, independent of src/providers/vertex. Routes (API version `v1` or `v1beta1`, the
 * latter @google/genai's default for Vertex):
 *
 *   POST /token, GET /service-account.json                          OAuth (src/simulator/vertex-auth.ts)
 *   POST /{v}/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent
 *                                                          :streamGenerateContent[?alt=sse] | :countTokens
 *   POST /{v}/projects/{p}/locations/{l}/publishers/google/models/{m}:predict            (text embeddings)
 *   POST /{v}/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:rawPredict | :streamRawPredict
 *   POST /{v}/projects/{p}/locations/{l}/publishers/anthropic/models/count-tokens:rawPredict
 *
 * Any project and location are served; every model call needs a token from the token endpoint.
 *
 * The Gemini publisher answers as the Gemini simulator does (same bodies, replies, token accounting, thought
 * signatures, mid-stream error), plus Vertex's `createTime` and `usageMetadata.trafficType: "ON_DEMAND"`. The
 * Anthropic publisher is the Anthropic simulator behind Vertex's rules: the body carries no `model` (it is in the
 * path) and must carry `anthropic_version` — `vertex-2023-10-16`, or a dated API version, which the current
 * AnthropicVertex SDK copies from its `anthropic-version` header; the reply, its stream, errors from the model
 * (`{"type":"error",…}`) and the prompt cache are Anthropic's. Platform errors — auth, an unknown publisher model,
 * injected faults (429 RESOURCE_EXHAUSTED with RetryInfo and retry-after, 503 UNAVAILABLE, …) — are Google's
 * `{"error":{code,message,status,details}}` for both publishers.
 *
 * Embeddings (`:predict`, models named `*embedding*`): `{instances: [{content, task_type?, title?}], parameters:
 * {outputDimensionality?, autoTruncate?}}` → `{predictions: [{embeddings: {values, statistics: {token_count,
 * truncated}}}], metadata: {billableCharacterCount}}`. gemini-embedding-* takes one instance a request, others up
 * to 250; 768 dimensions by default (3072 for gemini-embedding-*); token_count is countTokens(content), cut to
 * faults.maxInputTokens when autoTruncate is not false (else a 400).
 */

type Json = Record<string, unknown>;

const MODEL_ROUTE = /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/([^/]+)\/models\/([^/:]+):([A-Za-z]+)$/;

/** `anthropic_version` values accepted: Vertex's own, and the dated first-party versions the SDK now forwards. */
const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';
const DATED_VERSION = /^\d{4}-\d{2}-\d{2}$/;

const TASK_TYPES = new Set([
  'RETRIEVAL_QUERY',
  'RETRIEVAL_DOCUMENT',
  'SEMANTIC_SIMILARITY',
  'CLASSIFICATION',
  'CLUSTERING',
  'QUESTION_ANSWERING',
  'FACT_VERIFICATION',
  'CODE_RETRIEVAL_QUERY',
]);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------------------
// Google's error envelope

interface GoogleErrorExtra {
  /** ErrorInfo reason (ACCESS_TOKEN_EXPIRED, …). */
  reason?: string | undefined;
  retryAfterS?: number | undefined;
}

function googleError(status: number, message: string, kind: SimErrorKind, extra: GoogleErrorExtra = {}): ErrorResponse {
  // Anthropic's 529 has no Google counterpart: Vertex says 503 UNAVAILABLE.
  const code = status === 529 ? 503 : status;
  let text = message;
  const details: Json[] = [];
  if (code === 401 || (kind === 'auth' && code === 403)) {
    if (text === 'invalid api key') text = 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
  } else if (code === 429) {
    text = 'Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.';
  } else if (code === 503) {
    text = 'The service is currently unavailable.';
  } else if (code === 500 && !message.startsWith('simulator error')) {
    text = 'Internal error encountered.';
  } else if (code === 504) {
    text = 'The request timed out. Please try again.';
  }
  if (extra.reason !== undefined) {
    details.push({ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: extra.reason, domain: 'googleapis.com', metadata: { service: 'aiplatform.googleapis.com' } });
  }
  const retryAfterS = extra.retryAfterS;
  if (retryAfterS !== undefined && code === 429) details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterS}s` });
  const error: Json = { code, message: text, status: statusName(code) };
  if (details.length > 0) error.details = details;
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8', vary: 'X-Origin, Referer, Origin,Accept-Encoding' };
  if (code === 401) headers['www-authenticate'] = 'Bearer realm="https://accounts.google.com/"';
  if (retryAfterS !== undefined && (code === 429 || code === 503)) headers['retry-after'] = String(Math.ceil(retryAfterS));
  return { status: code, headers, body: JSON.stringify({ error }) };
}

function sendGoogle(ctx: SimContext, status: number, message: string, kind: SimErrorKind, reason?: string): void {
  const e = googleError(status, message, kind, { reason, retryAfterS: ctx.faults.retryAfterS });
  if (!ctx.res.headersSent) ctx.res.writeHead(e.status, e.headers).end(e.body);
}

function publisherModelNotFound(ctx: SimContext, resource: string): void {
  sendGoogle(
    ctx,
    404,
    `Publisher Model \`${resource}\` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions`,
    'not_found',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Gemini publisher

/** A Gemini reply as Vertex sends it: with `createTime` and the usage's `trafficType`. */
function vertexReply(body: unknown, createTime: string): unknown {
  if (!isObject(body) || !isObject(body.usageMetadata)) return body;
  return { ...body, usageMetadata: { ...body.usageMetadata, trafficType: 'ON_DEMAND' }, createTime };
}

function vertexFrame(frame: string, createTime: string): string {
  if (!frame.startsWith('data: ')) return frame;
  try {
    return `data: ${JSON.stringify(vertexReply(JSON.parse(frame.slice(6)), createTime))}\n\n`;
  } catch {
    return frame;
  }
}

function vertexWriter(w: StreamWriter, createTime: string): StreamWriter {
  return {
    begin: (headers) => w.begin(headers),
    write: (frame, content) => w.write(vertexFrame(frame, createTime), content),
    get errorDue() {
      return w.errorDue;
    },
    get contentFrames() {
      return w.contentFrames;
    },
    end: () => w.end(),
  };
}

async function handleGoogle(ctx: SimContext, verb: string, model: string, resource: string): Promise<boolean> {
  if (verb === 'predict') {
    if (model.startsWith('missing-')) publisherModelNotFound(ctx, resource);
    else handlePredict(ctx, model);
    return true;
  }
  if (verb !== 'generateContent' && verb !== 'streamGenerateContent' && verb !== 'countTokens') return false;
  if (model.startsWith('missing-') || model.startsWith('claude')) {
    publisherModelNotFound(ctx, resource);
    return true;
  }
  const createTime = new Date((ctx.settings?.now ?? Date.now)()).toISOString();
  const inner: SimContext = {
    ...ctx,
    req: { ...ctx.req, path: `/v1beta/models/${encodeURIComponent(model)}:${verb}` },
    sendJson: (status, body, headers) => ctx.sendJson(status, status < 300 ? vertexReply(body, createTime) : body, headers),
    stream: () => vertexWriter(ctx.stream(), createTime),
  };
  return geminiSimulator.handle(inner);
}

function handlePredict(ctx: SimContext, model: string): void {
  const bad = (message: string) => sendGoogle(ctx, 400, message, 'bad_request');
  if (!/embedding/.test(model)) return bad(`Model ${model} does not support the predict method for text embeddings.`);
  const body = ctx.req.body;
  if (!isObject(body) || !Array.isArray(body.instances) || body.instances.length === 0) return bad('Invalid JSON payload: instances is required and must be a non-empty list.');
  const gemini = model.startsWith('gemini-embedding');
  const maxInstances = gemini ? 1 : 250;
  if (body.instances.length > maxInstances) {
    return bad(`Unable to submit request because the model ${model} supports up to ${maxInstances} instances per request, but ${body.instances.length} were given.`);
  }
  const parameters = isObject(body.parameters) ? body.parameters : {};
  const maxDims = gemini ? 3072 : 768;
  const dims = parameters.outputDimensionality ?? maxDims;
  if (typeof dims !== 'number' || !Number.isInteger(dims) || dims < 1 || dims > maxDims) {
    return bad(`Invalid value at 'parameters.outputDimensionality': must be an integer between 1 and ${maxDims}.`);
  }
  const autoTruncate = parameters.autoTruncate !== false;
  const max = ctx.faults.maxInputTokens;
  const predictions: Json[] = [];
  let characters = 0;
  for (const [i, instance] of (body.instances as unknown[]).entries()) {
    if (!isObject(instance) || typeof instance.content !== 'string') return bad(`Invalid value at 'instances[${i}].content': a string is required.`);
    if (instance.task_type !== undefined && !TASK_TYPES.has(String(instance.task_type))) return bad(`Invalid value at 'instances[${i}].task_type': ${String(instance.task_type)}.`);
    const tokens = countTokens(instance.content);
    const truncated = max !== undefined && tokens > max;
    if (truncated && !autoTruncate) return bad(`The input token count (${tokens}) exceeds the maximum number of tokens allowed (${max}).`);
    characters += instance.content.replace(/\s/g, '').length;
    predictions.push({ embeddings: { values: embeddingOf(instance.content, dims), statistics: { truncated, token_count: truncated ? max : tokens } } });
  }
  ctx.sendJson(200, { predictions, metadata: { billableCharacterCount: characters } }, { 'content-type': 'application/json; charset=UTF-8' });
}

// ---------------------------------------------------------------------------------------------------------------
// Anthropic publisher

async function handleAnthropic(ctx: SimContext, verb: string, model: string, resource: string): Promise<boolean> {
  if (verb !== 'rawPredict' && verb !== 'streamRawPredict') return false;
  const countTokens = model === 'count-tokens';
  if (model.startsWith('missing-') || (!countTokens && !model.startsWith('claude')) || (countTokens && verb !== 'rawPredict')) {
    publisherModelNotFound(ctx, resource);
    return true;
  }
  // Errors from the model are Anthropic's envelope, as Claude on Vertex answers them.
  const sendError = (status: number, message: string, kind?: SimErrorKind) => {
    const e = anthropicSimulator.errorResponse(status, message, kind ?? kindOfInjectedStatus(status), ctx.faults.retryAfterS);
    if (!ctx.res.headersSent) ctx.res.writeHead(e.status, e.headers).end(e.body);
  };
  const body = ctx.req.body;
  if (!isObject(body)) {
    sendError(400, 'Request body must be a JSON object', 'bad_request');
    return true;
  }
  const { anthropic_version: version, ...rest } = body;
  if (version === undefined) {
    sendError(400, 'anthropic_version: Field required', 'bad_request');
    return true;
  }
  if (typeof version !== 'string' || (version !== VERTEX_ANTHROPIC_VERSION && !DATED_VERSION.test(version))) {
    sendError(400, `anthropic_version: Input should be '${VERTEX_ANTHROPIC_VERSION}'`, 'bad_request');
    return true;
  }
  if (countTokens) {
    await anthropicSimulator.handle({ ...ctx, req: { ...ctx.req, path: '/v1/messages/count_tokens', body: rest }, sendError });
    return true;
  }
  if ('model' in rest) {
    sendError(400, 'model: Extra inputs are not permitted', 'bad_request');
    return true;
  }
  const inner: Json = { ...rest, model };
  if (verb === 'streamRawPredict') inner.stream = true;
  return anthropicSimulator.handle({ ...ctx, req: { ...ctx.req, path: '/v1/messages', body: inner }, sendError });
}

// ---------------------------------------------------------------------------------------------------------------

async function route(ctx: SimContext): Promise<boolean> {
  const { method, path } = ctx.req;
  if (path === TOKEN_PATH && method === 'POST') {
    await handleToken(ctx);
    return true;
  }
  if (path === SERVICE_ACCOUNT_PATH && method === 'GET') {
    await sendServiceAccount(ctx);
    return true;
  }
  const m = MODEL_ROUTE.exec(path);
  if (!m || method !== 'POST') return false;
  const refusal = bearerRefusal(ctx);
  if (refusal) {
    sendGoogle(ctx, refusal.status, refusal.message, 'auth', refusal.reason);
    return true;
  }
  const [, , project, location, publisher, rawModel, verb] = m as unknown as [string, string, string, string, string, string, string];
  const model = decodeURIComponent(rawModel);
  const resource = `projects/${decodeURIComponent(project)}/locations/${decodeURIComponent(location)}/publishers/${publisher}/models/${model}`;
  if (publisher === 'google') return handleGoogle(ctx, verb, model, resource);
  if (publisher === 'anthropic') return handleAnthropic(ctx, verb, model, resource);
  publisherModelNotFound(ctx, resource);
  return true;
}

export const vertexSimulator: ProtocolSimulator = {
  protocol: 'vertex',
  handle: route,
  errorResponse: (status, message, kind, retryAfterS) => googleError(status, message, kind, { retryAfterS }),
  // The bearer token. SimulatorOptions.apiKey would then have to equal an issued token (and /token would need one
  // too): leave it unset for Vertex, whose auth is the token endpoint.
  apiKeyOf: (req) => bearerOf(req.headers.authorization),
};
