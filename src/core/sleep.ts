/**
 * Waits `ms`, or rejects with the signal's reason as soon as it aborts (the router's backoff and
 * retry-after waits end when the client goes away). Tests inject a fake clock's sleep instead.
 */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((ok, fail) => {
    if (signal?.aborted) return fail(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      ok();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      fail(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

