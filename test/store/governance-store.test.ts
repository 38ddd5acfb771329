import { afterAll } from 'vitest';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import type { Store } from '../../src/store/store.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { runGovernanceContract } from './governance-contract.ts';
import { dropPrefix, redisStore, uniquePrefix } from './redis-harness.ts';

const clock = createFakeClock(1_700_000_000_000);

runGovernanceContract('memory', {
  create: async () => createMemoryStore({ now: clock.now }),
  peer: async (s) => s,
  advance: async (ms) => clock.advance(ms),
});

const prefixes: string[] = [];
const prefixOf = new WeakMap<Store, string>();
afterAll(async () => {
  await Promise.all(prefixes.map(dropPrefix));
});

async function ready(s: Store): Promise<Store> {
  for (let i = 0; i < 100 && (await s.readiness()).status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
  return s;
}

runGovernanceContract('redis', {
  async create() {
    const prefix = uniquePrefix('governance');
    prefixes.push(prefix);
    const s = redisStore(prefix);
    prefixOf.set(s, prefix);
    return ready(s);
  },
  async peer(s) {
    const p = redisStore(prefixOf.get(s)!);
    prefixOf.set(p, prefixOf.get(s)!);
    return ready(p);
  },
  advance: (ms) => new Promise((r) => setTimeout(r, ms)),
});
