import { randomBytes, randomUUID } from 'node:crypto';
import { echoedRequest } from './faults.ts';
import type { ErrorResponse, ProtocolSimulator, SimContext, SimErrorKind, SimRequest } from './protocol.ts';
import { chunkText, fragment } from './reply.ts';
import {
  converseUsage,
  parseConverse,
  planConverse,
  reasoningBlocks,
  totalInputTokens,
  ValidationError,
  type ConverseOutcome,
  type ConverseRequest,
  type ConverseUsage,
} from './bedrock-converse.ts';
import { invokeEmbedding } from './bedrock-embeddings.ts';
import { eventFrame, exceptionFrame } from './bedrock-eventstream.ts';
import { DEFAULT_AWS_CREDENTIALS, parseAuthorization, verifySigV4 } from './bedrock-sigv4.ts';

/**
 * Amazon Bedrock Runtime simulator, independent of src/providers/bedrock:
 * - `POST /model/{modelId}/converse` (JSON) and `/converse-stream` (binary AWS event stream: messageStart,
 *   contentBlockStart/Delta/Stop, messageStop, metadata with the usage), for any model id (base ids, cross-region
 *   profile ids such as `us.anthropic.claude-…-v1:0`, ARNs; URL-encoded in the path as the SDKs send them);
 * - `POST /model/{modelId}/invoke` for Titan and Cohere embedding models (src/simulator/bedrock-embeddings.ts).
 * Every request must be SigV4-signed (service `bedrock`, any region) with one of SimulatorOptions.awsCredentials,
 * by default the documented pair AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
 * (src/simulator/bedrock-sigv4.ts). With `apiKey` set, the signing access key id must also be that key.
 *
 * Requests, token accounting, cache checkpoints and thinking: src/simulator/bedrock-converse.ts. Claude models
 * (`claude` in the id) take `additionalModelRequestFields.thinking`; the reply then starts with a reasoningContent
 * block signed by this simulator (and a redacted one when the prompt says "redact"), and reasoning sent back must
 * carry a signature it issued. A model id starting with `missing-` is a 404 ResourceNotFoundException.
 *
 * Faults: errors use the AWS shape (`{"message"}` with `x-amzn-errortype`): 429 ThrottlingException, 503
 * ServiceUnavailableException, 408 ModelTimeoutException, 5xx InternalServerException; errorAfterChunks sends a
 * `modelStreamErrorException` frame mid-stream; omitEndMarker leaves out the final `metadata` event.
 */

type Json = Record<string, unknown>;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `tooluse_` + 22 base62 characters, like the service's ids. */
function toolUseId(): string {
  let out = 'tooluse_';
  for (const b of randomBytes(22)) out += BASE62[b % 62];
  return out;
}

function awsError(status: number, type: string, message: string, extra: Record<string, string> = {}): ErrorResponse {
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-requestid': randomUUID(),
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      ...extra,
    },
    body: JSON.stringify({ message }),
  };
}

function errorTypeOf(status: number, kind: SimErrorKind): string {
  if (kind === 'rate_limit' || status === 429) return 'ThrottlingException';
  if (kind === 'overloaded' || status === 503 || status === 529) return 'ServiceUnavailableException';
  switch (status) {
    case 401:
      return 'UnrecognizedClientException';
    case 403:
      return 'AccessDeniedException';
    case 404:
      return 'ResourceNotFoundException';
    case 408:
      return 'ModelTimeoutException';
    case 424:
      return 'ModelErrorException';
  }
  return status >= 500 ? 'InternalServerException' : 'ValidationException';
}

function errorMessageOf(type: string, message: string): string {
  switch (type) {
    case 'ThrottlingException':
      return 'Too many requests, please wait before trying again.';
    case 'ServiceUnavailableException':
      return 'Bedrock is unable to process your request.';
    case 'ModelTimeoutException':
      return 'Model has timed out in processing the request. Try your request again.';
    case 'InternalServerException':
      return message.startsWith('simulator error') ? message : 'The server encountered an internal error while processing the request.';
    default:
      return message;
  }
}

function replyContent(outcome: ConverseOutcome, ctx: SimContext): Json[] {
  const blocks: Json[] = outcome.thinking ? reasoningBlocks(outcome.thinking, outcome.redacted, ctx.signer) : [];
  const { text, toolCalls } = outcome.reply;
  if (text !== '' || toolCalls.length === 0) blocks.push({ text });
  for (const call of toolCalls) blocks.push({ toolUse: { toolUseId: toolUseId(), name: call.name, input: call.arguments } });
  return blocks;
}

async function handleConverse(ctx: SimContext, model: string, stream: boolean): Promise<void> {
  if (model.startsWith('missing-')) {
    ctx.sendError(404, 'Could not resolve the foundation model from the provided model identifier.', 'not_found');
    return;
  }
  let req: ConverseRequest;
  try {
    req = parseConverse(ctx.req.body, model, ctx.signer);
  } catch (err) {
    if (err instanceof ValidationError) {
      ctx.sendError(400, err.message, 'bad_request');
      return;
    }
    throw err;
  }
  const total = totalInputTokens(req);
  if (ctx.faults.maxInputTokens !== undefined && total > ctx.faults.maxInputTokens) {
    ctx.sendError(400, `Input is too long for requested model: ${total} input tokens, ${ctx.faults.maxInputTokens} maximum.`, 'context_length');
    return;
  }
  const outcome = planConverse(req, ctx.faults.replyWords);
  const usage = converseUsage(req, ctx.prefixCache, outcome.reply.outputTokens + (outcome.thinking?.tokens ?? 0));
  const headers = { 'x-amzn-requestid': randomUUID() };
  if (!stream) {
    ctx.sendJson(
      200,
      { output: { message: { role: 'assistant', content: replyContent(outcome, ctx) } }, stopReason: outcome.stopReason, usage, metrics: { latencyMs: 120 } },
      headers,
    );
    return;
  }
  await streamConverse(ctx, outcome, usage, headers);
}

