import { z } from 'zod';
import type { ChatRequest } from './chat.ts';
import { GatewayError } from './gateway-error.ts';

/** What a model can do. Config declares these per model; requests are checked against them. */
export const CapabilitySchema = z.enum([
  'tools',
  'json_object',
  'json_schema',
  'vision',
  'streaming',
  'embeddings',
  'prompt_caching',
  'reasoning',
  'audio_input',
]);
export type Capability = z.infer<typeof CapabilitySchema>;

/** The features a request needs, by name, in a stable order (for messages and routing reasons). */
export function requiredCapabilities(req: ChatRequest): Capability[] {
  const needs: Capability[] = [];
  if (req.tools?.length || (req.toolChoice !== undefined && req.toolChoice !== 'none' && req.toolChoice !== 'auto')) {
    needs.push('tools');
  }
  if (req.responseFormat?.type === 'json_schema') needs.push('json_schema');
  // json_object is implied by json_schema support: any model that can follow a schema can emit JSON.
  if (req.responseFormat?.type === 'json_object') needs.push('json_object');
  if (req.messages.some((m) => m.role === 'user' && Array.isArray(m.content) && m.content.some((p) => p.type === 'image'))) {
    needs.push('vision');
  }
  // A model that does not reason rejects the effort parameter (OpenAI 400s on reasoning_effort, Anthropic on
  // `thinking`): fail closed like any other feature.
  if (req.reasoningEffort !== undefined) needs.push('reasoning');
  return needs;
}

/**
 * What a request asks for, for matching a target's `when.capabilities`: the features it needs, plus prompt caching
 * when it places a breakpoint or a cache key. Prompt caching is a hint, so it never excludes a target that lacks it
 * (see requiredCapabilities), but a target kept for cached requests matches on it.
 */
export function requestedCapabilities(req: ChatRequest): Capability[] {
  const asked = requiredCapabilities(req);
  if (usesPromptCache(req)) asked.push('prompt_caching');
  return asked;
}

function usesPromptCache(req: ChatRequest): boolean {
  if (req.promptCacheKey !== undefined) return true;
  if (req.tools?.some((t) => t.cacheControl !== undefined)) return true;
  return req.messages.some((m) => Array.isArray(m.content) && m.content.some((p) => p.cacheControl !== undefined));
}

/** True when `have` covers `need` (json_schema support counts as json_object support). */
export function hasCapability(have: readonly Capability[], need: Capability): boolean {
  if (have.includes(need)) return true;
  if (need === 'json_object') return have.includes('json_schema');
  return false;
}

/** The capabilities a request needs that `have` lacks. */
export function missingCapabilities(req: ChatRequest, have: readonly Capability[]): Capability[] {
  return requiredCapabilities(req).filter((c) => !hasCapability(have, c));
}

/**
 * Fails closed: a request that needs a feature the target lacks is rejected with
 * `unsupported_feature` naming the feature, never sent with the feature silently dropped.
 */
export function assertSupported(req: ChatRequest, have: readonly Capability[], target: string): void {
  const missing = missingCapabilities(req, have);
  if (missing.length > 0) {
    throw new GatewayError('unsupported_feature', `${target} does not support ${missing.join(', ')}`, {
      param: missing[0],
    });
  }
}
