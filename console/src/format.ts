/** Display helpers: every number the console shows goes through one of these. */

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatInt(n: number | null | undefined): string {
  return n == null ? '–' : int.format(n);
}

/** USD with enough digits to tell small per-request costs apart ($0.0000123). */
export function formatUsd(n: number | null | undefined): string {
  if (n == null) return 'unpriced';
  if (n === 0) return '$0';
  const abs = Math.abs(n);
  if (abs >= 1) return `$${n.toFixed(2)}`;
  if (abs >= 0.01) return `$${n.toFixed(4)}`;
  // Four significant digits, written out (no exponent).
  const digits = Math.min(12, 3 - Math.floor(Math.log10(abs)));
  return `$${n.toFixed(digits).replace(/\.?0+$/, '')}`;
}

export function formatPercent(ratio: number | null | undefined): string {
  if (ratio == null) return '–';
  return `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.01 ? 2 : 1)}%`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms == null) return '–';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A readable message of anything thrown (the client's SwitchboardError has message and code). */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
