import { randomUUID } from 'node:crypto';
import { fromNanoUsd, toNanoUsd } from './sliding-window.ts';
import type { BudgetLine, BudgetLineAlert, BudgetLineState, BudgetStore, Reservation } from './store.ts';

interface LineState {
  spent: number;
  reserved: Map<string, { amount: number; expiresAt: number }>;
  expiresAt: number;
  /** Alerts already fired in this period (and `seen`: the period's first reservation happened). */
  flags: Set<string>;
}

/**
 * Budgets in one process: each operation is one synchronous block, which makes the check-and-reserve of all
 * of a request's lines atomic here (Redis gets the same from its Lua scripts, redis-scripts.ts).
 */
export function createMemoryBudgets(now: () => number): BudgetStore {
  const budgetLines = new Map<string, LineState>();

  function line(l: BudgetLine, nowMs: number) {
    let state = budgetLines.get(l.id);
    if (!state || state.expiresAt <= now()) {
      state = { spent: 0, reserved: new Map(), expiresAt: 0, flags: new Set() };
      budgetLines.set(l.id, state);
    }
    // Counters outlive their period by a day so late settlements still land; relative to the caller's clock.
    state.expiresAt = Math.max(state.expiresAt, now() + Math.max(0, l.periodEndMs - nowMs) + 86_400_000);
    for (const [id, r] of state.reserved) if (r.expiresAt <= nowMs) state.reserved.delete(id);
    return state;
  }

  function lineState(id: string, limitUsd: number, s: { spent: number; reserved: Map<string, { amount: number }> }): BudgetLineState {
    let reserved = 0;
    for (const r of s.reserved.values()) reserved += r.amount;
    return { id, limitUsd, spentUsd: fromNanoUsd(s.spent), reservedUsd: fromNanoUsd(reserved) };
  }

  /** Sets `flag` on the line; true only for the first caller of the period (Redis: HSETNX). */
  function firstTime(s: LineState, flag: string): boolean {
    if (s.flags.has(flag)) return false;
    s.flags.add(flag);
    return true;
  }

  function alert(l: BudgetLine, kind: BudgetLineAlert['kind'], spentNano: number): BudgetLineAlert {
    return { lineId: l.id, kind, spentUsd: fromNanoUsd(spentNano), limitUsd: l.limitUsd };
  }

  return {
    async reserve(lines, amountUsd, ttlMs, nowMs) {
      const amount = toNanoUsd(amountUsd);
      const states = lines.map((l) => ({ l, s: line(l, nowMs) }));
      const alerts: BudgetLineAlert[] = [];
      const committed = (s: { spent: number; reserved: Map<string, { amount: number }> }) => {
        let total = s.spent;
        for (const r of s.reserved.values()) total += r.amount;
        return total;
      };
      const softAt = (l: BudgetLine) => toNanoUsd(l.limitUsd) * (l.softThreshold ?? 1);
      for (const { l, s } of states) {
        // The period's first touch: RESET when the previous period's line had alerted.
        if (!firstTime(s, 'seen')) continue;
        const prev = l.previousId === undefined || l.previousId === l.id ? undefined : budgetLines.get(l.previousId);
        if (prev && (prev.flags.has('soft') || prev.flags.has('exhausted'))) alerts.push(alert(l, 'reset', s.spent));
      }
      const blocked = states.find(({ l, s }) => committed(s) + amount > toNanoUsd(l.limitUsd));
      if (blocked) {
        // Exhausted only once past the soft threshold: one oversized request does not spend a budget.
        if (committed(blocked.s) >= softAt(blocked.l) && firstTime(blocked.s, 'exhausted')) alerts.push(alert(blocked.l, 'exhausted', blocked.s.spent));
        return { ok: false, blockedBy: blocked.l.id, lines: states.map(({ l, s }) => lineState(l.id, l.limitUsd, s)), alerts };
      }
      const id = randomUUID();
      for (const { s } of states) s.reserved.set(id, { amount, expiresAt: nowMs + ttlMs });
      let soft = false;
      for (const { l, s } of states) {
        if (committed(s) < softAt(l)) continue;
        soft = true;
        if (firstTime(s, 'soft')) alerts.push(alert(l, 'soft', s.spent));
      }
      return { ok: true, soft, reservation: { id, amountUsd, lines: [...lines] }, lines: states.map(({ l, s }) => lineState(l.id, l.limitUsd, s)), alerts };
    },
    async settle(reservation: Reservation, actualUsd, nowMs) {
      const alerts: BudgetLineAlert[] = [];
      for (const l of reservation.lines) {
        const s = line(l, nowMs);
        s.reserved.delete(reservation.id);
        s.spent += Math.max(0, toNanoUsd(actualUsd));
        if (s.spent >= toNanoUsd(l.limitUsd) && firstTime(s, 'exhausted')) alerts.push(alert(l, 'exhausted', s.spent));
      }
      return alerts;
    },
    async release(reservation: Reservation, nowMs) {
      for (const l of reservation.lines) line(l, nowMs).reserved.delete(reservation.id);
    },
    async status(lines, nowMs) {
      return lines.map((l) => lineState(l.id, l.limitUsd, line(l, nowMs)));
    },
    async read(lines, nowMs) {
      return lines.map((l) => {
        const s = budgetLines.get(l.id);
        if (!s || s.expiresAt <= now()) return { id: l.id, limitUsd: l.limitUsd, spentUsd: 0, reservedUsd: 0 };
        let reserved = 0;
        for (const r of s.reserved.values()) if (r.expiresAt > nowMs) reserved += r.amount;
        return { id: l.id, limitUsd: l.limitUsd, spentUsd: fromNanoUsd(s.spent), reservedUsd: fromNanoUsd(reserved) };
      });
    },
  };
}
