/**
 * What one chaos case found: counts per failure category (with a few examples each), the statuses it saw,
 * and notes. The categories are the ones that fail a run; `other` holds hangs and case-specific contract
 * breaks (a slowloris socket never closed, a stalled stream whose upstream kept flowing, a late exit).
 */
export const FAILURE_CATEGORIES = ['crash', 'unexpected5xx', 'wrongShape', 'silentTruncation', 'usageLost', 'other'] as const;
export type FailureCategory = (typeof FAILURE_CATEGORIES)[number];

const MAX_EXAMPLES = 6;

export interface CaseResult {
  name: string;
  group: string;
  summary: string;
  durationMs: number;
  /** Requests, connections and operations the case made. */
  probes: number;
  statuses: Record<string, number>;
  failures: Record<FailureCategory, number>;
  /** Up to a few descriptions per category, `label: detail`. */
  examples: Partial<Record<FailureCategory, string[]>>;
  /** Usage events the ledger is missing (answered requests minus counted), when the case checks the ledger. */
  usageEventsLost: number | null;
  /**
   * The gateway's RSS before and after the case, each read after a full GC (through the V8 inspector) and,
   * after, a settle period; the peak sampled every 100 ms during the case; the V8 heap in use after each GC.
   */
  rss: { beforeMiB: number; afterMiB: number; peakMiB: number; growthPct: number; heapBeforeMiB: number | null; heapAfterMiB: number | null } | null;
  notes: string[];
}

export class Tally {
  readonly name: string;
  probes = 0;
  readonly statuses: Record<string, number> = {};
  readonly failures: Record<FailureCategory, number> = { crash: 0, unexpected5xx: 0, wrongShape: 0, silentTruncation: 0, usageLost: 0, other: 0 };
  readonly examples: Partial<Record<FailureCategory, string[]>> = {};
  usageEventsLost: number | null = null;
  readonly notes: string[] = [];

  constructor(name: string) {
    this.name = name;
  }

  /** One request, connection or operation, and how it ended (a status code, a close code, `reset`, …). */
  saw(outcome: string | number): void {
    this.probes++;
    const key = String(outcome);
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
  }

  fail(category: FailureCategory, label: string, detail: string, count = 1): void {
    this.failures[category] += count;
    const list = (this.examples[category] ??= []);
    if (list.length < MAX_EXAMPLES) list.push(`${label}: ${detail}`.slice(0, 400));
  }

  note(text: string): void {
    if (this.notes.length < 40) this.notes.push(text);
  }

  failed(): boolean {
    return FAILURE_CATEGORIES.some((c) => this.failures[c] > 0);
  }
}
