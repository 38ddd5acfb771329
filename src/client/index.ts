/**
 * The Switchboard client for browsers and Node (`switchboard/client`): every call one GraphQL operation of
 * operations.ts, typed by generated.ts. Queries and mutations go over fetch, streams over graphql-ws.
 * Nothing here may import Node built-ins: the web console bundles it for the browser.
 *
 *   const ai = createClient({ url: 'http://127.0.0.1:4000', apiKey: 'sk-…' });
 *   const c = await ai.complete({ messages: [{ role: 'user', content: 'hi' }] });
 *   for await (const ev of ai.stream({ messages })) if (ev.type === 'text') write(ev.text);
 */
import type * as G from './generated.ts';
import { createHttpTransport } from './http-transport.ts';
import * as ops from './operations.ts';
import { SwitchboardError } from './switchboard-error.ts';
import type { ClientOptions, CompletionInput, CompletionStreamEvent, SwitchboardClient, UsageArgs } from './types.ts';
import { createWsTransport } from './ws-transport.ts';

export { SwitchboardError, type GraphQLErrorPayload, type SwitchboardErrorOptions } from './switchboard-error.ts';
export type * from './types.ts';

/** The schema's input: roles upper-cased (`'user'` → `USER`). */
function toCompletionInput(input: CompletionInput): G.CompletionInput {
  return { ...input, messages: input.messages.map((m) => ({ ...m, role: m.role.toUpperCase() as G.MessageRole })) };
}

type StreamPayload = G.CompletionStreamSubscription['completionStream'];

/** A completionStream payload as the client's event (`type` instead of `__typename`, targets as ids). */
function toStreamEvent(p: StreamPayload): CompletionStreamEvent {
  switch (p.__typename) {
    case 'CompletionStartEvent':
      return { type: 'start', completionId: p.completionId, route: p.route, routeVersion: p.routeVersion, provider: p.provider.id, model: p.model.name };
    case 'TextDeltaEvent':
      return { type: 'text', text: p.text };
    case 'ReasoningDeltaEvent':
      return { type: 'reasoning', text: p.text, index: p.index, signature: p.signature, redacted: p.redacted };
    case 'ToolCallDeltaEvent':
      return { type: 'tool-call', index: p.index, id: p.id, name: p.name, argumentsDelta: p.argumentsDelta };
    case 'SwitchEvent':
      return { type: 'switch', from: p.from.model.id, to: p.to.model.id, reason: p.reason, errorCode: p.errorCode, resumed: p.resumed };
    case 'CompletionDoneEvent':
      return { type: 'done', completion: p.completion };
    case 'CompletionErrorEvent': {
      const { __typename: _, ...rest } = p;
      return { type: 'error', ...rest };
    }
  }
}

const iso = (t: string | Date): string => (typeof t === 'string' ? t : t.toISOString());

/** A client of one gateway. Cheap to make; close() it to end open streams (HTTP calls hold nothing). */
export function createClient(options: ClientOptions): SwitchboardClient {
  const base = options.url.replace(/\/+$/, '');
  if (!/^https?:\/\//i.test(base)) throw new TypeError(`createClient: url must be an http(s) URL, got "${options.url}"`);
  const request = createHttpTransport({ endpoint: `${base}/graphql`, apiKey: options.apiKey, fetch: options.fetch });
  const ws = createWsTransport({ endpoint: `${base.replace(/^http/i, 'ws')}/graphql`, apiKey: options.apiKey, webSocketImpl: options.webSocketImpl });

  return {
    async complete(input, opts) {
      return (await request(ops.CompleteDocument, { input: toCompletionInput(input) }, opts?.signal)).createCompletion;
    },

    stream(input, opts) {
      const source = ws.subscribe(ops.CompletionStreamDocument, { input: toCompletionInput(input) }, opts?.signal);
      const events: AsyncIterableIterator<CompletionStreamEvent> = {
        [Symbol.asyncIterator]: () => events,
        async next() {
          const r = await source.next();
          return r.done ? r : { done: false, value: toStreamEvent(r.value.completionStream) };
        },
        async return() {
          await source.return!();
          return { done: true, value: undefined };
        },
      };
      return events;
    },

    async viewer(opts) {
      return (await request(ops.ViewerDocument, {}, opts?.signal)).viewer;
    },

    async usage(args: UsageArgs, opts) {
      const filter = { ...args.filter, from: iso(args.filter.from), to: iso(args.filter.to) };
      return (await request(ops.UsageDocument, { filter, groupBy: args.groupBy, interval: args.interval }, opts?.signal)).usage;
    },

    async completions(args = {}, opts) {
      return (await request(ops.CompletionsDocument, { first: args.first, after: args.after, filter: args.filter }, opts?.signal)).completions;
    },

    async completion(id, opts) {
      return (await request(ops.CompletionDocument, { id }, opts?.signal)).completion;
    },

    async providers(opts) {
      return (await request(ops.ProvidersDocument, {}, opts?.signal)).providers;
    },

    async routes(opts) {
      return (await request(ops.RoutesDocument, {}, opts?.signal)).routes;
    },

    async upsertRoute(input, opts) {
      return (await request(ops.UpsertRouteDocument, { input }, opts?.signal)).upsertRoute;
    },

    async deleteRoute(name, opts) {
      return (await request(ops.DeleteRouteDocument, { name }, opts?.signal)).deleteRoute;
    },

    async explainRoute(input, opts) {
      const plan = (await request(ops.ExplainRouteDocument, { input: toCompletionInput(input), ...(opts?.draft && { draft: opts.draft }) }, opts?.signal)).explainRoute;
      if (!plan) throw new SwitchboardError('explainRoute returned no plan', { code: 'NOT_FOUND', param: 'route' });
      return plan;
    },

    async apiKeys(opts) {
      return (await request(ops.ApiKeysDocument, {}, opts?.signal)).apiKeys;
    },

    async createApiKey(input, opts) {
      return (await request(ops.CreateApiKeyDocument, { input }, opts?.signal)).createApiKey;
    },

    async revokeApiKey(id, opts) {
      return (await request(ops.RevokeApiKeyDocument, { id }, opts?.signal)).revokeApiKey;
    },

    close: () => ws.close(),
  };
}
