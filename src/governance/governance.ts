import type { ApiKeyRecord, BudgetEvent, BudgetPeriod, BudgetSubjectKind, Principal, TeamInput, TeamRecord } from '../core/index.ts';
import type { ApiKeyStore, BudgetStore, RateLimitStore } from '../store/store.ts';
import type { BudgetAlerts } from './budget-alerts.ts';
import type { QuotaBook } from './quota-book.ts';
import {
  budgetLineOf,
  hasBudget,
  keySubjects,
  limitRulesOf,
  orgSubject,
  providerSubject,
  routeSubject,
  teamSubject,
  type QuotaSubject,
} from './quota-subjects.ts';
import type { TeamDirectory } from './team-directory.ts';

/** A budget line as it stands: what the API shows of a key's, team's or other subject's budget. */
export interface BudgetView {
  lineId: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  /** What is left for new reservations: limit − spent − reserved, never below 0. */
  remainingUsd: number;
  period: BudgetPeriod;
  resetsAt: Date;
  softThreshold: number;
  /** Spent + reserved reached the soft threshold. */
  soft: boolean;
  softRoute: string | undefined;
}

/** Rate limits and what is left of them now. */
export interface LimitsView {
  rpm: number | undefined;
  rpmRemaining: number | undefined;
  tpm: number | undefined;
  tpmRemaining: number | undefined;
  /** When the counters are back to full; null when nothing is used. */
  resetsAt: Date | null;
}

export interface QuotaLineView {
  /** The subject's id (`key:web`, `team:shop`, `org`, `provider:openai`, `route:default`). */
  id: string;
  kind: BudgetSubjectKind;
  subject: string;
  keyId: string | undefined;
  source: 'config' | 'runtime';
  budget: BudgetView | undefined;
  limits: LimitsView | undefined;
}

export interface TeamView {
  name: string;
  source: 'config' | 'runtime';
  subject: QuotaSubject | undefined;
}

export interface Governance {
  /** Every line (admin keys), or the caller's own key's and team's (client keys). Reads only. */
  lines(principal: Principal): Promise<QuotaLineView[]>;
  /** Views of these subjects, in one read of the store. */
  view(subjects: readonly QuotaSubject[]): Promise<QuotaLineView[]>;
  /** The quota subjects a runtime key answers to (its own quota, else config `quotas.keys[name]`). */
  keySubjects(key: ApiKeyRecord): QuotaSubject[];
  teams(): TeamView[];
  team(name: string): TeamView | undefined;
  upsertTeam(input: TeamInput): Promise<TeamRecord>;
  deleteTeam(name: string): Promise<boolean>;
  /** Budget events of every instance. */
  subscribe(cb: (event: BudgetEvent) => void): () => void;
}

export interface GovernanceDeps {
  book: QuotaBook;
  teams: TeamDirectory;
  apiKeys: ApiKeyStore;
  budgets: BudgetStore;
  limits: RateLimitStore;
  alerts: BudgetAlerts;
  /** Epoch ms. */
  now?: () => number;
}

/** Reads of quotas for the API: the same subjects and line ids as the limits stage, and never a reservation. */
export function createGovernance(deps: GovernanceDeps): Governance {
  const now = deps.now ?? Date.now;
  const src = () => ({ quotas: deps.book.current(), teams: deps.teams });

  async function view(subjects: readonly QuotaSubject[]): Promise<QuotaLineView[]> {
    const t = now();
    const budgeted = subjects.filter(hasBudget).map((s) => ({ s, line: budgetLineOf(s, t) }));
    const rules = subjects.map((s) => limitRulesOf(s, 0));
    const [states, peeked] = await Promise.all([
      budgeted.length > 0 ? deps.budgets.read(budgeted.map((b) => b.line), t) : Promise.resolve([]),
      rules.flat().length > 0 ? deps.limits.peek(rules.flat(), t) : Promise.resolve([]),
    ]);
    const stateOf = new Map(states.map((st) => [st.id, st]));
    const limitOf = new Map(peeked.map((p) => [p.key, p]));
    return subjects.map((s, i) => {
      let budget: BudgetView | undefined;
      const b = budgeted.find((x) => x.s === s);
      if (b) {
        const st = stateOf.get(b.line.id) ?? { spentUsd: 0, reservedUsd: 0 };
        const committed = st.spentUsd + st.reservedUsd;
        budget = {
          lineId: b.line.id,
          limitUsd: b.s.budget.usd,
          spentUsd: st.spentUsd,
          reservedUsd: st.reservedUsd,
          remainingUsd: Math.max(0, Math.round((b.s.budget.usd - committed) * 1e9) / 1e9),
          period: b.s.budget.period,
          resetsAt: new Date(b.line.periodEndMs),
          softThreshold: b.s.budget.softThreshold,
          soft: committed >= b.s.budget.usd * b.s.budget.softThreshold,
          softRoute: b.s.budget.softRoute,
        };
      }
      let limits: LimitsView | undefined;
      if (rules[i]!.length > 0) {
        const rpm = limitOf.get(`${s.id}:rpm`);
        const tpm = limitOf.get(`${s.id}:tpm`);
        const resetMs = Math.max(rpm?.resetMs ?? 0, tpm?.resetMs ?? 0);
        limits = {
          rpm: s.limits?.rpm,
          rpmRemaining: rpm?.remaining,
          tpm: s.limits?.tpm,
          tpmRemaining: tpm?.remaining,
          resetsAt: resetMs > 0 ? new Date(t + resetMs) : null,
        };
      }
      return { id: s.id, kind: s.kind, subject: s.name, keyId: s.keyId, source: s.source, budget, limits };
    });
  }

  function teams(): TeamView[] {
    const quotas = deps.book.current();
    const out = new Map<string, TeamView>();
    for (const [name] of quotas.entries().teams) out.set(name, { name, source: 'config', subject: teamSubject(name, src()) });
    for (const t of deps.teams.list()) out.set(t.name, { name: t.name, source: 'runtime', subject: teamSubject(t.name, src()) });
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async function allSubjects(): Promise<QuotaSubject[]> {
    const quotas = deps.book.current();
    const e = quotas.entries();
    const out: QuotaSubject[] = [];
    for (const [name, q] of e.keys) out.push({ id: `key:${name}`, kind: 'key', name, source: 'config', limits: q.limits, budget: q.budget });
    for (const k of await deps.apiKeys.list()) {
      if (k.revokedAt === null) out.push(...keySubjectsOf(k).filter((s) => s.source === 'runtime'));
    }
    for (const t of teams()) if (t.subject) out.push(t.subject);
    const org = orgSubject(quotas);
    if (org) out.push(org);
    for (const [id] of e.providers) out.push(providerSubject(id, quotas)!);
    for (const [name] of e.routes) out.push(routeSubject(name, quotas)!);
    return out;
  }

  function keySubjectsOf(k: ApiKeyRecord): QuotaSubject[] {
    return keySubjects({ name: k.name, keyId: k.id, quota: { limits: k.limits, budget: k.budget } }, deps.book.current());
  }

  return {
    async lines(principal) {
      if (principal.scope === 'admin') return view(await allSubjects());
      const own = keySubjects(principal, deps.book.current());
      const team = principal.team !== undefined ? teamSubject(principal.team, src()) : undefined;
      return view(team ? [...own, team] : own);
    },
    view,
    keySubjects: keySubjectsOf,
    teams,
    team: (name) => teams().find((t) => t.name === name),
    upsertTeam: (input) => deps.teams.upsert(input),
    deleteTeam: (name) => deps.teams.delete(name),
    subscribe: (cb) => deps.alerts.subscribe(cb),
  };
}
