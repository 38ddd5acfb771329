import { defineConfig } from 'vite';

/** GraphiQL (React 18) → console/dist/graphiql.html; the gateway serves it at GET /graphql for browsers. Runs after the console's build. */
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    // The console's build ran first into the same directory.
    emptyOutDir: false,
    target: 'es2022',
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 4096,
    rolldownOptions: {
      input: { graphiql: 'graphiql.html' },
      // GraphiQL's Radix parts mark themselves "use client" (a React Server Components hint, meaningless here).
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
});
