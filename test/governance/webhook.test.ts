/**
 * Budget alert webhooks: the signature scheme a receiver verifies, retries with exponential backoff (a fake
 * sleep: no real waiting), no retry on a 4xx refusal, and failure logs that never hold the secret or the URL's
 * path and query.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BudgetEvent } from '../../src/core/index.ts';
import { createBudgetAlerts } from '../../src/governance/budget-alerts.ts';
import { createWebhookSender, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook, webhookSignature } from '../../src/governance/webhook.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';

const SECRET = 'whsec-0123456789abcdef-very-secret';
const EVENT: BudgetEvent = {
  id: 'key:web:day:2025-06-01:SOFT_THRESHOLD',
  lineId: 'key:web:day:2025-06-01',
  subjectKind: 'key',
  subject: 'web',
  event: 'SOFT_THRESHOLD',
  spentUsd: 0.81,
  limitUsd: 1,
  at: '2025-06-01T12:00:00.000Z',
};

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A loopback receiver answering each delivery with the next status of `statuses` (the last one repeats; 0 = never answer). */
async function receiver(statuses: number[]): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)]!;
      if (status === 0) return;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

function fakeSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

function logs() {
  const lines: string[] = [];
  return { lines, logger: { warn: (obj: unknown, msg?: string) => lines.push(`${msg} ${JSON.stringify(obj)}`) } };
}

describe('signature', () => {
  it('is sha256=HMAC(secret, "<timestamp>.<raw body>"); a receiver refuses a changed body, another secret, a stale or missing timestamp', () => {
    const body = JSON.stringify(EVENT);
    const ts = '1748779200';
    const sig = webhookSignature(SECRET, ts, body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    const nowMs = 1748779200_000 + 10_000;
    expect(verifyWebhook({ secret: SECRET, body, timestamp: ts, signature: sig, nowMs })).toBe(true);
    expect(verifyWebhook({ secret: SECRET, body: body.replace('0.81', '0.01'), timestamp: ts, signature: sig, nowMs })).toBe(false);
    expect(verifyWebhook({ secret: `${SECRET}x`, body, timestamp: ts, signature: sig, nowMs })).toBe(false);
    // A replay of a captured delivery: the signature is bound to its timestamp, which is now too old.
    expect(verifyWebhook({ secret: SECRET, body, timestamp: ts, signature: sig, nowMs: nowMs + 600_000 })).toBe(false);
    expect(verifyWebhook({ secret: SECRET, body, timestamp: String(Number(ts) + 600), signature: sig, nowMs: nowMs + 600_000 })).toBe(false);
    expect(verifyWebhook({ secret: SECRET, body, timestamp: undefined, signature: sig, nowMs })).toBe(false);
  });
});

describe('delivery', () => {
  it('POSTs the event as signed JSON; retries 5xx with exponential backoff until a 2xx', async () => {
    const r = await receiver([500, 503, 204]);
    servers.push(r.server);
    const { waits, sleep } = fakeSleep();
    const { lines, logger } = logs();
    const sender = createWebhookSender({ url: `${r.url}/hooks/budget`, secret: SECRET, maxAttempts: 5, timeoutMs: 5_000, sleep, logger });
    sender.send(EVENT);
    await sender.idle();
    expect(r.received).toHaveLength(3);
    expect(waits).toEqual([500, 1_000]);
    for (const d of r.received) {
      expect(d.headers['content-type']).toBe('application/json');
      expect(d.headers[EVENT_ID_HEADER]).toBe(EVENT.id);
      expect(JSON.parse(d.body)).toEqual(EVENT);
      const ok = verifyWebhook({ secret: SECRET, body: d.body, timestamp: d.headers[TIMESTAMP_HEADER] as string, signature: d.headers[SIGNATURE_HEADER] as string });
      expect(ok).toBe(true);
    }
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('HTTP 500');
    await sender.close();
  });

  it('does not retry a 4xx refusal; logs name the origin only, never the secret, the path or the query', async () => {
    const r = await receiver([401]);
    servers.push(r.server);
    const { waits, sleep } = fakeSleep();
    const { lines, logger } = logs();
    const sender = createWebhookSender({ url: `${r.url}/t/tok-abcdef?sig=zzz`, secret: SECRET, maxAttempts: 5, timeoutMs: 5_000, sleep, logger });
    sender.send(EVENT);
    await sender.idle();
    expect(r.received).toHaveLength(1);
    expect(waits).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(r.url);
    expect(lines[0]).toContain('"giving_up":true');
    for (const secretish of [SECRET, 'tok-abcdef', 'zzz', 'sha256=']) expect(lines[0]).not.toContain(secretish);
  });

  it('retries a receiver that is down or does not answer in time, up to maxAttempts', async () => {
    const silent = await receiver([0]);
    servers.push(silent.server);
    const { waits, sleep } = fakeSleep();
    const { lines, logger } = logs();
    const sender = createWebhookSender({ url: silent.url, secret: SECRET, maxAttempts: 2, timeoutMs: 150, sleep, logger });
    sender.send(EVENT);
    await sender.idle();
    expect(silent.received).toHaveLength(2);
    expect(waits).toEqual([500]);

    const down = await receiver([200]);
    await new Promise((res) => down.server.close(res));
    const refused = createWebhookSender({ url: down.url, secret: SECRET, maxAttempts: 3, timeoutMs: 1_000, sleep, logger });
    refused.send(EVENT);
    await refused.idle();
    expect(lines.filter((l) => l.includes('ECONNREFUSED'))).toHaveLength(3);
    for (const l of lines) expect(l).not.toContain(SECRET);
  });

  it('close() drops the retries still waiting, at once', async () => {
    const r = await receiver([500]);
    servers.push(r.server);
    const { lines, logger } = logs();
    const sender = createWebhookSender({ url: r.url, secret: SECRET, maxAttempts: 5, timeoutMs: 5_000, backoffMs: () => 3_600_000, logger });
    sender.send(EVENT);
    while (r.received.length === 0) await new Promise((res) => setTimeout(res, 5));
    await sender.close();
    expect(r.received).toHaveLength(1);
    expect(lines.at(-1)).toContain('dropped at shutdown');
  });
});

describe('budget alerts', () => {
  it('an alert the store let this instance fire is published to every subscriber and delivered once to the webhook', async () => {
    const r = await receiver([200]);
    servers.push(r.server);
    const store = createMemoryStore();
    const webhook = createWebhookSender({ url: r.url, secret: SECRET, maxAttempts: 2, timeoutMs: 5_000 });
    const alerts = createBudgetAlerts({ bus: store.alerts, webhook, now: () => Date.parse(EVENT.at) });
    const seen: BudgetEvent[] = [];
    alerts.subscribe((e) => seen.push(e));
    alerts.fire([{ lineId: EVENT.lineId, kind: 'soft', spentUsd: 0.81, limitUsd: 1 }], (id) =>
      id === EVENT.lineId ? { id: 'key:web', kind: 'key', name: 'web', source: 'config' } : undefined,
    );
    await webhook.idle();
    await new Promise((res) => setTimeout(res, 0));
    expect(seen).toEqual([EVENT]);
    expect(r.received.map((d) => JSON.parse(d.body))).toEqual([EVENT]);
    await alerts.close();
  });
});
