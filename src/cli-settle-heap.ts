import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's `gc()` with options (Node ≥ 22); `last-resort` is the memory-reducing kind. */
type Gc = (opts: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * One memory-reducing full GC, run once the gateway has started.
 *
 * Why: start-up (config, schemas, adapters, the GraphQL server) allocates at a rate that makes V8 grow its
 * young generation to the largest size `--max-semi-space-size` allows and commit those pages. Idle, nothing
 * collects again, so about 20 MiB of RSS stayed committed for objects that were long gone (measured with
 * `v8.getHeapSpaceStatistics()`: new space 32 MiB, 24 MiB physical, 5 MiB used). Only a GC that aims to
 * reduce memory shrinks the young generation back; a regular full GC leaves it as it is. It grows again
 * under load, where it pays for itself.
 *
 * The `gc` function is taken from a fresh context created while `--expose-gc` is set, and the flag is
 * cleared again, so no `gc` global is visible to the gateway or its dependencies. Returns the pause in ms
 * (~30–90 ms on a 2-core machine), or undefined when the runtime would not hand out `gc`.
 */
export function settleHeap(): number | undefined {
  let gc: Gc | undefined;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc | undefined;
  } catch {
    gc = undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  if (typeof gc !== 'function') return undefined;
  const t0 = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return performance.now() - t0;
}
