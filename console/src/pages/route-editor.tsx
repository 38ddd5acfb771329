import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from '../app.tsx';
import { DryRun } from '../dry-run.tsx';
import { errorText } from '../format.ts';
import { linkTo, navigate } from '../router.ts';
import type { Client } from '../session.ts';
import { useAsync } from '../use-async.ts';

type RouteInput = Parameters<Client['upsertRoute']>[0];
type Strategy = NonNullable<RouteInput['strategy']>;
type Tier = NonNullable<RouteInput['targets'][number]['tier']>;
type Route = Awaited<ReturnType<Client['routes']>>[number];
type Provider = Awaited<ReturnType<Client['providers']>>[number];

const STRATEGIES: Strategy[] = ['PRIORITY', 'WEIGHTED', 'LEAST_LATENCY', 'CHEAPEST', 'CASCADE'];
const TIERS: Array<Tier | ''> = ['', 'FAST', 'BALANCED', 'BEST'];

interface TargetDraft {
  provider: string;
  model: string;
  weight: string;
  tier: Tier | '';
}

interface Draft {
  name: string;
  strategy: Strategy;
  targets: TargetDraft[];
  maxAttempts: string;
  deadlineMs: string;
}

/** Field → message, keyed by the GraphQL error's path without `input.` (`targets[0].weight`, `maxAttempts`, …). */
type FieldErrors = Record<string, string>;

function draftOf(route: Route | undefined, providers: Provider[]): Draft {
  if (!route) {
    const p = providers[0];
    return { name: '', strategy: 'PRIORITY', targets: [{ provider: p?.id ?? '', model: p?.models[0]?.name ?? '', weight: '1', tier: '' }], maxAttempts: '', deadlineMs: '' };
  }
  return {
    name: route.name,
    strategy: route.strategy,
    targets: route.targets.map((t) => ({ provider: t.provider.id, model: t.model.name, weight: String(t.weight), tier: t.tier ?? '' })),
    maxAttempts: String(route.maxAttempts),
    deadlineMs: String(route.deadlineMs),
  };
}

/** A number field: empty leaves it to the gateway's default; anything else is sent as typed, for the gateway to judge. */
const num = (s: string): number | undefined => (s.trim() === '' ? undefined : Number(s));

/**
 * The gateway's validation error as per-field messages. Its message lists every problem as `input.path: message`
 * joined by "; ", and `param` names the first; anything that names no field goes under ''.
 */
function fieldErrors(e: unknown): FieldErrors {
  const out: FieldErrors = {};
  const message = errorText(e);
  for (const part of message.split('; ')) {
    const m = /^input\.([\w.[\]]+): (.*)$/.exec(part);
    if (m) out[m[1]!] ??= m[2]!;
  }
  const param = (e as { param?: string }).param?.replace(/^input\./, '');
  if (Object.keys(out).length === 0) {
    if (param) out[param] = message;
    else out[''] = message;
  }
  return out;
}

