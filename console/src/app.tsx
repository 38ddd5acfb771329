import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './format.ts';
import { CompletionDetail, Completions } from './pages/completions.tsx';
import { Keys } from './pages/keys.tsx';
import { Overview } from './pages/overview.tsx';
import { Playground } from './pages/playground.tsx';
import { RouteEditor } from './pages/route-editor.tsx';
import { Routes } from './pages/routes.tsx';
import { SignIn } from './pages/sign-in.tsx';
import { linkTo, navigate, useLocation } from './router.ts';
import { clientFor, storedKey, storeKey, type Client } from './session.ts';

export type Viewer = Awaited<ReturnType<Client['viewer']>>;

/** What every page gets: the client (with the tab's key) and who the key belongs to. */
export interface PageProps {
  client: Client;
  viewer: Viewer;
}

type Session = { state: 'loading' } | { state: 'signed-out'; notice?: string } | { state: 'failed'; message: string } | { state: 'ready'; client: Client; viewer: Viewer };

const NAV: Array<{ path: string; label: string; admin?: boolean }> = [
  { path: '/overview', label: 'Overview' },
  { path: '/completions', label: 'Completions' },
  { path: '/routes', label: 'Routes' },
  { path: '/keys', label: 'Keys', admin: true },
  { path: '/playground', label: 'Playground' },
];

const isAuthError = (e: unknown) => (e as { code?: string }).code === 'UNAUTHENTICATED' || (e as { status?: number }).status === 401;

/** Tries a key (or none, for local mode): the viewer it belongs to. */
async function signIn(key: string | undefined): Promise<{ client: Client; viewer: Viewer }> {
  const client = clientFor(key);
  return { client, viewer: await client.viewer() };
}

export function App() {
  const [session, setSession] = useState<Session>({ state: 'loading' });
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const firstPath = useRef(path);

  const start = (key: string | undefined) => {
    setSession({ state: 'loading' });
    signIn(key).then(
      (s) => setSession({ state: 'ready', ...s }),
      (e: unknown) => {
        if (!isAuthError(e)) return setSession({ state: 'failed', message: errorText(e) });
        storeKey(undefined);
        setSession({ state: 'signed-out', ...(key !== undefined && { notice: 'The stored API key was refused; sign in again.' }) });
      },
    );
  };

  useEffect(() => {
    const key = storedKey();
    if (key !== undefined) return start(key);
    // Without a key, ask the gateway whether it runs in local mode (no keys at all) rather than trying the
    // API keyless: a refused probe would be a 401 in the browser's console on every first visit.
    fetch(new URL('session.json', new URL('/console/', location.href)))
      .then((r) => (r.ok ? (r.json() as Promise<{ localMode?: boolean }>) : { localMode: false }))
      .then(
        (s) => (s.localMode ? start(undefined) : setSession({ state: 'signed-out' })),
        () => start(undefined),
      );
  }, []);

  // A new page moves keyboard focus to its heading, as a page load would (not on the first page).
  useEffect(() => {
    if (path === firstPath.current) return;
    firstPath.current = path;
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [path]);

  // The console's root is the overview.
  const atRoot = path === '/' || path === '';
  useEffect(() => {
    if (atRoot) navigate('/overview', { replace: true });
  }, [atRoot]);
  if (atRoot) return null;
  if (session.state === 'loading') return <p class="notice" role="status">Connecting to the gateway…</p>;
  if (session.state === 'failed') {
    return (
      <main>
        <h1>Cannot reach the gateway</h1>
        <p class="notice bad" role="alert">{session.message}</p>
        <button onClick={() => start(storedKey())}>Try again</button>
      </main>
    );
  }
  if (session.state === 'signed-out') {
    return (
      <SignIn
        notice={session.notice}
        onSignIn={async (key) => {
          const s = await signIn(key);
          storeKey(key);
          setSession({ state: 'ready', ...s });
        }}
      />
    );
  }

  const { client, viewer } = session;
  const admin = viewer.scope === 'ADMIN';
  const signOut = () => {
    storeKey(undefined);
    void client.close();
    setSession({ state: 'signed-out' });
  };
  const page = pageFor(path, { client, viewer }, admin);
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" {...linkTo('/overview')}>
          Switchboard
        </a>
        <nav class="main" aria-label="Console">
          <ul>
            {NAV.filter((n) => admin || !n.admin).map((n) => (
              <li key={n.path}>
                <a {...linkTo(n.path)} aria-current={path === n.path || path.startsWith(`${n.path}/`) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="whoami" data-testid="viewer">
          <span>
            {viewer.localMode ? 'local mode' : viewer.name} · <span class="badge">{admin ? 'admin' : 'client'}</span>
          </span>
          {!viewer.localMode && (
            <button class="secondary" onClick={signOut}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main id="main" ref={main}>
        {page}
      </main>
    </>
  );
}

function AdminOnly() {
  return (
    <section>
      <h1 tabIndex={-1}>Admin only</h1>
      <p class="notice bad" data-testid="admin-only">
        This page is admin only: the API key you signed in with is a client key.
      </p>
    </section>
  );
}

function pageFor(path: string, props: PageProps, admin: boolean) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [section, id, action] = parts;
  switch (section) {
    case 'overview':
      return <Overview {...props} />;
    case 'completions':
      return id ? <CompletionDetail {...props} id={id} /> : <Completions {...props} />;
    case 'routes':
      if (id === undefined) return <Routes {...props} />;
      if (!admin) return <AdminOnly />;
      // Keyed by route: another route's editor starts from that route, not from this one's draft.
      return id === 'new' ? <RouteEditor key="" {...props} name={undefined} /> : action === 'edit' ? <RouteEditor key={id} {...props} name={id} /> : <NotFound />;
    case 'keys':
      return admin ? <Keys {...props} /> : <AdminOnly />;
    case 'playground':
      return <Playground {...props} />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  return (
    <section>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        <a {...linkTo('/overview')}>Back to the overview</a>
      </p>
    </section>
  );
}
