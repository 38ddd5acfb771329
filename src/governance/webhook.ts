import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { sleep as realSleep, type BudgetEvent } from '../core/index.ts';

export const SIGNATURE_HEADER = 'x-switchboard-signature';
export const TIMESTAMP_HEADER = 'x-switchboard-timestamp';
export const EVENT_ID_HEADER = 'x-switchboard-event-id';

/**
 * `sha256=<hex>`: HMAC-SHA256 with the secret over `<timestamp>.<raw body>`. The timestamp (unix seconds,
 * sent in X-Switchboard-Timestamp) is part of the signed material, so a captured delivery cannot be replayed
 * later under a fresh timestamp; receivers refuse timestamps too far from their clock.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface VerifyWebhookInput {
  secret: string;
  /** The raw request body, exactly as received. */
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
  /** Epoch ms (receivers' clock). */
  nowMs?: number;
  /** Largest accepted distance between the timestamp and now (default 5 minutes). */
  toleranceMs?: number;
}

/** What a receiver does: recompute the signature (constant-time compare) and check the timestamp is recent. */
export function verifyWebhook(input: VerifyWebhookInput): boolean {
  const { secret, body, timestamp, signature } = input;
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  const skew = Math.abs((input.nowMs ?? Date.now()) - Number(timestamp) * 1000);
  if (skew > (input.toleranceMs ?? 300_000)) return false;
  const want = Buffer.from(webhookSignature(secret, timestamp, body));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

export interface WebhookLogger {
  warn(obj: unknown, msg?: string): void;
  info?(obj: unknown, msg?: string): void;
}

export interface WebhookSenderOptions {
  url: string;
  secret: string;
  /** Deliveries per event, the first included. */
  maxAttempts: number;
  /** One attempt's time limit. */
  timeoutMs: number;
  /** Wait before attempt n+1 (n ≥ 1); default 500 ms doubling, at most 60 s. */
  backoffMs?: (attempt: number) => number;
  /** Tests inject a fake clock's sleep. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Epoch ms for the signed timestamp. */
  now?: () => number;
  logger?: WebhookLogger | undefined;
  dispatcher?: Dispatcher | undefined;
}

export interface WebhookSender {
  /** Queues the event; returns at once (deliveries run in the background, never on a request's path). */
  send(event: BudgetEvent): void;
  /** Resolves when every queued delivery has ended (delivered or given up). */
  idle(): Promise<void>;
  /** Stops: waiting retries are dropped (and logged). */
  close(): Promise<void>;
}

const defaultBackoff = (attempt: number) => Math.min(60_000, 500 * 2 ** (attempt - 1));

/** Whether a failed attempt is worth repeating: the receiver or the network may recover; a 4xx refusal will not. */
function retryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * Budget alerts POSTed to the configured webhook as JSON, signed (webhookSignature), retried with
 * exponential backoff until a 2xx or `maxAttempts`: at-least-once while this process runs (a receiver may
 * see an event twice, e.g. when a 2xx was lost; the event's `id` and X-Switchboard-Event-Id let it
 * deduplicate). Failures are logged with the URL's origin only: neither the secret nor a token in the
 * URL's path or query reaches the log.
 */
export function createWebhookSender(opts: WebhookSenderOptions): WebhookSender {
  const sleep = opts.sleep ?? realSleep;
  const now = opts.now ?? Date.now;
  const backoff = opts.backoffMs ?? defaultBackoff;
  const origin = new URL(opts.url).origin;
  const stop = new AbortController();
  const running = new Set<Promise<void>>();

  async function attempt(event: BudgetEvent, body: string): Promise<{ ok: boolean; retry: boolean; detail: string }> {
    const timestamp = String(Math.floor(now() / 1000));
    try {
      // undici's whole index is ~20 MiB resident: loaded only by a gateway that has a webhook to call.
      const { request } = await import('undici');
      const res = await request(opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'switchboard-webhook',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: webhookSignature(opts.secret, timestamp, body),
          [EVENT_ID_HEADER]: event.id,
        },
        body,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(opts.timeoutMs)]),
        ...(opts.dispatcher && { dispatcher: opts.dispatcher }),
      });
      await res.body.dump().catch(() => undefined);
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, retry: false, detail: String(res.statusCode) };
      return { ok: false, retry: retryable(res.statusCode), detail: `HTTP ${res.statusCode}` };
    } catch (e) {
      // Transport errors name the host at most; never the headers (the signature) or the body.
      const name = e instanceof Error ? (e as { code?: string }).code ?? e.name : 'error';
      return { ok: false, retry: true, detail: name };
    }
  }

  async function deliver(event: BudgetEvent): Promise<void> {
    const body = JSON.stringify(event);
    for (let n = 1; n <= opts.maxAttempts; n++) {
      if (stop.signal.aborted) break;
      const r = await attempt(event, body);
      if (r.ok) return;
      const last = !r.retry || n === opts.maxAttempts;
      opts.logger?.warn({ event: event.id, attempt: n, of: opts.maxAttempts, target: origin, failure: r.detail, giving_up: last }, 'budget alert webhook delivery failed');
      if (last) return;
      try {
        await sleep(backoff(n), stop.signal);
      } catch {
        break;
      }
    }
    if (stop.signal.aborted) opts.logger?.warn({ event: event.id, target: origin }, 'budget alert webhook delivery dropped at shutdown');
  }

  return {
    send(event) {
      if (stop.signal.aborted) return;
      const p = deliver(event).catch(() => undefined);
      running.add(p);
      void p.finally(() => running.delete(p));
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
    async close() {
      stop.abort();
      await Promise.all([...running]);
    },
  };
}
