import type { BudgetSubjectKind, Principal, QuotaBudget, QuotaLimits } from '../core/index.ts';
import type { BudgetLine, LimitRule } from '../store/store.ts';
import { budgetPeriod } from './budget-period.ts';
import type { ConfigQuotas } from './quota-book.ts';
import type { TeamLookup } from './team-directory.ts';

const MINUTE = 60_000;

/**
 * One subject's quota: whose it is and what it allows. `id` names its counters in the store
 * (`key:web`, `key:key_1f…` for a runtime key's own quota, `team:shop`, `org`, `provider:openai`,
 * `route:default`); its budget line in a period is `<id>:<period>:<period id>`.
 */
export interface QuotaSubject {
  id: string;
  kind: BudgetSubjectKind;
  /** The key's, team's, provider's or route's name (`org` for the organisation). */
  name: string;
  /** A runtime key's id, when the quota is the key's own. */
  keyId?: string | undefined;
  /** Where it is declared. */
  source: 'config' | 'runtime';
  limits?: QuotaLimits | undefined;
  budget?: QuotaBudget | undefined;
}

export interface SubjectSources {
  quotas: ConfigQuotas;
  teams?: TeamLookup | undefined;
}

/**
 * The key's subjects: a runtime key's own limits and budget each replace the config's `quotas.keys[name]`
 * part of the same kind (the part it does not set still applies, under the key's name).
 */
export function keySubjects(p: { name: string; keyId?: string | undefined; quota?: { limits?: QuotaLimits | undefined; budget?: QuotaBudget | undefined } | undefined }, quotas: ConfigQuotas): QuotaSubject[] {
  const out: QuotaSubject[] = [];
  const own = p.keyId !== undefined ? p.quota : undefined;
  if (own && (own.limits || own.budget)) {
    out.push({ id: `key:${p.keyId}`, kind: 'key', name: p.name, keyId: p.keyId, source: 'runtime', limits: own.limits, budget: own.budget });
  }
  const cfg = quotas.key(p.name);
  const limits = own?.limits ? undefined : cfg?.limits;
  const budget = own?.budget ? undefined : cfg?.budget;
  if (limits || budget) out.push({ id: `key:${p.name}`, kind: 'key', name: p.name, source: 'config', limits, budget });
  return out;
}

/** A runtime team wins over a config team of the same name. */
export function teamSubject(name: string, src: SubjectSources): QuotaSubject | undefined {
  const runtime = src.teams?.get(name);
  if (runtime && (runtime.limits || runtime.budget)) return { id: `team:${name}`, kind: 'team', name, source: 'runtime', limits: runtime.limits, budget: runtime.budget };
  if (runtime) return undefined;
  const cfg = src.quotas.team(name);
  return cfg ? { id: `team:${name}`, kind: 'team', name, source: 'config', limits: cfg.limits, budget: cfg.budget } : undefined;
}

export function orgSubject(quotas: ConfigQuotas): QuotaSubject | undefined {
  const q = quotas.org;
  return q ? { id: 'org', kind: 'org', name: 'org', source: 'config', limits: q.limits, budget: q.budget } : undefined;
}

export function routeSubject(name: string, quotas: ConfigQuotas): QuotaSubject | undefined {
  const q = quotas.route(name);
  return q ? { id: `route:${name}`, kind: 'route', name, source: 'config', limits: q.limits, budget: q.budget } : undefined;
}

export function providerSubject(id: string, quotas: ConfigQuotas): QuotaSubject | undefined {
  const q = quotas.provider(id);
  return q?.budget ? { id: `provider:${id}`, kind: 'provider', name: id, source: 'config', budget: q.budget } : undefined;
}

/**
 * Every subject a request answers to except providers (which depend on where it goes): its key, its team,
 * the organisation and its route (a named route; a model pinned by name has none).
 */
export function requestSubjects(principal: Principal | undefined, route: string | undefined, src: SubjectSources): QuotaSubject[] {
  const out: QuotaSubject[] = [];
  if (principal) out.push(...keySubjects(principal, src.quotas));
  if (principal?.team !== undefined) {
    const team = teamSubject(principal.team, src);
    if (team) out.push(team);
  }
  const org = orgSubject(src.quotas);
  if (org) out.push(org);
  if (route !== undefined) {
    const r = routeSubject(route, src.quotas);
    if (r) out.push(r);
  }
  return out;
}

/** The subject's budget line in the period containing `nowMs`. */
export function budgetLineOf(s: QuotaSubject & { budget: QuotaBudget }, nowMs: number): BudgetLine {
  const p = budgetPeriod(s.budget.period, nowMs);
  return {
    id: `${s.id}:${s.budget.period}:${p.id}`,
    previousId: `${s.id}:${s.budget.period}:${p.previousId}`,
    limitUsd: s.budget.usd,
    periodEndMs: p.endMs,
    softThreshold: s.budget.softThreshold,
  };
}

/** RPM and TPM counters of a subject (`tokens`: what this request may take from TPM). */
export function limitRulesOf(s: QuotaSubject, tokens: number): LimitRule[] {
  const rules: LimitRule[] = [];
  if (s.limits?.rpm !== undefined) rules.push({ key: `${s.id}:rpm`, limit: s.limits.rpm, windowMs: MINUTE, cost: 1 });
  if (s.limits?.tpm !== undefined) rules.push({ key: `${s.id}:tpm`, limit: s.limits.tpm, windowMs: MINUTE, cost: Math.ceil(tokens) });
  return rules;
}

export const hasBudget = (s: QuotaSubject): s is QuotaSubject & { budget: QuotaBudget } => s.budget !== undefined;
