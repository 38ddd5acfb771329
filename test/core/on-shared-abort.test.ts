import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onSharedAbort } from '../../src/core/index.ts';

describe('onSharedAbort', () => {
  it('puts one listener on the signal for any number of watchers and runs those still watching with the reason', () => {
    const ac = new AbortController();
    const heard: Array<[number, unknown]> = [];
    const stops = Array.from({ length: 100 }, (_, i) => onSharedAbort(ac.signal, (reason) => heard.push([i, reason])));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    for (let i = 0; i < 100; i += 2) stops[i]!();
    const reason = new Error('shutting down');
    ac.abort(reason);
    expect(heard.map(([i]) => i)).toEqual(Array.from({ length: 50 }, (_, k) => 2 * k + 1));
    expect(heard.every(([, r]) => r === reason)).toBe(true);
    // Stopping after the abort, or twice, is harmless.
    stops[1]!();
    stops[0]!();
    expect(heard).toHaveLength(50);
  });

  it('keeps each signal to its own watchers, and a watcher may stop another while the abort runs', () => {
    const a = new AbortController();
    const b = new AbortController();
    const heard: string[] = [];
    let stopLater: () => void = () => undefined;
    onSharedAbort(a.signal, () => {
      heard.push('a1');
      stopLater();
    });
    stopLater = onSharedAbort(a.signal, () => heard.push('a2'));
    onSharedAbort(b.signal, () => heard.push('b1'));
    a.abort();
    // a2 was stopped by a1 before its turn came: it does not run, as with a listener removed during a dispatch.
    expect(heard).toEqual(['a1']);
    expect(heard).not.toContain('b1');
    b.abort();
    expect(heard).toContain('b1');
  });
});
