import type { PlannedThinking, ThoughtSigner } from './thinking.ts';

/**
 * Extended thinking in the Anthropic simulator: the `thinking` parameter and the rules the API enforces with
 * it, the check of thinking blocks sent back (only signatures this simulator issued pass, as only Anthropic's
 * pass the real API), and the thinking blocks of a reply. Messages follow the API's own 400s.
 */

type Json = Record<string, unknown>;
type Fail = (message: string) => never;

const DOCS = 'https://docs.claude.com/en/docs/build-with-claude/extended-thinking';

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when the request turns thinking on (`enabled` with a valid budget, or `adaptive`); throws the API's 400s. */
export function parseThinking(body: Json, maxTokens: number, fail: Fail): boolean {
  const t = body.thinking;
  if (t === undefined || t === null) return false;
  if (!isObject(t)) fail('thinking: Input should be a valid dictionary');
  switch (t.type) {
    case 'disabled':
      return false;
    case 'adaptive':
      break;
    case 'enabled': {
      const budget = t.budget_tokens;
      if (typeof budget !== 'number' || !Number.isInteger(budget)) fail('thinking.enabled.budget_tokens: Field required');
      if (budget < 1024) fail('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
      if (budget >= maxTokens) {
        fail(`\`max_tokens\` must be greater than \`thinking.budget_tokens\`. Please consult our documentation at ${DOCS}#max-tokens-and-context-window-size`);
      }
      break;
    }
    default:
      fail(`thinking: Input tag '${String(t.type)}' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'`);
  }
  if (body.temperature !== undefined && body.temperature !== 1) {
    fail(`\`temperature\` may only be set to 1 when thinking is enabled. Please consult our documentation at ${DOCS}#feature-compatibility`);
  }
  if (body.top_k !== undefined) fail(`\`top_k\` must be unset when thinking is enabled. Please consult our documentation at ${DOCS}#feature-compatibility`);
  if (typeof body.top_p === 'number' && body.top_p < 0.95) {
    fail(`\`top_p\` must be greater than or equal to 0.95 or unset when thinking is enabled. Please consult our documentation at ${DOCS}#feature-compatibility`);
  }
  const tc = body.tool_choice;
  if (isObject(tc) && (tc.type === 'any' || tc.type === 'tool')) fail('Thinking may not be enabled when tool_choice forces tool use.');
  return true;
}

/** A thinking or redacted_thinking block sent back: it must be one this simulator issued, unchanged. */
export function checkThinkingBlock(block: Json, where: string, signer: ThoughtSigner, fail: Fail): void {
  if (block.type === 'thinking') {
    if (typeof block.thinking !== 'string') fail(`${where}.thinking: Field required`);
    if (typeof block.signature !== 'string') fail(`${where}.signature: Field required`);
    if (!signer.verify('thinking', block.thinking, block.signature)) fail(`${where}: Invalid \`signature\` in \`thinking\` block`);
  } else if (block.type === 'redacted_thinking') {
    if (typeof block.data !== 'string') fail(`${where}.data: Field required`);
    if (signer.open('redacted_thinking', block.data) === undefined) fail(`${where}: Invalid \`data\` in \`redacted_thinking\` block`);
  }
}

/**
 * With thinking on, the assistant turn that made the tool calls now being answered must start with its thinking
 * block: the API refuses a tool-use continuation whose reasoning was dropped on the way.
 */
export function checkToolTurn(messages: readonly unknown[], fail: Fail): void {
  const last = messages.at(-1);
  if (!isObject(last) || last.role !== 'user' || !Array.isArray(last.content)) return;
  if (!last.content.some((b) => isObject(b) && b.type === 'tool_result')) return;
  const i = messages.length - 2;
  const turn = messages[i];
  if (!isObject(turn) || turn.role !== 'assistant') return;
  const blocks = typeof turn.content === 'string' ? [{ type: 'text' }] : Array.isArray(turn.content) ? turn.content : [];
  if (!blocks.some((b) => isObject(b) && b.type === 'tool_use')) return;
  const first = blocks[0];
  const type = isObject(first) ? String(first.type) : 'text';
  if (type === 'thinking' || type === 'redacted_thinking') return;
  fail(
    `messages.${i}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${type}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at ${DOCS}`,
  );
}

/** The reply's thinking blocks, signed; a redacted block follows when the prompt asked for one. */
export function thinkingBlocks(plan: PlannedThinking, redacted: boolean, signer: ThoughtSigner): Json[] {
  const blocks: Json[] = [{ type: 'thinking', thinking: plan.text, signature: signer.sign('thinking', plan.text) }];
  if (redacted) blocks.push({ type: 'redacted_thinking', data: signer.seal('redacted_thinking', `hidden: ${plan.text}`) });
  return blocks;
}
