import type { PageProps } from '../app.tsx';
import { Chart, type ChartSeries } from '../chart.tsx';
import { formatInt, formatMs, formatPercent, formatUsd } from '../format.ts';
import { navigate } from '../router.ts';
import type { Client } from '../session.ts';
import { useAsync } from '../use-async.ts';

type UsageArgs = Parameters<Client['usage']>[0];
type Report = Awaited<ReturnType<Client['usage']>>;
type Stats = Report['totals'];
type Series = Report['series'][number];
/** What each point of a series carries (fewer figures than the totals: rates are computed here). */
type PointStats = Series['points'][number]['stats'];
type Interval = NonNullable<UsageArgs['interval']>;
type GroupBy = NonNullable<UsageArgs['groupBy']>[number];

const RANGES: Array<{ id: string; label: string; ms: number; interval: Interval; stepS: number }> = [
  { id: '15m', label: 'Last 15 minutes', ms: 15 * 60_000, interval: 'MINUTE', stepS: 60 },
  { id: '1h', label: 'Last hour', ms: 3_600_000, interval: 'MINUTE', stepS: 60 },
  { id: '24h', label: 'Last 24 hours', ms: 86_400_000, interval: 'HOUR', stepS: 3_600 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000, interval: 'HOUR', stepS: 3_600 },
];

const GROUPS: Array<{ id: GroupBy | ''; label: string; field?: keyof Series['group'] }> = [
  { id: '', label: 'Nothing (all traffic)' },
  { id: 'PROVIDER', label: 'Provider', field: 'provider' },
  { id: 'MODEL', label: 'Model', field: 'model' },
  { id: 'ROUTE', label: 'Route', field: 'route' },
  { id: 'API_KEY', label: 'API key', field: 'apiKey' },
  { id: 'TEAM', label: 'Team', field: 'team' },
  { id: 'OPERATION', label: 'Operation', field: 'operation' },
];

/** How often the overview reloads by itself. */
const REFRESH_MS = 5_000;

function setQuery(name: string, value: string): void {
  const q = new URLSearchParams(window.location.search);
  q.set(name, value);
  navigate(`/overview?${q.toString()}`, { replace: true });
}

/** Every bucket start (unix seconds) of [from, to) at the interval, so quiet buckets show as zero rather than as a gap. */
function buckets(fromMs: number, toMs: number, stepS: number): number[] {
  const xs: number[] = [];
  for (let t = Math.floor(fromMs / 1000 / stepS) * stepS; t * 1000 < toMs; t += stepS) xs.push(t);
  return xs;
}

