import type { RedisClient } from './redis-connection.ts';
import * as scripts from './redis-scripts.ts';
import { storeUnavailable } from './store-error.ts';

type ScriptName =
  | 'RATE_LIMIT'
  | 'RATE_ADJUST'
  | 'BUDGET_RESERVE'
  | 'BUDGET_SETTLE'
  | 'BUDGET_STATUS'
  | 'BUDGET_READ'
  | 'INFLIGHT_RESOLVE'
  | 'INFLIGHT_ABANDON'
  | 'IDEMPOTENCY_BEGIN'
  | 'IDEMPOTENCY_ABANDON'
  | 'ROUTE_CHANGE'
  | 'API_KEY_REVOKE'
  | 'API_KEY_UPDATE';

const NAMES: readonly ScriptName[] = [
  'RATE_LIMIT',
  'RATE_ADJUST',
  'BUDGET_RESERVE',
  'BUDGET_SETTLE',
  'BUDGET_STATUS',
  'BUDGET_READ',
  'INFLIGHT_RESOLVE',
  'INFLIGHT_ABANDON',
  'IDEMPOTENCY_BEGIN',
  'IDEMPOTENCY_ABANDON',
  'ROUTE_CHANGE',
  'API_KEY_REVOKE',
  'API_KEY_UPDATE',
];

type Arg = string | number | Buffer;
type ScriptFn = (numKeys: number, ...args: Arg[]) => Promise<unknown>;

/**
 * The scripts as ioredis custom commands (EVALSHA, falling back to EVAL after a server restart or
 * failover flushed the script cache), and every call mapped to the store's one error on failure.
 */
export interface RedisCommands {
  run(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown>;
  /** The same, with bulk replies as Buffers (binary values). */
  runBuffer(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown>;
  /** Runs a client call, turning any failure into `store unavailable (operation)`. */
  call<T>(operation: string, fn: () => Promise<T>): Promise<T>;
}

export function createRedisCommands(client: RedisClient): RedisCommands {
  for (const name of NAMES) client.defineCommand(`sb_${name.toLowerCase()}`, { lua: scripts[name] });
  const fns = client as unknown as Record<string, ScriptFn>;
  async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw storeUnavailable(operation, e);
    }
  }
  return {
    call,
    run: (name, keys, args) => call(name.toLowerCase(), () => fns[`sb_${name.toLowerCase()}`]!.call(client, keys.length, ...keys, ...args)),
    runBuffer: (name, keys, args) =>
      call(name.toLowerCase(), () => fns[`sb_${name.toLowerCase()}Buffer`]!.call(client, keys.length, ...keys, ...args)),
  };
}
