import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

const SUBSCRIPTION = `subscription($input: CompletionInput!) { completionStream(input: $input) {
  __typename
  ... on CompletionStartEvent { completionId provider { id } }
  ... on TextDeltaEvent { text }
  ... on SwitchEvent { reason errorCode }
  ... on CompletionDoneEvent { completion { id message { content } usage { outputTokens } } }
  ... on CompletionErrorEvent { code message partialText } } }`;

function client() {
  return createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}

describe('completionStream over graphql-ws against the simulated providers', () => {
  it('gets a start event, deltas and exactly one terminal event; a 503 primary shows as a switch', async () => {
    stack.sims.openai.setFaults({ status: 503 });
    const c = client();
    try {
      const types: string[] = [];
      let text = '';
      let done: any;
      for await (const { data, errors } of c.iterate({ query: SUBSCRIPTION, variables: { input: { messages: [{ role: 'USER', content: 'stream please' }] } } })) {
        expect(errors).toBeUndefined();
        const ev = (data as any).completionStream;
        types.push(ev.__typename);
        if (ev.__typename === 'TextDeltaEvent') text += ev.text;
        if (ev.__typename === 'CompletionDoneEvent') done = ev.completion;
      }
      expect(types[0]).toBe('CompletionStartEvent');
      expect(types[1]).toBe('SwitchEvent');
      expect(types.filter((t) => t === 'CompletionDoneEvent' || t === 'CompletionErrorEvent')).toEqual(['CompletionDoneEvent']);
      expect(types.at(-1)).toBe('CompletionDoneEvent');
      expect(types.filter((t) => t === 'TextDeltaEvent').length).toBeGreaterThan(2);
      expect(done.message.content).toBe(text);
    } finally {
      stack.sims.openai.setFaults({});
      await c.dispose();
    }
  });

  it('closing the subscription aborts the upstream call (the simulator sees the abort)', async () => {
    stack.sims.openai.setFaults({ chunkDelayMs: 100, replyWords: 60 });
    const c = client();
    const before = stack.sims.openai.stats.aborted;
    try {
      const it = c.iterate({ query: SUBSCRIPTION, variables: { input: { messages: [{ role: 'USER', content: 'a long one' }] } } });
      let deltas = 0;
      for await (const { data } of it) {
        if ((data as any).completionStream.__typename === 'TextDeltaEvent' && ++deltas === 2) break; // sends `complete`
      }
      for (let i = 0; i < 100 && stack.sims.openai.stats.aborted === before; i++) await new Promise((ok) => setTimeout(ok, 20));
      expect(stack.sims.openai.stats.aborted).toBe(before + 1);
    } finally {
      stack.sims.openai.setFaults({});
      await c.dispose();
    }
  });

  it('an error after the first token ends with one error event carrying the partial text', async () => {
    stack.sims.openai.setFaults({ disconnectAfterChunks: 3, replyWords: 20 });
    const c = client();
    try {
      const events: any[] = [];
      for await (const { data } of c.iterate({ query: SUBSCRIPTION, variables: { input: { messages: [{ role: 'USER', content: 'cut me off' }] } } })) {
        events.push((data as any).completionStream);
      }
      const deltas = events.filter((e) => e.__typename === 'TextDeltaEvent').map((e) => e.text).join('');
      const terminal = events.filter((e) => e.__typename === 'CompletionDoneEvent' || e.__typename === 'CompletionErrorEvent');
      expect(terminal).toHaveLength(1);
      expect(terminal[0].__typename).toBe('CompletionErrorEvent');
      expect(terminal[0].code).toBe('INVALID_RESPONSE');
      expect(terminal[0].partialText).toBe(deltas);
      expect(deltas.split(' ').filter(Boolean)).toHaveLength(3);
    } finally {
      stack.sims.openai.setFaults({});
      await c.dispose();
    }
  });
});
