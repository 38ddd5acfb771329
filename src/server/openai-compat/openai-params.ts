import type { WireProtocol } from '../../core/protocols.ts';
import type { ProtocolParam } from '../../gateway/protocol-params.ts';

/**
 * The OpenAI Chat Completions parameters the contract has no field for, decided one by one (README: the
 * REST section lists the same): each is passed as it is to OpenAI-protocol targets (`providerOptions.openai`),
 * mapped where another protocol has an equivalent, and otherwise bound to the protocols that honour it, so
 * the route's `unsupportedParams` policy decides per target (src/gateway/protocol-params.ts). A value that
 * asks for nothing beyond the default (`store: false`, a penalty of 0, `parallel_tool_calls: true`) is
 * honoured by every target and binds nothing. The parameters no target can honour through the gateway are
 * refused by name.
 */

type Json = Record<string, unknown>;
export type ProviderOptions = Record<string, Json>;

/** What the parameters of one body give: provider options to merge, and the parameters bound to some protocols. */
export interface MappedParams {
  options: ProviderOptions;
  params: ProtocolParam[];
}

/** The part of the body the rules read besides the parameter itself. */
export interface ParamContext {
  tools: boolean;
  toolChoice: 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } } | undefined;
  user: string | undefined;
  safetyIdentifier: string | undefined;
}

interface PassedRule {
  /** The protocols that honour this value; undefined when it asks for nothing beyond every protocol's default. */
  honouredBy(value: unknown, ctx: ParamContext): readonly WireProtocol[] | undefined;
  /** Its equivalents for other protocols, merged into their provider options. */
  map?(value: unknown, ctx: ParamContext): Partial<Record<WireProtocol, Json>>;
}

const OPENAI_ONLY: readonly WireProtocol[] = ['openai'];
const isZero = (v: unknown) => v === 0;
const isEmptyObject = (v: unknown) => v !== null && typeof v === 'object' && Object.keys(v).length === 0;

/** OpenAI's penalties: Gemini's generationConfig and Ollama's options have the same ones (-2..2). */
function penalty(gemini: string, ollama: string): PassedRule {
  return {
    honouredBy: (v) => (isZero(v) ? undefined : ['openai', 'gemini', 'ollama']),
    map: (v) => ({ gemini: { generationConfig: { [gemini]: v } }, ollama: { options: { [ollama]: v } } }),
  };
}

/** Anthropic's `metadata.user_id` is its end-user id for abuse detection, as OpenAI's `safety_identifier` (and the older `user`). */
const endUser: PassedRule = {
  honouredBy: () => ['openai', 'anthropic'],
  map: (_v, ctx) => ({ anthropic: { metadata: { user_id: ctx.safetyIdentifier ?? ctx.user } } }),
};

/** Anthropic's tool_choice for the request's own, with parallel tool use off. */
function anthropicToolChoice(choice: ParamContext['toolChoice']): Json {
  if (choice === 'required') return { type: 'any', disable_parallel_tool_use: true };
  if (typeof choice === 'object') return { type: 'tool', name: choice.function.name, disable_parallel_tool_use: true };
  return { type: 'auto', disable_parallel_tool_use: true };
}

export const PASSED: Readonly<Record<string, PassedRule>> = {
  frequency_penalty: penalty('frequencyPenalty', 'frequency_penalty'),
  presence_penalty: penalty('presencePenalty', 'presence_penalty'),
  logit_bias: { honouredBy: (v) => (isEmptyObject(v) ? undefined : OPENAI_ONLY) },
  parallel_tool_calls: {
    // `true` is every protocol's default, and without tools (or with tool_choice none) there is nothing to run in parallel.
    honouredBy: (v, ctx) => (v === true || !ctx.tools || ctx.toolChoice === 'none' ? undefined : ['openai', 'anthropic']),
    map: (_v, ctx) => ({ anthropic: { tool_choice: anthropicToolChoice(ctx.toolChoice) } }),
  },
  user: endUser,
  safety_identifier: endUser,
  store: { honouredBy: (v) => (v === false ? undefined : OPENAI_ONLY) },
  service_tier: { honouredBy: () => OPENAI_ONLY },
  verbosity: { honouredBy: () => OPENAI_ONLY },
  prediction: { honouredBy: () => OPENAI_ONLY },
  // A caching hint like prompt_cache_key and cache_control: it changes no answer, so other targets ignore it.
  prompt_cache_retention: { honouredBy: () => undefined },
};

/** PASSED's names, listed once: every request reads them. */
export const PASSED_NAMES: readonly string[] = Object.keys(PASSED);

/** Why each parameter no target can honour through the gateway is refused; undefined for a value that asks for nothing. */
export const REFUSED: Readonly<Record<string, (v: unknown) => string | undefined>> = {
  n: (v) => (v === 1 ? undefined : 'only n=1 is supported'),
  logprobs: (v) => (v === false ? undefined : 'log probabilities are not returned by this gateway'),
  top_logprobs: (v) => (v === 0 ? undefined : 'log probabilities are not returned by this gateway'),
  functions: (v) => (Array.isArray(v) && v.length === 0 ? undefined : 'the deprecated functions API is not supported: send `tools`'),
  function_call: () => 'the deprecated functions API is not supported: send `tool_choice`',
  audio: () => 'audio output is not supported',
  modalities: (v) => (Array.isArray(v) && v.every((m) => m === 'text') ? undefined : 'only text output is supported'),
  web_search_options: () => 'web search is not supported (its citations would not be returned)',
  moderation: () => 'moderation results are not returned by this gateway',
};

const isPlainObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `over` merged into `base` in place: nested objects merge, anything else replaces. */
export function mergeInto(base: Json, over: Json): Json {
  for (const [k, v] of Object.entries(over)) {
    const cur = base[k];
    base[k] = isPlainObject(cur) && isPlainObject(v) ? mergeInto({ ...cur }, v) : v;
  }
  return base;
}

/** The passed parameters present in `body` (null is absent): their provider options and protocol bindings. */
export function mapPassedParams(body: Json, ctx: ParamContext): MappedParams {
  const options: ProviderOptions = {};
  const params: ProtocolParam[] = [];
  for (const name of PASSED_NAMES) {
    const value = body[name];
    if (value == null) continue;
    const rule = PASSED[name]!;
    (options.openai ??= {})[name] = value;
    const protocols = rule.honouredBy(value, ctx);
    if (protocols === undefined) continue;
    params.push({ name, protocols });
    for (const [protocol, extra] of Object.entries(rule.map?.(value, ctx) ?? {})) mergeInto((options[protocol] ??= {}), extra);
  }
  return { options, params };
}
