import { useState } from 'preact/hooks';
import type { PageProps } from '../app.tsx';
import { errorText, formatTime } from '../format.ts';
import type { Client } from '../session.ts';
import { useAsync } from '../use-async.ts';

type KeyInput = Parameters<Client['createApiKey']>[0];
type Scope = NonNullable<KeyInput['scope']>;

/** "a, b , c" → ['a', 'b', 'c']; empty → undefined (no restriction). */
function list(s: string): string[] | undefined {
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return items.length > 0 ? items : undefined;
}

/** Runtime API keys (admin only): create one (its secret is shown once, here) and revoke. */
export function Keys({ client }: PageProps) {
  const keys = useAsync(() => client.apiKeys(), []);
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState('');

  const create = async (e: Event) => {
    e.preventDefault();
    const formEl = e.currentTarget as HTMLFormElement;
    const form = new FormData(formEl);
    setBusy(true);
    setError(null);
    setCreated(null);
    try {
      const routes = list(String(form.get('routes') ?? ''));
      const models = list(String(form.get('models') ?? ''));
      const team = String(form.get('team') ?? '').trim();
      const input: KeyInput = {
        name: String(form.get('name') ?? '').trim(),
        scope: String(form.get('scope')) as Scope,
        ...(routes && { routes }),
        ...(models && { models }),
        ...(team && { team }),
      };
      const result = await client.createApiKey(input);
      setCreated({ name: result.key.name, secret: result.secret });
      formEl.reset();
      keys.reload();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (id: string, name: string) => {
    if (!window.confirm(`Revoke the key "${name}"? Requests with it stop working at once on this instance, and on the others within the key cache TTL.`)) return;
    try {
      const done = await client.revokeApiKey(id);
      setStatus(done ? `Revoked ${name}.` : `${name} was already revoked.`);
      keys.reload();
    } catch (err) {
      setStatus(`Could not revoke ${name}: ${errorText(err)}`);
    }
  };

  return (
    <section>
      <h1 tabIndex={-1}>API keys</h1>
      <form class="panel stack" onSubmit={create} aria-label="Create an API key">
        <h2 style={{ marginTop: 0 }}>Create a key</h2>
        <div class="row">
          <div class="field">
            <label for="key-name">Name</label>
            <input id="key-name" name="name" required size={16} />
          </div>
          <div class="field">
            <label for="key-scope">Scope</label>
            <select id="key-scope" name="scope" defaultValue="CLIENT">
              <option value="CLIENT">client</option>
              <option value="ADMIN">admin</option>
            </select>
          </div>
          <div class="field">
            <label for="key-routes">Routes (comma-separated; empty: all)</label>
            <input id="key-routes" name="routes" size={18} />
          </div>
          <div class="field">
            <label for="key-models">Models it may pin (empty: its routes' targets)</label>
            <input id="key-models" name="models" size={18} />
          </div>
          <div class="field">
            <label for="key-team">Team</label>
            <input id="key-team" name="team" size={10} />
          </div>
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </div>
        {error && (
          <p class="notice bad" role="alert">
            {error}
          </p>
        )}
        {created && (
          <div class="notice" role="status">
            <p>
              <strong>Key {created.name} created.</strong> Copy its secret now: it is shown only this once and cannot be read again.
            </p>
            <p class="secret mono" data-testid="created-secret">
              {created.secret}
            </p>
            <button type="button" class="secondary" onClick={() => void navigator.clipboard?.writeText(created.secret)}>
              Copy secret
            </button>
          </div>
        )}
      </form>
      <p role="status" aria-live="polite">
        {status}
      </p>
      {keys.error && (
        <p class="notice bad" role="alert">
          {keys.error}
        </p>
      )}
      <div class="table-wrap">
        <table data-testid="keys-table">
          <caption>Keys made at run time (keys from the config file are not listed)</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scope</th>
              <th scope="col">Prefix</th>
              <th scope="col">Routes</th>
              <th scope="col">Team</th>
              <th scope="col">Created</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {keys.data?.map((k) => (
              <tr key={k.id}>
                <th scope="row">{k.name}</th>
                <td>{k.scope.toLowerCase()}</td>
                <td class="mono">{k.prefix}…</td>
                <td>{k.routes?.join(', ') ?? 'all'}</td>
                <td>{k.team ?? '–'}</td>
                <td>{formatTime(k.createdAt)}</td>
                <td>
                  {k.revokedAt ? (
                    <span class="badge bad">revoked {formatTime(k.revokedAt)}</span>
                  ) : (
                    <button class="danger" onClick={() => void revoke(k.id, k.name)} aria-label={`Revoke key ${k.name}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
