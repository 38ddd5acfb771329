import type { PromptCachePolicy } from '../spec.ts';

type Block = Record<string, unknown>;

/** Anthropic refuses a request with more blocks carrying `cache_control` than this. */
export const MAX_CACHE_BREAKPOINTS = 4;

const EPHEMERAL = { type: 'ephemeral' } as const;

function isBlock(v: unknown): v is Block {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const marked = (b: unknown): boolean => isBlock(b) && b.cache_control != null;

/** Breakpoints a Messages body already carries: tools, system blocks, message blocks and tool-result blocks, the top-level one. */
export function countBreakpoints(body: Block): number {
  let n = body.cache_control != null ? 1 : 0;
  const count = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const b of list) {
      if (marked(b)) n++;
      if (isBlock(b) && Array.isArray(b.content)) count(b.content);
    }
  };
  count(body.tools);
  count(body.system);
  if (Array.isArray(body.messages)) for (const m of body.messages) if (isBlock(m)) count(m.content);
  return n;
}

/** `list` with its last element marked, as a copy: the blocks may be the caller's own (providerOptions) and shared across attempts. */
function markLast(list: Block[]): Block[] {
  const out = list.slice();
  out[out.length - 1] = { ...out[out.length - 1], cache_control: { ...EPHEMERAL } };
  return out;
}

/**
 * Adds the gateway's own breakpoints (config `promptCache`) to a finished Messages body: after the system prompt's
 * last block and after the last tool, each only where the request marked nothing itself, and never past Anthropic's
 * four. The system breakpoint goes first when only one fits: its prefix (tools, then system) covers the tools too.
 */
export function placeCacheBreakpoints(body: Block, policy: PromptCachePolicy | undefined): void {
  if (!policy?.system && !policy?.tools) return;
  let free = MAX_CACHE_BREAKPOINTS - countBreakpoints(body);
  // A string system prompt (only from providerOptions) is one text block.
  const system = typeof body.system === 'string' && body.system !== '' ? [{ type: 'text', text: body.system }] : body.system;
  if (policy.system && free > 0 && Array.isArray(system) && system.length > 0 && !system.some(marked) && system.every(isBlock)) {
    body.system = markLast(system);
    free--;
  }
  const tools = body.tools;
  if (policy.tools && free > 0 && Array.isArray(tools) && tools.length > 0 && !tools.some(marked) && tools.every(isBlock)) {
    body.tools = markLast(tools);
  }
}
