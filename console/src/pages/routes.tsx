import { useState } from 'preact/hooks';
import type { PageProps } from '../app.tsx';
import { DryRun } from '../dry-run.tsx';
import { formatMs, formatPercent } from '../format.ts';
import { linkTo } from '../router.ts';
import type { Client } from '../session.ts';
import { useAsync } from '../use-async.ts';

type Provider = Awaited<ReturnType<Client['providers']>>[number];

const HEALTH_REFRESH_MS = 10_000;

function circuitBadge(state: string | undefined) {
  if (!state) return <span class="muted">–</span>;
  const cls = state === 'CLOSED' ? 'ok' : state === 'HALF_OPEN' ? 'warn' : 'bad';
  return <span class={`badge ${cls}`}>{state.toLowerCase().replace('_', '-')}</span>;
}

/** The routes the key may see: targets with their circuit and the provider's rolling latency; a dry run each; edit links for admins. */
export function Routes({ client, viewer }: PageProps) {
  const admin = viewer.scope === 'ADMIN';
  const data = useAsync(async () => {
    const [routes, providers] = await Promise.all([client.routes(), client.providers()]);
    return { routes, providers: new Map(providers.map((p) => [p.id, p])) };
  }, [], HEALTH_REFRESH_MS);
  const [open, setOpen] = useState<string | null>(null);

  return (
    <section>
      <h1 tabIndex={-1}>Routes</h1>
      <div class="toolbar">
        {admin && (
          <a {...linkTo('/routes/new')}>
            New route
          </a>
        )}
        <span class="muted">Health refreshes every {HEALTH_REFRESH_MS / 1000} s.</span>
      </div>
      {data.error && (
        <p class="notice bad" role="alert">
          {data.error}
        </p>
      )}
      {data.loading && !data.data && <p role="status">Loading…</p>}
      {data.data?.routes.length === 0 && <p class="notice">No routes{admin ? '' : ' your key may use'}.</p>}
      {data.data?.routes.map((r) => (
        <article class="panel" key={r.name} data-testid={`route-${r.name}`}>
          <div class="row" style={{ justifyContent: 'space-between' }}>
            <h2 style={{ margin: 0 }}>
              {r.name} <span class="muted">· version {r.version}</span>
            </h2>
            <div class="row">
              <button class="secondary" aria-expanded={open === r.name} onClick={() => setOpen(open === r.name ? null : r.name)}>
                {open === r.name ? 'Hide dry run' : 'Dry run'}
              </button>
              {admin && <a {...linkTo(`/routes/${encodeURIComponent(r.name)}/edit`)}>Edit {r.name}</a>}
            </div>
          </div>
          <p class="muted">
            Strategy {r.strategy.toLowerCase().replace('_', '-')} · up to {r.maxAttempts} attempts · deadline {formatMs(r.deadlineMs)}
          </p>
          <div class="table-wrap">
            <table>
              <caption>Targets of {r.name}, in configured order</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Provider / model</th>
                  <th scope="col" class="num">Weight</th>
                  <th scope="col">Tier</th>
                  <th scope="col">Circuit</th>
                  <th scope="col">Provider health</th>
                  <th scope="col" class="num">p95 (rolling)</th>
                  <th scope="col" class="num">Error rate</th>
                </tr>
              </thead>
              <tbody>
                {r.targets.map((t, i) => {
                  const p: Provider | undefined = data.data?.providers.get(t.provider.id);
                  const circuit = p?.health.circuits.find((c) => c.model === t.model.name);
                  return (
                    <tr key={i}>
                      <td>{i + 1}</td>
                      <td class="mono">
                        {t.provider.id}/{t.model.name}
                      </td>
                      <td class="num">{t.weight}</td>
                      <td>{t.tier?.toLowerCase() ?? '–'}</td>
                      <td title={circuit?.reason ?? undefined}>{circuitBadge(circuit?.state)}</td>
                      <td>{p ? p.health.status.toLowerCase() : '–'}</td>
                      <td class="num">{formatMs(p?.health.p95LatencyMs)}</td>
                      <td class="num">{p ? `${formatPercent(p.health.errorRate)} of ${p.health.sampleSize}` : '–'}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {open === r.name && <DryRun client={client} route={r.name} />}
        </article>
      ))}
    </section>
  );
}
