import type { UsageEvent } from '../core/index.ts';

/**
 * Usage events as export rows (`switchboard usage export`): one row per request, CSV (RFC 4180: a header
 * row, fields quoted when they hold a comma, a quote or a line break, quotes doubled) or JSON Lines.
 * Numbers are written as JavaScript prints them (the shortest text that reads back to the same double), so
 * sums over an export equal the ledger's.
 */

export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

type Cell = string | number | boolean | null;

/** Column name and value, in export order. */
const COLUMNS: ReadonlyArray<readonly [string, (e: UsageEvent) => Cell]> = [
  ['id', (e) => e.id],
  ['time', (e) => new Date(e.time).toISOString()],
  ['key_name', (e) => e.keyName],
  ['team', (e) => e.team],
  ['route', (e) => e.route],
  ['route_version', (e) => e.routeVersion],
  ['provider', (e) => e.provider],
  ['model', (e) => e.model],
  ['operation', (e) => e.operation ?? 'chat'],
  ['status', (e) => e.status],
  ['error_kind', (e) => e.errorKind],
  ['attempts', (e) => e.attempts],
  ['input_tokens', (e) => e.tokens.input],
  ['output_tokens', (e) => e.tokens.output],
  ['cached_input_tokens', (e) => e.tokens.cachedInput],
  ['cache_write_tokens', (e) => e.tokens.cacheWrite],
  ['reasoning_tokens', (e) => e.tokens.reasoning],
  ['cost_usd', (e) => e.costUsd],
  ['price_source', (e) => e.priceSource],
  ['usage_estimated', (e) => e.usageEstimated],
  ['latency_ms', (e) => e.latencyMs],
  ['ttft_ms', (e) => e.ttftMs],
  ['cache_hit', (e) => e.cacheHit],
  ['stream', (e) => e.stream],
  ['finish_reason', (e) => e.finishReason ?? null],
  ['trace_id', (e) => e.traceId],
];

export const EXPORT_COLUMNS: readonly string[] = COLUMNS.map(([name]) => name);

/** One CSV field: empty for null, quoted when it must be. */
export function csvField(v: Cell): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvHeader(): string {
  return `${EXPORT_COLUMNS.map(csvField).join(',')}\r\n`;
}

export function csvRow(e: UsageEvent): string {
  return `${COLUMNS.map(([, get]) => csvField(get(e))).join(',')}\r\n`;
}

export function jsonlRow(e: UsageEvent): string {
  return `${JSON.stringify(Object.fromEntries(COLUMNS.map(([name, get]) => [name, get(e)])))}\n`;
}

/**
 * Parses CSV text as csvRow writes it (for tests and for tools reading an export back): rows of fields,
 * quoted fields unquoted. Empty fields are ''.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
