/** A request to the gateway service and reading what its stream sends back. */
import type { CompletionEvent } from '../../src/core/index.ts';
import type { GatewayRequest } from '../../src/gateway/gateway-request.ts';

export const ask = (content = 'Tell me about routing', extra: Partial<GatewayRequest> = {}): GatewayRequest => ({
  chat: { messages: [{ role: 'user', content }] },
  ...extra,
});

export async function collect(events: AsyncIterable<CompletionEvent>): Promise<CompletionEvent[]> {
  const out: CompletionEvent[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

export const textOf = (events: CompletionEvent[]) => events.map((e) => (e.type === 'text-delta' ? e.text : '')).join('');
