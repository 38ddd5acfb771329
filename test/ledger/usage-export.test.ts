/**
 * The durable ledger through a running gateway (Redis store for the hot rollups, PostgreSQL beside it):
 * `switchboard usage export` of a range equals GraphQL `usage` totals for that range, both for a recent
 * range (GraphQL answers from the store's rollups) and for ranges older than the rollups keep (GraphQL
 * answers from PostgreSQL); CSV quoting; `pg` is not loaded without `ledger` in the config.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageEvent } from '../../src/core/index.ts';
import { createPostgresPool, type PgPool } from '../../src/store/postgres-connection.ts';
import { createPostgresLedger } from '../../src/store/postgres-ledger-sink.ts';
import { LATENCY_BUCKETS_MS } from '../../src/usage/latency-histogram.ts';
import { incrementsOf } from '../../src/usage/rollups.ts';
import { csvField, csvHeader, csvRow, EXPORT_COLUMNS, parseCsv } from '../../src/usage/usage-export.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-postgres.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';
import { dropPrefix, uniquePrefix } from '../store/redis-harness.ts';
import { makeEvent } from '../usage/usage-events.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLI = join(ROOT, 'src/cli.ts');
const MIN = 60_000;
const H = 3_600_000;
const DAY = 86_400_000;

let db: TestDatabase;
let stack: Stack;
let configFile: string;
let pool: PgPool;
const prefix = uniquePrefix('ledger-export');

async function exportRange(from: number, to: number, format: 'csv' | 'jsonl' = 'csv', config = configFile) {
  return run(NODE, [CLI, 'usage', 'export', '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString(), '--format', format, '--config', config], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
}

const USAGE = `query($f: UsageFilter!) { usage(filter: $f) { totals {
  requests errors inputTokens outputTokens cachedInputTokens cacheWriteTokens reasoningTokens costUsd unpricedRequests cacheHits estimatedRequests } } }`;

async function graphqlTotals(from: number, to: number) {
  const r = await stack.gql(USAGE, { f: { from: new Date(from).toISOString(), to: new Date(to).toISOString() } });
  expect(r.errors).toBeUndefined();
  return r.data.usage.totals;
}

/** The same totals summed from export rows, as an auditor would from the CSV. */
function totalsOf(rows: Record<string, string>[]) {
  const sum = (col: string) => rows.reduce((n, r) => n + (r[col] === '' ? 0 : Number(r[col])), 0);
  return {
    requests: rows.length,
    errors: rows.filter((r) => r.status === 'error').length,
    inputTokens: sum('input_tokens'),
    outputTokens: sum('output_tokens'),
    cachedInputTokens: sum('cached_input_tokens'),
    cacheWriteTokens: sum('cache_write_tokens'),
    reasoningTokens: sum('reasoning_tokens'),
    // Cost is summed the ledger's way: each request's cost in 1e-10 USD, then added.
    costUsd: rows.reduce((n, r) => n + (r.cost_usd === '' ? 0 : Math.round(Number(r.cost_usd) * 1e10)), 0) / 1e10,
    unpricedRequests: rows.filter((r) => r.status === 'ok' && r.cost_usd === '').length,
    cacheHits: rows.filter((r) => r.cache_hit === 'true').length,
    estimatedRequests: rows.filter((r) => r.usage_estimated === 'true').length,
  };
}

function csvRecords(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  expect(header).toEqual([...EXPORT_COLUMNS]);
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!])));
}

/** Events written straight to PostgreSQL (as if by an instance long gone): the store never saw them. */
async function writeToPostgresOnly(events: UsageEvent[]) {
  const pg = createPostgresLedger({ pool, url: db.url, retentionDays: 400, latencyBucketsMs: LATENCY_BUCKETS_MS });
  await pg.write({ id: `direct-${events[0]!.id}`, events, increments: incrementsOf(events) });
}

