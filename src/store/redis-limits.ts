import { randomUUID } from 'node:crypto';
import type { RedisCommands } from './redis-commands.ts';
import type { RedisClient } from './redis-connection.ts';
import { fromNanoUsd, toNanoUsd, windowStart } from './sliding-window.ts';
import type { BudgetLine, BudgetLineState, BudgetStore, LimitRule, LimitState, RateLimitStore } from './store.ts';

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

  function states(lines: readonly BudgetLine[], out: readonly number[], offset: number): BudgetLineState[] {
    return lines.map((l, i) => ({ id: l.id, limitUsd: l.limitUsd, spentUsd: fromNanoUsd(out[offset + 2 * i]!), reservedUsd: fromNanoUsd(out[offset + 2 * i + 1]!) }));
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
      const out = (await cmd.run('BUDGET_RESERVE', lineKeys(lines), args)) as number[];
      const lineStates = states(lines, out, 2);
      if (out[0] !== 0) return { ok: false, blockedBy: lines[out[0]! - 1]!.id, lines: lineStates };
      return { ok: true, soft: out[1] === 1, reservation: { id, amountUsd, lines: [...lines] }, lines: lineStates };
    },
    async settle(reservation, actualUsd, nowMs) {
      const t = Math.floor(nowMs);
      await cmd.run('BUDGET_SETTLE', lineKeys(reservation.lines), [t, reservation.id, Math.max(0, toNanoUsd(actualUsd)), ...reservation.lines.map((l) => lineTtl(l, t))]);
    },
    async release(reservation, nowMs) {
      const t = Math.floor(nowMs);
      await cmd.run('BUDGET_SETTLE', lineKeys(reservation.lines), [t, reservation.id, -1, ...reservation.lines.map((l) => lineTtl(l, t))]);
    },
    async status(lines, nowMs) {
      if (lines.length === 0) return [];
      const out = (await cmd.run('BUDGET_STATUS', lineKeys(lines), [Math.floor(nowMs)])) as number[];
      return states(lines, out, 0);
    },
  };
  return { limits, budgets };
}
