import { GatewayError, hasCapability, type EmbeddingRequest, type EmbeddingResponse } from '../../core/index.ts';
import type { CallOptions } from '../spec.ts';
import { invalidResponse } from '../shared/http-errors.ts';
import { passthrough, type BodyContext } from './request.ts';
import type { EmbeddingsWire } from './wire.ts';

/** EmbeddingRequest → `/embeddings` body. */
export function toEmbeddingsBody(req: EmbeddingRequest, opts: CallOptions, ctx: BodyContext): Record<string, unknown> {
  if (!hasCapability(opts.capabilities, 'embeddings')) {
    throw new GatewayError('unsupported_feature', `${ctx.provider} does not support embeddings for model ${opts.model}`, {
      provider: ctx.provider,
      param: 'embeddings',
    });
  }
  return {
    model: opts.model,
    input: req.input,
    // Float arrays are what we return; base64 would only save bytes we then decode anyway.
    encoding_format: 'float',
    ...(req.dimensions !== undefined && { [ctx.preset.dimensionsField ?? 'dimensions']: req.dimensions }),
    ...passthrough(ctx, req.providerOptions),
  };
}

/** Little-endian float32 values, as the API sends them with encoding_format: base64. */
function decodeBase64Floats(b64: string): number[] {
  const bytes = Buffer.from(b64, 'base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.byteLength; i += 4) out.push(view.getFloat32(i, true));
  return out;
}

/**
 * `/embeddings` body → EmbeddingResponse. The API tags each vector with the position of its input;
 * we return them in input order whatever order they arrive in, and refuse a reply that does not
 * carry exactly one vector per input (a silent shift would pair texts with the wrong vectors).
 */
export function toEmbeddingResponse(provider: string, res: EmbeddingsWire, inputs: number, fallbackModel: string): EmbeddingResponse {
  const sorted = [...res.data].sort((a, b) => a.index - b.index);
  if (sorted.length !== inputs || sorted.some((d, i) => d.index !== i)) {
    throw invalidResponse(provider, `expected ${inputs} embeddings indexed 0..${inputs - 1}, got indices [${sorted.map((d) => d.index).join(', ')}]`);
  }
  const promptTokens = res.usage?.prompt_tokens ?? res.usage?.total_tokens;
  return {
    embeddings: sorted.map((d) => (typeof d.embedding === 'string' ? decodeBase64Floats(d.embedding) : d.embedding)),
    model: res.model ?? fallbackModel,
    usage: promptTokens != null ? { inputTokens: promptTokens } : { inputTokens: 0, estimated: true },
  };
}
