import { shuttingDownError } from '../gateway/end-on-shutdown.ts';

/**
 * What the transports share for a graceful shutdown: REST streams and GraphQL operations hold it while
 * they run, so the server knows when the last one is over, and their stream writers watch `signal`, which
 * aborts at the end of the grace period so each open stream ends with its protocol's typed terminal event.
 */
export interface StreamShutdown {
  /** Aborted, with a `shutting_down` GatewayError as its reason, when the grace period is over. */
  readonly signal: AbortSignal;
  /** Counts a stream as open until the returned release is called (calling it again does nothing). */
  hold(): () => void;
}

export interface StreamShutdownControl extends StreamShutdown {
  /** Streams held now. */
  readonly open: number;
  /** Resolves true once nothing is held, false if something still is after `ms`. */
  idle(ms: number): Promise<boolean>;
  /** Ends the open streams: aborts `signal`. */
  cut(): void;
}

export function createStreamShutdown(): StreamShutdownControl {
  const controller = new AbortController();
  let open = 0;
  const waiters = new Set<() => void>();
  const settle = () => {
    if (open > 0) return;
    for (const w of [...waiters]) w();
  };
  return {
    signal: controller.signal,
    get open() {
      return open;
    },
    hold() {
      open++;
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        open--;
        settle();
      };
    },
    idle(ms) {
      if (open === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = (idle: boolean) => {
          clearTimeout(timer);
          waiters.delete(onIdle);
          resolve(idle);
        };
        const onIdle = () => done(true);
        const timer = setTimeout(() => done(open === 0), ms);
        waiters.add(onIdle);
      });
    },
    cut() {
      if (!controller.signal.aborted) controller.abort(shuttingDownError());
    },
  };
}
