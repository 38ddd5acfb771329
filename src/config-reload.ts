import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { ConfigError, type Config } from './config/index.ts';
import type { ConfigControl, ConfigReload } from './gateway/services.ts';
import type { RouteTable } from './router/route-table.ts';
import type { Logger } from './telemetry/logger.ts';

/**
 * Config reloads (SIGHUP, the `reloadConfig` mutation, an optional file watch): the new file is read and
 * validated whole first — a bad one changes nothing and every problem is reported by key path — then providers,
 * routes, keys, quotas and prices are swapped while requests in flight finish on what they started with. Settings
 * the running process cannot change in place (where it listens, the store, the cache, telemetry, the ledger) are
 * kept until a restart, and named.
 */

/** Top-level config sections a reload does not apply: the process was built around them. */
const RESTART_ONLY = ['server', 'store', 'cache', 'idempotency', 'auth', 'router', 'alerts', 'ledger'] as const;

export function restartOnlyChanges(prev: Config, next: Config): string[] {
  const p = prev as Record<string, unknown>;
  const n = next as Record<string, unknown>;
  return RESTART_ONLY.filter((k) => JSON.stringify(p[k]) !== JSON.stringify(n[k]));
}

/**
 * Routes changed at run time (upsertRoute) that name a deployment the new config no longer has: applying it
 * would leave them unservable, so the reload is refused, naming each.
 */
export function runtimeRoutesWithout(routes: RouteTable, next: Config): string[] {
  const models = new Map(next.providers.map((p) => [p.id, new Set(p.models.map((m) => m.id))]));
  const problems: string[] = [];
  // The file's own routes are checked by its schema; the runtime ones stay as they are, so they are checked here.
  for (const { route } of routes.runtimeRoutes()) {
    route.targets.forEach((t, i) => {
      const m = models.get(t.provider);
      if (!m) problems.push(`routes (runtime) ${route.name}.targets[${i}].provider: the new config has no provider "${t.provider}"`);
      else if (!m.has(t.model) && !m.has('*')) problems.push(`routes (runtime) ${route.name}.targets[${i}].model: provider "${t.provider}" has no model "${t.model}" in the new config`);
    });
  }
  return problems;
}

/** How long a request of the old config may still run: its longest route deadline. */
export function longestDeadlineMs(config: Config): number {
  return Math.max(120_000, ...config.routes.map((r) => r.deadlineMs));
}

export function noReload(): ConfigReload {
  return { ok: false, version: 0, changedRoutes: [], restartRequired: [], errors: ['no config file: the gateway runs its built-in config, which cannot be reloaded'] };
}

export interface ConfigReloaderDeps {
  load: () => Promise<Config>;
  /** The file's path, for messages. */
  source: string;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The config the process started with: restart-only sections are compared against it (a reload never applied them). */
  started: Config;
  /** Swaps the new config in (throws, changing nothing, when it cannot). */
  apply: (next: Config) => Promise<{ changedRoutes: string[] }>;
  now?: () => Date;
}

export function createConfigReloader(deps: ConfigReloaderDeps): ConfigControl {
  const now = deps.now ?? (() => new Date());
  let version = 1;
  let loadedAt = now();
  // One reload at a time: a SIGHUP during a mutation's reload waits for it, then reads the file again.
  let chain: Promise<unknown> = Promise.resolve();

  async function reload(trigger: string): Promise<ConfigReload> {
    let next: Config;
    try {
      next = await deps.load();
    } catch (e) {
      const errors = e instanceof ConfigError ? e.issues : [e instanceof Error ? e.message : String(e)];
      for (const problem of errors) deps.logger.error({ trigger, source: deps.source, problem }, 'config reload refused: the running config is kept');
      return { ok: false, version, changedRoutes: [], restartRequired: [], errors };
    }
    const restartRequired = restartOnlyChanges(deps.started, next);
    try {
      const { changedRoutes } = await deps.apply(next);
      version++;
      loadedAt = now();
      deps.logger.info({ trigger, source: deps.source, version, changedRoutes }, 'config reloaded');
      if (restartRequired.length > 0) deps.logger.warn({ trigger, sections: restartRequired }, 'config reload: these sections changed and apply only after a restart');
      return { ok: true, version, changedRoutes, restartRequired, errors: [] };
    } catch (e) {
      const errors = e instanceof ConfigError ? e.issues : [e instanceof Error ? e.message : String(e)];
      for (const problem of errors) deps.logger.error({ trigger, source: deps.source, problem }, 'config reload refused: the running config is kept');
      return { ok: false, version, changedRoutes: [], restartRequired, errors };
    }
  }

  return {
    version: () => ({ version, loadedAt, source: deps.source }),
    reload(trigger) {
      const run = chain.then(() => reload(trigger));
      chain = run.catch(() => undefined);
      return run;
    },
  };
}

/**
 * Reloads when the file's content changes. The directory is watched, not the file: editors and config-map
 * mounts replace the file (a rename), which ends a watch on the file itself. Events are debounced, and a save
 * that leaves the content as it was reloads nothing.
 */
export function watchConfigFile(path: string, onChange: () => void, opts: { debounceMs?: number; onError?: (e: unknown) => void } = {}): () => void {
  const debounceMs = opts.debounceMs ?? 250;
  const name = basename(path);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hash = (content: Buffer) => createHash('sha256').update(content).digest('hex');
  const hashOf = async () => hash(await readFile(path));
  // Read now, synchronously: a save that lands before the first event must count as a change.
  let lastHash: string | undefined;
  try {
    lastHash = hash(readFileSync(path));
  } catch {
    lastHash = undefined;
  }
  const check = async () => {
    try {
      const h = await hashOf();
      if (h === lastHash) return;
      lastHash = h;
      onChange();
    } catch (e) {
      // Mid-replacement the file may be missing for a moment; the next event checks again.
      opts.onError?.(e);
    }
  };
  let watcher: FSWatcher | undefined = watch(dirname(path), (_event, file) => {
    if (file !== null && file !== name && !name.startsWith(String(file))) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void check(), debounceMs);
  });
  watcher.on('error', (e) => opts.onError?.(e));
  return () => {
    if (timer) clearTimeout(timer);
    watcher?.close();
    watcher = undefined;
  };
}
