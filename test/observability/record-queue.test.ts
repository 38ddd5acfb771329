import { describe, expect, it } from 'vitest';
import { RecordQueue } from '../../src/gateway/observability-stage.ts';
import type { UsageEvent } from '../../src/core/index.ts';
import { startStack } from '../helpers/start-stack.ts';

const event = (id: string) => ({ id }) as UsageEvent;
const nextTurn = () => new Promise((r) => setImmediate(r));

describe('RecordQueue: records are written after the response', () => {
  it('writes nothing during the request\'s own turn, everything on the next, in order', async () => {
    const q = new RecordQueue();
    const written: string[] = [];
    q.attach((batch) => written.push(batch.map((r) => `${r.event.id}${r.cacheMiss ? ' miss' : ''}`).join(',')));
    q.push(event('a'), false);
    q.push(event('b'), true);
    expect(written).toEqual([]);
    await nextTurn();
    // One batch: the records of one turn are written together.
    expect(written).toEqual(['a,b miss']);
  });

  it('drain writes what waits at once (before a flush or shutdown); a failing writer does not stop later batches', async () => {
    const q = new RecordQueue();
    const written: string[] = [];
    q.attach((batch) => {
      if (batch.some((r) => r.event.id === 'bad')) throw new Error('metrics broke');
      written.push(...batch.map((r) => r.event.id));
    });
    q.push(event('bad'), false);
    expect(() => q.drain()).not.toThrow();
    q.push(event('x'), false);
    q.push(event('y'), false);
    q.drain();
    expect(written).toEqual(['x', 'y']);
    await nextTurn();
    expect(written).toEqual(['x', 'y']);
  });

  it('over HTTP: the response arrives, then the log line and the ledger row; a usage query sees the request at once', async () => {
    const stack = await startStack();
    try {
      const before = stack.logs.filter((l) => l.includes('"msg":"request"')).length;
      const res = await stack.post('/v1/chat/completions', { model: 'default', messages: [{ role: 'user', content: 'hi' }] });
      expect(res.status).toBe(200);
      const range = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() };
      const usage = await stack.gql('query($filter: UsageFilter!) { usage(filter: $filter) { totals { requests } } }', { filter: range });
      expect(usage.errors).toBeUndefined();
      expect(usage.data.usage.totals.requests).toBe(1);
      expect(stack.logs.filter((l) => l.includes('"msg":"request"')).length).toBe(before + 1);
    } finally {
      await stack.close();
    }
  });
});
