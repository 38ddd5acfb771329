import type { BudgetEvent, BudgetEventKind } from '../core/index.ts';
import type { AlertBus, BudgetLineAlert } from '../store/store.ts';
import type { QuotaSubject } from './quota-subjects.ts';
import type { WebhookSender } from './webhook.ts';

export interface BudgetAlerts {
  /** LimitsStageOptions.onBudgetAlerts: alerts this instance won, to publish and deliver. Never blocks. */
  fire(alerts: readonly BudgetLineAlert[], subjectOf: (lineId: string) => QuotaSubject | undefined): void;
  /** Every instance's events (the budgetEvents subscription). Returns unsubscribe. */
  subscribe(cb: (event: BudgetEvent) => void): () => void;
  close(): Promise<void>;
}

export interface BudgetAlertsOptions {
  bus: AlertBus;
  webhook?: WebhookSender | undefined;
  /** Epoch ms (the event's `at`). */
  now?: () => number;
  onError?: ((operation: string, error: unknown) => void) | undefined;
}

const EVENT: Record<BudgetLineAlert['kind'], BudgetEventKind> = { soft: 'SOFT_THRESHOLD', exhausted: 'EXHAUSTED', reset: 'RESET' };

/**
 * Budget alerts out of the gateway. The store decides which one call fires each alert (once per line,
 * period and kind across instances); the instance that made that call publishes the event on the store's
 * pub/sub, which reaches the budgetEvents subscribers of every instance (this one included), and is the
 * only one to deliver it to the webhook.
 */
export function createBudgetAlerts(opts: BudgetAlertsOptions): BudgetAlerts {
  const now = opts.now ?? Date.now;
  return {
    fire(alerts, subjectOf) {
      for (const a of alerts) {
        const subject = subjectOf(a.lineId);
        if (!subject) continue;
        const event: BudgetEvent = {
          id: `${a.lineId}:${EVENT[a.kind]}`,
          lineId: a.lineId,
          subjectKind: subject.kind,
          subject: subject.name,
          event: EVENT[a.kind],
          spentUsd: a.spentUsd,
          limitUsd: a.limitUsd,
          at: new Date(now()).toISOString(),
        };
        opts.bus.publish(event).catch((e: unknown) => opts.onError?.('budget alert publish', e));
        opts.webhook?.send(event);
      }
    },
    subscribe: (cb) => opts.bus.subscribe(cb),
    async close() {
      await opts.webhook?.close();
    },
  };
}
