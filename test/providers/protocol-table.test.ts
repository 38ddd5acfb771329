/**
 * The protocol table (src/core/protocols.ts) is the one list of protocols: the config enum, the
 * registry, telemetry's gen_ai.system, the continuation style and the default base URLs all follow it.
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig, ProviderConfigSchema } from '../../src/config/index.ts';
import type { ChatRequest } from '../../src/core/index.ts';
import { PROVIDER_PROTOCOL_NAMES, PROVIDER_PROTOCOLS, WIRE_PROTOCOLS, wireProtocolOf, type ProtocolInfo } from '../../src/core/protocols.ts';
import { CONTINUE_INSTRUCTION, continuationRequest } from '../../src/gateway/continuation.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { GEN_AI_SYSTEM_OF_PROTOCOL } from '../../src/telemetry/trace-attributes.ts';

const AZURE_URL = 'https://example-resource.openai.azure.com';
const info = (name: string): ProtocolInfo => PROVIDER_PROTOCOLS[name as keyof typeof PROVIDER_PROTOCOLS];
/** The settings a cloud protocol cannot do without (its host derives from them). */
const CLOUD: Record<string, Record<string, string>> = { bedrock: { region: 'us-east-1' }, vertex: { project: 'p', location: 'us-central1' } };
const CLOUD_HOSTS: Record<string, string> = { bedrock: 'https://bedrock-runtime.us-east-1.amazonaws.com', vertex: 'https://us-central1-aiplatform.googleapis.com' };
const providerOf = (protocol: string, baseUrl?: string) =>
  ProviderConfigSchema.parse({ id: `p-${protocol}`, protocol, ...(baseUrl && { baseUrl }), ...CLOUD[protocol], models: [{ id: 'm' }] });
/** Protocols whose every deployment has its own host, given in config (Azure, AI Foundry). */
const needsBaseUrl = (name: string) => info(name).defaultBaseUrl === undefined && CLOUD[name] === undefined;

describe('the protocol table', () => {
  it('lists the six wire protocols and the OpenAI-compatible presets, in the order config documents them', () => {
    expect(PROVIDER_PROTOCOL_NAMES).toEqual([
      'openai', 'anthropic', 'gemini', 'ollama', 'bedrock', 'vertex',
      'azure', 'groq', 'mistral', 'deepseek', 'together', 'openrouter', 'vllm',
      'azure-foundry', 'xai', 'fireworks', 'cerebras', 'perplexity', 'deepinfra', 'sambanova', 'lmstudio', 'llamacpp',
    ]);
    expect(WIRE_PROTOCOLS).toEqual(['openai', 'anthropic', 'gemini', 'ollama', 'bedrock', 'vertex']);
  });

  it('is the config enum: every entry is accepted, anything else is refused naming the field', () => {
    for (const name of PROVIDER_PROTOCOL_NAMES) expect(providerOf(name).protocol).toBe(name);
    const bad = ProviderConfigSchema.safeParse({ id: 'x', protocol: 'openia', models: [{ id: 'm' }] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['protocol']);
  });

  it("drives the registry: each entry's adapter comes from its wire folder, at the entry's default base URL", async () => {
    const configs = PROVIDER_PROTOCOL_NAMES.map((name) => providerOf(name, needsBaseUrl(name) ? AZURE_URL : undefined));
    const registry = await createProviderRegistry(configs);
    try {
      for (const name of PROVIDER_PROTOCOL_NAMES) {
        const adapter = registry.get(`p-${name}`);
        expect(adapter.protocol).toBe(wireProtocolOf(name));
        expect(adapter.baseUrl).toBe(info(name).defaultBaseUrl ?? CLOUD_HOSTS[name] ?? AZURE_URL);
      }
    } finally {
      await registry.close();
    }
    // Azure and AI Foundry have no default: a provider without a base URL is refused up front.
    await expect(createProviderRegistry([providerOf('azure')])).rejects.toThrow(/baseUrl is required/);
    await expect(createProviderRegistry([providerOf('azure-foundry')])).rejects.toThrow(/baseUrl is required/);
  });

  it("drives telemetry's gen_ai.system names", () => {
    expect(GEN_AI_SYSTEM_OF_PROTOCOL).toEqual({
      openai: 'openai',
      azure: 'az.ai.openai',
      anthropic: 'anthropic',
      gemini: 'gcp.gemini',
      ollama: 'ollama',
      groq: 'groq',
      mistral: 'mistral_ai',
      deepseek: 'deepseek',
      together: 'together_ai',
      openrouter: 'openrouter',
      vllm: 'vllm',
      bedrock: 'aws.bedrock',
      vertex: 'gcp.vertex_ai',
      'azure-foundry': 'az.ai.inference',
      xai: 'xai',
      fireworks: 'fireworks',
      cerebras: 'cerebras',
      perplexity: 'perplexity',
      deepinfra: 'deepinfra',
      sambanova: 'sambanova',
      lmstudio: 'lm_studio',
      llamacpp: 'llama_cpp',
    });
  });

  it('drives how a broken stream is continued: a prefill for Anthropic, an instruction everywhere else', () => {
    const chat: ChatRequest = { messages: [{ role: 'user', content: 'Count.' }] };
    for (const name of PROVIDER_PROTOCOL_NAMES) {
      const messages = continuationRequest(chat, 'One, two, ', name).messages;
      if (name === 'anthropic') {
        expect(messages.slice(1)).toEqual([{ role: 'assistant', content: 'One, two,' }]);
      } else {
        expect(messages.slice(1)).toEqual([
          { role: 'assistant', content: 'One, two, ' },
          { role: 'user', content: CONTINUE_INSTRUCTION },
        ]);
      }
    }
  });

  it("gives the out-of-the-box config its simulators' base URLs, with each protocol's version path", () => {
    const sims = {
      openai: 'http://127.0.0.1:1001', anthropic: 'http://127.0.0.1:1002', gemini: 'http://127.0.0.1:1003', ollama: 'http://127.0.0.1:1004',
      bedrock: 'http://127.0.0.1:1005', vertex: 'http://127.0.0.1:1006', vertexKeyFile: '/tmp/sa.json',
    };
    const urls = Object.fromEntries((defaultConfig(sims, {}).providers ?? []).map((p) => [p.id, p.baseUrl]));
    expect(urls).toEqual({
      'sim-openai': 'http://127.0.0.1:1001/v1',
      'sim-anthropic': 'http://127.0.0.1:1002',
      'sim-gemini': 'http://127.0.0.1:1003/v1beta',
      'sim-ollama': 'http://127.0.0.1:1004',
      // The cloud simulators are addressed at their root: the adapters build the region's or project's paths.
      'sim-bedrock': 'http://127.0.0.1:1005',
      'sim-vertex': 'http://127.0.0.1:1006',
    });
  });
});
