import type { ChatRequest } from '../../src/core/index.ts';
import { createAnthropicAdapter } from '../../src/providers/anthropic/index.ts';
import { createGeminiAdapter } from '../../src/providers/gemini/index.ts';
import { createOllamaAdapter } from '../../src/providers/ollama/index.ts';
import { createOpenAIAdapter } from '../../src/providers/openai/index.ts';
import type { AdapterFactory } from '../../src/providers/spec.ts';
import type { SimProtocol } from '../../src/simulator/protocol.ts';

/** Each adapter with how it reaches the simulator of its protocol (for the adapter-vs-simulator tests). */
export interface AdapterCase {
  protocol: SimProtocol;
  create: AdapterFactory;
  baseUrl: (simUrl: string) => string;
  model: string;
  /** Set where both the adapter and the simulator have an embeddings endpoint. */
  embedModel?: string;
}

export const ADAPTER_CASES: AdapterCase[] = [
  { protocol: 'openai', create: createOpenAIAdapter, baseUrl: (u) => `${u}/v1`, model: 'gpt-4o-mini', embedModel: 'text-embedding-3-small' },
  { protocol: 'anthropic', create: createAnthropicAdapter, baseUrl: (u) => u, model: 'claude-sonnet-5-5' },
  { protocol: 'gemini', create: createGeminiAdapter, baseUrl: (u) => `${u}/v1beta`, model: 'gemini-2.5-flash', embedModel: 'gemini-embedding-001' },
  { protocol: 'ollama', create: createOllamaAdapter, baseUrl: (u) => u, model: 'llama3.2:latest', embedModel: 'nomic-embed-text:latest' },
];

export const SIM_TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000, totalMs: 10000 };

export const textRequest: ChatRequest = {
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Tell me about the gateway.' },
  ],
};
