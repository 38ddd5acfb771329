/**
 * A real gateway process for the suite: `<launcher env> node <launcher flags> src/cli.ts start --config <file> --port 0`,
 * spawned through the benchmark harness (bench/lib/procs.ts: the child guard makes it exit with us, its
 * output goes to a log file), with its error-level log lines watched and its RSS read from /proc.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcSampler, spawnChild, stopChild, type Child } from '../../bench/lib/procs.ts';
import { LAUNCHER_ENV, LAUNCHER_FLAGS, RESULTS, ROOT } from '../../bench/lib/servers.ts';
import { freePort, json, send } from './http.ts';
import { collectGarbage, type HeapUsage } from './inspector.ts';
import { judgeGraphQL, judgeRest, readOpenAiSse } from './shapes.ts';
import { Tally } from './tally.ts';

export { RESULTS, ROOT };

/** The admin key of every gateway the suite starts (config keys: the gateway is never in local mode). */
export const ADMIN_KEY = 'sk-chaos-admin-0123456789abcdef';
export const auth = { authorization: `Bearer ${ADMIN_KEY}` };

export interface LogLine {
  level: number;
  msg: string;
  detail: string;
}

export interface Gateway {
  name: string;
  url: string;
  pid: number;
  child: Child;
  /** Error-level (and fatal) log lines, in order. */
  errors: LogLine[];
  sampler: ProcSampler;
  /** The V8 inspector's port (loopback), for a full GC before RSS is read. */
  inspectPort: number;
  alive(): boolean;
  /** The exit code once it has exited (null: killed by a signal). */
  exitCode(): number | null | undefined;
  stop(graceMs?: number): Promise<void>;
}

const LOG_DIR = join(RESULTS, 'chaos-logs');

/** Starts a gateway with `config` (port 0, loopback). `env` is added to ours (minus Redis and OTLP settings of the machine). */
export async function startGateway(name: string, config: Record<string, unknown>, env: Record<string, string> = {}): Promise<Gateway> {
  mkdirSync(LOG_DIR, { recursive: true });
  const configPath = join(LOG_DIR, `${name}-config.json`);
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const inspectPort = await freePort();
  const child = await spawnChild({
    name: `chaos-${name}`,
    cwd: ROOT,
    nodeArgs: [...LAUNCHER_FLAGS, `--inspect=127.0.0.1:${inspectPort}`],
    script: 'src/cli.ts',
    args: ['start', '--config', configPath, '--host', '127.0.0.1', '--port', '0'],
    logFile: join(LOG_DIR, `${name}.log`),
    env: {
      ...process.env,
      ...LAUNCHER_ENV,
      REDIS_URL: '',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      LOG_LEVEL: 'error',
      ...env,
    },
    ready: (line) => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      return m ? Number(m[1]) : undefined;
    },
    readyTimeoutMs: 30_000,
  });
  const errors: LogLine[] = [];
  let partial = '';
  child.proc.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const v = JSON.parse(line) as { level?: number; msg?: string; err?: unknown; step?: string };
        if ((v.level ?? 0) >= 50) errors.push({ level: v.level!, msg: v.msg ?? '', detail: JSON.stringify(v.err ?? v.step ?? '').slice(0, 300) });
      } catch {
        // not a log line of ours
      }
    }
  });
  let code: number | null | undefined;
  void child.exited.then((c) => (code = c));
  return {
    name,
    url: `http://127.0.0.1:${child.port}`,
    pid: child.pid,
    child,
    errors,
    sampler: new ProcSampler(child.pid).start(),
    inspectPort,
    alive: () => child.proc.exitCode === null && child.proc.signalCode === null,
    exitCode: () => code,
    async stop(graceMs = 15_000) {
      await stopChild(child, graceMs);
    },
  };
}

/** VmRSS of a live process in MiB (NaN when it is gone). */
export function rssMiB(g: Gateway): number {
  return g.alive() ? g.sampler.rssMiB() : Number.NaN;
}

/** RSS after a full GC (and the heap it keeps): what the process retains, not the garbage it has not collected yet. */
export async function retainedMemory(g: Gateway): Promise<{ rssMiB: number; heap: HeapUsage | undefined }> {
  const heap = g.alive() ? await collectGarbage(g.inspectPort) : undefined;
  await new Promise((r) => setTimeout(r, 200));
  return { rssMiB: rssMiB(g), heap };
}

export const chatBody = (content = 'hello from the chaos suite', extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'default', messages: [{ role: 'user', content }], ...extra });

/**
 * A normal request on each API: REST (a completion, JSON, no stream fields: a polluted Object.prototype
 * would turn it into a stream), a REST stream, and a GraphQL query. Returns what was wrong, if anything.
 */
export async function healthProblems(g: Gateway, timeoutMs = 10_000): Promise<string[]> {
  if (!g.alive()) return [`process exited (code ${String(g.exitCode())})`];
  const t = new Tally('health');
  const headers = { ...auth, 'content-type': 'application/json' };
  const plain = await send(g.url, { path: '/v1/chat/completions', headers, body: chatBody('health check'), timeoutMs });
  judgeRest(t, 'REST completion', plain);
  const problems: string[] = [];
  if (plain.status !== 200) problems.push(`REST completion answered ${plain.status || plain.error}`);
  else if (!String(plain.headers['content-type']).startsWith('application/json')) problems.push(`REST completion came back as ${String(plain.headers['content-type'])}`);
  else if (/polluted|chaos_canary/.test(plain.body.toString())) problems.push('REST completion carries a polluted key');
  const streamed = await send(g.url, { path: '/v1/chat/completions', headers, body: chatBody('health check stream', { stream: true }), timeoutMs });
  judgeRest(t, 'REST stream', streamed);
  if (streamed.status !== 200 || !readOpenAiSse(streamed.body.toString()).done) problems.push(`REST stream answered ${streamed.status || streamed.error} without [DONE]`);
  const gql = await send(g.url, { path: '/graphql', headers, body: JSON.stringify({ query: '{ routes { name } }' }), timeoutMs });
  const v = judgeGraphQL(t, 'GraphQL', gql) as { data?: { routes?: unknown[] } } | undefined;
  if (gql.status !== 200 || !Array.isArray(v?.data?.routes)) problems.push(`GraphQL answered ${gql.status || gql.error}: ${gql.body.toString().slice(0, 120)}`);
  for (const [cat, list] of Object.entries(t.examples)) for (const e of list ?? []) problems.push(`${cat}: ${e}`);
  if (!g.alive()) problems.push('process exited');
  return [...new Set(problems)];
}

/** Waits until a normal request succeeds (a fresh gateway, or one recovering), at most `ms`. */
export async function waitHealthy(g: Gateway, ms: number): Promise<string[]> {
  const until = Date.now() + ms;
  let problems: string[] = [];
  for (;;) {
    problems = await healthProblems(g, 5_000);
    if (problems.length === 0 || Date.now() > until || !g.alive()) return problems;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `usage` totals for one API key over [from, to), read through GraphQL (a usage query writes waiting events first). */
export async function ledgerRequests(g: Gateway, keyName: string, from: Date, to: Date): Promise<number | undefined> {
  const query = `query($f: UsageFilter!) { usage(filter: $f) { totals { requests } } }`;
  const r = await send(g.url, {
    path: '/graphql',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables: { f: { from: from.toISOString(), to: to.toISOString(), apiKey: keyName } } }),
    timeoutMs: 10_000,
  });
  const v = json(r) as { data?: { usage?: { totals?: { requests?: number } } } } | undefined;
  return v?.data?.usage?.totals?.requests;
}
