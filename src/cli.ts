import { parseArgs } from 'node:util';
import { isClusterWorker, runPrimary, SIM_URLS_ENV, workerCount } from './cli-cluster.ts';
import { configJsonSchema, ConfigError, defaultConfig, loadConfigFile, parseConfig, type Config } from './config/index.ts';
import type { SimulatorUrls } from './config/default-config.ts';
import { watchConfigFile } from './config-reload.ts';
import { describeFault, installProcessGuards } from './process-guards.ts';
import { settleHeap } from './cli-settle-heap.ts';
import { faultFlags, type FaultsInput } from './simulator/faults.ts';
import { SIM_PROTOCOLS, type SimProtocol } from './simulator/protocol.ts';
import type { Simulator } from './simulator/simulator-server.ts';

const USAGE = `usage:
  switchboard start [--config file.yaml] [--host 127.0.0.1] [--port 4000] [--watch-config]
                    (SWITCHBOARD_WORKERS=N: N processes, node:cluster; SIGHUP or --watch-config: reload the config)
  switchboard simulate --protocol openai|anthropic|gemini|ollama|bedrock|vertex [--port 0] [--host 127.0.0.1] [--api-key KEY] [fault flags]
  switchboard config-schema
  switchboard usage export --from ISO --to ISO [--format csv|jsonl] [--config file.yaml]   (usage events from the durable ledger, PostgreSQL)

fault flags (simulate): ${faultFlags().map((f) => `${f.flag}${f.kind === 'number' ? ' N' : ''}`).join(' ')}`;

/** Past the grace period, how long the flushes (streams' last events, ledger, store, spans) may take before the process exits anyway. */
const HARD_STOP_MARGIN_MS = 10_000;
/** How long an exit waits for stdout to take the last log lines (a pipe whose reader has stalled gets no longer). */
const LOG_DRAIN_MS = 2_000;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

async function start(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, host: { type: 'string' }, port: { type: 'string' }, 'watch-config': { type: 'boolean' } },
  });
  const env = process.env;
  const configPath = values.config ?? env.SWITCHBOARD_CONFIG;
  let workers = 1;
  try {
    workers = workerCount(env.SWITCHBOARD_WORKERS);
  } catch (err) {
    fail((err as Error).message);
  }
  const sims: Simulator[] = [];
  let closeSims: () => Promise<void> = async () => {};
  const describe = (url: string, simLines: string[]) => [
    `  GraphQL        ${url}/graphql   (HTTP and WebSocket graphql-transport-ws)`,
    `  OpenAI-compat  ${url}/v1        (chat/completions, models, embeddings)`,
    `  Anthropic      ${url}/v1/messages`,
    `  console        ${url}/console`,
    `  health         ${url}/healthz   ${url}/readyz`,
    ...(simLines.length > 0 ? ['  no config given: simulated providers', ...simLines] : [`  config         ${configPath}`]),
  ];
  const simLines = () => sims.map((s) => `    ${s.protocol.padEnd(10)} ${s.url}`);
  const startSims = async (): Promise<SimulatorUrls> => {
    // Loaded only here and in `simulate`: a gateway with a config file never holds the simulators in memory.
    const { startSimulators } = await import('./simulator/start-simulators.ts');
    const set = await startSimulators();
    sims.push(...Object.values(set.sims));
    closeSims = set.close;
    return set.urls;
  };
  if (workers > 1 && !isClusterWorker()) {
    // The primary: check the config once (a bad one stops here, not in N workers), then fork.
    try {
      if (configPath) await loadConfigFile(configPath, env);
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message);
      throw err;
    }
    const urls = configPath ? undefined : await startSims();
    runPrimary({
      workers,
      describe: (url) => describe(url, simLines()),
      ...(urls && { env: { [SIM_URLS_ENV]: JSON.stringify(urls) } }),
      onStopped: () => closeSims(),
    });
    return;
  }
  let config: Config;
  try {
    if (configPath) {
      config = await loadConfigFile(configPath, env);
    } else if (isClusterWorker() && env[SIM_URLS_ENV]) {
      // A worker of a cluster without config: the primary's simulators.
      config = parseConfig(defaultConfig(JSON.parse(env[SIM_URLS_ENV]) as SimulatorUrls, env), env, 'built-in default config');
    } else {
      // Out of the box: every protocol's simulator in process on loopback, and a config that routes to them.
      const urls = await startSims();
      config = parseConfig(defaultConfig(urls, env), env, 'built-in default config');
    }
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const port = values.port ?? env.PORT;
  // Loaded here, after NODE_ENV is settled (see main): graphql-js picks its `instanceOf` when it loads.
  const { createApp } = await import('./app.ts');
  const app = await createApp({
    config,
    listen: { host: values.host ?? env.HOST ?? config.server.host, port: port !== undefined ? Number(port) : config.server.port },
    ...(configPath && { reload: { load: () => loadConfigFile(configPath, env), source: configPath } }),
  }).catch((err: Error) => fail(err.message));
  // Hot reload: SIGHUP, and with --watch-config (or SWITCHBOARD_WATCH_CONFIG=1) every change of the file.
  let unwatch: (() => void) | undefined;
  if (configPath) {
    process.on('SIGHUP', () => void app.reloadConfig('SIGHUP'));
    if (values['watch-config'] || env.SWITCHBOARD_WATCH_CONFIG === '1') {
      unwatch = watchConfigFile(configPath, () => void app.reloadConfig('file change'), {
        onError: (e) => app.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'config watch'),
      });
    }
  }
  // Before the first request is likely: give back the young generation start-up grew (src/cli-settle-heap.ts).
  const settleMs = config.server.releaseStartupMemory ? settleHeap() : undefined;
  if (settleMs !== undefined) app.logger.debug({ pauseMs: Math.round(settleMs) }, 'heap settled after start');
  let stopping = false;
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'shutting down');
    // Every step of app.close is bounded; this is the backstop should one still hang.
    setTimeout(() => {
      app.logger.error({ signal, afterMs: config.server.shutdownGraceMs + HARD_STOP_MARGIN_MS }, 'shutdown did not finish in time; exiting');
      app.logger.flush();
      process.exit(1);
    }, config.server.shutdownGraceMs + HARD_STOP_MARGIN_MS).unref();
    try {
      unwatch?.();
      await app.close();
      await closeSims();
    } catch (e) {
      app.logger.error({ err: describeFault(e) }, 'shutdown failed');
      exitCode = 1;
    }
    app.logger.info({ signal, exitCode }, 'stopped');
    // A pipe's queued log lines would go with the process: wait until stdout has taken them (bounded).
    await new Promise<void>((resolve) => {
      const bound = setTimeout(resolve, LOG_DRAIN_MS);
      app.logger.flush(() => {
        clearTimeout(bound);
        resolve();
      });
    });
    process.exit(exitCode);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  installProcessGuards(process, { logger: app.logger, shutdown: (reason, code) => void stop(reason, code) });
  // The address last: whoever waits for it may send SIGTERM at once, and it finds the handler installed.
  const url = app.server.url;
  // In a cluster the primary prints the address once every worker listens.
  if (!isClusterWorker()) process.stdout.write(`${[`switchboard listening on ${url}`, ...describe(url, simLines())].join('\n')}\n`);
}

