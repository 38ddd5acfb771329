import { createFakeClock } from '../helpers/fake-clock.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { runStoreContract } from './store-contract.ts';

const clock = createFakeClock(1_700_000_000_000);

runStoreContract('memory', {
  create: async () => createMemoryStore({ now: clock.now, compressAboveBytes: 1024 }),
  // One process: another "instance" is the same store.
  peer: async (s) => s,
  advance: async (ms) => clock.advance(ms),
});
