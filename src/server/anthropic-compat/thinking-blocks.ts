import { GatewayError, REASONING_BUDGET_TOKENS, type ReasoningEffort, type ReasoningPart } from '../../core/index.ts';

/**
 * Reasoning in the Anthropic wire format, whatever protocol produced it. A reply's reasoning parts become
 * `thinking` / `redacted_thinking` blocks; the client sends them back verbatim on its next turn, and they
 * must become the same parts again, provenance included: a Gemini thought signature has to go back to
 * Gemini on the function call it was tied to, and must never reach Anthropic, which would reject it.
 *
 * So the block's `signature` (or a redacted block's `data`) carries the part's provenance: an Anthropic
 * signature as it is (a route from Anthropic to Anthropic changes nothing, and a client may switch between
 * the gateway and the API directly), any other part as `switchboard.v1.` + base64url of
 * `{p: provider, s: signature, t: toolCallId}`. Anthropic's signatures and redacted data start with
 * base64, which has no dot, so they never start with that prefix.
 */

const PREFIX = 'switchboard.v1.';

interface Envelope {
  p?: string;
  s?: string;
  t?: string;
}

/** The signature a thinking block carries for `part`: '' for an unsigned part no protocol claims. */
export function signatureOf(part: Pick<ReasoningPart, 'signature' | 'provider' | 'toolCallId'>): string {
  if (part.provider === undefined || part.provider === 'anthropic') {
    if (part.toolCallId === undefined) return part.signature ?? '';
  }
  const env: Envelope = {
    ...(part.provider !== undefined && { p: part.provider }),
    ...(part.signature !== undefined && { s: part.signature }),
    ...(part.toolCallId !== undefined && { t: part.toolCallId }),
  };
  return PREFIX + Buffer.from(JSON.stringify(env)).toString('base64url');
}

/** A signature (or redacted data) sent back → the part's signature, provider and tool call; `where` names the field. */
export function partOfSignature(signature: string, where: string): Pick<ReasoningPart, 'signature' | 'provider' | 'toolCallId'> {
  if (signature === '') return {};
  if (!signature.startsWith(PREFIX)) return { signature, provider: 'anthropic' };
  let env: unknown;
  try {
    env = JSON.parse(Buffer.from(signature.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    env = undefined;
  }
  const e = env as Envelope | undefined;
  const ok = (v: unknown) => v === undefined || (typeof v === 'string' && v !== '');
  if (e === null || typeof e !== 'object' || Array.isArray(e) || !ok(e.p) || !ok(e.s) || !ok(e.t)) {
    throw new GatewayError('invalid_request', `${where}: not a signature this gateway issued (send thinking blocks back unchanged)`, { param: where });
  }
  return { ...(e.s !== undefined && { signature: e.s }), ...(e.p !== undefined && { provider: e.p }), ...(e.t !== undefined && { toolCallId: e.t }) };
}

/** A reply's reasoning parts as Anthropic content blocks, in order. */
export function thinkingBlocksOf(parts: readonly ReasoningPart[]): Record<string, unknown>[] {
  return parts.map((p) =>
    p.redacted === true ? { type: 'redacted_thinking', data: signatureOf(p) } : { type: 'thinking', thinking: p.text, signature: signatureOf(p) },
  );
}

/**
 * `thinking.budget_tokens` → the contract's effort for targets that are not Anthropic (which get the budget
 * as sent): the largest effort whose budget (REASONING_BUDGET_TOKENS) fits in the one asked for.
 */
export function effortOfBudget(budget: number): ReasoningEffort {
  let effort: ReasoningEffort = 'minimal';
  for (const [e, tokens] of Object.entries(REASONING_BUDGET_TOKENS) as [ReasoningEffort, number][]) {
    if (tokens <= budget && tokens >= REASONING_BUDGET_TOKENS[effort]) effort = e;
  }
  return effort;
}
