import js from '@eslint/js';
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = builtinModules.filter((m) => !m.startsWith('_') && !m.startsWith('node:'));

// The workspace's reference folder (provider transcripts, model catalog) is not in users' clones.
const WORKSPACE_ONLY = { group: ['**/shared/provider-protocols/**', '**/shared/model-catalog.json', '/work/**'], message: 'the workspace shared/ folder is not in users\' clones' };

/**
 * Where an import lands, by its specifier: a relative path through one of our folders. No folder nests another
 * of the same name, so the folder's name in the path is enough, whatever the importing file's depth.
 */
const into = (folder) => `^\\.{1,2}/(.*/)?${folder}/`;
const LAYERS = {
  core: into('core'),
  config: into('config'),
  providers: into('providers'),
  router: into('router'),
  gateway: into('gateway'),
  store: into('store'),
  usage: into('usage'),
  telemetry: into('telemetry'),
  server: into('server'),
  simulator: into('simulator'),
  resolvers: into('resolvers'),
  client: into('client'),
  governance: into('governance'),
  // The composition root: src/app*.ts, src/wire-*.ts, src/cli*.ts, src/process-guards.ts.
  root: '^(\\.\\./)+(src/)?(app|wire|cli|process-guards)([-.][\\w.-]*)?\\.ts$',
};

/**
 * README "Architecture": which folder may import which. `may` lists what a folder imports freely, `types` what
 * it may import only with `import type`; every other folder of ours is refused. `only` narrows a folder to some
 * of its files; `never` adds packages. Keep this table and the README's in step.
 */
const TABLE = {
  'src/core': { may: [] },
  'src/config': { may: ['core'] },
  'src/providers': { may: ['core'], types: ['config'] },
  'src/router': {
    may: ['core'],
    types: ['config'],
    never: [{ group: ['ioredis', 'undici', 'node:http', 'node:https'], message: 'the router decides and loops; no HTTP, Redis or concrete providers' }],
  },
  'src/gateway': {
    may: ['core', 'config', 'router', 'providers', 'store', 'usage', 'telemetry', 'governance'],
    only: { providers: '^\\.{1,2}/(.*/)?providers/(registry|spec)\\.ts$' },
  },
  'src/store': { may: ['core'] },
  'src/governance': { may: ['core', 'config'], types: ['store'] },
  'src/usage': { may: ['core'] },
  'src/telemetry': { may: ['core'] },
  'src/server': { may: ['core', 'config', 'gateway', 'telemetry', 'resolvers'], types: ['store'] },
  resolvers: { may: ['core', 'config', 'gateway', 'usage'], types: ['router', 'governance'] },
  'src/simulator': { may: [] },
  'src/client': {
    may: [],
    never: [{ regex: `^(node:|(${NODE_BUILTINS.join('|')})(/|$))`, message: 'src/client/ is bundled for browsers: no Node built-ins' }],
  },
};

const listOf = (names) => (names.length ? names.join(', ') : 'nothing of ours');

function layerRules(folder, { may, types = [], only = {}, never = [] }) {
  const own = folder.replace(/^src\//, '');
  const allowed = `${folder}/ may import ${listOf(may)}${types.length ? `; types of ${types.join(', ')}` : ''} (README "Architecture")`;
  const patterns = [WORKSPACE_ONLY, ...never];
  for (const [name, regex] of Object.entries(LAYERS)) {
    if (name === own || may.includes(name) && !only[name]) continue;
    if (only[name]) {
      // The folder is allowed, but only these files of it.
      patterns.push({ regex: `^(?!${only[name].slice(1)})${regex.slice(1)}`, message: allowed });
    } else if (types.includes(name)) {
      patterns.push({ regex, allowTypeImports: true, message: allowed });
    } else {
      patterns.push({ regex, message: allowed });
    }
  }
  return { files: [`${folder}/**/*.ts`], rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'bench/results/', 'console/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [WORKSPACE_ONLY] }],
    },
  },
  ...Object.entries(TABLE).map(([folder, layer]) => layerRules(folder, layer)),
  {
    // The console is a browser app over the public GraphQL API: of our code it imports the client only.
    files: ['console/src/**/*.{ts,tsx}', 'console/graphiql/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [WORKSPACE_ONLY, { regex: '^\\.{1,2}/(.*/)?(src/(core|config|providers|router|gateway|store|usage|telemetry|server|simulator)/|src/[\\w.-]+\\.ts$|resolvers/|schema/|test/|bench/)', message: 'console/ may import only the client (src/client/): it uses the public GraphQL API' }] },
      ],
    },
  },
  {
    // Tests read loosely typed documents (YAML, JSON bodies); `any` there is a reading aid, not a hole in src/.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
