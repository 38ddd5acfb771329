/**
 * A route's `onContentFilter`: `stop` (the default) answers with the provider's content-filter block; `fallback`
 * asks the next target, streamed or not, as long as nothing of the blocked answer reached the client. The blocked
 * attempt stays in the attempt log with its cost.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';

let stack: Stack;
let client: OpenAI;
const hi = [{ role: 'user' as const, content: 'tell me something' }];
const FILTERED = { provider: 'filtered', model: 'gpt-4o-mini' };
const CLAUDE = { provider: 'sim-anthropic', model: 'claude-haiku-4-5' };

beforeAll(async () => {
  stack = await startStack((c) => {
    const sim = c.providers!.find((p) => p.id === 'sim-openai')!;
    // Every answer from this deployment is blocked (the simulator's content-filter fault, by header).
    c.providers!.push({ ...sim, id: 'filtered', headers: { 'x-sim-content-filter': 'true' } });
    c.routes = [
      ...(c.routes ?? []),
      { name: 'cf-stop', targets: [FILTERED, CLAUDE] },
      { name: 'cf-fallback', targets: [FILTERED, CLAUDE], onContentFilter: 'fallback' },
      { name: 'cf-only', targets: [FILTERED], onContentFilter: 'fallback' },
    ];
  });
  client = new OpenAI({ apiKey: 'local', baseURL: `${stack.url}/v1`, maxRetries: 0 });
});
afterAll(() => stack?.close());

describe('onContentFilter', () => {
  it('stop (default): the blocked answer is the answer', async () => {
    const r = await client.chat.completions.create({ model: 'cf-stop', messages: hi }).withResponse();
    expect(r.data.choices[0]!.finish_reason).toBe('content_filter');
    expect(r.response.headers.get('x-switchboard-provider')).toBe('filtered');
    expect(r.response.headers.get('x-switchboard-attempts')).toBe('1');
  });

  it('fallback: the next target answers, and the blocked attempt is in the log', async () => {
    const r = await client.chat.completions.create({ model: 'cf-fallback', messages: hi }).withResponse();
    expect(r.data.choices[0]!.finish_reason).toBe('stop');
    expect(r.data.choices[0]!.message.content).not.toBe('');
    expect(r.response.headers.get('x-switchboard-provider')).toBe('sim-anthropic');
    expect(r.response.headers.get('x-switchboard-attempts')).toBe('2');
    expect(r.response.headers.get('x-switchboard-attempt-log')).toMatch(/content_filter/);
  });

  it('fallback, streamed: a block before any content switches invisibly', async () => {
    const stream = await client.chat.completions.create({ model: 'cf-fallback', messages: hi, stream: true });
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).not.toBe('');
    expect(finish).toBe('stop');
  });

  it('fallback with no target left: the content-filter error, not an invalid response', async () => {
    const err = await client.chat.completions.create({ model: 'cf-only', messages: hi }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(JSON.stringify((err as InstanceType<typeof OpenAI.APIError>).error)).toMatch(/content filter/i);
  });

  it('upsertRoute takes it and Route shows it', async () => {
    const r = await stack.gql('mutation($i: RouteInput!) { upsertRoute(input: $i) { onContentFilter } }', {
      i: { name: 'cf-gql', targets: [FILTERED, CLAUDE], onContentFilter: 'FALLBACK' },
    });
    expect(r.errors).toBeUndefined();
    expect(r.data.upsertRoute.onContentFilter).toBe('FALLBACK');
    const q = await stack.gql('{ route(name: "cf-stop") { onContentFilter } }');
    expect(q.data.route.onContentFilter).toBe('STOP');
    const answered = await client.chat.completions.create({ model: 'cf-gql', messages: hi }).withResponse();
    expect(answered.response.headers.get('x-switchboard-provider')).toBe('sim-anthropic');
  });
});
