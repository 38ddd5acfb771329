import type { StreamPart } from '../../core/index.ts';
import type { EventStreamSpec } from '../shared/stream-events.ts';
import { GeminiReasoning, mapFinishReason, mapUsage, toToolCall } from './response.ts';
import { GenerateContentResponseSchema, type GenerateContentResponse, type UsageMetadata } from './wire.ts';

/**
 * `:streamGenerateContent?alt=sse`. Gemini has no end marker: the server just closes the connection,
 * so the only proof of a complete reply is a candidate that carried a finishReason (or a prompt
 * block). A close before that is a truncated stream, reported as invalid_response.
 */
export function geminiStreamSpec(model: string): EventStreamSpec<GenerateContentResponse> {
  return {
    framing: 'sse',
    chunk: GenerateContentResponseSchema,
    endMarker: 'a finishReason',
    requestIdHeader: 'x-goog-request-id',
    startModel: model,
    mapper: (requestIdHeader) => {
      let usage: UsageMetadata | undefined;
      let rawFinish: string | undefined;
      let blocked = false;
      let toolCalls = 0;
      let modelVersion: string | undefined;
      let responseId: string | undefined;
      const reasoning = new GeminiReasoning();
      return {
        parts(c) {
          // Every chunk repeats usage with running totals; the last one is final.
          if (c.usageMetadata) usage = c.usageMetadata;
          if (c.modelVersion) modelVersion = c.modelVersion;
          if (c.responseId) responseId = c.responseId;
          const candidate = c.candidates?.find((cand) => (cand.index ?? 0) === 0);
          const out: StreamPart[] = [];
          for (const part of candidate?.content?.parts ?? []) {
            if (part.functionCall) {
              // A Gemini call arrives whole: one delta carries its id, name and complete arguments.
              const call = toToolCall(part.functionCall, toolCalls);
              out.push({ type: 'tool-call-delta', index: toolCalls++, id: call.id, name: call.name, argumentsDelta: call.arguments });
              out.push(...reasoning.of(part, call.id));
            } else {
              if (part.text && !part.thought) out.push({ type: 'text-delta', text: part.text });
              // Thoughts, and the signature Gemini may put on a text part (often an empty one at the end).
              out.push(...reasoning.of(part));
            }
          }
          if (candidate?.finishReason) rawFinish = candidate.finishReason;
          else if (!candidate && c.promptFeedback?.blockReason) {
            rawFinish = c.promptFeedback.blockReason;
            blocked = true;
          }
          return out;
        },
        finish: () =>
          rawFinish === undefined
            ? undefined
            : {
                type: 'finish',
                finishReason: blocked ? 'content_filter' : mapFinishReason(rawFinish, toolCalls > 0),
                rawFinishReason: rawFinish,
                usage: mapUsage(usage),
                model: modelVersion ?? model,
                providerRequestId: requestIdHeader ?? responseId,
              },
      };
    },
  };
}
