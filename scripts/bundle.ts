/**
 * Bundles the gateway into `dist/gateway/` (run by `npm run build` after tsc): one minified ES module
 * graph from `src/cli.ts`, with the token-count worker as a second entry and lazily imported parts (the
 * GraphQL API, OpenTelemetry, the simulators, cloud credentials) as chunks loaded on first use.
 *
 * Why: V8 keeps every module's source text for lazy compilation, and Node keeps a record per module. The
 * unbundled build started at ~77 MiB idle; bundled and minified, the same process starts at ~67 MiB
 * (BENCHMARKS.md, "Idle memory"). ioredis, loaded through `require` on first use, stays in node_modules.
 *
 * The output must sit two levels below the repository root (as dist/gateway/ does): the bundle finds
 * schema/ and console/dist/ there.
 *
 *   node scripts/bundle.ts [--out dist/gateway] [--no-minify]
 */
import { rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'rolldown';

const ROOT = join(import.meta.dirname, '..');
const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/gateway' }, 'no-minify': { type: 'boolean', default: false } } });
const OUT = join(ROOT, values.out);

/**
 * Packages that @apollo/server uses on every GraphQL request, swapped in the bundle for files of ours with the
 * same API (each file says what it saves). The swap is only for their importers elsewhere; the shims themselves
 * import the real packages. Running from src/ (tests, `npm start`) uses the packages as published.
 */
const SHIMS: Record<string, string> = {
  negotiator: join(ROOT, 'src/server/graphql/bundle-shims/memo-negotiator.ts'),
  '@apollo/utils.createhash': join(ROOT, 'src/server/graphql/bundle-shims/node-create-hash.ts'),
};
const shimFiles = new Set(Object.values(SHIMS));

rmSync(OUT, { recursive: true, force: true });
const t0 = performance.now();
await build({
  input: { cli: join(ROOT, 'src/cli.ts'), 'token-count-worker': join(ROOT, 'src/gateway/token-count-worker.ts') },
  platform: 'node',
  tsconfig: join(ROOT, 'tsconfig.json'),
  logLevel: 'warn',
  plugins: [
    {
      name: 'switchboard-shims',
      resolveId(source, importer) {
        const shim = SHIMS[source];
        return shim === undefined || importer === undefined || shimFiles.has(importer) ? null : shim;
      },
    },
  ],
  output: {
    dir: OUT,
    format: 'esm',
    minify: !values['no-minify'],
    entryFileNames: '[name].js',
    // One flat folder: the chunks find the worker and the assets at the same relative paths as cli.js.
    chunkFileNames: '[name]-[hash].js',
    sourcemap: false,
  },
});
process.stdout.write(`bundled ${relative(ROOT, OUT)}/ in ${Math.round(performance.now() - t0)} ms\n`);
