import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SIM_DEPLOYMENTS, startStack, type Stack } from '../helpers/start-stack.ts';

/** The signature with its first character changed: always a different one. */
const flip = (sig: string): string => `${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;

/**
 * Reasoning over GraphQL against the Anthropic and Gemini simulators: ReasoningDeltaEvents before the text in
 * completionStream, AssistantMessage.reasoning / reasoningParts, and the parts sent back on an ASSISTANT
 * MessageInput to continue a thinking model's tool-use turn.
 */

let stack: Stack;
let ws: Client;

beforeAll(async () => {
  stack = await startStack();
  ws = createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
});
afterAll(async () => {
  await ws.dispose();
  await stack.close();
});

const PARTS = 'reasoningParts { text signature redacted provider toolCallId }';
const MESSAGE = `message { content reasoning ${PARTS} toolCalls { id name arguments } }`;

const STREAM = `subscription($input: CompletionInput!) {
  completionStream(input: $input) {
    __typename
    ... on ReasoningDeltaEvent { text index signature redacted provider }
    ... on TextDeltaEvent { text }
    ... on CompletionDoneEvent { completion { ${MESSAGE} usage { reasoningTokens } } }
    ... on CompletionErrorEvent { code message }
  }
}`;

const CREATE = `mutation($input: CompletionInput!) { createCompletion(input: $input) { finishReason ${MESSAGE} } }`;

type Event = { __typename: string; text?: string; signature?: string | null; provider?: string | null; completion?: any };

async function events(input: Record<string, unknown>): Promise<Event[]> {
  const out: Event[] = [];
  for await (const r of ws.iterate({ query: STREAM, variables: { input } })) {
    expect(r.errors).toBeUndefined();
    out.push((r.data as { completionStream: Event }).completionStream);
  }
  return out;
}

const TOOLS = [{ name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];

describe.each([
  ['Anthropic', SIM_DEPLOYMENTS.anthropic, 'anthropic'],
  ['Gemini', SIM_DEPLOYMENTS.gemini, 'gemini'],
] as const)('reasoning over GraphQL on %s', (_name, model, protocol) => {
  it('completionStream emits reasoning deltas before the text, and the done completion has the signed parts', async () => {
    const evs = await events({ model, reasoningEffort: 'LOW', messages: [{ role: 'USER', content: 'why is the sky blue' }] });
    const kinds = evs.map((e) => e.__typename);
    const firstText = kinds.indexOf('TextDeltaEvent');
    expect(kinds.indexOf('ReasoningDeltaEvent')).toBe(1);
    const readable = evs.filter((e) => e.__typename === 'ReasoningDeltaEvent' && e.text !== '');
    expect(readable.length).toBeGreaterThan(0);
    expect(evs.lastIndexOf(readable.at(-1)!)).toBeLessThan(firstText);
    expect(readable.map((e) => e.text).join('')).toContain('why is the sky blue');
    expect(evs.some((e) => e.__typename === 'ReasoningDeltaEvent' && e.signature && e.provider === protocol)).toBe(true);
    const done = evs.at(-1)!;
    expect(done.__typename).toBe('CompletionDoneEvent');
    const msg = done.completion.message;
    expect(msg.reasoning).toBe(readable.map((e) => e.text).join(''));
    expect(msg.reasoningParts.some((p: { signature: string | null }) => p.signature)).toBe(true);
    expect(done.completion.usage.reasoningTokens).toBeGreaterThan(0);
    // No effort: no reasoning events, an empty list.
    const plain = await events({ model, messages: [{ role: 'USER', content: 'why is the sky blue' }] });
    expect(plain.some((e) => e.__typename === 'ReasoningDeltaEvent')).toBe(false);
    expect(plain.at(-1)!.completion.message).toMatchObject({ reasoning: null, reasoningParts: [] });
  });

  it('continues a thinking + tool-call turn whose reasoningParts go back on the ASSISTANT message; tampered, it is refused', async () => {
    const ask = { role: 'USER', content: 'call get_weather for Paris' };
    const first = await stack.gql(CREATE, { input: { model, reasoningEffort: 'LOW', tools: TOOLS, messages: [ask] } });
    expect(first.errors).toBeUndefined();
    const turn = first.data.createCompletion.message;
    expect(first.data.createCompletion.finishReason).toBe('TOOL_CALLS');
    const call = turn.toolCalls[0];
    const back = (reasoningParts: unknown[]) => [
      ask,
      { role: 'ASSISTANT', content: turn.content, toolCalls: turn.toolCalls, reasoningParts },
      { role: 'TOOL', toolCallId: call.id, name: call.name, content: '18C and sunny' },
    ];
    const next = await stack.gql(CREATE, { input: { model, reasoningEffort: 'LOW', tools: TOOLS, messages: back(turn.reasoningParts) } });
    expect(next.errors).toBeUndefined();
    expect(next.data.createCompletion.message.content).toContain('18C and sunny');

    const tampered = turn.reasoningParts.map((p: { signature: string | null }) => (p.signature ? { ...p, signature: flip(p.signature) } : p));
    const refused = await stack.gql(CREATE, { input: { model, reasoningEffort: 'LOW', tools: TOOLS, messages: back(tampered) } });
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toMatch(/signature/i);
    expect(refused.errors?.[0]?.message).toContain('reasoningParts');
  });
});

describe('reasoning inputs on GraphQL', () => {
  it('refuses reasoningParts on a non-assistant message, naming the field', async () => {
    const r = await stack.gql(CREATE, { input: { messages: [{ role: 'USER', content: 'hi', reasoningParts: [{ text: 'x' }] }] } });
    expect(r.errors?.[0]?.message).toContain('input.messages[0].reasoningParts: only ASSISTANT messages take reasoningParts');
  });
});
