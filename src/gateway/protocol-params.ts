import { GatewayError, type ChatRequest } from '../core/index.ts';
import type { WireProtocol } from '../core/protocols.ts';

/**
 * A parameter of the client's API that only targets of some wire protocols can honour: REST's OpenAI-only
 * fields (`logit_bias`, `store`, …), already placed in `chat.providerOptions` for the protocols that take
 * them (the adapters of other protocols ignore those entries), and contract fields some adapters refuse
 * (`seed` on Anthropic). Whether a target of another protocol may run the request without it is the
 * route's `unsupportedParams` policy, decided per attempt (a fallback to another protocol decides again).
 */
export interface ProtocolParam {
  /** The parameter's name as the client wrote it (the error's `param`, the dropped-params header). */
  readonly name: string;
  /** The wire protocols that honour it (mapped or passed through). */
  readonly protocols: readonly WireProtocol[];
  /** The contract field that carries it, removed from the request when it is dropped. */
  readonly chatField?: 'seed' | undefined;
}

/** `refuse` (the default): a target that cannot honour a parameter fails the attempt. `drop`: it runs without it. */
export type UnsupportedParamsPolicy = 'refuse' | 'drop';

/** The names of `params` a target of `protocol` cannot honour, in the order `params` lists them. */
export function paramsNotFor(params: readonly ProtocolParam[] | undefined, protocol: WireProtocol): string[] {
  if (!params) return [];
  const out: string[] = [];
  for (const p of params) if (!p.protocols.includes(protocol)) out.push(p.name);
  return out;
}

/**
 * The request one attempt sends to `target`, a deployment of `protocol`. With parameters the target
 * cannot honour: under `refuse` an unsupported_feature naming them and the target, before any upstream call
 * (the router skips to the next target, as for any feature a protocol cannot express); under `drop` the
 * request without them. Requests without such parameters (all but some REST ones) come back as they are.
 */
export function chatForAttempt(
  chat: ChatRequest,
  params: readonly ProtocolParam[] | undefined,
  protocol: WireProtocol,
  policy: UnsupportedParamsPolicy | undefined,
  target: { provider: string; model: string },
): ChatRequest {
  if (!params || params.length === 0) return chat;
  const missing = params.filter((p) => !p.protocols.includes(protocol));
  if (missing.length === 0) return chat;
  if ((policy ?? 'refuse') === 'refuse') {
    const names = missing.map((p) => p.name);
    throw new GatewayError(
      'unsupported_feature',
      `${names.join(', ')}: ${target.provider}/${target.model} (${protocol}) cannot take ${names.length > 1 ? 'these parameters' : 'this parameter'}; ` +
        `leave ${names.length > 1 ? 'them' : 'it'} out, route to a target that can, or set the route's unsupportedParams: drop`,
      { param: names[0]!, provider: target.provider },
    );
  }
  let out = chat;
  for (const p of missing) {
    if (p.chatField !== undefined && out[p.chatField] !== undefined) {
      const { [p.chatField]: _dropped, ...rest } = out;
      out = rest;
    }
  }
  return out;
}
