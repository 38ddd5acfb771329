import { useEffect, useState } from 'preact/hooks';

/** The console lives under /console/; the gateway answers every page path there with index.html. */
export const BASE = '/console';

/** The page path below /console ('/overview', '/routes/default/edit', …); '/' for the console's root. */
function currentPath(): string {
  const p = window.location.pathname;
  const rest = p.startsWith(BASE) ? p.slice(BASE.length) : p;
  return rest === '' ? '/' : rest;
}

const listeners = new Set<() => void>();

/** Moves to a page of the console (pushes a history entry) and moves keyboard focus to the new page's heading. */
export function navigate(path: string, { replace = false } = {}): void {
  const url = `${BASE}${path}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const l of listeners) l();
}

window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

/** The current page path and query, re-rendering on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return { path: currentPath(), query: new URLSearchParams(window.location.search) };
}

/** Props of an in-app link: a real href (open in new tab works) whose plain clicks navigate without a reload. */
export function linkTo(path: string): { href: string; onClick: (e: MouseEvent) => void } {
  return {
    href: `${BASE}${path}`,
    onClick: (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(path);
    },
  };
}
