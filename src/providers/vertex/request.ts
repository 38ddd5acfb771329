import type { ChatRequest, EmbeddingRequest } from '../../core/index.ts';
import { buildMessagesBody } from '../anthropic/request.ts';
import { deepMerge, toGeminiRequest } from '../gemini/request.ts';
import type { CallOptions } from '../spec.ts';

/**
 * Request bodies for Vertex AI: the Gemini API's body for Google's publisher and the Anthropic Messages body for
 * Claude, built by those adapters' own mappers. `providerOptions.vertex` is merged over the publisher's own entry
 * (`providerOptions.gemini` / `.anthropic`, which apply here too since the body is theirs).
 */

/** The version Claude on Vertex takes in the body (there is no anthropic-version header on Vertex). */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

function withVertexOptions(req: ChatRequest, key: 'gemini' | 'anthropic'): ChatRequest {
  const vertex = req.providerOptions?.vertex;
  if (vertex === undefined) return req;
  const own = req.providerOptions?.[key] ?? {};
  return { ...req, providerOptions: { ...req.providerOptions, [key]: deepMerge(own, vertex) } };
}

export function geminiBody(provider: string, req: ChatRequest): Record<string, unknown> {
  return toGeminiRequest(provider, withVertexOptions(req, 'gemini'));
}

/** The Messages body without `model` (it is in the path), with `anthropic_version`. */
export function claudeBody(req: ChatRequest, opts: CallOptions, provider: string, stream: boolean, version: string): Record<string, unknown> {
  const { model: _inPath, ...body } = buildMessagesBody(withVertexOptions(req, 'anthropic'), opts, provider, stream);
  return { anthropic_version: version, ...body };
}

/**
 * `:predict` for text embeddings: one instance per input. `providerOptions.vertex.task_type` / `title` go on each
 * instance; its other keys (`autoTruncate`, …) are prediction parameters.
 */
export function predictBody(inputs: readonly string[], req: EmbeddingRequest): Record<string, unknown> {
  const { task_type: taskType, title, ...parameters } = req.providerOptions?.vertex ?? {};
  return {
    instances: inputs.map((content) => ({
      content,
      ...(taskType !== undefined && { task_type: taskType }),
      ...(title !== undefined && { title }),
    })),
    parameters: { ...parameters, ...(req.dimensions !== undefined && { outputDimensionality: req.dimensions }) },
  };
}
