import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

/**
 * The console (Preact) → console/dist, served by the gateway at /console. GraphiQL is a second build
 * (vite.graphiql.config.ts) because it needs real React, which the Preact preset would alias away.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [preact()],
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The gateway serves these under CSP script-src 'self': no inline module preload polyfill.
    modulePreload: { polyfill: false },
    rolldownOptions: { input: { index: 'index.html' } },
  },
});
