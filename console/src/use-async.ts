import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './format.ts';

export interface AsyncState<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  /** Loads again now (keeps showing the last data meanwhile). */
  reload(): void;
}

/**
 * Runs `load` when `deps` change and, with `refreshMs`, again every `refreshMs` after the previous load
 * finished (never two at once). A load whose deps changed meanwhile is dropped.
 */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[], refreshMs?: number): AsyncState<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    const mine = ++generation.current;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState((s) => ({ ...s, loading: true }));
    const run = () => {
      loadRef.current().then(
        (data) => {
          if (mine !== generation.current) return;
          setState({ data, error: undefined, loading: false });
        },
        (e: unknown) => {
          if (mine !== generation.current) return;
          setState((s) => ({ data: s.data, error: errorText(e), loading: false }));
        },
      ).finally(() => {
        if (mine === generation.current && refreshMs) timer = setTimeout(run, refreshMs);
      });
    };
    run();
    return () => {
      generation.current++;
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick, refreshMs]);

  return { ...state, reload };
}
