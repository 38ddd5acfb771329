import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from './config/index.ts';
import { createPostgresPool, postgresRedactor } from './store/postgres-connection.ts';
import { createPostgresLedger } from './store/postgres-ledger-sink.ts';
import { LATENCY_BUCKETS_MS } from './usage/latency-histogram.ts';
import { csvHeader, csvRow, EXPORT_FORMATS, jsonlRow, type ExportFormat } from './usage/usage-export.ts';

export const USAGE_EXPORT_HELP = `usage: switchboard usage export --from <ISO time> --to <ISO time> [--format csv|jsonl] [--config file.yaml]
  Streams the usage events of [from, to) from the durable ledger (config \`ledger\`, PostgreSQL) to stdout,
  one row per request in time order: CSV with a header row (default) or JSON Lines.`;

/** A usage problem (exit 2) as opposed to a failure while exporting (exit 1). */
class UsageProblem extends Error {}

interface ExportIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

function parseTime(name: string, value: string | undefined): number {
  if (value === undefined) throw new UsageProblem(`--${name} is required`);
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new UsageProblem(`--${name}: not an ISO 8601 time: ${value}`);
  return t;
}

/** The reader went away (`| head`): stop quietly. */
class ReaderGone extends Error {}

/** Writes a chunk, waiting for the reader when the pipe is full (an export can be far larger than memory). */
async function write(out: Writable, chunk: string): Promise<void> {
  if (out.destroyed) throw new ReaderGone();
  if (!out.write(chunk)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        out.off('drain', done).off('close', done).off('error', done);
        resolve();
      };
      out.on('drain', done).on('close', done).on('error', done);
    });
  }
  if (out.destroyed) throw new ReaderGone();
}

/**
 * `switchboard usage export`: a cursor over the events table (one REPEATABLE READ snapshot), rows written
 * as they are fetched. Returns the process exit code.
 */
export async function usageExport(argv: string[], io: ExportIo): Promise<number> {
  let url: string | undefined;
  // A closed pipe is an 'error' event on stdout: without a listener it would crash the process.
  io.stdout.on('error', () => undefined);
  try {
    const { values } = parseArgs({
      args: argv,
      options: { from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout.write(`${USAGE_EXPORT_HELP}\n`);
      return 0;
    }
    const from = parseTime('from', values.from);
    const to = parseTime('to', values.to);
    if (to <= from) throw new UsageProblem('--to must be after --from');
    const format = (values.format ?? 'csv') as ExportFormat;
    if (!EXPORT_FORMATS.includes(format)) throw new UsageProblem(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
    const configPath = values.config ?? io.env.SWITCHBOARD_CONFIG;
    if (!configPath) throw new UsageProblem('--config (or SWITCHBOARD_CONFIG) is required: the config that names the ledger');
    const config = await loadConfigFile(configPath, io.env);
    if (!config.ledger) throw new UsageProblem(`${configPath} has no \`ledger\` section: there is no durable ledger to export from`);
    url = config.ledger.url;

    const pool = createPostgresPool({ url, max: 1 });
    try {
      // Read only: no migration, no partition maintenance (the gateway does those).
      const ledger = createPostgresLedger({ pool, url, retentionDays: config.ledger.retentionDays, latencyBucketsMs: LATENCY_BUCKETS_MS });
      const row = format === 'csv' ? csvRow : jsonlRow;
      let buffer = format === 'csv' ? csvHeader() : '';
      for await (const e of ledger.exportEvents({ from, to })) {
        buffer += row(e);
        if (buffer.length >= 64 * 1024) {
          await write(io.stdout, buffer);
          buffer = '';
        }
      }
      if (buffer) await write(io.stdout, buffer);
    } finally {
      await pool.end().catch(() => undefined);
    }
    return 0;
  } catch (e) {
    if (e instanceof ReaderGone) return 0;
    if (e instanceof UsageProblem || (e instanceof TypeError && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS'))) {
      io.stderr.write(`${e.message}\n\n${USAGE_EXPORT_HELP}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      io.stderr.write(`${e.message}\n`);
      return 2;
    }
    const text = e instanceof Error ? e.message : String(e);
    // The store module redacts its own errors; anything else is masked here too (the URL may carry a password).
    io.stderr.write(`usage export failed: ${url ? postgresRedactor(url)(text) : text}\n`);
    return 1;
  }
}
