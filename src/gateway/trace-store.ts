import type { Tracer } from '@opentelemetry/api';
import type { Store } from '../store/store.ts';
import { ATTR } from '../telemetry/trace-attributes.ts';
import { createTracing } from '../telemetry/tracing.ts';

/**
 * The store as the stages see it, with a span around each cache lookup and rate-limit decision
 * (children of the request's route span, which the tracing stage makes active while the later stages run).
 */
export function traceStore(store: Store, tracer: Tracer): Store {
  const tracing = createTracing({ tracer });
  const cache = store.cache;
  const limits = store.limits;
  return {
    ...store,
    // Methods of the store object read fields of their closure, not `this`: spreading keeps them working.
    ping: () => store.ping(),
    readiness: () => store.readiness(),
    close: () => store.close(),
    cache: {
      get: (key) =>
        tracing.inSpan('switchboard.cache.lookup', {}, async (span) => {
          const value = await cache.get(key);
          span.setAttribute(ATTR.cacheHit, value !== undefined);
          return value;
        }),
      set: (key, value, ttlMs) => cache.set(key, value, ttlMs),
      delete: (key) => cache.delete(key),
    },
    limits: {
      consume: (rules, nowMs) =>
        tracing
          .rateLimit({ scope: rules.map((r) => r.key).join(',') }, async () => {
            const decision = await limits.consume(rules, nowMs);
            const retryAfterMs = decision.allowed ? undefined : decision.rules.reduce((m, r) => Math.max(m, r.retryAfterMs), 0);
            return { allowed: decision.allowed, retryAfterMs, decision };
          })
          .then((r) => r.decision),
      adjust: (rules, nowMs) => limits.adjust(rules, nowMs),
      peek: (rules, nowMs) => limits.peek(rules, nowMs),
    },
  };
}
