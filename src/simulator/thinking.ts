import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { countTokens, sentence } from './reply.ts';

/**
 * Thinking for the simulators that model it (Anthropic, Gemini): the reasoning text a thinking request gets,
 * and the signatures the simulator issues over it. Like the real APIs, a simulator accepts back only
 * signatures it issued itself: each signature is an HMAC-SHA256 of what it covers under a secret of that
 * simulator instance (random unless SimulatorOptions.signingSecret is given), so a signature that was
 * altered, moved to other text or issued by another simulator is refused.
 */
export class ThoughtSigner {
  readonly #key: Buffer;

  constructor(secret?: string) {
    this.#key = secret !== undefined && secret !== '' ? Buffer.from(secret) : randomBytes(32);
  }

  /** The signature of `content` for one use (`scope`: e.g. 'thinking', 'function_call'), base64. */
  sign(scope: string, content: string): string {
    return createHmac('sha256', this.#key).update(scope).update('\u0000').update(content).digest('base64');
  }

  verify(scope: string, content: string, signature: unknown): boolean {
    if (typeof signature !== 'string') return false;
    const want = Buffer.from(this.sign(scope, content));
    const got = Buffer.from(signature);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /** Opaque data standing for reasoning the client may not read (Anthropic redacted_thinking). */
  seal(scope: string, text: string): string {
    return `${Buffer.from(text).toString('base64')}.${this.sign(scope, text)}`;
  }

  /** The sealed text, or undefined when `data` is not something this simulator sealed. */
  open(scope: string, data: unknown): string | undefined {
    if (typeof data !== 'string') return undefined;
    const dot = data.indexOf('.');
    if (dot < 0) return undefined;
    const text = Buffer.from(data.slice(0, dot), 'base64').toString('utf8');
    return this.verify(scope, text, data.slice(dot + 1)) ? text : undefined;
  }
}

export interface PlannedThinking {
  text: string;
  tokens: number;
}

function clip(s: string, max = 60): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

/** The deterministic reasoning a thinking request gets: what it considers (the prompt or the tool result), then a seeded sentence. */
export function planThinking(prompt: string, toolResult: string | undefined, words: number): PlannedThinking {
  const subject = toolResult !== undefined ? `the tool returned "${clip(toolResult)}"` : `the user asks "${clip(prompt)}"`;
  const text = `Thinking it over: ${subject}. ${sentence(`thinking\u0000${prompt}\u0000${toolResult ?? ''}`, Math.max(4, words))}`;
  return { text, tokens: countTokens(text) };
}

/** Reasoning the simulator hides behind redacted_thinking when a prompt asks for it (the word "redact"). */
export function wantsRedacted(prompt: string): boolean {
  return /\bredact/i.test(prompt);
}
