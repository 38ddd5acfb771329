import { useState } from 'preact/hooks';
import { errorText } from '../format.ts';

interface SignInProps {
  notice?: string | undefined;
  onSignIn(key: string): Promise<void>;
}

/** Asks for an API key; the gateway checks it (viewer query) before the console keeps it for this tab. */
export function SignIn({ notice, onSignIn }: SignInProps) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSignIn(key.trim());
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="stack" style={{ maxWidth: '32rem' }}>
      <h1>Sign in to Switchboard</h1>
      {notice && <p class="notice bad">{notice}</p>}
      <p>
        Paste an API key of this gateway (a <code>keys:</code> entry of its config, or one made with <code>createApiKey</code>). It is kept in this
        tab only (sessionStorage) and sent to this gateway alone. Admin keys see every page; client keys see their own usage, completions and routes.
      </p>
      <form onSubmit={submit} class="stack">
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            autocomplete="off"
            required
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'api-key-error' : undefined}
          />
          {error && (
            <span id="api-key-error" class="field-error" role="alert">
              {error}
            </span>
          )}
        </div>
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
