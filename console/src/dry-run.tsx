import { useState } from 'preact/hooks';
import { errorText, formatMs, formatUsd } from './format.ts';
import type { Client } from './session.ts';

type Explanation = Awaited<ReturnType<Client['explainRoute']>>;
type Quality = NonNullable<Parameters<Client['explainRoute']>[0]['quality']>;

const QUALITIES: Quality[] = ['FAST', 'BALANCED', 'BEST'];

/**
 * explainRoute with a sample message: the candidates in the order they would be tried and the excluded
 * targets with the reason, from the router's own planning (no provider is called). It explains the route
 * as the gateway holds it, or, with `draft`, as the editor's fields describe it before it is saved.
 */
export function DryRun({ client, route, draft }: { client: Client; route: string; draft?: () => Parameters<Client['upsertRoute']>[0] }) {
  const [message, setMessage] = useState('Hello! Summarize the plot of Hamlet in two sentences.');
  const [task, setTask] = useState('');
  const [quality, setQuality] = useState<Quality>('BALANCED');
  const [result, setResult] = useState<{ plan: Explanation; at: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = `dry-${route.replace(/\W/g, '-')}`;

  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const plan = await client.explainRoute({ route, quality, ...(task.trim() && { task: task.trim() }), messages: [{ role: 'user', content: message }] }, draft && { draft: draft() });
      setResult({ plan, at: new Date().toLocaleTimeString() });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const plan = result?.plan;
  return (
    <form class="panel stack" onSubmit={run} aria-label={`Dry run of route ${route}`}>
      <h3>Dry run</h3>
      <p class="muted">{draft ? 'Where a request would go with the route as edited here, before saving it, without calling any provider (explainRoute with a draft).' : 'Where a request would go now, without calling any provider (explainRoute).'}</p>
      <div class="field">
        <label for={`${id}-message`}>Sample user message</label>
        <textarea id={`${id}-message`} value={message} onInput={(e) => setMessage(e.currentTarget.value)} rows={2} />
      </div>
      <div class="row">
        <div class="field">
          <label for={`${id}-task`}>Task (optional)</label>
          <input id={`${id}-task`} value={task} onInput={(e) => setTask(e.currentTarget.value)} placeholder="e.g. code" size={12} />
        </div>
        <div class="field">
          <label for={`${id}-quality`}>Quality</label>
          <select id={`${id}-quality`} value={quality} onChange={(e) => setQuality(e.currentTarget.value as Quality)}>
            {QUALITIES.map((q) => (
              <option key={q} value={q}>
                {q.toLowerCase()}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="secondary" disabled={busy} data-testid="dry-run-button">
          {busy ? 'Planning…' : 'Dry run'}
        </button>
      </div>
      {error && (
        <p class="notice bad" role="alert">
          {error}
        </p>
      )}
      <div aria-live="polite">
        {plan && (
          <div data-testid="dry-run-result" data-version={plan.routeVersion}>
            <p>
              Version {plan.routeVersion}, strategy {plan.strategy.toLowerCase().replace('_', '-')}, ~{plan.estimatedInputTokens} input tokens{' '}
              <span class="muted">(planned {result.at})</span>
            </p>
            <h4>Candidates, in the order they would be tried</h4>
            {plan.candidateDetails.length === 0 ? (
              <p class="error">No target can serve this request.</p>
            ) : (
              <ol data-testid="dry-run-candidates">
                {plan.candidateDetails.map((c, i) => (
                  <li key={i}>
                    <span class="mono" data-testid="dry-run-candidate">
                      {c.provider.id}/{c.model.name}
                    </span>{' '}
                    <span class="muted">
                      · expected {formatUsd(c.expectedCostUsd)} · p95 {formatMs(c.p95LatencyMs)} · circuit {c.circuit.toLowerCase().replace('_', '-')}
                    </span>
                  </li>
                ))}
              </ol>
            )}
            <h4>Excluded</h4>
            {plan.excluded.length === 0 ? (
              <p class="muted">None.</p>
            ) : (
              <ul data-testid="dry-run-excluded">
                {plan.excluded.map((x, i) => (
                  <li key={i}>
                    <span class="mono">
                      {x.provider.id}/{x.model.name}
                    </span>
                    : {x.reason}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
      </div>
    </form>
  );
}
