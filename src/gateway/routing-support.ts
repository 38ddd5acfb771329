import type { AttemptRecord, GatewayError } from '../core/index.ts';
import type { ExecutorDeps } from '../router/executor.ts';
import type { ExclusionCode } from '../router/route-plan.ts';

/** Small pieces of the gateway's request path around the router. */

export const realSleep: ExecutorDeps['sleep'] = (ms, signal) =>
  new Promise((ok, fail) => {
    if (signal?.aborted) return fail(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      ok();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      fail(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Which error a request gets when no target is left, from the furthest stage any target got through. */
export function noCandidateKind(codes: readonly ExclusionCode[]): GatewayError['kind'] {
  if (codes.includes('circuit')) return 'unavailable';
  if (codes.includes('latency_budget') || codes.includes('cost_ceiling')) return 'invalid_request';
  if (codes.includes('context_window') || codes.includes('max_output')) return 'context_length_exceeded';
  if (codes.includes('capability')) return 'unsupported_feature';
  return 'invalid_request';
}

/** The sum of the attempts' costs; null when one that reported usage was unpriced. */
export function totalCost(attempts: readonly AttemptRecord[]): number | null {
  let sum = 0;
  for (const a of attempts) {
    if (a.costUsd === null) return null;
    if (a.costUsd !== undefined) sum += a.costUsd;
  }
  return Math.round(sum * 1e10) / 1e10;
}

