import { useState } from 'preact/hooks';
import type { PageProps } from '../app.tsx';
import { errorText, formatInt, formatMs, formatTime, formatUsd } from '../format.ts';
import { linkTo, navigate } from '../router.ts';
import type { Client } from '../session.ts';
import { useAsync } from '../use-async.ts';

type Page = Awaited<ReturnType<Client['completions']>>;
type Row = Page['edges'][number]['node'];
type Filter = NonNullable<NonNullable<Parameters<Client['completions']>[0]>['filter']>;

const PAGE_SIZE = 25;
const FILTERS = [
  { id: 'route', label: 'Route', hint: 'default' },
  { id: 'provider', label: 'Provider', hint: 'sim-openai' },
  { id: 'model', label: 'Model', hint: 'gpt-4o-mini' },
] as const;

function filterOf(q: URLSearchParams): Filter {
  const f: Filter = {};
  for (const { id } of FILTERS) {
    const v = q.get(id)?.trim();
    if (v) f[id] = v;
  }
  return f;
}

export function Completions({ client }: PageProps) {
  const query = new URLSearchParams(window.location.search);
  const filter = filterOf(query);
  const key = JSON.stringify(filter);
  const [more, setMore] = useState<{ key: string; rows: Row[]; after: string | null; error?: string }>({ key, rows: [], after: null });
  const first = useAsync(() => client.completions({ first: PAGE_SIZE, filter }), [key]);
  const extra = more.key === key ? more : { key, rows: [], after: null };
  const rows = [...(first.data?.edges.map((e) => e.node) ?? []), ...extra.rows];
  const pageInfo = extra.after !== null || extra.rows.length > 0 ? { endCursor: extra.after, hasNextPage: extra.after !== null } : first.data?.pageInfo;

  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const q = new URLSearchParams();
    for (const { id } of FILTERS) {
      const v = String(form.get(id) ?? '').trim();
      if (v) q.set(id, v);
    }
    const s = q.toString();
    navigate(`/completions${s ? `?${s}` : ''}`);
  };
  const loadMore = async () => {
    if (!pageInfo?.endCursor) return;
    try {
      const next = await client.completions({ first: PAGE_SIZE, after: pageInfo.endCursor, filter });
      setMore({ key, rows: [...extra.rows, ...next.edges.map((e) => e.node)], after: next.pageInfo.hasNextPage ? (next.pageInfo.endCursor ?? null) : null });
    } catch (err) {
      setMore({ ...extra, error: errorText(err) });
    }
  };

  return (
    <section>
      <h1 tabIndex={-1}>Completions</h1>
      <form class="toolbar" onSubmit={apply} key={key} aria-label="Filter completions">
        {FILTERS.map((f) => (
          <div class="field" key={f.id}>
            <label for={`filter-${f.id}`}>{f.label}</label>
            <input id={`filter-${f.id}`} name={f.id} defaultValue={filter[f.id] ?? ''} placeholder={f.hint} size={16} />
          </div>
        ))}
        <button type="submit">Filter</button>
        <button type="button" class="secondary" onClick={first.reload}>
          Refresh
        </button>
      </form>
      {first.error && (
        <p class="notice bad" role="alert">
          {first.error}
        </p>
      )}
      <div class="table-wrap">
        <table data-testid="completions-table">
          <caption>{first.loading && rows.length === 0 ? 'Loading…' : `${rows.length} most recent completions${key !== '{}' ? ' matching the filter' : ''}, newest first`}</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Route</th>
              <th scope="col">Provider / model</th>
              <th scope="col">Finish</th>
              <th scope="col" class="num">Tokens</th>
              <th scope="col" class="num">Cost</th>
              <th scope="col" class="num">Latency</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <tr key={c.id}>
                <td>{formatTime(c.createdAt)}</td>
                <td>
                  {c.route} <span class="muted">v{c.routeVersion}</span>
                </td>
                <td class="mono">
                  {c.provider.id}/{c.model.name}
                  {c.cached && <span class="badge ok"> cached</span>}
                </td>
                <td>{c.finishReason.toLowerCase().replace('_', ' ')}</td>
                <td class="num">{formatInt(c.usage.totalTokens)}</td>
                <td class="num">{formatUsd(c.costUsd)}</td>
                <td class="num">{formatMs(c.latencyMs)}</td>
                <td>
                  <a {...linkTo(`/completions/${encodeURIComponent(c.id)}`)} aria-label={`Details of completion ${c.id}`}>
                    Open
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {extra.error && (
        <p class="notice bad" role="alert">
          {extra.error}
        </p>
      )}
      {pageInfo?.hasNextPage && (
        <p>
          <button class="secondary" onClick={loadMore}>
            Load more
          </button>
        </p>
      )}
    </section>
  );
}

