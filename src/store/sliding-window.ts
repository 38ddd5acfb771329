/**
 * The rate-limit arithmetic, shared in meaning with the Lua script in redis-scripts.ts (keep the two in
 * step; the contract suite runs the same cases against both). A sliding-window counter: the previous
 * fixed window counts in proportion to how much of it still overlaps the sliding window, which avoids
 * the 2x burst of plain fixed windows at a boundary while storing only two integers per rule.
 */
export interface WindowVerdict {
  allowed: boolean;
  remaining: number;
  resetMs: number;
  retryAfterMs: number;
}

export function windowStart(nowMs: number, windowMs: number): number {
  return Math.floor(nowMs / windowMs) * windowMs;
}

export function evaluateWindow(
  prev: number,
  cur: number,
  rule: { limit: number; windowMs: number; cost: number },
  nowMs: number,
): WindowVerdict {
  const { limit, windowMs: w, cost } = rule;
  const start = windowStart(nowMs, w);
  const frac = (nowMs - start) / w;
  const used = prev * (1 - frac) + cur;
  const allowed = cost <= limit && used + cost <= limit;
  const after = allowed ? used + cost : used;
  const curAfter = allowed ? cur + cost : cur;
  const remaining = Math.max(0, Math.floor(limit - after));
  const resetMs = curAfter > 0 ? start + 2 * w - nowMs : prev > 0 ? start + w - nowMs : 0;
  let retryAfterMs = 0;
  if (!allowed) {
    if (cost > limit) {
      retryAfterMs = w;
    } else {
      const avail = limit - cost;
      // Either the previous window decays enough within this one, or we wait into the next window,
      // where this window's count becomes the decaying one.
      const at = cur <= avail ? start + (1 - (avail - cur) / prev) * w : start + w + (1 - avail / cur) * w;
      retryAfterMs = Math.max(1, Math.ceil(at - nowMs));
    }
  }
  return { allowed, remaining, resetMs, retryAfterMs };
}

/** USD as integer nano-dollars: sums of many sub-cent costs stay exact (Lua numbers are doubles too). */
export function toNanoUsd(usd: number): number {
  return Math.round(usd * 1e9);
}

export function fromNanoUsd(nano: number): number {
  return nano / 1e9;
}
