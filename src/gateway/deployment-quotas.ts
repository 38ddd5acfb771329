import type { FailureMode, QuotasConfig, RateLimitConfig } from '../config/index.ts';
import type { BreakerSnapshot, BreakerState } from '../router/circuit-breaker.ts';
import type { LimitRule, RateLimitStore } from '../store/store.ts';

const MINUTE = 60_000;

export interface DeploymentQuotasOptions {
  quotas: QuotasConfig;
  limits: RateLimitStore;
  /** Limits fail open (try the deployment unchecked) or closed (skip it) while the store is down. */
  failure: FailureMode;
  /** Epoch ms (windows are shared by every instance). */
  epochNow?: () => number;
  /** How often every limited deployment's state is peeked, so exhausted ones are skipped at planning. */
  refreshMs: number;
  onError?: ((operation: string, error: unknown) => void) | undefined;
}

export interface DeploymentQuotas {
  /** The router's breaker state with exhausted deployments reported open (planning skips them, explainRoute says why). */
  breakers: BreakerState;
  /** Real tokens of a finished call, added to the deployment's TPM counter. */
  recordTokens(deployment: string, tokens: number): void;
  refresh(): Promise<void>;
  /** The config's deployment limits after a reload (counters are the store's and carry over). */
  replace(deployments: QuotasConfig['deployments']): void;
  close(): void;
}

function rules(deployment: string, cfg: RateLimitConfig, tokens: number): LimitRule[] {
  const out: LimitRule[] = [];
  if (cfg.rpm !== undefined) out.push({ key: `dep:${deployment}:rpm`, limit: cfg.rpm, windowMs: MINUTE, cost: 1 });
  // A call's tokens are known only once it finished: admission takes 1 (is there any room left?) and the
  // real count is added afterwards, so a deployment's TPM is enforced from the next call on.
  if (cfg.tpm !== undefined) out.push({ key: `dep:${deployment}:tpm`, limit: cfg.tpm, windowMs: MINUTE, cost: tokens });
  return out;
}

/**
 * Per-deployment RPM/TPM (config `quotas.deployments`, keyed `provider/model`) as seen by the router,
 * through the BreakerState interface it already consults: planning reads `peek` (a local copy refreshed in
 * the background, so a deployment exhausted by any instance is skipped without a Redis call), and the
 * executor's awaited `acquire` takes one request from the shared counters atomically before each call.
 * Deployments without a configured limit cost nothing.
 */
export function withDeploymentQuotas(inner: BreakerState, opts: DeploymentQuotasOptions): DeploymentQuotas {
  const epochNow = opts.epochNow ?? Date.now;
  const onError = opts.onError ?? (() => undefined);
  const limitedOf = (deployments: QuotasConfig['deployments']) => new Map(Object.entries(deployments).filter(([, c]) => c.rpm !== undefined || c.tpm !== undefined));
  let limited = limitedOf(opts.quotas.deployments);
  /** Epoch ms until which a deployment is known to be exhausted. */
  const exhaustedUntil = new Map<string, number>();

  function exhausted(key: string, t: number): BreakerSnapshot | undefined {
    const until = exhaustedUntil.get(key);
    const left = until === undefined ? 0 : until - epochNow();
    if (left <= 0) return undefined;
    return { state: 'open', openUntil: t + left, reason: 'deployment rate limit reached (quotas.deployments)', calls: 0, failures: 0 };
  }

  const breakers: BreakerState = {
    peek(key, t) {
      return exhausted(key, t) ?? inner.peek(key, t);
    },
    async acquire(key, t) {
      const cfg = limited.get(key);
      if (!cfg) return inner.acquire(key, t);
      if (exhausted(key, t)) return false;
      if (!(await inner.acquire(key, t))) return false;
      try {
        const at = epochNow();
        const decision = await opts.limits.consume(rules(key, cfg, 1), at);
        if (decision.allowed) return true;
        const wait = Math.max(...decision.rules.filter((r) => !r.allowed).map((r) => r.retryAfterMs), 1);
        exhaustedUntil.set(key, at + wait);
      } catch (e) {
        onError('deployment limits', e);
        if (opts.failure === 'open') return true;
      }
      // Not called after all: give back a half-open probe slot acquire may have taken.
      await inner.report(key, 'neutral', t);
      return false;
    },
    report(key, outcome, t, info) {
      return inner.report(key, outcome, t, info);
    },
  };

  async function refresh(): Promise<void> {
    if (limited.size === 0) return;
    const at = epochNow();
    await Promise.all(
      [...limited].map(async ([key, cfg]) => {
        const states = await opts.limits.peek(rules(key, cfg, 1), at);
        const blocked = states.filter((s) => !s.allowed);
        if (blocked.length > 0) exhaustedUntil.set(key, at + Math.max(...blocked.map((s) => s.retryAfterMs), 1));
        else exhaustedUntil.delete(key);
      }),
    ).catch((e: unknown) => onError('deployment limits refresh', e));
  }

  let timer: ReturnType<typeof setInterval> | undefined;
  const schedule = () => {
    if (timer) clearInterval(timer);
    timer = limited.size > 0 ? setInterval(() => void refresh(), Math.max(50, opts.refreshMs)) : undefined;
    timer?.unref();
  };
  schedule();

  return {
    breakers,
    recordTokens(deployment, tokens) {
      const cfg = limited.get(deployment);
      if (cfg?.tpm === undefined || tokens <= 1) return;
      opts.limits
        .adjust([{ key: `dep:${deployment}:tpm`, windowMs: MINUTE, delta: Math.round(tokens - 1) }], epochNow())
        .catch((e: unknown) => onError('deployment tokens', e));
    },
    refresh,
    replace(deployments) {
      limited = limitedOf(deployments);
      for (const key of exhaustedUntil.keys()) if (!limited.has(key)) exhaustedUntil.delete(key);
      schedule();
    },
    close: () => {
      if (timer) clearInterval(timer);
    },
  };
}
