import { Worker } from 'node:worker_threads';
import type { ChatRequest } from '../core/index.ts';

/**
 * A tokenizer count of a request's input, for the one routing decision where the chars/4 estimate is not
 * good enough: whether a prompt fits a context window when the estimate is within 20% of a candidate's
 * limit (see `needsPreciseCount`). Ordinary requests never pay for it.
 *
 * js-tiktoken's o200k_base encoder takes about a second of CPU to build and ~1 µs per token to encode,
 * so it lives in a worker thread started on first need: the event loop (every other stream) never stalls.
 * o200k is OpenAI's tokenizer; Anthropic's and Google's count the same text somewhat higher, so the count
 * gets a 10% margin. If that is still short, the provider's context-length error sends the request on to
 * a larger window (the executor's `larger-window` fallback).
 */
export interface TokenCounter {
  count(req: ChatRequest): Promise<number>;
  close(): Promise<void>;
}

/** True when the cheap estimate is close enough (±20%) to some window that the verdict could flip. */
export function needsPreciseCount(estimate: number, maxOutput: number, windows: readonly number[]): boolean {
  const needed = estimate + maxOutput;
  return windows.some((w) => needed > w * 0.8 && needed < w * 1.2);
}

function textsOf(req: ChatRequest): { texts: string[]; extra: number } {
  const texts: string[] = [];
  let extra = 3;
  for (const m of req.messages) {
    extra += 4;
    const content = m.content;
    if (typeof content === 'string') texts.push(content);
    else if (Array.isArray(content)) {
      for (const p of content) {
        if (p.type === 'text') texts.push(p.text);
        else extra += 85;
      }
    }
    if (m.role === 'assistant' && m.toolCalls) for (const c of m.toolCalls) texts.push(c.name, c.arguments);
  }
  for (const t of req.tools ?? []) texts.push(t.name, t.description ?? '', JSON.stringify(t.parameters));
  if (req.responseFormat?.type === 'json_schema') texts.push(JSON.stringify(req.responseFormat.schema));
  return { texts, extra };
}

export function createTokenCounter(): TokenCounter {
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, { ok: (n: number) => void; fail: (e: unknown) => void }>();

  const start = (): Worker => {
    if (worker) return worker;
    // `.ts` when running the sources, `.js` from the build (dist/).
    const w = new Worker(new URL(`./token-count-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
    w.unref();
    w.on('message', (m: { id: number; tokens: number }) => {
      pending.get(m.id)?.ok(m.tokens);
      pending.delete(m.id);
    });
    const failAll = (e: unknown) => {
      for (const p of pending.values()) p.fail(e);
      pending.clear();
      worker = undefined;
    };
    w.on('error', failAll);
    w.on('exit', () => failAll(new Error('token counter exited')));
    worker = w;
    return w;
  };

  return {
    async count(req) {
      const { texts, extra } = textsOf(req);
      const id = nextId++;
      const tokens = await new Promise<number>((ok, fail) => {
        pending.set(id, { ok, fail });
        start().postMessage({ id, texts });
      });
      return Math.ceil(tokens * 1.1) + extra;
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}
