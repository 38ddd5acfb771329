import type { CacheControl } from '../../core/index.ts';
import type { PromptCachePolicy } from '../spec.ts';

type Block = Record<string, unknown>;

/** Bedrock refuses a Claude request with more cache checkpoints than this (Anthropic's own limit). */
export const MAX_CACHE_POINTS = 4;

/**
 * A Converse cache checkpoint: everything before it (tools, then system, then messages) is the cached prefix.
 * `ttl` is sent only for the one-hour lifetime; the default is five minutes.
 */
export function cachePointBlock(cc: CacheControl): Block {
  return { cachePoint: { type: 'default', ...(cc.ttl === '1h' && { ttl: '1h' }) } };
}

const isBlock = (v: unknown): v is Block => v !== null && typeof v === 'object' && !Array.isArray(v);
const isPoint = (b: unknown): boolean => isBlock(b) && b.cachePoint != null;

/** Checkpoints a Converse body already carries: in the tools, the system blocks and the messages. */
export function countCachePoints(body: Block): number {
  let n = 0;
  const count = (list: unknown) => {
    if (Array.isArray(list)) for (const b of list) if (isPoint(b)) n++;
  };
  count(isBlock(body.toolConfig) ? body.toolConfig.tools : undefined);
  count(body.system);
  if (Array.isArray(body.messages)) for (const m of body.messages) if (isBlock(m)) count(m.content);
  return n;
}

/**
 * Adds the gateway's own checkpoints (config `promptCache`) to a finished Converse body: after the system blocks and
 * after the last tool, each only where the request placed none itself, and never past MAX_CACHE_POINTS. The system
 * one goes first when only one fits: its prefix (tools, then system) covers the tools too. The lists are copied: they
 * may be the caller's own (providerOptions) and shared across attempts.
 */
export function placeCachePoints(body: Block, policy: PromptCachePolicy | undefined): void {
  if (!policy?.system && !policy?.tools) return;
  let free = MAX_CACHE_POINTS - countCachePoints(body);
  const system = body.system;
  if (policy.system && free > 0 && Array.isArray(system) && system.length > 0 && !system.some(isPoint)) {
    body.system = [...(system as Block[]), cachePointBlock({ type: 'ephemeral' })];
    free--;
  }
  const config = body.toolConfig;
  const tools = isBlock(config) ? config.tools : undefined;
  if (policy.tools && free > 0 && Array.isArray(tools) && tools.length > 0 && !tools.some(isPoint)) {
    body.toolConfig = { ...(config as Block), tools: [...(tools as Block[]), cachePointBlock({ type: 'ephemeral' })] };
  }
}
