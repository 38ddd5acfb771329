import type { z } from 'zod';
import { baseUrlAt } from '../core/protocols.ts';
import type { ConfigInput, ModelConfigSchema } from './config-schema.ts';

type ModelInput = z.input<typeof ModelConfigSchema>;

export interface SimulatorUrls {
  openai: string;
  anthropic: string;
  gemini: string;
  ollama: string;
  /** The cloud simulators (src/simulator/start-simulators.ts starts them all); each is added when given. */
  bedrock?: string | undefined;
  vertex?: string | undefined;
  /** The Vertex simulator's service account (its token endpoint verifies the JWT grant signed with this key). */
  vertexKeyFile?: string | undefined;
}

/**
 * AWS's documented example key pair (docs.aws.amazon.com, "Understanding and getting your AWS credentials"): not a
 * credential of any account, and the pair the Bedrock simulator accepts by default.
 */
const AWS_EXAMPLE_KEYS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

/** List prices (USD per 1M tokens) of the models the out-of-the-box config uses, from the providers' price pages. */
const MODELS: Record<string, Omit<ModelInput, 'id'>> = {
  'gpt-4o-mini': { contextWindow: 128_000, maxOutputTokens: 16_384, price: { input: 0.15, output: 0.6, cachedInput: 0.075 }, capabilities: ['tools', 'json_schema', 'vision', 'prompt_caching'] },
  'text-embedding-3-small': { contextWindow: 8_191, price: { input: 0.02, output: 0 }, capabilities: ['embeddings'] },
  'claude-haiku-4-5': { contextWindow: 200_000, maxOutputTokens: 64_000, price: { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 }, capabilities: ['tools', 'json_schema', 'vision', 'prompt_caching', 'reasoning'] },
  'gemini-2.5-flash': { contextWindow: 1_048_576, maxOutputTokens: 65_535, price: { input: 0.3, output: 2.5, cachedInput: 0.03, reasoning: 2.5 }, capabilities: ['tools', 'json_schema', 'vision', 'prompt_caching', 'reasoning'] },
  'gemini-embedding-001': { contextWindow: 2_048, price: { input: 0.15, output: 0 }, capabilities: ['embeddings'] },
  // A local model costs nothing per token; saying 0 explicitly keeps it from being reported as unpriced.
  'llama3.2': { contextWindow: 131_072, maxOutputTokens: 8_192, price: { input: 0, output: 0 }, capabilities: ['tools', 'json_schema'] },
  'nomic-embed-text': { contextWindow: 8_192, price: { input: 0, output: 0 }, capabilities: ['embeddings'] },
  'text-embedding-005': { contextWindow: 2_048, price: { input: 0.1, output: 0 }, capabilities: ['embeddings'] },
  'titan-embed-text-v2': { contextWindow: 8_192, price: { input: 0.02, output: 0 }, capabilities: ['embeddings'] },
};

const model = (id: string): ModelInput => ({ id, ...structuredClone(MODELS[id]) });

/**
 * The configuration `npm start` runs with when none is given: the simulators on loopback (Bedrock and Vertex as
 * deployments of their own, reached by pinning `sim-bedrock/…` or `sim-vertex/…`), route
 * `default` as a priority chain OpenAI → Anthropic → Gemini and route `local` on Ollama. A real provider
 * whose key is in the environment is added and put first in `default`.
 */
export function defaultConfig(sims: SimulatorUrls, env: NodeJS.ProcessEnv = process.env): ConfigInput {
  const providers: NonNullable<ConfigInput['providers']> = [];
  const defaultTargets: Array<{ provider: string; model: string }> = [];
  if (env.OPENAI_API_KEY) {
    providers.push({ id: 'openai', protocol: 'openai', apiKey: env.OPENAI_API_KEY, models: [model('gpt-4o-mini'), model('text-embedding-3-small')] });
    defaultTargets.push({ provider: 'openai', model: 'gpt-4o-mini' });
  }
  if (env.ANTHROPIC_API_KEY) {
    providers.push({ id: 'anthropic', protocol: 'anthropic', apiKey: env.ANTHROPIC_API_KEY, models: [model('claude-haiku-4-5')] });
    defaultTargets.push({ provider: 'anthropic', model: 'claude-haiku-4-5' });
  }
  if (env.GEMINI_API_KEY) {
    providers.push({ id: 'gemini', protocol: 'gemini', apiKey: env.GEMINI_API_KEY, models: [model('gemini-2.5-flash'), model('gemini-embedding-001')] });
    defaultTargets.push({ provider: 'gemini', model: 'gemini-2.5-flash' });
  }
  providers.push(
    { id: 'sim-openai', protocol: 'openai', baseUrl: baseUrlAt(sims.openai, 'openai'), models: [model('gpt-4o-mini'), model('text-embedding-3-small')] },
    { id: 'sim-anthropic', protocol: 'anthropic', baseUrl: baseUrlAt(sims.anthropic, 'anthropic'), models: [model('claude-haiku-4-5')] },
    { id: 'sim-gemini', protocol: 'gemini', baseUrl: baseUrlAt(sims.gemini, 'gemini'), models: [model('gemini-2.5-flash'), model('gemini-embedding-001')] },
    { id: 'sim-ollama', protocol: 'ollama', baseUrl: baseUrlAt(sims.ollama, 'ollama'), models: [model('llama3.2'), model('nomic-embed-text')] },
  );
  if (sims.bedrock) {
    providers.push({
      id: 'sim-bedrock',
      protocol: 'bedrock',
      region: 'us-east-1',
      baseUrl: sims.bedrock,
      credentials: { type: 'aws', ...AWS_EXAMPLE_KEYS },
      models: [
        // Bedrock names models by vendor, version and (for cross-region inference) region group.
        { ...model('claude-haiku-4-5'), upstream: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' },
        { ...model('titan-embed-text-v2'), upstream: 'amazon.titan-embed-text-v2:0' },
      ],
    });
  }
  if (sims.vertex && sims.vertexKeyFile) {
    providers.push({
      id: 'sim-vertex',
      protocol: 'vertex',
      project: 'switchboard-sim',
      location: 'us-central1',
      baseUrl: sims.vertex,
      credentials: { type: 'google', keyFile: sims.vertexKeyFile },
      models: [model('gemini-2.5-flash'), { ...model('claude-haiku-4-5'), upstream: 'claude-haiku-4-5@20251001' }, model('text-embedding-005')],
    });
  }
  defaultTargets.push(
    { provider: 'sim-openai', model: 'gpt-4o-mini' },
    { provider: 'sim-anthropic', model: 'claude-haiku-4-5' },
    { provider: 'sim-gemini', model: 'gemini-2.5-flash' },
  );
  return {
    providers,
    routes: [
      { name: 'default', strategy: 'priority', targets: defaultTargets },
      { name: 'local', strategy: 'priority', targets: [{ provider: 'sim-ollama', model: 'llama3.2' }] },
    ],
  };
}
