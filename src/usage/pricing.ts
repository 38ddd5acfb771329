import { z } from 'zod';
import { estimateInputTokens, type ChatRequest, type ToolCall, type Usage } from '../core/index.ts';
import builtinFile from './model-prices.json' with { type: 'json' };

/** USD per 1M tokens, as in config (`price: { input, output, cachedInput, cacheWrite, reasoning }`). */
export interface PriceTable {
  input: number;
  output: number;
  cachedInput?: number | undefined;
  cacheWrite?: number | undefined;
  reasoning?: number | undefined;
}

/**
 * Exact cost of one response in USD: each token kind at its own rate. Cached reads and cache writes are
 * parts of inputTokens and reasoning is part of outputTokens (see Usage), so they are taken out of the
 * plain input/output counts rather than charged twice. Returns null when the model has no price —
 * "unpriced" must never look like "free".
 */
export function costOf(usage: Usage, price: PriceTable | undefined): number | null {
  if (!price) return null;
  const plainInput = Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens);
  const plainOutput = Math.max(0, usage.outputTokens - usage.reasoningTokens);
  const micros =
    plainInput * price.input +
    usage.cachedInputTokens * (price.cachedInput ?? price.input) +
    usage.cacheWriteTokens * (price.cacheWrite ?? price.input) +
    plainOutput * price.output +
    usage.reasoningTokens * (price.reasoning ?? price.output);
  // Round to 1e-10 USD so sums of many requests do not accumulate float noise in reports.
  return Math.round(micros / 1e6 * 1e10) / 1e10;
}

/** Where a request's price came from; `none` means unpriced (cost null), never $0. */
export type PriceSource = 'config' | 'builtin' | 'none';

const rate = z.number().nonnegative();
export const PriceTableSchema = z.strictObject({
  input: rate,
  output: rate,
  cachedInput: rate.optional(),
  cacheWrite: rate.optional(),
  reasoning: rate.optional(),
});

/**
 * One price of one model from one date on. Several entries for the same model are versions: the one in
 * effect at the request's time wins, so a price change does not rewrite the cost of past requests.
 * Without `provider` the entry applies to the model on every provider.
 */
export const PriceEntrySchema = z.strictObject({
  provider: z.string().min(1).optional(),
  model: z.string().min(1),
  price: PriceTableSchema,
  version: z.string().min(1).default('config'),
  effectiveFrom: z.coerce.date().optional(),
});
export type PriceEntry = z.infer<typeof PriceEntrySchema>;
export type PriceEntryInput = z.input<typeof PriceEntrySchema>;

const BuiltinFileSchema = z.object({
  source: z.string(),
  version: z.string(),
  effectiveFrom: z.string(),
  models: z.array(
    z.object({
      provider: z.string(),
      model: z.string(),
      price: PriceTableSchema,
      contextWindow: z.number().int().positive().optional(),
      maxOutputTokens: z.number().int().positive().optional(),
      capabilities: z.array(z.string()).optional(),
    }),
  ),
});

/** What the built-in table says of a model besides its price: for models config does not declare (wildcards). */
export interface BuiltinModelInfo {
  provider: string;
  price: PriceTable;
  contextWindow?: number | undefined;
  maxOutputTokens?: number | undefined;
  capabilities?: readonly string[] | undefined;
}

/** The built-in table's provenance, for `/v1/models`-style listings and the report of where a price came from. */
export interface BuiltinPriceInfo {
  source: string;
  version: string;
  effectiveFrom: string;
  count: number;
}

let builtinCache: { info: BuiltinPriceInfo; byModel: Map<string, BuiltinModelInfo> } | undefined;

function builtin() {
  if (!builtinCache) {
    const file = BuiltinFileSchema.parse(builtinFile);
    builtinCache = {
      info: { source: file.source, version: file.version, effectiveFrom: file.effectiveFrom, count: file.models.length },
      byModel: new Map(file.models.map(({ model, ...info }) => [model, info])),
    };
  }
  return builtinCache;
}

export function builtinPriceInfo(): BuiltinPriceInfo {
  return builtin().info;
}

/**
 * Names a built-in entry may be listed under: the name as given, without Gemini's `models/` prefix and
 * without a dated snapshot suffix (`gpt-4o-mini-2024-07-18`, `claude-haiku-4-5-20251001`), which
 * providers bill at the undated model's price.
 */
function candidateNames(name: string): string[] {
  const out = [name];
  const add = (n: string) => {
    if (!out.includes(n)) out.push(n);
  };
  const bare = name.replace(/^models\//, '');
  add(bare);
  // Bedrock: a cross-region inference profile (`us.`, `eu.`, `global.`…) is billed as its base model id.
  const unprofiled = bare.replace(/^(us|eu|apac|jp|au|ca|us-gov|global)\./, '');
  add(unprofiled);
  // Bedrock's and Vertex's Claude ids (`anthropic.claude-haiku-4-5-20251001-v1:0`, `claude-haiku-4-5@20251001`)
  // carry Anthropic's list price, which is the name without vendor prefix, version and date.
  const claude = /^(?:anthropic\.)?(claude-[a-z0-9.-]+?)(?:-v\d+(?::\d+)?)?(?:@\d{8})?$/.exec(unprofiled)?.[1];
  if (claude !== undefined) add(claude);
  for (const n of [...out]) add(n.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, ''));
  return out;
}