export function Overview({ client }: PageProps) {
  const query = new URLSearchParams(window.location.search);
  const range = RANGES.find((r) => r.id === query.get('range')) ?? RANGES[1]!;
  const group = GROUPS.find((g) => g.id === (query.get('group') ?? '')) ?? GROUPS[0]!;
  const auto = query.get('auto') !== 'off';

  const usage = useAsync(
    async () => {
      const to = Date.now();
      const from = to - range.ms;
      const report = await client.usage({
        filter: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        groupBy: group.id ? [group.id] : [],
        interval: range.interval,
      });
      // The report says which range and grouping it answers: while the next one loads, the page shows this one as it is.
      return { report, from, to, range, group };
    },
    [range.id, group.id],
    auto ? REFRESH_MS : undefined,
  );

  const shown = usage.data;
  return (
    <section>
      <h1 tabIndex={-1}>Overview</h1>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="range">Time range</label>
          <select id="range" value={range.id} onChange={(e) => setQuery('range', e.currentTarget.value)}>
            {RANGES.map((r) => (
              <option key={r.id} value={r.id}>
                {r.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="group">Group by</label>
          <select id="group" value={group.id} onChange={(e) => setQuery('group', e.currentTarget.value)}>
            {GROUPS.map((g) => (
              <option key={g.id} value={g.id}>
                {g.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field inline">
          <input id="auto" type="checkbox" checked={auto} onChange={(e) => setQuery('auto', e.currentTarget.checked ? 'on' : 'off')} />
          <label for="auto">Refresh every {REFRESH_MS / 1000} s</label>
        </div>
        <button type="button" class="secondary" onClick={usage.reload}>
          Refresh now
        </button>
        <span class="muted" role="status" aria-live="polite">
          {usage.loading && !shown ? 'Loading…' : shown ? `As of ${new Date(shown.to).toLocaleTimeString()}` : ''}
        </span>
      </form>
      {usage.error && (
        <p class="notice bad" role="alert">
          {usage.error}
        </p>
      )}
      {shown && <Totals totals={shown.report.totals} />}
      {shown && <Charts report={shown.report} from={shown.from} to={shown.to} stepS={shown.range.stepS} field={shown.group.field} />}
      {shown?.group.field && <Breakdown report={shown.report} field={shown.group.field} label={shown.group.label} />}
    </section>
  );
}

function Totals({ totals }: { totals: Stats }) {
  const cards: Array<[string, string, string, number | null]> = [
    ['requests', 'Requests', formatInt(totals.requests), totals.requests],
    ['cost', 'Cost', formatUsd(totals.costUsd), totals.costUsd],
    ['tokens', 'Tokens', formatInt(totals.totalTokens), totals.totalTokens],
    ['error-rate', 'Error rate', formatPercent(totals.errorRate), totals.errorRate],
    ['cache-hit-rate', 'Cache hit rate', formatPercent(totals.cacheHitRate), totals.cacheHitRate],
    ['p50', 'Latency p50', formatMs(totals.latencyP50Ms), totals.latencyP50Ms ?? null],
    ['p95', 'Latency p95', formatMs(totals.latencyP95Ms), totals.latencyP95Ms ?? null],
    ['p99', 'Latency p99', formatMs(totals.latencyP99Ms), totals.latencyP99Ms ?? null],
  ];
  return (
    <div class="cards" aria-label="Totals over the range">
      {cards.map(([id, label, text, value]) => (
        <div class="card" key={id}>
          <div class="k" id={`total-${id}-label`}>
            {label}
          </div>
          <div class="v" data-testid={`total-${id}`} data-value={value ?? ''} aria-labelledby={`total-${id}-label`}>
            {text}
          </div>
        </div>
      ))}
      {totals.unpricedRequests > 0 && (
        <p class="muted" style={{ gridColumn: '1 / -1', margin: 0 }}>
          {formatInt(totals.unpricedRequests)} requests went to unpriced models and are not in the cost.
        </p>
      )}
    </div>
  );
}

type Field = NonNullable<(typeof GROUPS)[number]['field']>;

/** A share of the requests (null with no requests: nothing to rate). */
const rate = (part: number, requests: number): number | null => (requests > 0 ? part / requests : null);

function groupLabel(group: Series['group'], field: Field | undefined): string {
  if (!field) return 'all';
  return group[field] ?? '(none)';
}

interface ChartsProps {
  report: Report;
  from: number;
  to: number;
  stepS: number;
  field: Field | undefined;
}

function Charts({ report, from, to, stepS, field }: ChartsProps) {
  const xs = buckets(from, to, stepS);
  const index = new Map(xs.map((x, i) => [x, i]));
  /** One chart series per group: the stat of each bucket (`empty` where the group had no traffic). */
  const per = (pick: (s: PointStats) => number | null | undefined, empty: number | null): ChartSeries[] =>
    report.series.map((s) => {
      const values: Array<number | null> = xs.map(() => empty);
      for (const p of s.points) {
        const i = index.get(Math.floor(Date.parse(p.start) / 1000 / stepS) * stepS);
        if (i !== undefined) values[i] = pick(p.stats) ?? null;
      }
      return { label: groupLabel(s.group, field), values };
    });
  const latency: ChartSeries[] = field
    ? per((s) => s.latencyP95Ms, null).map((s) => ({ ...s, label: `${s.label} p95` }))
    : (['latencyP50Ms', 'latencyP95Ms'] as const).map((k, n) => ({ label: ['p50', 'p95'][n]!, values: per((s) => s[k], null)[0]?.values ?? xs.map(() => null) }));
  const pct = (n: number | null) => formatPercent(n);
  return (
    <div class="charts">
      <Chart title="Requests" xs={xs} series={per((s) => s.requests, 0)} format={formatInt} />
      <Chart title="Cost (USD)" xs={xs} series={per((s) => s.costUsd, 0)} format={formatUsd} />
      <Chart title="Tokens" xs={xs} series={per((s) => s.totalTokens, 0)} format={formatInt} />
      <Chart title="Error rate" xs={xs} series={per((s) => rate(s.errors, s.requests), null)} format={pct} dots />
      <Chart title="Cache hit rate" xs={xs} series={per((s) => rate(s.cacheHits, s.requests), null)} format={pct} dots />
      <Chart title={field ? 'Latency p95' : 'Latency p50 / p95'} xs={xs} series={latency} format={formatMs} dots />
    </div>
  );
}

function Breakdown({ report, field, label }: { report: Report; field: Field; label: string }) {
  const rows = [...report.series].sort((a, b) => b.totals.requests - a.totals.requests);
  return (
    <>
      <h2>By {label.toLowerCase()}</h2>
      <div class="table-wrap">
        <table data-testid="usage-breakdown">
          <thead>
            <tr>
              <th scope="col">{label}</th>
              <th scope="col" class="num">Requests</th>
              <th scope="col" class="num">Cost</th>
              <th scope="col" class="num">Tokens</th>
              <th scope="col" class="num">Error rate</th>
              <th scope="col" class="num">Cache hits</th>
              <th scope="col" class="num">p95</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={groupLabel(s.group, field)}>
                <th scope="row">{groupLabel(s.group, field)}</th>
                <td class="num">{formatInt(s.totals.requests)}</td>
                <td class="num">{formatUsd(s.totals.costUsd)}</td>
                <td class="num">{formatInt(s.totals.totalTokens)}</td>
                <td class="num">{formatPercent(rate(s.totals.errors, s.totals.requests))}</td>
                <td class="num">{formatPercent(rate(s.totals.cacheHits, s.totals.requests))}</td>
                <td class="num">{formatMs(s.totals.latencyP95Ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
