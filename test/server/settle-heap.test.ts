import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { settleHeap } from '../../src/cli-settle-heap.ts';

const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!;

describe('settleHeap', () => {
  it('shrinks the young generation start-up grew, without leaving a gc global behind', () => {
    // Grow the young generation the way start-up does: many short-lived objects that survive a scavenge or two.
    let keep: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      keep.push(Array.from({ length: 5_000 }, (_, j) => ({ i, j })));
      if (keep.length > 20) keep = [];
    }
    keep = [];
    const before = newSpace().space_size;
    const pauseMs = settleHeap();
    expect(typeof pauseMs).toBe('number');
    expect(newSpace().space_size).toBeLessThan(before);
    expect('gc' in globalThis).toBe(false);
  });
});