async function simulate(argv: string[]): Promise<void> {
  const faultOptions = Object.fromEntries(faultFlags().map((f) => [f.flag.slice(2), { type: f.kind === 'boolean' ? ('boolean' as const) : ('string' as const) }]));
  const { values } = parseArgs({
    args: argv,
    options: {
      protocol: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'api-key': { type: 'string' },
      ...faultOptions,
    },
  });
  const protocol = values.protocol as SimProtocol | undefined;
  if (!protocol || !SIM_PROTOCOLS.includes(protocol)) fail(`--protocol must be one of ${SIM_PROTOCOLS.join(', ')}\n\n${USAGE}`);
  const faults: Record<string, unknown> = {};
  for (const f of faultFlags()) {
    const v = (values as Record<string, unknown>)[f.flag.slice(2)];
    if (v === undefined) continue;
    if (f.kind === 'boolean') faults[f.key] = v;
    else {
      const n = Number(v);
      if (!Number.isFinite(n)) fail(`${f.flag}: expected a number, got "${String(v)}"`);
      faults[f.key] = n;
    }
  }
  let sim: Simulator;
  try {
    const { startSimulator } = await import('./simulator/simulator-server.ts');
    sim = await startSimulator({
      protocol,
      port: values.port ? Number(values.port) : 0,
      host: values.host ?? '127.0.0.1',
      faults: faults as FaultsInput,
      ...(values['api-key'] && { apiKey: values['api-key'] }),
    });
  } catch (err) {
    fail(`cannot start the ${protocol} simulator: ${(err as Error).message}`);
  }
  process.stdout.write(`${protocol} simulator listening on ${sim.url}\n`);
  const stop = () => void sim.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  // Production unless told otherwise: graphql-js's development build checks every failed `instanceof`
  // for a second copy of the library (a measurable share of each GraphQL request). Apollo's settings
  // that NODE_ENV would change (introspection, stack traces, landing page) are all set explicitly.
  process.env.NODE_ENV ??= 'production';
  try {
    switch (command) {
      case 'start':
      case undefined:
        return await start(rest);
      case 'simulate':
        return await simulate(rest);
      case 'usage': {
        // Loaded only for this command: it brings `pg`.
        if (rest[0] !== 'export') fail(`unknown usage command "${rest[0] ?? ''}"\n\n${USAGE}`);
        const { usageExport } = await import('./cli-usage-export.ts');
        process.exitCode = await usageExport(rest.slice(1), { stdout: process.stdout, stderr: process.stderr, env: process.env });
        return;
      }
      case 'config-schema':
        process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
        return;
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return;
      default:
        fail(`unknown command "${command}"\n\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) fail(`${err.message}\n\n${USAGE}`);
    throw err;
  }
}

await main();
