import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ENTRY = join(import.meta.dirname, '../../src/client/index.ts');

/** Node built-ins without their `node:` prefix (`fs`, `fs/promises`, `http`, …). */
const BUILTINS = builtinModules.filter((m) => !m.startsWith('_') && !m.startsWith('node:'));
const escaped = BUILTINS.map((m) => m.replace(/[/.]/g, '\\$&')).join('|');
/** Specifiers in import/export-from, dynamic import() and require() that name a Node built-in. */
const NODE_SPECIFIER = new RegExp(`(?:\\bfrom\\s*|\\bimport\\s*\\(?\\s*|\\brequire\\s*\\(\\s*)(["'\`])(?:node:[^"'\`]+|(?:${escaped}))\\1`, 'g');

/** What in a bundle points at Node: its built-ins by name, require(), or Vite's stand-in for a built-in it left out. */
function nodeReferences(code: string): string[] {
  return [
    ...Array.from(code.matchAll(NODE_SPECIFIER), (m) => m[0]),
    ...Array.from(code.matchAll(/["'`]node:[\w/]+["'`]/g), (m) => m[0]),
    ...Array.from(code.matchAll(/\brequire\s*\(/g), (m) => m[0]),
    ...Array.from(code.matchAll(/__vite-browser-external/g), (m) => m[0]),
    ...Array.from(code.matchAll(/\bprocess\.(?:env|versions|platform)\b|\bBuffer\.from\b/g), (m) => m[0]),
  ];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchboard-browser-build-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Bundles an entry as a browser ES module library (Vite lib mode, dependencies included, not minified); the output's text. */
async function bundle(entry: string, name: string): Promise<string> {
  const outDir = join(dir, name);
  await build({
    configFile: false,
    root: dir,
    publicDir: false,
    logLevel: 'silent',
    resolve: { conditions: ['browser', 'module', 'import', 'default'] },
    build: {
      lib: { entry, formats: ['es'], fileName: 'client' },
      outDir,
      emptyOutDir: true,
      minify: false,
      target: 'es2022',
      sourcemap: false,
      reportCompressedSize: false,
    },
  });
  const files = (await readdir(outDir, { recursive: true })).filter((f) => /\.(m?js|cjs)$/.test(f));
  expect(files.length).toBeGreaterThan(0);
  return (await Promise.all(files.map((f) => readFile(join(outDir, f), 'utf8')))).join('\n');
}

it('the detector flags a module that uses a Node built-in', async () => {
  const fixture = join(dir, 'uses-node.ts');
  await writeFile(fixture, "import { readFileSync } from 'node:fs';\nimport { request } from 'http';\nexport const read = (p: string) => [readFileSync(p, 'utf8'), request];\n");
  const code = await bundle(fixture, 'fixture');
  // Vite swaps each built-in for a stub that throws when used: both are flagged.
  expect(nodeReferences(code)).toEqual(expect.arrayContaining(['"node:fs"', '__vite-browser-external']));
  expect(code).toMatch(/__vite-browser-external:http\b/);
}, 60_000);

it('src/client bundles for the browser with no Node built-ins', async () => {
  const code = await bundle(ENTRY, 'client');
  // The bundle is the client, graphql-ws included (not left as an import for the page to resolve).
  expect(code).toMatch(/export\s*\{[^}]*\bcreateClient\b/);
  expect(code).toMatch(/\bSwitchboardError\b/);
  expect(code).toContain('graphql-transport-ws');
  expect(code).not.toMatch(/\bfrom\s*["']graphql-ws/);
  expect(nodeReferences(code)).toEqual([]);
}, 60_000);
