import { parse, specifiedRules, validate } from 'graphql/index.js';
import { describe, expect, it } from 'vitest';
import { completionEvents, type EventPayload } from '../../resolvers/subscription.ts';
import { GatewayError } from '../../src/core/index.ts';
import type { CompletionEvent } from '../../src/core/index.ts';
import { buildSchema } from '../../src/server/graphql/graphql-endpoint.ts';
import { complexityLimitRule, depthLimitRule } from '../../src/server/graphql/validation-rules.ts';

const start: CompletionEvent = { type: 'start', id: 'cmpl_1', route: 'default', routeVersion: 1, provider: 'alpha', model: 'm1' };

async function drain(it: AsyncIterableIterator<EventPayload>): Promise<EventPayload[]> {
  const out: EventPayload[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

describe('completionEvents (subscription source)', () => {
  it('turns a throwing gateway stream into one error event with the partial text, hiding the message', async () => {
    async function* source(): AsyncGenerator<CompletionEvent> {
      yield start;
      yield { type: 'text-delta', text: 'par' };
      throw new Error('socket hang up at http://user:secret@upstream');
    }
    const events = await drain(completionEvents(source(), new AbortController()));
    expect(events.map((e) => e.__typename)).toEqual(['CompletionStartEvent', 'TextDeltaEvent', 'CompletionErrorEvent']);
    expect(events[2]).toEqual({
      __typename: 'CompletionErrorEvent',
      completionId: 'cmpl_1',
      code: 'INTERNAL_SERVER_ERROR',
      message: 'the completion stream failed unexpectedly',
      partialText: 'par',
      retryable: false,
      attempts: [],
    });
  });

  it('keeps a thrown GatewayError\'s code and message', async () => {
    async function* source(): AsyncGenerator<CompletionEvent> {
      yield* [];
      throw new GatewayError('timeout', 'upstream timed out');
    }
    const [ev] = await drain(completionEvents(source(), new AbortController()));
    expect(ev).toMatchObject({ __typename: 'CompletionErrorEvent', code: 'TIMEOUT', message: 'upstream timed out', retryable: true, completionId: expect.stringMatching(/^cmpl_/) });
  });

  it('never ends silently: a stream without a terminal event ends with an error event', async () => {
    async function* source(): AsyncGenerator<CompletionEvent> {
      yield start;
    }
    const events = await drain(completionEvents(source(), new AbortController()));
    expect(events.map((e) => e.__typename)).toEqual(['CompletionStartEvent', 'CompletionErrorEvent']);
  });

  it('stops after the terminal event, and return() aborts only a stream still running', async () => {
    async function* source(): AsyncGenerator<CompletionEvent> {
      yield start;
      yield { type: 'error', id: 'cmpl_1', error: new GatewayError('unavailable', 'down'), partialText: '', attempts: [] };
      yield { type: 'text-delta', text: 'never' };
    }
    const finished = new AbortController();
    const events = await drain(completionEvents(source(), finished));
    expect(events.map((e) => e.__typename)).toEqual(['CompletionStartEvent', 'CompletionErrorEvent']);
    expect(finished.signal.aborted).toBe(false);

    const running = new AbortController();
    const it = completionEvents(source(), running);
    await it.next();
    await it.return!();
    expect(running.signal.aborted).toBe(true);
    expect(running.signal.reason).toBeInstanceOf(GatewayError);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });
});

describe('validation rules', () => {
  const schema = buildSchema();
  const run = (query: string, rule: ReturnType<typeof depthLimitRule>) => validate(schema, parse(query), [...specifiedRules, rule]).map((e) => e.message);
  const depth = (query: string) => run(query, depthLimitRule(4));
  const cost = (query: string) => run(query, complexityLimitRule(100));

  it('counts depth through fragments and inline fragments, ignoring introspection', () => {
    expect(depth('{ providers { models { provider { id } } } }')).toEqual([]);
    expect(depth('{ providers { ...P } } fragment P on Provider { models { provider { models { id } } } }')).toEqual([
      'operation depth 5 exceeds the limit of 4',
    ]);
    expect(depth('{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }')).toEqual([]);
  });

  it('multiplies list costs by first or a default size, and survives fragment cycles', () => {
    expect(cost('{ completions(first: 5) { edges { node { id } } } }')).toEqual([]);
    // providers: 1 + 10 × (models: 1 + 10 × (provider: 1 + id: 1))
    expect(cost('{ providers { models { provider { id } } } }')).toEqual(['operation complexity 211 exceeds the limit of 100']);
    expect(cost('{ completions(first: 50) { edges { node { attempts { latencyMs } } } } }')[0]).toMatch(/complexity \d+ exceeds the limit of 100/);
    expect(cost('query($n: Int = 3) { completions(first: $n) { edges { node { id } } } }')).toEqual([]);
    const cyclic = cost('{ providers { ...A } } fragment A on Provider { models { provider { ...A } } }');
    expect(cyclic.some((m) => m.includes('Cannot spread fragment "A" within itself'))).toBe(true);
  });
});
