import { context, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';

export interface TestSdk {
  tracer: Tracer;
  exporter: InMemorySpanExporter;
  spans(): ReadableSpan[];
  shutdown(): Promise<void>;
}

/**
 * What NodeSDK sets up, with an in-memory exporter: a tracer provider exporting each span as it ends,
 * the AsyncLocalStorage context manager and the undici instrumentation (HTTP
 * client spans of the provider adapters).
 */
export function startTestSdk(): TestSdk {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const undici = new UndiciInstrumentation();
  undici.setTracerProvider(provider);
  undici.enable();
  return {
    tracer: provider.getTracer('switchboard-test'),
    exporter,
    spans: () => exporter.getFinishedSpans(),
    async shutdown() {
      undici.disable();
      await provider.shutdown();
      context.disable();
    },
  };
}

export const spanId = (s: ReadableSpan) => s.spanContext().spanId;
export const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;
export const children = (all: readonly ReadableSpan[], parent: ReadableSpan) => all.filter((s) => parentId(s) === spanId(parent));
export const msOf = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