beforeAll(async () => {
  db = await createTestDatabase('usage_export');
  pool = createPostgresPool({ url: db.url, max: 2 });
  stack = await startStack((c) => ({
    ...c,
    store: { kind: 'redis', url: TEST_REDIS.url, prefix },
    ledger: { kind: 'postgres', url: db.url, flushIntervalMs: 60_000 },
  }));
  const dir = await mkdtemp(join(tmpdir(), 'sb-ledger-export-'));
  configFile = join(dir, 'gateway.yaml');
  await writeFile(
    configFile,
    `providers:\n  - id: p\n    protocol: openai\n    baseUrl: http://127.0.0.1:9/v1\n    models: [{ id: m }]\nledger:\n  kind: postgres\n  url: \${LEDGER_URL:-${db.url}}\n`,
  );
});
afterAll(async () => {
  await stack?.close();
  await pool?.end();
  await db?.drop();
  await dropPrefix(prefix);
});

describe('usage export equals GraphQL usage', () => {
  it('a recent range: GraphQL from the store rollups, the export from PostgreSQL, same totals (CSV and JSONL)', async () => {
    const start = Date.now();
    const models = ['sim-openai/gpt-4o-mini', 'sim-anthropic/claude-haiku-4-5', 'sim-gemini/gemini-2.5-flash', 'local', 'default'];
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        stack.post('/v1/chat/completions', { model: models[i % models.length], messages: [{ role: 'user', content: `question ${i}, with "quotes", commas\nand a line` }] }),
      ),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const emb = await stack.post('/v1/embeddings', { model: 'sim-openai/text-embedding-3-small', input: ['a', 'b'] });
    expect(emb.status).toBe(200);
    const unknown = await stack.post('/v1/chat/completions', { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    // Whole minutes around the traffic: the store answers to the minute, the export to the millisecond.
    const from = Math.floor(start / MIN) * MIN;
    const to = (Math.floor(Date.now() / MIN) + 1) * MIN;
    const gql = await graphqlTotals(from, to); // flushes both ledgers first
    expect(gql.requests).toBeGreaterThanOrEqual(41);

    const csv = csvRecords((await exportRange(from, to)).stdout);
    expect(totalsOf(csv)).toEqual(gql);
    const ids = new Set(answers.map((a) => a.json.id as string));
    expect(csv.filter((r) => ids.has(r.id!)).length).toBe(40);
    expect(csv.some((r) => r.operation === 'embeddings')).toBe(true);
    // Time order, as the cursor reads them.
    expect(csv.map((r) => r.time)).toEqual(csv.map((r) => r.time).sort());

    const jsonl = (await exportRange(from, to, 'jsonl')).stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(jsonl.map((r) => r.id)).toEqual(csv.map((r) => r.id));
    expect(jsonl.reduce((n, r) => n + r.input_tokens, 0)).toBe(gql.inputTokens);
  });

  it('ranges older than the store keeps: GraphQL reads PostgreSQL, and equals the export; a recent one still reads the store', async () => {
    const now = Date.now();
    // 100 days back (past the hour rollups' 90 days) and 3 days back (past the minute rollups' 48 h).
    const longAgo = Math.floor((now - 100 * DAY) / H) * H;
    const daysAgo = Math.floor((now - 3 * DAY) / MIN) * MIN;
    const old = [
      ...Array.from({ length: 30 }, (_, i) => makeEvent({ id: `old-${i}`, time: longAgo + i * 97_000, costUsd: 0.0000123 * (i + 1), tokens: { input: 100 + i, output: 10, cachedInput: i, cacheWrite: 0, reasoning: 2 } })),
      makeEvent({ id: 'old-err', time: longAgo + 5 * MIN, status: 'error', errorKind: 'timeout', costUsd: null, priceSource: 'none', tokens: { input: 0, output: 0, cachedInput: 0, cacheWrite: 0, reasoning: 0 } }),
      ...Array.from({ length: 12 }, (_, i) => makeEvent({ id: `mid-${i}`, time: daysAgo + 5_000 + i * 13_000, keyName: 'ops, "night"', costUsd: null, priceSource: 'none' })),
      // After the store's start, written to PostgreSQL only: a recent range must not see it (the store answers).
      makeEvent({ id: 'pg-only-recent', time: now - 2 * MIN }),
    ];
    await writeToPostgresOnly(old);

    const hourly = await graphqlTotals(longAgo, longAgo + 2 * H);
    expect(hourly.requests).toBe(31);
    expect(totalsOf(csvRecords((await exportRange(longAgo, longAgo + 2 * H)).stdout))).toEqual(hourly);

    // Not hour-aligned: minute rollups, whose first whole minute in range starts at `daysAgo`.
    const byMinute = await graphqlTotals(daysAgo - MIN + 17, daysAgo + 10 * MIN);
    const rows = csvRecords((await exportRange(daysAgo, daysAgo + 10 * MIN)).stdout);
    expect(totalsOf(rows)).toEqual(byMinute);
    expect(byMinute.requests).toBe(12);
    expect(rows[0]!.key_name).toBe('ops, "night"');

    const recent = await graphqlTotals(Math.floor((now - 3 * MIN) / MIN) * MIN, Math.floor((now - MIN) / MIN) * MIN);
    const exported = csvRecords((await exportRange(Math.floor((now - 3 * MIN) / MIN) * MIN, Math.floor((now - MIN) / MIN) * MIN)).stdout);
    expect(exported.map((r) => r.id)).toContain('pg-only-recent');
    expect(recent.requests).toBe(exported.length - 1);
  });
});

describe('the export command', () => {
  it('CSV fields are quoted when they must be, and read back as written', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    const e = makeEvent({ id: 'q"1', keyName: 'k,1', route: 'r\r\n2', finishReason: 'stop' });
    const [header, row] = parseCsv(csvHeader() + csvRow(e));
    expect(header).toEqual([...EXPORT_COLUMNS]);
    expect(row![EXPORT_COLUMNS.indexOf('id')]).toBe('q"1');
    expect(row![EXPORT_COLUMNS.indexOf('key_name')]).toBe('k,1');
    expect(row![EXPORT_COLUMNS.indexOf('route')]).toBe('r\r\n2');
  });

  it('refuses bad arguments and a config without a ledger; a failing connection never shows the password', async () => {
    const fail = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
      run(NODE, [CLI, 'usage', 'export', ...args], { cwd: ROOT, env }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    const bad = await fail(['--from', 'yesterday', '--to', '2026-01-01T00:00:00Z', '--config', configFile]);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--from: not an ISO 8601 time') });
    expect((await fail(['--from', '2026-01-02T00:00:00Z', '--to', '2026-01-01T00:00:00Z', '--config', configFile])).stderr).toContain('--to must be after --from');
    expect((await fail(['--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z', '--format', 'xml', '--config', configFile])).stderr).toContain('--format must be one of csv, jsonl');
    const dir = await mkdtemp(join(tmpdir(), 'sb-ledger-export-'));
    const noLedger = join(dir, 'plain.yaml');
    await writeFile(noLedger, 'providers:\n  - id: p\n    protocol: openai\n    baseUrl: http://127.0.0.1:9/v1\n    models: [{ id: m }]\n');
    expect((await fail(['--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z', '--config', noLedger])).stderr).toContain('has no `ledger` section');
    const down = await fail(['--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z', '--config', configFile], {
      ...process.env,
      LEDGER_URL: db.urlWithPassword('Sup3r-Secret-Pass', 1),
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('usage export failed');
    expect(down.stderr).not.toContain('Sup3r-Secret-Pass');
  });
});

describe('idle memory', () => {
  it('a gateway without `ledger` never loads pg; with it, pg is loaded', async () => {
    const script = (ledger: string) => `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/pg/'));
      const { createApp } = await import(${JSON.stringify(join(ROOT, 'src/app.ts'))});
      const { parseConfig } = await import(${JSON.stringify(join(ROOT, 'src/config/index.ts'))});
      const config = parseConfig({ providers: [{ id: 'p', protocol: 'openai', baseUrl: 'http://127.0.0.1:9/v1', models: [{ id: 'm' }] }], ${ledger} }, {});
      const app = await createApp({ config, env: {}, listen: { host: '127.0.0.1', port: 0 }, observability: { defaultMetrics: false } });
      const after = loaded();
      await app.close(0);
      console.log(JSON.stringify({ loaded: after }));
      process.exit(0);
    `;
    const probe = async (ledger: string) => {
      const { stdout } = await run(NODE, ['--input-type=module', '-e', script(ledger)], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' } });
      return JSON.parse(stdout.trim().split('\n').at(-1)!);
    };
    const [without, withLedger] = await Promise.all([probe(''), probe(`ledger: { kind: 'postgres', url: ${JSON.stringify(db.url)} }`)]);
    expect(without).toEqual({ loaded: false });
    expect(withLedger).toEqual({ loaded: true });
  });
});
