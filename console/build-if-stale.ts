/**
 * `npm start`'s prestart: builds the console (console/dist) when it is missing or older than its sources,
 * so a fresh clone serves /console after `npm install && npm start`, with no network. Builds nothing when
 * it is up to date (the usual start costs a directory walk), and never stops the gateway from starting:
 * without Vite (a production install) or on a failed build it says so and the gateway serves a 503 page
 * at /console that tells how to build it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const here = import.meta.dirname;
const root = join(here, '..');
const dist = join(here, 'dist');
/** What the two builds read: the pages, their code, the Vite configs and the client the console bundles. */
const SOURCES = ['index.html', 'graphiql.html', 'src', 'graphiql', 'vite.config.ts', 'vite.graphiql.config.ts', '../src/client'].map((p) => join(here, p));
const OUTPUTS = ['index.html', 'graphiql.html'].map((p) => join(dist, p));
const CONFIGS = ['vite.config.ts', 'vite.graphiql.config.ts'];

/** The newest modification time under a path (0 when it does not exist). */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let max = info.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

/** Why the console needs a build, or null when console/dist is newer than every source. */
export function staleReason(): string | null {
  const missing = OUTPUTS.find((f) => !existsSync(f));
  if (missing) return `${missing.slice(root.length + 1)} is missing`;
  const built = Math.min(...OUTPUTS.map((f) => statSync(f).mtimeMs));
  const changed = SOURCES.find((s) => newest(s) > built);
  return changed ? `${changed.slice(root.length + 1)} changed since the last build` : null;
}

function viteBin(): string | null {
  try {
    const pkg = createRequire(join(root, 'package.json')).resolve('vite/package.json');
    return join(pkg, '..', 'bin', 'vite.js');
  } catch {
    return null;
  }
}

/**
 * Builds the console when it is stale. Returns what happened; never throws (a failed or impossible build
 * leaves the 503 page in place). `quiet` keeps Vite's output to itself (the tests' beforeAll).
 */
export function buildIfStale({ quiet = false } = {}): { built: boolean; reason: string | null; error?: string } {
  const reason = staleReason();
  if (reason === null) return { built: false, reason };
  const vite = viteBin();
  if (!vite) {
    const error = `console: not built (${reason}) and Vite is not installed; /console will answer 503 until \`npm run build:console\` runs`;
    process.stderr.write(`${error}\n`);
    return { built: false, reason, error };
  }
  if (!quiet) process.stderr.write(`console: building (${reason})…\n`);
  const started = performance.now();
  for (const config of CONFIGS) {
    const run = spawnSync(process.execPath, [vite, 'build', '--config', join(here, config)], { cwd: root, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
    if (run.status !== 0) {
      const error = `console: the build failed (${config}); the gateway starts anyway, /console answers 503${quiet ? `\n${run.stdout}${run.stderr}` : ''}`;
      process.stderr.write(`${error}\n`);
      return { built: false, reason, error };
    }
  }
  if (!quiet) process.stderr.write(`console: built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return { built: true, reason };
}

if (process.argv[1] === import.meta.filename) buildIfStale();