export function CompletionDetail({ client, id }: PageProps & { id: string }) {
  const c = useAsync(() => client.completion(id), [id]);
  const data = c.data;
  return (
    <section>
      <p>
        <a {...linkTo('/completions')}>← Completions</a>
      </p>
      <h1 tabIndex={-1}>
        Completion <span class="mono">{id}</span>
      </h1>
      {c.error && (
        <p class="notice bad" role="alert">
          {c.error}
        </p>
      )}
      {c.loading && !data && <p role="status">Loading…</p>}
      {!c.loading && data === null && <p class="notice">No such completion, or your key may not see it.</p>}
      {data && (
        <div class="stack">
          <dl class="props" data-testid="completion-detail">
            <dt>Route</dt>
            <dd>
              {data.route} (version {data.routeVersion})
            </dd>
            <dt>Provider / model</dt>
            <dd class="mono">
              {data.provider.id}/{data.model.name} <span class="muted">(upstream: {data.upstreamModel})</span>
            </dd>
            <dt>Finish reason</dt>
            <dd>{data.finishReason}</dd>
            <dt>Cost</dt>
            <dd data-testid="completion-cost">
              {formatUsd(data.costUsd)} <span class="muted">(price: {data.priceSource.toLowerCase()})</span>
            </dd>
            <dt>Tokens</dt>
            <dd>
              {formatInt(data.usage.inputTokens)} in ({formatInt(data.usage.cachedInputTokens)} cached) · {formatInt(data.usage.outputTokens)} out
              {data.usage.estimated && ' (estimated)'}
            </dd>
            <dt>Latency</dt>
            <dd>
              {formatMs(data.latencyMs)}
              {data.timeToFirstTokenMs != null && ` · first token after ${formatMs(data.timeToFirstTokenMs)}`}
            </dd>
            <dt>Cached</dt>
            <dd>{data.cached ? 'yes (cache hit)' : 'no'}</dd>
            <dt>Trace id</dt>
            <dd class="mono" data-testid="completion-trace">
              {data.traceId ?? '– (tracing off)'}
            </dd>
            <dt>Created</dt>
            <dd>{formatTime(data.createdAt)}</dd>
          </dl>
          <h2>Attempts (the fallback chain)</h2>
          {data.attempts.length === 0 ? (
            <p class="muted">No attempts recorded (a cache hit, or a completion read from the usage ledger).</p>
          ) : (
            <div class="table-wrap">
              <table data-testid="attempts-table">
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Provider / model</th>
                    <th scope="col">Status</th>
                    <th scope="col">Error</th>
                    <th scope="col" class="num">Waited</th>
                    <th scope="col" class="num">Latency</th>
                    <th scope="col" class="num">Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {data.attempts.map((a, i) => (
                    <tr key={i}>
                      <td>{i + 1}</td>
                      <td class="mono">
                        {a.provider.id}/{a.model.name}
                      </td>
                      <td>
                        <span class={`badge ${a.status === 'OK' ? 'ok' : 'bad'}`}>{a.status.toLowerCase()}</span>
                        {a.resumed && ' (resumed)'}
                      </td>
                      <td>{[a.errorCode, a.validationError].filter(Boolean).join(': ') || '–'}</td>
                      <td class="num">{formatMs(a.retryDelayMs)}</td>
                      <td class="num">{formatMs(a.latencyMs)}</td>
                      <td class="num">{a.costUsd == null && a.status !== 'OK' ? '–' : formatUsd(a.costUsd)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <h2>Answer</h2>
          {data.message.content ? <pre>{data.message.content}</pre> : <p class="muted">No text kept (completions made over REST or on another instance keep no message).</p>}
          {data.message.toolCalls.length > 0 && (
            <>
              <h3>Tool calls</h3>
              <pre>{data.message.toolCalls.map((t) => `${t.name}(${t.arguments})`).join('\n')}</pre>
            </>
          )}
        </div>
      )}
    </section>
  );
}
