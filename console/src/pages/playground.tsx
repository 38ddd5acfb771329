import { useEffect, useRef, useState } from 'preact/hooks';
import type { PageProps } from '../app.tsx';
import { errorText, formatInt, formatMs, formatUsd } from '../format.ts';
import { linkTo } from '../router.ts';
import type { Client } from '../session.ts';
import { useAsync } from '../use-async.ts';

type Input = Parameters<Client['stream']>[0];
type Quality = NonNullable<Input['quality']>;
type StreamEvent = Client['stream'] extends (...args: never[]) => AsyncIterable<infer E> ? E : never;
type Done = Extract<StreamEvent, { type: 'done' }>;
type Failed = Extract<StreamEvent, { type: 'error' }>;

interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One line of the event log: what arrived besides text. */
interface LogLine {
  kind: 'start' | 'switch' | 'tool-call' | 'done' | 'error';
  text: string;
}

/** Sends a request as a stream (graphql-ws subscription): text as it arrives, switches, the terminal event and the cost. */
export function Playground({ client }: PageProps) {
  const targets = useAsync(async () => {
    const [routes, providers] = await Promise.all([client.routes(), client.providers()]);
    return { routes: routes.map((r) => r.name), models: providers.flatMap((p) => p.models.map((m) => m.id)) };
  }, []);
  const [mode, setMode] = useState<'route' | 'model'>('route');
  const [route, setRoute] = useState('');
  const [model, setModel] = useState('');
  const [task, setTask] = useState('');
  const [quality, setQuality] = useState<Quality>('BALANCED');
  const [messages, setMessages] = useState<Message[]>([
    { role: 'system', content: 'You are a concise assistant.' },
    { role: 'user', content: 'Write a short poem about switchboards.' },
  ]);
  const [output, setOutput] = useState('');
  const [deltas, setDeltas] = useState(0);
  const [log, setLog] = useState<LogLine[]>([]);
  const [terminal, setTerminal] = useState<Done | Failed | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const running = useRef<AbortController | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => () => running.current?.abort(), []);
  const routes = targets.data?.routes ?? [];
  const models = targets.data?.models ?? [];
  const chosenRoute = route || routes[0] || '';
  const chosenModel = model || models[0] || '';

  const send = async (e: Event) => {
    e.preventDefault();
    const controller = new AbortController();
    running.current = controller;
    setBusy(true);
    setOutput('');
    setDeltas(0);
    setLog([]);
    setTerminal(null);
    setFailure(null);
    const input: Input = {
      ...(mode === 'route' ? { route: chosenRoute } : { model: chosenModel }),
      ...(task.trim() && { task: task.trim() }),
      quality,
      messages: messages.filter((m) => m.content.trim() !== '').map((m) => ({ role: m.role, content: m.content })),
    };
    const add = (line: LogLine) => setLog((l) => [...l, line]);
    try {
      for await (const ev of client.stream(input, { signal: controller.signal })) {
        if (ev.type === 'text') {
          setOutput((o) => o + ev.text);
          setDeltas((n) => n + 1);
        }
        else if (ev.type === 'start') {
          // A pinned model runs on a synthetic route named after it: only a real route is worth naming.
          const via = ev.route.startsWith('model:') ? 'pinned model' : `route ${ev.route} v${ev.routeVersion}`;
          add({ kind: 'start', text: `started on ${ev.provider}/${ev.model} (${via})` });
        }
        else if (ev.type === 'switch') add({ kind: 'switch', text: `switched ${ev.from} → ${ev.to}: ${ev.errorCode} (${ev.reason})${ev.resumed ? ', resumed' : ''}` });
        else if (ev.type === 'tool-call') add({ kind: 'tool-call', text: `tool call #${ev.index}${ev.name ? ` ${ev.name}` : ''}: ${ev.argumentsDelta}` });
        else if (ev.type === 'done' || ev.type === 'error') {
          setTerminal(ev);
          add(ev.type === 'done' ? { kind: 'done', text: 'done' } : { kind: 'error', text: `error ${ev.code}: ${ev.message}` });
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) setFailure(errorText(err));
    } finally {
      running.current = null;
      setBusy(false);
    }
  };

  const setMessage = (i: number, patch: Partial<Message>) => setMessages(messages.map((m, j) => (j === i ? { ...m, ...patch } : m)));
  const done = terminal?.type === 'done' ? terminal.completion : null;

  return (
    <section>
      <h1 tabIndex={-1}>Playground</h1>
      <div class="two-col">
        <form class="stack" onSubmit={send} aria-label="Request">
          <fieldset class="row">
            <legend>Send to</legend>
            <label class="field inline">
              <input type="radio" name="mode" value="route" checked={mode === 'route'} onChange={() => setMode('route')} /> a route
            </label>
            <label class="field inline">
              <input type="radio" name="mode" value="model" checked={mode === 'model'} onChange={() => setMode('model')} /> a model (no routing)
            </label>
          </fieldset>
          <div class="row">
            {mode === 'route' ? (
              <div class="field">
                <label for="pg-route">Route</label>
                <select id="pg-route" value={chosenRoute} onChange={(e) => setRoute(e.currentTarget.value)}>
                  {routes.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              </div>
            ) : (
              <div class="field">
                <label for="pg-model">Model</label>
                <select id="pg-model" value={chosenModel} onChange={(e) => setModel(e.currentTarget.value)}>
                  {models.map((m) => (
                    <option key={m} value={m}>
                      {m}
                    </option>
                  ))}
                </select>
              </div>
            )}
            <div class="field">
              <label for="pg-task">Task (optional)</label>
              <input id="pg-task" value={task} onInput={(e) => setTask(e.currentTarget.value)} size={10} placeholder="e.g. code" />
            </div>
            <div class="field">
              <label for="pg-quality">Quality</label>
              <select id="pg-quality" value={quality} onChange={(e) => setQuality(e.currentTarget.value as Quality)}>
                {(['FAST', 'BALANCED', 'BEST'] as const).map((q) => (
                  <option key={q} value={q}>
                    {q.toLowerCase()}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <fieldset class="stack">
            <legend>Messages</legend>
            {messages.map((m, i) => (
              <div class="field" key={i}>
                <div class="row">
                  <label for={`pg-role-${i}`} class="sr-only">
                    Role of message {i + 1}
                  </label>
                  <select id={`pg-role-${i}`} value={m.role} onChange={(e) => setMessage(i, { role: e.currentTarget.value as Message['role'] })}>
                    <option value="system">system</option>
                    <option value="user">user</option>
                    <option value="assistant">assistant</option>
                  </select>
                  <button type="button" class="link" onClick={() => setMessages(messages.filter((_, j) => j !== i))} aria-label={`Remove message ${i + 1}`}>
                    remove
                  </button>
                </div>
                <label for={`pg-content-${i}`} class="sr-only">
                  Message {i + 1} ({m.role})
                </label>
                <textarea id={`pg-content-${i}`} value={m.content} onInput={(e) => setMessage(i, { content: e.currentTarget.value })} rows={m.role === 'system' ? 2 : 4} />
              </div>
            ))}
            <button type="button" class="secondary" onClick={() => setMessages([...messages, { role: 'user', content: '' }])}>
              Add message
            </button>
          </fieldset>
          <div class="row">
            <button type="submit" disabled={busy || (mode === 'route' ? !chosenRoute : !chosenModel)} data-testid="playground-send">
              {busy ? 'Streaming…' : 'Send'}
            </button>
            <button type="button" class="danger" disabled={!busy} onClick={() => running.current?.abort()}>
              Stop
            </button>
          </div>
          {targets.error && <p class="notice bad">{targets.error}</p>}
        </form>
        <div class="stack">
          <h2 style={{ marginTop: 0 }}>
            Answer <span class="muted" style={{ fontSize: '0.85rem', fontWeight: 400 }}>{deltas > 0 && `${deltas} text deltas`}</span>
          </h2>
          <pre class="output" data-testid="playground-output" aria-live="polite" aria-busy={busy}>
            {output}
          </pre>
          {failure && (
            <p class="notice bad" role="alert">
              {failure}
            </p>
          )}
          {terminal && (
            <div class={`notice${terminal.type === 'error' ? ' bad' : ''}`} data-testid="playground-terminal" data-type={terminal.type}>
              {terminal.type === 'error' ? (
                <p>
                  Ended with error <strong>{terminal.code}</strong>: {terminal.message}
                </p>
              ) : (
                done && (
                  <dl class="props">
                    <dt>Cost</dt>
                    <dd data-testid="playground-cost" data-value={done.costUsd ?? ''}>
                      {formatUsd(done.costUsd)}
                    </dd>
                    <dt>Served by</dt>
                    <dd class="mono">
                      {done.provider.id}/{done.model.name}
                    </dd>
                    <dt>Tokens</dt>
                    <dd>
                      {formatInt(done.usage.inputTokens)} in · {formatInt(done.usage.outputTokens)} out
                    </dd>
                    <dt>Latency</dt>
                    <dd>
                      {formatMs(done.latencyMs)}
                      {done.timeToFirstTokenMs != null && ` (first token ${formatMs(done.timeToFirstTokenMs)})`}
                    </dd>
                    <dt>Attempts</dt>
                    <dd>{done.attempts.length}</dd>
                    <dt>Completion</dt>
                    <dd>
                      <a {...linkTo(`/completions/${encodeURIComponent(done.id)}`)}>{done.id}</a>
                    </dd>
                  </dl>
                )
              )}
            </div>
          )}
          <h2>Events</h2>
          <ol class="events" data-testid="playground-events">
            {log.map((l, i) => (
              <li key={i} data-kind={l.kind}>
                {l.text}
              </li>
            ))}
          </ol>
        </div>
      </div>
    </section>
  );
}
