import type { z } from 'zod';
import type { HttpResponse } from './http-client.ts';
import { asProviderError, describeIssue, invalidResponse, tryParseJson } from './http-errors.ts';
import { send, statusError, type ProviderCall, type WireRequest } from './provider-call.ts';

export interface JsonReply<T> {
  data: T;
  headers: HttpResponse['headers'];
}

/**
 * POSTs a JSON body and reads a JSON reply: a non-2xx status, a body that is not JSON, an error
 * envelope under a 2xx status, or a body outside `schema` each reject with a GatewayError; so does a
 * transport failure, a timeout or an abort.
 */
export async function postJson<T>(call: ProviderCall, req: WireRequest, schema: z.ZodType<T>, what: string): Promise<JsonReply<T>> {
  const { provider } = call;
  try {
    const res = await send(call, req);
    if (res.status < 200 || res.status >= 300) throw await statusError(call, res, req.opts.signal);
    const json = tryParseJson(await res.text());
    if (json === undefined) throw invalidResponse(provider, 'response body is not JSON');
    const failure = call.errors.body?.(json);
    if (failure) throw failure;
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw invalidResponse(provider, `unexpected ${what} (${describeIssue(parsed.error)})`, parsed.error);
    return { data: parsed.data, headers: res.headers };
  } catch (err) {
    throw asProviderError(err, provider);
  }
}
