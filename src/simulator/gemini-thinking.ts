import type { PlannedThinking, ThoughtSigner } from './thinking.ts';

/**
 * Thinking in the Gemini simulator: `generationConfig.thinkingConfig`, the thought signatures of a reply and
 * their check when a model turn comes back. As on Gemini 3, a signature rides on the first function call of a
 * step (or on the text when there is no call), thought summaries come as `thought: true` parts when
 * `includeThoughts` is set, a signature this simulator did not issue is "Corrupted", and with thinking on a
 * function call of the current turn that lost its signature is refused.
 */

type Json = Record<string, unknown>;
type Fail = (message: string) => never;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ThinkingConfig {
  includeThoughts: boolean;
}

/** Thinking is on unless the config is absent or its budget is 0; -1 is the API's "dynamic" budget. */
export function parseThinkingConfig(gc: Json, fail: Fail): ThinkingConfig | undefined {
  const tc = gc.thinkingConfig;
  if (tc === undefined || tc === null) return undefined;
  if (!isObject(tc)) fail("Invalid value at 'generation_config.thinking_config': expected an object");
  const budget = tc.thinkingBudget;
  if (budget !== undefined) {
    if (typeof budget !== 'number' || !Number.isInteger(budget)) {
      fail(`Invalid value at 'generation_config.thinking_config.thinking_budget' (TYPE_INT32), ${JSON.stringify(budget)}`);
    }
    if (budget < -1 || budget > 32768) fail('The thinking budget is out of range; supported values are integers from -1 to 32768.');
    if (budget === 0) return undefined;
  }
  return { includeThoughts: tc.includeThoughts === true };
}

/** What a signature on this part covers: the thought, the text, or the call (name and arguments). */
function signedContent(part: Json): [scope: string, content: string] {
  if (isObject(part.functionCall)) return ['function_call', `${String(part.functionCall.name)} ${JSON.stringify(part.functionCall.args ?? {})}`];
  const text = typeof part.text === 'string' ? part.text : '';
  return part.thought === true ? ['thought', text] : ['text', text];
}

/** A part sent back with a thoughtSignature must carry one this simulator issued for exactly that content. */
export function checkPartSignature(part: Json, signer: ThoughtSigner, fail: Fail): void {
  if (part.thoughtSignature === undefined) return;
  const [scope, content] = signedContent(part);
  if (!signer.verify(scope, content, part.thoughtSignature)) fail('Corrupted thought signature.');
}

/**
 * With thinking on, each model step of the current turn (after the last user message that is not only function
 * responses) must keep the signature on its first function call, or Gemini cannot resume its reasoning.
 */
export function checkCurrentTurn(contents: readonly unknown[], fail: Fail): void {
  let start = 0;
  contents.forEach((c, i) => {
    if (!isObject(c) || c.role === 'model' || !Array.isArray(c.parts)) return;
    if (c.parts.some((p) => isObject(p) && p.functionResponse === undefined)) start = i + 1;
  });
  let position = 0;
  for (const c of contents.slice(start)) {
    if (!isObject(c) || c.role !== 'model' || !Array.isArray(c.parts)) continue;
    const first = c.parts.find((p) => isObject(p) && isObject(p.functionCall));
    if (!isObject(first)) continue;
    position++;
    if (first.thoughtSignature === undefined) {
      const name = isObject(first.functionCall) ? String(first.functionCall.name) : '';
      fail(
        `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${name}\` , position ${position}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
      );
    }
  }
}

/** Signs the reply's parts: the first function call, else the text part (whose signature covers the whole text). */
export function signReply(textParts: Json[], callParts: Json[], fullText: string, signer: ThoughtSigner): void {
  const call = callParts[0];
  if (call) {
    const [scope, content] = signedContent(call);
    call.thoughtSignature = signer.sign(scope, content);
    return;
  }
  const last = textParts.at(-1);
  if (last) last.thoughtSignature = signer.sign('text', fullText);
}

/** The thought summary parts of a reply (`includeThoughts`), unsigned as Gemini sends them. */
export function thoughtParts(plan: PlannedThinking, pieces: readonly string[]): Json[] {
  return (pieces.length > 0 ? pieces : [plan.text]).map((text) => ({ text, thought: true }));
}
