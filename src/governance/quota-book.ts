import { QuotasConfigSchema, type QuotasConfigInput, type TeamConfig } from '../config/index.ts';
import type { Quota } from '../core/index.ts';

/**
 * The quotas the config file declares, looked up by subject. Built once per config; the limits stage and
 * the budgets query read them through a QuotaBook, so a config reload swaps one object.
 */
export interface ConfigQuotas {
  key(name: string): Quota | undefined;
  /** `teams: [...]` first, then `quotas.teams`. */
  team(name: string): Quota | undefined;
  readonly org: Quota | undefined;
  provider(id: string): Quota | undefined;
  route(name: string): Quota | undefined;
  /** Output tokens assumed for TPM and budget estimates when a request sets none. */
  readonly defaultMaxOutputTokens: number;
  /** Every configured subject, for listings (`Query.budgets`). */
  entries(): { keys: [string, Quota][]; teams: [string, Quota][]; providers: [string, Quota][]; routes: [string, Quota][] };
  /** True when anything is configured (a request no quota could apply to skips the stage). */
  readonly any: boolean;
}

export interface QuotaBook {
  current(): ConfigQuotas;
  /** Hot reload: later requests and queries read `next`; requests already admitted settle on their own lines. */
  replace(next: ConfigQuotas): void;
}

const has = (q: Quota | undefined): q is Quota => q !== undefined && (q.limits !== undefined || q.budget !== undefined);

export function configQuotas(input: QuotasConfigInput | undefined, teamList: readonly TeamConfig[] = []): ConfigQuotas {
  const q = QuotasConfigSchema.parse(input ?? {});
  const keys = new Map(Object.entries(q.keys).filter(([, v]) => has(v)));
  const teams = new Map<string, Quota>(Object.entries(q.teams).filter(([, v]) => has(v)));
  for (const t of teamList) if (has(t)) teams.set(t.name, { limits: t.limits, budget: t.budget });
  const providers = new Map<string, Quota>(Object.entries(q.providers ?? {}).map(([id, v]) => [id, { budget: v.budget }]));
  const routes = new Map(Object.entries(q.routes ?? {}).filter(([, v]) => has(v)));
  const org = has(q.org) ? q.org : undefined;
  return {
    key: (name) => keys.get(name),
    team: (name) => teams.get(name),
    org,
    provider: (id) => providers.get(id),
    route: (name) => routes.get(name),
    defaultMaxOutputTokens: q.defaultMaxOutputTokens,
    entries: () => ({ keys: [...keys], teams: [...teams], providers: [...providers], routes: [...routes] }),
    any: keys.size + teams.size + providers.size + routes.size > 0 || org !== undefined,
  };
}

export function createQuotaBook(initial: ConfigQuotas): QuotaBook {
  let current = initial;
  return {
    current: () => current,
    replace(next) {
      current = next;
    },
  };
}
