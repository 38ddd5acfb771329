import { z } from 'zod';

/**
 * Reasoning ("thinking") in the contract: how much a request asks for, and the reasoning a reply carries
 * with the provider signatures that let a client send it back. Anthropic and Gemini refuse to continue a
 * thinking model's tool-use turn unless its signed reasoning comes back verbatim, so the signatures are
 * part of the contract rather than vendor detail.
 */

export const ReasoningEffortSchema = z.enum(['minimal', 'low', 'medium', 'high']);
export type ReasoningEffort = z.infer<typeof ReasoningEffortSchema>;

/**
 * Thinking budget in tokens per effort, for the protocols that take a budget (Anthropic `thinking.budget_tokens`,
 * Gemini `thinkingConfig.thinkingBudget`). 1024 is Anthropic's smallest budget; `high` stays under the 32k output
 * most thinking models allow once the answer's own tokens are added (README: Reasoning).
 */
export const REASONING_BUDGET_TOKENS: Readonly<Record<ReasoningEffort, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 24576,
};

/**
 * One block of a reply's reasoning, as the provider produced it.
 * - `signature`: the provider's proof that the block is its own, sent back verbatim on the next turn. For a
 *   redacted block it is the encrypted reasoning itself (Anthropic `redacted_thinking.data`) and `text` is ''.
 * - `provider`: the protocol that issued the signature (`anthropic`, `gemini`); an adapter sends back only its
 *   own protocol's signed blocks (and unlabelled ones), so a route that fails over never forwards another
 *   vendor's signature.
 * - `toolCallId`: Gemini signs the function call rather than the thought; the signature goes back on that call.
 * A part with neither text nor signature carries nothing and is never produced.
 */
export const ReasoningPartSchema = z
  .object({
    text: z.string(),
    signature: z.string().min(1).optional(),
    redacted: z.boolean().optional(),
    provider: z.string().min(1).optional(),
    toolCallId: z.string().min(1).optional(),
  })
  .refine((p) => p.redacted !== true || p.signature !== undefined, {
    message: 'a redacted reasoning part carries its encrypted data in signature',
    path: ['signature'],
  });
export type ReasoningPart = z.infer<typeof ReasoningPartSchema>;

/** The readable reasoning of some parts, concatenated (redacted parts have none). */
export function reasoningTextOf(parts: readonly ReasoningPart[] | undefined): string {
  let out = '';
  for (const p of parts ?? []) if (p.redacted !== true) out += p.text;
  return out;
}

/**
 * The parts an adapter of `protocol` may send back: signed (or, with `keepUnsigned`, also unsigned) parts that
 * this protocol issued or that carry no provider label. Another vendor's signature would only get a 400.
 */
export function reasoningPartsFor(parts: readonly ReasoningPart[] | undefined, protocol: string, keepUnsigned = false): ReasoningPart[] {
  const out: ReasoningPart[] = [];
  for (const p of parts ?? []) {
    if (p.provider !== undefined && p.provider !== protocol) continue;
    if (p.signature === undefined && !(keepUnsigned && p.provider === protocol && p.text !== '')) continue;
    out.push(p);
  }
  return out;
}
