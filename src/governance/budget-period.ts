import type { BudgetPeriod } from '../core/index.ts';

export interface PeriodWindow {
  /** Part of the line id: `2025-06-01` (day), `w2025-05-26` (week, by its Monday), `2025-06` (month). */
  id: string;
  /** The previous period's id, for RESET alerts. */
  previousId: string;
  startMs: number;
  /** Exclusive: when the budget resets. */
  endMs: number;
}

const DAY = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The calendar period (UTC) containing `nowMs`. Every instance computes the same one from its clock, so
 * the line ids (and their counters in the store) agree without coordination. Weeks start on Monday (ISO).
 */
export function budgetPeriod(kind: BudgetPeriod, nowMs: number): PeriodWindow {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (kind) {
    case 'day': {
      const startMs = Date.UTC(y, m, d.getUTCDate());
      return { id: isoDay(startMs), previousId: isoDay(startMs - DAY), startMs, endMs: startMs + DAY };
    }
    case 'week': {
      const sinceMonday = (d.getUTCDay() + 6) % 7;
      const startMs = Date.UTC(y, m, d.getUTCDate() - sinceMonday);
      return { id: `w${isoDay(startMs)}`, previousId: `w${isoDay(startMs - 7 * DAY)}`, startMs, endMs: startMs + 7 * DAY };
    }
    case 'month': {
      const startMs = Date.UTC(y, m, 1);
      return { id: isoDay(startMs).slice(0, 7), previousId: isoDay(Date.UTC(y, m - 1, 1)).slice(0, 7), startMs, endMs: Date.UTC(y, m + 1, 1) };
    }
  }
}