async function streamConverse(ctx: SimContext, outcome: ConverseOutcome, usage: ConverseUsage, headers: Record<string, string>): Promise<void> {
  const w = ctx.stream();
  w.begin({ 'content-type': 'application/vnd.amazon.eventstream', ...headers });
  const write = (frame: Buffer, content = false) => w.writeBytes!(frame, content);
  const text = 'An error occurred while streaming the response. Retry your request.';
  const midStreamError = exceptionFrame('modelStreamErrorException', ctx.faults.echoHeaders ? `${text} ${echoedRequest(undefined, ctx.req.headers)}` : text);

  /** Writes an event; false when the stream must stop (gone, or the mid-stream exception was just sent). */
  const send = async (type: string, payload: Json, content = false): Promise<boolean> => {
    if (content && w.contentFrames === 0 && w.errorDue) {
      await write(midStreamError);
      w.end();
      return false;
    }
    if (!(await write(eventFrame(type, payload), content))) return false;
    if (content && w.errorDue) {
      await write(midStreamError);
      w.end();
      return false;
    }
    return true;
  };
  const delta = (index: number, d: Json, content = true) => send('contentBlockDelta', { contentBlockIndex: index, delta: d }, content);
  const stop = (index: number) => send('contentBlockStop', { contentBlockIndex: index });

  if (!(await send('messageStart', { role: 'assistant' }))) return;
  let index = 0;
  for (const block of outcome.thinking ? reasoningBlocks(outcome.thinking, outcome.redacted, ctx.signer) : []) {
    const r = block.reasoningContent as Json;
    if (typeof r.redactedContent === 'string') {
      if (!(await delta(index, { reasoningContent: { redactedContent: r.redactedContent } }, false))) return;
    } else {
      const { text: thought, signature } = r.reasoningText as { text: string; signature: string };
      for (const piece of chunkText(thought, ctx.faults.chunkCount)) if (!(await delta(index, { reasoningContent: { text: piece } }))) return;
      if (!(await delta(index, { reasoningContent: { signature } }, false))) return;
    }
    if (!(await stop(index))) return;
    index++;
  }
  const { text: answer, toolCalls } = outcome.reply;
  if (answer !== '' || toolCalls.length === 0) {
    for (const piece of chunkText(answer, ctx.faults.chunkCount)) if (!(await delta(index, { text: piece }))) return;
    if (!(await stop(index))) return;
    index++;
  }
  for (const call of toolCalls) {
    if (!(await send('contentBlockStart', { contentBlockIndex: index, start: { toolUse: { toolUseId: toolUseId(), name: call.name } } }))) return;
    for (const piece of fragment(JSON.stringify(call.arguments), Math.max(2, ctx.faults.chunkCount ?? 4))) {
      if (!(await delta(index, { toolUse: { input: piece } }))) return;
    }
    if (!(await stop(index))) return;
    index++;
  }
  if (!(await send('messageStop', { stopReason: outcome.stopReason }))) return;
  if (!ctx.faults.omitEndMarker && !(await send('metadata', { usage, metrics: { latencyMs: 120 } }))) return;
  w.end();
}

function handleInvoke(ctx: SimContext, model: string): void {
  if (model.startsWith('missing-')) {
    ctx.sendError(404, 'Could not resolve the foundation model from the provided model identifier.', 'not_found');
    return;
  }
  try {
    const reply = invokeEmbedding(model, ctx.req.body, ctx.faults.maxInputTokens);
    if (!reply) {
      ctx.sendError(400, `The simulator serves InvokeModel for Titan and Cohere embedding models only, not ${model}.`, 'bad_request');
      return;
    }
    ctx.sendJson(200, reply.body, {
      'x-amzn-requestid': randomUUID(),
      'x-amzn-bedrock-input-token-count': String(reply.inputTokens),
      'x-amzn-bedrock-invocation-latency': '35',
    });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    ctx.sendError(400, err.message, /too long/i.test(err.message) ? 'context_length' : 'bad_request');
  }
}

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/;

function decodeModel(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export const bedrockSimulator: ProtocolSimulator = {
  protocol: 'bedrock',

  async handle(ctx) {
    const m = ROUTE.exec(ctx.req.path);
    if (ctx.req.method !== 'POST' || !m) return false;
    const model = decodeModel(m[1]!);
    if (m[2] === 'invoke') handleInvoke(ctx, model);
    else await handleConverse(ctx, model, m[2] === 'converse-stream');
    return true;
  },

  errorResponse(status, message, kind, retryAfterS) {
    const type = errorTypeOf(status, kind);
    const retry: Record<string, string> = retryAfterS !== undefined && (status === 429 || status === 503 || status === 529) ? { 'retry-after': String(Math.ceil(retryAfterS)) } : {};
    return awsError(status, type, errorMessageOf(type, message), retry);
  },

  authenticate(req, settings) {
    const refusal = verifySigV4(req, settings.awsCredentials ?? DEFAULT_AWS_CREDENTIALS, settings.now());
    return refusal ? awsError(403, refusal.type, refusal.message) : undefined;
  },

  /** The access key id that signed the request: with SimulatorOptions.apiKey set, only that key is accepted. */
  apiKeyOf(req: SimRequest) {
    const auth = req.headers.authorization;
    return parseAuthorization(typeof auth === 'string' ? auth : undefined)?.accessKeyId;
  },
};
