import { AsyncLocalStorage } from 'node:async_hooks';
import {
  context,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type ContextManager,
  type Span,
  type SpanAttributeValue,
  type SpanContext,
  type SpanKind,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';

/**
 * A tiny in-memory tracer implementing the @opentelemetry/api interfaces, standing in for the SDK's
 * InMemorySpanExporter (the SDK packages are not installed). It records what the SDK would export:
 * name, kind, ids and parent, attributes, events, status, start and end times.
 */
export interface FinishedSpan {
  name: string;
  kind: SpanKind | undefined;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Attributes;
  events: { name: string; attributes: Attributes | undefined }[];
  status: SpanStatus | undefined;
  startTime: number;
  endTime: number;
}

const toMs = (t: TimeInput | undefined, fallback: number): number => {
  if (t === undefined) return fallback;
  if (typeof t === 'number') return t;
  if (t instanceof Date) return t.getTime();
  return t[0] * 1000 + t[1] / 1e6;
};

/** AsyncLocalStorage context manager (what NodeSDK registers), so startActiveSpan and context.with propagate. */
class AlsContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = (...args: unknown[]) => this.with(ctx, () => (target as (...a: unknown[]) => unknown)(...args));
    return run as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.als.disable();
    return this;
  }
}

let registered = false;
/** Registers the context manager globally (once per test file's process). */
export function enableContext(): void {
  if (!registered) context.setGlobalContextManager(new AlsContextManager().enable());
  registered = true;
}

export interface FakeTracer {
  tracer: Tracer;
  finished: FinishedSpan[];
  /** Open spans by name, to catch spans that never end. */
  open(): string[];
  byName(name: string): FinishedSpan[];
  one(name: string): FinishedSpan;
}

export function createFakeTracer(now: () => number = () => Date.now()): FakeTracer {
  let ids = 0;
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const finished: FinishedSpan[] = [];
  const live = new Set<FakeSpan>();

  class FakeSpan implements Span {
    readonly ctx: SpanContext;
    readonly record: Omit<FinishedSpan, 'endTime'> & { endTime?: number };
    constructor(name: string, opts: SpanOptions, parent: SpanContext | undefined) {
      const spanId = hex(++ids, 16);
      const traceId = parent?.traceId ?? hex(ids, 32);
      this.ctx = { traceId, spanId, traceFlags: TraceFlags.SAMPLED };
      this.record = {
        name,
        kind: opts.kind,
        traceId,
        spanId,
        parentSpanId: parent?.spanId,
        attributes: { ...opts.attributes },
        events: [],
        status: undefined,
        startTime: toMs(opts.startTime, now()),
      };
      live.add(this);
    }
    spanContext() {
      return this.ctx;
    }
    setAttribute(key: string, value: SpanAttributeValue) {
      this.record.attributes[key] = value;
      return this;
    }
    setAttributes(attrs: Attributes) {
      Object.assign(this.record.attributes, attrs);
      return this;
    }
    addEvent(name: string, attrs?: Attributes | TimeInput) {
      this.record.events.push({ name, attributes: typeof attrs === 'object' && !Array.isArray(attrs) && !(attrs instanceof Date) ? attrs : undefined });
      return this;
    }
    addLink() {
      return this;
    }
    addLinks() {
      return this;
    }
    setStatus(status: SpanStatus) {
      this.record.status = status;
      return this;
    }
    updateName(name: string) {
      this.record.name = name;
      return this;
    }
    end(endTime?: TimeInput) {
      if (!live.has(this)) throw new Error(`span ${this.record.name} ended twice`);
      live.delete(this);
      finished.push({ ...this.record, endTime: toMs(endTime, now()) });
    }
    isRecording() {
      return live.has(this);
    }
    recordException() {}
  }

  const tracer: Tracer = {
    startSpan(name, opts = {}, ctx = context.active()) {
      return new FakeSpan(name, opts, opts.root ? undefined : trace.getSpanContext(ctx));
    },
    startActiveSpan(name: string, ...rest: unknown[]) {
      const fn = rest.pop() as (span: Span) => unknown;
      const opts = (rest[0] ?? {}) as SpanOptions;
      const ctx = (rest[1] as Context | undefined) ?? context.active();
      const span = tracer.startSpan(name, opts, ctx);
      return context.with(trace.setSpan(ctx, span), fn, undefined, span);
    },
  } as Tracer;

  return {
    tracer,
    finished,
    open: () => [...live].map((s) => s.record.name),
    byName: (name) => finished.filter((s) => s.name === name),
    one(name) {
      const all = finished.filter((s) => s.name === name);
      if (all.length !== 1) throw new Error(`expected one span "${name}", found ${all.length}: ${finished.map((s) => s.name).join(', ')}`);
      return all[0]!;
    },
  };
}
