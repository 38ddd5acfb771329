import type { IncomingHttpHeaders } from 'node:http';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { spanClock } from './tracing.ts';

const headerGetter = {
  keys: (h: IncomingHttpHeaders) => Object.keys(h),
  get: (h: IncomingHttpHeaders, key: string) => h[key],
};

/**
 * The HTTP server span of one request, continuing the caller's trace (W3C `traceparent`, through the
 * globally registered propagator), with `fn` run inside it. Made by hand rather than by patching
 * node:http, which under ESM needs a loader hook. `route` is the matched route template, never the
 * raw URL (no query strings, no ids).
 */
export async function withServerSpan<T>(
  tracer: Tracer,
  req: { method: string; route: string; headers: IncomingHttpHeaders },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(context.active(), req.headers, headerGetter);
  const span = tracer.startSpan(
    `${req.method} ${req.route}`,
    { kind: SpanKind.SERVER, startTime: spanClock(), attributes: { 'http.request.method': req.method, 'http.route': req.route } },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    span.end(spanClock());
  }
}
