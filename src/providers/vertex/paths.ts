/**
 * Where a Vertex AI model lives: the host of a location and the publisher-model resource path. A model is served
 * by a publisher — Google's (Gemini, text embeddings: generateContent / predict) or Anthropic's (Claude:
 * rawPredict) — chosen from its name unless config says otherwise.
 */

export type Publisher = 'google' | 'anthropic';

export const DEFAULT_LOCATION = 'us-central1';
export const DEFAULT_API_VERSION = 'v1';

/** Multi-region locations served from a regional-endpoint host rather than `<location>-aiplatform`. */
const MULTI_REGIONS = new Set(['us', 'eu']);

/** The API host of a location: `global` has one host for all, a region its own. */
export function vertexHost(location: string): string {
  if (location === 'global') return 'https://aiplatform.googleapis.com';
  if (MULTI_REGIONS.has(location)) return `https://aiplatform.${location}.rep.googleapis.com`;
  return `https://${location}-aiplatform.googleapis.com`;
}

/** `claude-*` models are Anthropic's; everything else is Google's, unless `overrides` names the model. */
export function publisherOf(model: string, overrides: Readonly<Record<string, Publisher>>): Publisher {
  return overrides[model] ?? (model.startsWith('claude-') ? 'anthropic' : 'google');
}

/** `options.publishers` from config: `{modelName: 'google' | 'anthropic'}`. */
export function publishersOption(value: unknown): Record<string, Publisher> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError('vertex options.publishers must be an object of model name → "google" | "anthropic"');
  const out: Record<string, Publisher> = {};
  for (const [model, p] of Object.entries(value)) {
    if (p !== 'google' && p !== 'anthropic') throw new TypeError(`vertex options.publishers.${model} must be "google" or "anthropic"`);
    out[model] = p;
  }
  return out;
}

/** A string option, or its default. */
export function stringOption(value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && value !== '') return value;
  throw new TypeError(`vertex options.${name} must be a non-empty string`);
}

export interface ModelLocation {
  apiVersion: string;
  project: string;
  location: string;
}

/**
 * `/{version}/projects/{p}/locations/{l}/publishers/{publisher}/models/{model}:{method}` (method may carry a query).
 * Each segment is percent-encoded so a `/` in a model name cannot leave the publisher's models; `@` (Claude
 * versions: `claude-haiku-4-5@20251001`) is kept as Vertex writes it.
 */
export function modelPath(where: ModelLocation, publisher: Publisher, model: string, method: string): string {
  const seg = (s: string) => encodeURIComponent(s).replace(/%40/g, '@');
  return `/${where.apiVersion}/projects/${seg(where.project)}/locations/${seg(where.location)}/publishers/${publisher}/models/${seg(model)}:${method}`;
}
