/**
 * Where the gateway's idle RSS goes: each dependency imported alone in a fresh process (after a full GC),
 * then the whole app started with the benchmark's config, and the RSS / V8 heap / external figures of each.
 *
 *   node bench/idle-memory.ts
 *
 * Every figure is a fresh `process.execPath --expose-gc` child on loopback; nothing else is started.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const MODULES = [
  'node:http',
  'undici',
  'zod',
  'pino',
  'yaml',
  'graphql/index.js',
  '@apollo/server',
  '@apollo/subgraph',
  'graphql-ws/use/ws',
  'ws',
  'ioredis',
  'prom-client',
  '@opentelemetry/api',
  'eventsource-parser',
  'dataloader',
  'js-tiktoken/lite',
];

interface Mem {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

const MiB = (b: number) => (b / 1024 / 1024).toFixed(1);

function measure(code: string): Mem {
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Mem;
}

const REPORT = `globalThis.gc(); await new Promise((r) => setTimeout(r, 200)); globalThis.gc(); process.stdout.write(JSON.stringify(process.memoryUsage()) + '\\n');`;

const plain = measure(REPORT);
// The baseline already has type stripping loaded (the gateway runs from .ts sources).
const base = measure(`await import(${JSON.stringify(join(ROOT, 'bench/lib/stats.ts'))}); ${REPORT}`);
const rows: string[] = [
  '| Import | RSS MiB | Δ RSS MiB | V8 heap used / total MiB | external MiB |',
  '|---|---:|---:|---:|---:|',
  `| (node, no TypeScript) | ${MiB(plain.rss)} | – | ${MiB(plain.heapUsed)} / ${MiB(plain.heapTotal)} | ${MiB(plain.external)} |`,
  `| (node + type stripping: the baseline) | ${MiB(base.rss)} | – | ${MiB(base.heapUsed)} / ${MiB(base.heapTotal)} | ${MiB(base.external)} |`,
];
for (const m of MODULES) {
  try {
    const r = measure(`await import(${JSON.stringify(join(ROOT, 'bench/lib/stats.ts'))}); await import(${JSON.stringify(m)}); ${REPORT}`);
    rows.push(`| \`${m}\` | ${MiB(r.rss)} | +${MiB(r.rss - base.rss)} | ${MiB(r.heapUsed)} / ${MiB(r.heapTotal)} | ${MiB(r.external)} |`);
  } catch (err) {
    rows.push(`| \`${m}\` | – | – | – | failed: ${(err as Error).message.split('\n')[0]} |`);
  }
}

// The whole app, as the benchmark starts it (a config pointing at a port nobody listens on: idle, no traffic).
const config = {
  server: { host: '127.0.0.1', port: 0 },
  providers: [{ id: 'mock', protocol: 'openai', baseUrl: 'http://127.0.0.1:9/v1', models: [{ id: 'gpt-4o-mini', price: { input: 0.15, output: 0.6 }, capabilities: ['streaming'] }] }],
  routes: [{ name: 'default', targets: [{ provider: 'mock', model: 'gpt-4o-mini' }] }],
};
const app = measure(`
  const { createApp } = await import(${JSON.stringify(join(ROOT, 'src/app.ts'))});
  const { parseConfig } = await import(${JSON.stringify(join(ROOT, 'src/config/index.ts'))});
  const { createLogger } = await import(${JSON.stringify(join(ROOT, 'src/telemetry/logger.ts'))});
  const logger = createLogger({ level: 'error' });
  const a = await createApp({ config: parseConfig(${JSON.stringify(config)}, {}, 'bench'), listen: { host: '127.0.0.1', port: 0 }, logger });
  await new Promise((r) => setTimeout(r, 1000));
  ${REPORT}
  await a.close(0);
  process.exit(0);
`);
rows.push(`| **the app, started and idle** (createApp) | ${MiB(app.rss)} | +${MiB(app.rss - base.rss)} | ${MiB(app.heapUsed)} / ${MiB(app.heapTotal)} | ${MiB(app.external)} |`);
process.stdout.write(`${rows.join('\n')}\n\nΔ RSS is over the baseline; the deltas overlap (shared dependencies) and do not add up to the app's.\n`);
