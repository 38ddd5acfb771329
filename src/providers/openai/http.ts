/** The shared HTTP/SSE helpers this adapter uses, gathered in one import. */
export { createHttpClient, header, type HttpClient, type HttpResponse } from '../shared/http-client.ts';
export {
  kindOfStatus,
  looksLikeContextLength,
  providerHttpError,
  retryAfterMs,
  tryParseJson,
  type ProviderErrorInfo,
} from '../shared/http-errors.ts';
export { readSse } from '../shared/stream-readers.ts';