/** Creates or edits a route (admin only): targets in order, strategy, attempts and deadline; errors next to their field. */
export function RouteEditor({ client, name }: PageProps & { name: string | undefined }) {
  const data = useAsync(async () => {
    const [routes, providers] = await Promise.all([client.routes(), client.providers()]);
    return { route: name === undefined ? undefined : routes.find((r) => r.name === name), providers };
  }, [name]);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [original, setOriginal] = useState<Route | undefined>(undefined);

  useEffect(() => {
    if (!data.data || draft) return;
    setOriginal(data.data.route);
    setDraft(draftOf(data.data.route, data.data.providers));
  }, [data.data]);

  if (data.error) return <p class="notice bad" role="alert">{data.error}</p>;
  if (!data.data || !draft) return <p role="status">Loading…</p>;
  if (name !== undefined && !data.data.route) {
    return (
      <section>
        <h1 tabIndex={-1}>No route {name}</h1>
        <p>
          <a {...linkTo('/routes')}>← Routes</a>
        </p>
      </section>
    );
  }
  const providers = data.data.providers;
  const set = (patch: Partial<Draft>) => setDraft({ ...draft, ...patch });
  const setTarget = (i: number, patch: Partial<TargetDraft>) => set({ targets: draft.targets.map((t, j) => (j === i ? { ...t, ...patch } : t)) });
  const move = (i: number, by: number) => {
    const targets = [...draft.targets];
    const [t] = targets.splice(i, 1);
    targets.splice(i + by, 0, t!);
    set({ targets });
  };
  const described = (field: string) => (errors[field] ? { 'aria-invalid': 'true' as const, 'aria-describedby': `err-${field}` } : {});
  const ErrorOf = ({ field }: { field: string }) =>
    errors[field] ? (
      <span id={`err-${field}`} class="field-error" data-testid={`error-${field}`}>
        {errors[field]}
      </span>
    ) : null;

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setSaved(null);
    try {
      const input = inputOf(draft, original);
      const route = await client.upsertRoute(input);
      setSaved(`Saved ${route.name}: now version ${route.version}.`);
      if (name === undefined) navigate(`/routes/${encodeURIComponent(route.name)}/edit`, { replace: true });
    } catch (ex) {
      setErrors(fieldErrors(ex));
      // Keyboard and screen-reader users land on the first field the gateway refused.
      requestAnimationFrame(() => document.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <p>
        <a {...linkTo('/routes')}>← Routes</a>
      </p>
      <h1 tabIndex={-1}>{name === undefined ? 'New route' : `Edit route ${name}`}</h1>
      <div class="two-col">
        <form class="stack" onSubmit={save} aria-label="Route settings" noValidate>
          {errors[''] && (
            <p class="notice bad" role="alert">
              {errors['']}
            </p>
          )}
          <div class="field">
            <label for="route-name">Name</label>
            <input id="route-name" value={draft.name} readOnly={name !== undefined} onInput={(e) => set({ name: e.currentTarget.value })} {...described('name')} />
            <ErrorOf field="name" />
          </div>
          <div class="field">
            <label for="route-strategy">Strategy</label>
            <select id="route-strategy" value={draft.strategy} onChange={(e) => set({ strategy: e.currentTarget.value as Strategy })} {...described('strategy')}>
              {STRATEGIES.map((s) => (
                <option key={s} value={s}>
                  {s.toLowerCase().replace('_', '-')}
                </option>
              ))}
            </select>
            <ErrorOf field="strategy" />
          </div>
          <fieldset class="stack">
            <legend>Targets, in order</legend>
            <ErrorOf field="targets" />
            {draft.targets.map((t, i) => {
              const models = providers.find((p) => p.id === t.provider)?.models ?? [];
              const f = (k: string) => `targets[${i}].${k}`;
              return (
                <div class="panel" key={i} data-testid={`target-${i}`} role="group" aria-label={`Target ${i + 1}`}>
                  <div class="row">
                    <div class="field">
                      <label for={`t${i}-provider`}>Provider</label>
                      <select id={`t${i}-provider`} value={t.provider} onChange={(e) => setTarget(i, { provider: e.currentTarget.value, model: providers.find((p) => p.id === e.currentTarget.value)?.models[0]?.name ?? '' })} {...described(f('provider'))}>
                        {providers.map((p) => (
                          <option key={p.id} value={p.id}>
                            {p.id}
                          </option>
                        ))}
                      </select>
                      <ErrorOf field={f('provider')} />
                    </div>
                    <div class="field">
                      <label for={`t${i}-model`}>Model</label>
                      <select id={`t${i}-model`} value={t.model} onChange={(e) => setTarget(i, { model: e.currentTarget.value })} {...described(f('model'))}>
                        {models.map((m) => (
                          <option key={m.name} value={m.name}>
                            {m.name}
                          </option>
                        ))}
                      </select>
                      <ErrorOf field={f('model')} />
                    </div>
                    <div class="field">
                      <label for={`t${i}-weight`}>Weight</label>
                      <input id={`t${i}-weight`} type="number" step="any" value={t.weight} onInput={(e) => setTarget(i, { weight: e.currentTarget.value })} size={6} {...described(f('weight'))} />
                      <ErrorOf field={f('weight')} />
                    </div>
                    <div class="field">
                      <label for={`t${i}-tier`}>Tier</label>
                      <select id={`t${i}-tier`} value={t.tier} onChange={(e) => setTarget(i, { tier: e.currentTarget.value as Tier | '' })}>
                        {TIERS.map((x) => (
                          <option key={x} value={x}>
                            {x === '' ? 'none' : x.toLowerCase()}
                          </option>
                        ))}
                      </select>
                    </div>
                  </div>
                  <div class="row" style={{ marginTop: '0.5rem' }}>
                    <button type="button" class="secondary" disabled={i === 0} onClick={() => move(i, -1)} aria-label={`Move target ${i + 1} up`}>
                      ↑ Up
                    </button>
                    <button type="button" class="secondary" disabled={i === draft.targets.length - 1} onClick={() => move(i, 1)} aria-label={`Move target ${i + 1} down`}>
                      ↓ Down
                    </button>
                    <button type="button" class="danger" onClick={() => set({ targets: draft.targets.filter((_, j) => j !== i) })} aria-label={`Remove target ${i + 1}`}>
                      Remove
                    </button>
                  </div>
                </div>
              );
            })}
            <button type="button" class="secondary" onClick={() => set({ targets: [...draft.targets, { provider: providers[0]?.id ?? '', model: providers[0]?.models[0]?.name ?? '', weight: '1', tier: '' }] })}>
              Add target
            </button>
          </fieldset>
          <div class="row">
            <div class="field">
              <label for="route-max-attempts">Max attempts</label>
              <input id="route-max-attempts" type="number" value={draft.maxAttempts} onInput={(e) => set({ maxAttempts: e.currentTarget.value })} size={6} {...described('maxAttempts')} />
              <ErrorOf field="maxAttempts" />
            </div>
            <div class="field">
              <label for="route-deadline">Deadline (ms)</label>
              <input id="route-deadline" type="number" value={draft.deadlineMs} onInput={(e) => set({ deadlineMs: e.currentTarget.value })} size={8} {...described('deadlineMs')} />
              <ErrorOf field="deadlineMs" />
            </div>
          </div>
          <div class="row">
            <button type="submit" disabled={busy} data-testid="save-route">
              {busy ? 'Saving…' : 'Save route'}
            </button>
            <span role="status" data-testid="save-status">
              {saved ?? (Object.keys(errors).length > 0 ? `Not saved: ${Object.keys(errors).length} problem(s), shown next to their fields.` : '')}
            </span>
          </div>
        </form>
        <div>
          <DryRun client={client} route={draft.name.trim()} draft={() => inputOf(draft, original)} />
        </div>
      </div>
    </section>
  );
}

/** The RouteInput the editor's fields describe; settings it does not show (when, validator, stream timeouts, …) are kept as they were. */
function inputOf(draft: Draft, original: Route | undefined): RouteInput {
  return {
    ...(original ? keptSettings(original) : {}),
    name: draft.name.trim(),
    strategy: draft.strategy,
    targets: draft.targets.map((t) => ({
      provider: t.provider,
      model: t.model,
      ...(num(t.weight) !== undefined && { weight: num(t.weight) }),
      ...(t.tier && { tier: t.tier }),
      ...(original?.targets.find((o) => o.provider.id === t.provider && o.model.name === t.model)?.when && {
        when: original.targets.find((o) => o.provider.id === t.provider && o.model.name === t.model)!.when,
      }),
    })),
    ...(num(draft.maxAttempts) !== undefined && { maxAttempts: num(draft.maxAttempts) }),
    ...(num(draft.deadlineMs) !== undefined && { deadlineMs: num(draft.deadlineMs) }),
  };
}

/** What a RouteInput carries besides what the editor shows, read back from the route as it is. */
function keptSettings(route: Route): Partial<RouteInput> {
  return {
    resumeStreams: route.resumeStreams,
    expectedOutputTokens: route.expectedOutputTokens,
    ...(route.streamTimeouts && { streamTimeouts: route.streamTimeouts }),
    ...(route.validator && { validator: route.validator }),
    ...(route.promptCache && { promptCache: route.promptCache }),
    unsupportedParams: route.unsupportedParams,
  };
}
