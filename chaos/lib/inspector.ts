/**
 * A full garbage collection in the gateway process before its RSS is read, through the V8 inspector its
 * gateway was started with (`--inspect=127.0.0.1:<port>`, loopback only). An idle V8 runs no GC at all, so
 * without this the RSS after a case holds whatever garbage the case left and says nothing about what the
 * gateway retains. The session is closed right after: a connected debugger would hold the process at exit.
 */
import WebSocket from 'ws';

export interface HeapUsage {
  usedMiB: number;
  totalMiB: number;
}

async function debuggerUrl(port: number): Promise<string | undefined> {
  try {
    const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(3_000) })).json()) as Array<{ webSocketDebuggerUrl?: string }>;
    return list[0]?.webSocketDebuggerUrl;
  } catch {
    return undefined;
  }
}

/** Two full GCs, then the heap's used and total size; undefined when the inspector cannot be reached. */
export async function collectGarbage(port: number, timeoutMs = 10_000): Promise<HeapUsage | undefined> {
  const url = await debuggerUrl(port);
  if (!url) return undefined;
  const ws = new WebSocket(url);
  const pending = new Map<number, (v: unknown) => void>();
  let id = 0;
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as { id?: number; result?: unknown };
    if (m.id !== undefined) pending.get(m.id)?.(m.result);
  });
  ws.on('error', () => undefined);
  const call = (method: string) =>
    new Promise<unknown>((resolve) => {
      const n = ++id;
      pending.set(n, resolve);
      ws.send(JSON.stringify({ id: n, method }));
    });
  const work = (async () => {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const h = (await call('Runtime.getHeapUsage')) as { usedSize: number; totalSize: number };
    return { usedMiB: h.usedSize / 1048576, totalMiB: h.totalSize / 1048576 };
  })();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)))]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    ws.terminate();
  }
}
