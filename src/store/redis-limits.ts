import { randomUUID } from 'node:crypto';
import type { RedisCommands } from './redis-commands.ts';
import type { RedisClient } from './redis-connection.ts';
import { fromNanoUsd, toNanoUsd, windowStart } from './sliding-window.ts';
import type { BudgetLine, BudgetLineAlert, BudgetLineState, BudgetStore, LimitRule, LimitState, RateLimitStore } from './store.ts';

/** Budget counters outlive their period by a day, so a request settling just after midnight still lands. */
const LINE_GRACE_MS = 86_400_000;

/**
 * Rate limits and budgets on Redis. All their keys share one hash tag per feature (`{rl}`, `{bg}`) so
 * the key+team(+…) checks of one request run in one script, all-or-nothing, also on a Cluster.
 */
export function createRedisLimits(deps: { client: RedisClient; cmd: RedisCommands; prefix: string }): { limits: RateLimitStore; budgets: BudgetStore } {
  const { cmd, prefix } = deps;
  const rl = (key: string, start: number) => `${prefix}{rl}:${key}:${start}`;
  const bg = (id: string) => `${prefix}{bg}:${id}`;
  const lineKeys = (lines: readonly BudgetLine[]) => lines.flatMap((l) => [bg(l.id), `${bg(l.id)}:exp`]);
  const lineTtl = (l: BudgetLine, nowMs: number) => Math.max(0, Math.round(l.periodEndMs - nowMs)) + LINE_GRACE_MS;
  // The previous period's hash is read for RESET alerts: same `{bg}` tag, so the script stays single-slot.
  const reserveKeys = (lines: readonly BudgetLine[]) => lines.flatMap((l) => [bg(l.id), `${bg(l.id)}:exp`, bg(l.previousId ?? l.id)]);

  async function evaluate(rules: readonly LimitRule[], nowMs: number, consume: boolean): Promise<{ allowed: boolean; rules: LimitState[] }> {
    if (rules.length === 0) return { allowed: true, rules: [] };
    const t = Math.floor(nowMs);
    const keys = rules.flatMap((r) => {
      const start = windowStart(t, r.windowMs);
      return [rl(r.key, start), rl(r.key, start - r.windowMs)];
    });
    const args = [t, consume ? 1 : 0, ...rules.flatMap((r) => [r.limit, r.windowMs, Math.ceil(r.cost)])];
    const out = (await cmd.run('RATE_LIMIT', keys, args)) as number[];
    return {
      allowed: out[0] === 1,
      rules: rules.map((r, i) => ({
        key: r.key,
        limit: r.limit,
        allowed: out[1 + 4 * i] === 1,
        remaining: out[2 + 4 * i]!,
        resetMs: out[3 + 4 * i]!,
        retryAfterMs: out[4 + 4 * i]!,
      })),
    };
  }

  function states(lines: readonly BudgetLine[], out: readonly number[], offset: number, stride = 2): BudgetLineState[] {
    return lines.map((l, i) => ({ id: l.id, limitUsd: l.limitUsd, spentUsd: fromNanoUsd(out[offset + stride * i]!), reservedUsd: fromNanoUsd(out[offset + stride * i + 1]!) }));
  }

  /** Alert bits (1 soft, 2 exhausted, 4 reset) as alerts; `spent` is the line's spending to report with them. */
  function alertsOf(line: BudgetLine, bits: number, spentNano: number): BudgetLineAlert[] {
    const out: BudgetLineAlert[] = [];
    const base = { lineId: line.id, limitUsd: line.limitUsd, spentUsd: fromNanoUsd(spentNano) };
    if (bits & 4) out.push({ ...base, kind: 'reset' });
    if (bits & 1) out.push({ ...base, kind: 'soft' });
    if (bits & 2) out.push({ ...base, kind: 'exhausted' });
    return out;
  }

  const limits: RateLimitStore = {
    consume: (rules, nowMs) => evaluate(rules, nowMs, true),
    async peek(rules, nowMs) {
      return (await evaluate(rules, nowMs, false)).rules;
    },
    async adjust(rules, nowMs) {
      const live = rules.filter((r) => r.delta !== 0);
      if (live.length === 0) return;
      const t = Math.floor(nowMs);
      await cmd.run(
        'RATE_ADJUST',
        live.map((r) => rl(r.key, windowStart(t, r.windowMs))),
        live.flatMap((r) => [r.windowMs, Math.round(r.delta)]),
      );
    },
  };

  const budgets: BudgetStore = {
    async reserve(lines, amountUsd, ttlMs, nowMs) {
      const id = randomUUID();
      const t = Math.floor(nowMs);
      const args = [
        t,
        id,
        toNanoUsd(amountUsd),
        t + Math.max(1, Math.round(ttlMs)),
        ...lines.flatMap((l) => [toNanoUsd(l.limitUsd), toNanoUsd(l.limitUsd) * (l.softThreshold ?? 1), lineTtl(l, t)]),
      ];
      const out = (await cmd.run('BUDGET_RESERVE', reserveKeys(lines), args)) as number[];
      const lineStates = states(lines, out, 2, 3);
      const alerts = lines.flatMap((l, i) => alertsOf(l, out[4 + 3 * i]!, out[2 + 3 * i]!));
      if (out[0] !== 0) return { ok: false, blockedBy: lines[out[0]! - 1]!.id, lines: lineStates, alerts };
      return { ok: true, soft: out[1] === 1, reservation: { id, amountUsd, lines: [...lines] }, lines: lineStates, alerts };
    },
    async settle(reservation, actualUsd, nowMs) {
      if (reservation.lines.length === 0) return [];
      const t = Math.floor(nowMs);
      const args = [t, reservation.id, Math.max(0, toNanoUsd(actualUsd)), ...reservation.lines.flatMap((l) => [lineTtl(l, t), toNanoUsd(l.limitUsd)])];
      const out = (await cmd.run('BUDGET_SETTLE', lineKeys(reservation.lines), args)) as number[];
      return reservation.lines.flatMap((l, i) => alertsOf(l, out[2 * i + 1]!, out[2 * i]!));
    },
    async release(reservation, nowMs) {
      if (reservation.lines.length === 0) return;
      const t = Math.floor(nowMs);
      await cmd.run('BUDGET_SETTLE', lineKeys(reservation.lines), [t, reservation.id, -1, ...reservation.lines.flatMap((l) => [lineTtl(l, t), toNanoUsd(l.limitUsd)])]);
    },
    async status(lines, nowMs) {
      if (lines.length === 0) return [];
      const out = (await cmd.run('BUDGET_STATUS', lineKeys(lines), [Math.floor(nowMs)])) as number[];
      return states(lines, out, 0);
    },
    async read(lines, nowMs) {
      if (lines.length === 0) return [];
      const out = (await cmd.run('BUDGET_READ', lineKeys(lines), [Math.floor(nowMs)])) as number[];
      return states(lines, out, 0);
    },
  };
  return { limits, budgets };
}
