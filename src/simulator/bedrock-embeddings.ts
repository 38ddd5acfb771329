import { randomUUID } from 'node:crypto';
import { countTokens, embeddingOf } from './reply.ts';
import { ValidationError } from './bedrock-converse.ts';

/**
 * InvokeModel (`POST /model/{modelId}/invoke`) for the embedding models the simulator knows, in their own body
 * formats: Titan text embeddings (`amazon.titan-embed-text-v1`: `{inputText}`, 1536 dims; `-v2:0`: `{inputText,
 * dimensions?: 256 | 512 | 1024, normalize?}`) → `{embedding, inputTextTokenCount}`; Cohere embed (`cohere.embed-*`:
 * `{texts (1-96), input_type, embedding_types?, output_dimension? (v4)}`) → `{id, texts, embeddings,
 * response_type}`. Vectors are deterministic unit vectors of the text (embeddingOf); the token count is countTokens,
 * also sent in `x-amzn-bedrock-input-token-count` as the service does.
 */

type Json = Record<string, unknown>;

const fail = (message: string): never => {
  throw new ValidationError(message);
};

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const COHERE_INPUT_TYPES = new Set(['search_document', 'search_query', 'classification', 'clustering', 'image']);

export interface InvokeReply {
  body: Json;
  inputTokens: number;
}

/** The reply to an InvokeModel embedding call, or undefined when `model` is not an embedding model the simulator serves. */
export function invokeEmbedding(model: string, body: unknown, maxInputTokens: number | undefined): InvokeReply | undefined {
  if (/titan-embed/i.test(model)) return titan(model, body, maxInputTokens);
  if (/cohere\.embed/i.test(model)) return cohere(model, body, maxInputTokens);
  return undefined;
}

function checkLength(tokens: number, max: number | undefined): void {
  if (max !== undefined && tokens > max) fail(`Input is too long for requested model: ${tokens} tokens > ${max} maximum.`);
}

function titan(model: string, body: unknown, max: number | undefined): InvokeReply {
  const v2 = /titan-embed-text-v2/i.test(model);
  if (!isObject(body)) return fail('Malformed input request: expected a JSON object, please reformat your input and try again.');
  const known = new Set(v2 ? ['inputText', 'dimensions', 'normalize', 'embeddingTypes'] : ['inputText']);
  for (const k of Object.keys(body)) if (!known.has(k)) fail(`Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`);
  if (typeof body.inputText !== 'string' || body.inputText === '') fail('Malformed input request: #: required key [inputText] not found, please reformat your input and try again.');
  const text = body.inputText as string;
  let dims = v2 ? 1024 : 1536;
  if (body.dimensions !== undefined) {
    if (body.dimensions !== 256 && body.dimensions !== 512 && body.dimensions !== 1024) fail('Malformed input request: #/dimensions: 1024, 512 or 256 expected, please reformat your input and try again.');
    dims = body.dimensions as number;
  }
  const tokens = countTokens(text);
  checkLength(tokens, max);
  return { body: { embedding: embeddingOf(text, dims), inputTextTokenCount: tokens }, inputTokens: tokens };
}

function cohere(model: string, body: unknown, max: number | undefined): InvokeReply {
  const v4 = /embed-v4/i.test(model);
  if (!isObject(body)) return fail('Malformed input request: expected a JSON object, please reformat your input and try again.');
  const texts = body.texts;
  if (!Array.isArray(texts) || texts.length === 0 || texts.length > 96 || !texts.every((t) => typeof t === 'string')) {
    fail('Malformed input request: #/texts: expected 1 to 96 strings, please reformat your input and try again.');
  }
  if (typeof body.input_type !== 'string' || !COHERE_INPUT_TYPES.has(body.input_type)) {
    fail('Malformed input request: #/input_type: search_document, search_query, classification or clustering expected, please reformat your input and try again.');
  }
  let dims = 1024;
  if (body.output_dimension !== undefined) {
    if (!v4) fail('Malformed input request: extraneous key [output_dimension] is not permitted, please reformat your input and try again.');
    if (![256, 512, 1024, 1536].includes(body.output_dimension as number)) fail('Malformed input request: #/output_dimension: 256, 512, 1024 or 1536 expected.');
    dims = body.output_dimension as number;
  }
  const list = texts as string[];
  const tokens = list.reduce((n, t) => n + countTokens(t), 0);
  checkLength(tokens, max);
  const vectors = list.map((t) => embeddingOf(t, dims));
  const byType = Array.isArray(body.embedding_types);
  return {
    body: {
      id: randomUUID(),
      texts: list,
      embeddings: byType ? { float: vectors } : vectors,
      response_type: byType ? 'embeddings_by_type' : 'embeddings_floats',
    },
    inputTokens: tokens,
  };
}
