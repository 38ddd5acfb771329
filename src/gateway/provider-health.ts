import type { BreakerState, CircuitState } from '../router/circuit-breaker.ts';
import type { LatencyWindow } from '../router/latency-window.ts';
import type { Catalog } from './catalog.ts';

export interface CircuitView {
  model: string;
  state: CircuitState;
  reason: string | null;
  /** Milliseconds until an open circuit lets probes through. */
  retryInMs: number | null;
}

export interface ProviderHealth {
  status: 'HEALTHY' | 'DEGRADED' | 'DOWN';
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  /** Failures / calls in the breakers' rate window (closed circuits). */
  errorRate: number;
  sampleSize: number;
  circuits: CircuitView[];
}

/**
 * A provider's health from the router's own state, the same state routing decisions read: its models'
 * circuit breakers and latency windows.
 * - DOWN: every model in use (recent calls, or a circuit not closed) has an open circuit, or at least
 *   half of the recent calls failed (a provider's unused models — an embeddings model — do not mask it);
 * - DEGRADED: some circuit is open or half-open, or at least 10% of the recent calls failed;
 * - HEALTHY: otherwise (also with no data).
 */
export function providerHealth(id: string, catalog: Catalog, breakers: BreakerState, latency: LatencyWindow, now: number): ProviderHealth {
  const models = catalog.models().filter((m) => m.provider.id === id);
  const keys = models.map((m) => `${id}/${m.model.id}`);
  let calls = 0;
  let failures = 0;
  let open = 0;
  let troubled = 0;
  let active = 0;
  const circuits: CircuitView[] = models.map((m, i) => {
    const b = breakers.peek(keys[i]!, now);
    calls += b.calls;
    failures += b.failures;
    if (b.state === 'open') open++;
    if (b.state !== 'closed') troubled++;
    if (b.state !== 'closed' || b.calls > 0) active++;
    return {
      model: m.model.id,
      state: b.state,
      reason: b.reason ?? null,
      retryInMs: b.openUntil !== undefined ? Math.max(0, b.openUntil - now) : null,
    };
  });
  const errorRate = calls === 0 ? 0 : failures / calls;
  const lat = latency.stats(keys, now);
  const status = (active > 0 && open === active) || errorRate >= 0.5 ? 'DOWN' : troubled > 0 || errorRate >= 0.1 ? 'DEGRADED' : 'HEALTHY';
  return {
    status,
    p50LatencyMs: lat.p50 ?? null,
    p95LatencyMs: lat.p95 ?? null,
    errorRate,
    sampleSize: calls,
    circuits,
  };
}
