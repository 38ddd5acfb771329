import { TeamInputSchema, TeamRecordSchema, type TeamRecord } from '../core/index.ts';
import type { RedisCommands } from './redis-commands.ts';
import type { RedisClient } from './redis-connection.ts';
import type { TeamStore } from './store.ts';

/** Runtime teams on Redis: one hash, name → record (JSON). Each change is one command, so none needs a script. */
export function createRedisTeams(deps: { client: RedisClient; cmd: RedisCommands; key: string; now: () => number }): TeamStore {
  const { client, cmd, key } = deps;
  return {
    async upsert(input) {
      const team: TeamRecord = { ...TeamInputSchema.parse(input), updatedAt: new Date(deps.now()).toISOString() };
      await cmd.call('team upsert', () => client.hset(key, team.name, JSON.stringify(team)));
      return team;
    },
    async delete(name) {
      return (await cmd.call('team delete', () => client.hdel(key, name))) === 1;
    },
    async list() {
      const all = await cmd.call('team list', () => client.hgetall(key));
      return Object.values(all).map((json) => TeamRecordSchema.parse(JSON.parse(json)));
    },
  };
}
