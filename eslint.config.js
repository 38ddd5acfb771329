import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // The workspace's reference folder (provider transcripts, model catalog) is not in users' clones.
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/shared/provider-protocols/**', '**/shared/model-catalog.json', '/work/**'], message: 'the workspace shared/ folder is not in users\' clones' }] }],
    },
  },
  {
    files: ['src/router/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['ioredis', 'undici', 'node:http', '*/providers/*/**', '!*/providers/spec.ts'], message: 'the router decides and loops; no HTTP, Redis or concrete providers' },
      ] }],
    },
  },
  {
    files: ['src/simulator/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/providers/**'], message: 'simulators are independent implementations of each protocol' }] }],
    },
  },
  {
    // Tests read loosely typed documents (YAML, JSON bodies); `any` there is a reading aid, not a hole in src/.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
