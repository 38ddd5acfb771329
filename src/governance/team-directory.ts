import type { TeamInput, TeamRecord } from '../core/index.ts';
import type { TeamStore } from '../store/store.ts';

export interface TeamLookup {
  /** A runtime team from this instance's copy (never waits for the store). */
  get(name: string): TeamRecord | undefined;
}

export interface TeamDirectory extends TeamLookup {
  list(): TeamRecord[];
  /** Stores the team; this instance uses it at once, the others after their next refresh. */
  upsert(input: TeamInput): Promise<TeamRecord>;
  delete(name: string): Promise<boolean>;
  /** Reloads every runtime team from the store (a failed reload keeps the copy it has). */
  refresh(): Promise<void>;
  close(): void;
}

export interface TeamDirectoryOptions {
  store: TeamStore;
  /** How often the copy is reloaded: a change made on another instance applies here within this time. */
  refreshMs: number;
  onError?: ((operation: string, error: unknown) => void) | undefined;
}

/**
 * Runtime teams (upsertTeam) as the request path reads them: a local copy of the store's, reloaded in the
 * background, so a team's quota costs a request a map lookup and no round trip. Teams change rarely and a
 * few seconds' delay across instances is what runtime keys already accept (auth.keyCacheTtlMs).
 */
export function createTeamDirectory(opts: TeamDirectoryOptions): TeamDirectory {
  let teams = new Map<string, TeamRecord>();
  /** Bumped by local changes: a reload that started before one must not undo it. */
  let generation = 0;

  async function refresh(): Promise<void> {
    const started = generation;
    try {
      const list = await opts.store.list();
      if (started === generation) teams = new Map(list.map((t) => [t.name, t]));
    } catch (e) {
      opts.onError?.('teams refresh', e);
    }
  }

  const timer = setInterval(() => void refresh(), Math.max(50, opts.refreshMs));
  timer.unref();

  return {
    get: (name) => teams.get(name),
    list: () => [...teams.values()],
    async upsert(input) {
      const team = await opts.store.upsert(input);
      generation++;
      teams = new Map(teams).set(team.name, team);
      return team;
    },
    async delete(name) {
      const deleted = await opts.store.delete(name);
      generation++;
      const next = new Map(teams);
      next.delete(name);
      teams = next;
      return deleted;
    },
    refresh,
    close: () => clearInterval(timer),
  };
}