/** The built-in table's entry for a model name (the same name rules as prices), or undefined. */
export function builtinModelInfo(name: string): BuiltinModelInfo | undefined {
  const table = builtin();
  for (const n of candidateNames(name)) {
    const hit = table.byModel.get(n);
    if (hit) return hit;
  }
  return undefined;
}

export interface PriceRef {
  /** Provider instance id from config (`openai-main`). */
  provider: string;
  /** Model id from config (`gpt-4o-mini`). */
  model: string;
  /** The provider's own model name, when it differs (matched against the built-in table too). */
  upstreamModel?: string | undefined;
}

export interface ResolvedPrice {
  price: PriceTable | undefined;
  source: PriceSource;
  /** `config` (or the entry's own version) for config prices, the table's date for built-in ones; null when unpriced. */
  version: string | null;
}

/** What the ledger and the Completion carry about a request's cost. */
export interface PricedUsage {
  costUsd: number | null;
  priceSource: PriceSource;
  priceVersion: string | null;
  /** True when the token counts are our estimate, not the provider's report. */
  estimated: boolean;
}

/** Config's per-model prices (`providers[].models[].price`) as price entries; structural so usage does not import config. */
export function configPriceEntries(config: {
  providers: readonly { id: string; models: readonly { id: string; price?: PriceTable | undefined }[] }[];
}): PriceEntry[] {
  const out: PriceEntry[] = [];
  for (const p of config.providers) {
    for (const m of p.models) if (m.price) out.push({ provider: p.id, model: m.id, price: m.price, version: 'config' });
  }
  return out;
}

export interface PricingDeps {
  /** Prices from config; they override the built-in table. Validated here (a bad entry names its field). */
  entries?: readonly PriceEntryInput[];
  /** Fall back to the built-in table of well-known models (default true). */
  builtin?: boolean;
}

/**
 * Resolves a model's price (config first, then the built-in table) and prices usage with it. An
 * unknown model resolves to `none`: its cost is null and it is reported as unpriced.
 */
export function createPricing(deps: PricingDeps = {}) {
  const useBuiltin = deps.builtin ?? true;
  let byModel = indexEntries(deps.entries ?? []);

  function fromConfig(ref: PriceRef, at: number): PriceEntry | undefined {
    const list = byModel.get(ref.model);
    if (!list) return undefined;
    const inEffect = (e: PriceEntry) => (e.effectiveFrom?.getTime() ?? -Infinity) <= at;
    // A provider-specific price beats a model-wide one, whatever their dates.
    return list.find((e) => e.provider === ref.provider && inEffect(e)) ?? list.find((e) => e.provider === undefined && inEffect(e));
  }

  function resolve(ref: PriceRef, at: Date = new Date()): ResolvedPrice {
    const cfg = fromConfig(ref, at.getTime());
    if (cfg) return { price: cfg.price, source: 'config', version: cfg.version };
    if (useBuiltin) {
      const table = builtin();
      const names = [...candidateNames(ref.upstreamModel ?? ref.model), ...candidateNames(ref.model)];
      for (const n of names) {
        const hit = table.byModel.get(n);
        if (hit) return { price: hit.price, source: 'builtin', version: table.info.version };
      }
    }
    return { price: undefined, source: 'none', version: null };
  }

  function price(usage: Usage, ref: PriceRef, at?: Date): PricedUsage {
    const r = resolve(ref, at);
    return { costUsd: costOf(usage, r.price), priceSource: r.source, priceVersion: r.version, estimated: usage.estimated === true };
  }

  return {
    resolve,
    price,
    /** New config prices (a config reload): validated first, then swapped whole; requests priced after see them. */
    replace(entries: readonly PriceEntryInput[]): void {
      byModel = indexEntries(entries);
    },
  };
}

/** Price entries by model name, each list newest first, so the first entry in effect is the current version. */
function indexEntries(input: readonly PriceEntryInput[]): Map<string, PriceEntry[]> {
  const entries = z.array(PriceEntrySchema).parse(input);
  const byModel = new Map<string, PriceEntry[]>();
  for (const e of entries) {
    const list = byModel.get(e.model) ?? [];
    list.push(e);
    byModel.set(e.model, list);
  }
  for (const list of byModel.values()) {
    list.sort((a, b) => (b.effectiveFrom?.getTime() ?? -Infinity) - (a.effectiveFrom?.getTime() ?? -Infinity));
  }
  return byModel;
}

export type Pricing = ReturnType<typeof createPricing>;

/**
 * The usage to bill: the provider's report when there is one, else our estimate marked `estimated`.
 * Adapters report "nothing" either as no usage at all or as zeros marked estimated; both get the
 * estimate, because zero tokens would silently price the request at $0.
 */
export function usageOrEstimate(
  reported: Usage | undefined,
  chat: ChatRequest,
  reply: { text: string; toolCalls?: readonly ToolCall[] | undefined; reasoning?: string | undefined },
): Usage {
  if (reported && !(reported.estimated && reported.inputTokens === 0 && reported.outputTokens === 0)) return reported;
  let outChars = reply.text.length;
  for (const c of reply.toolCalls ?? []) outChars += c.name.length + c.arguments.length;
  const reasoningTokens = reply.reasoning ? Math.ceil(reply.reasoning.length / 4) : 0;
  return {
    inputTokens: estimateInputTokens(chat),
    outputTokens: Math.ceil(outChars / 4) + reasoningTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens,
    estimated: true,
  };
}
