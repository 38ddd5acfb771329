import type { StreamPart } from '../../core/index.ts';
import type { EventStreamSpec } from '../shared/stream-events.ts';
import { finishOf, toToolCall, usageOf } from './response.ts';
import { OllamaChatChunkSchema, type OllamaChatChunk } from './wire.ts';

/**
 * `/api/chat` NDJSON. Each line is a whole JSON object: text in `message.content`, reasoning in
 * `message.thinking`, tool calls complete (never fragmented) in `message.tool_calls`; the line with
 * `done: true` carries the finish reason and usage and ends the reply (anything after it is not
 * read). No such line means the reply was cut off, whatever else arrived.
 */
export function chatStreamSpec(model: string): EventStreamSpec<OllamaChatChunk> {
  return {
    framing: 'ndjson',
    chunk: OllamaChatChunkSchema,
    endMarker: 'a done line (reply cut off)',
    // The model asked for, until the server names the one that answered.
    startModel: model,
    mapper: () => {
      let toolCallCount = 0;
      return {
        parts(chunk) {
          const message = chunk.message;
          const parts: StreamPart[] = [];
          if (message?.thinking) parts.push({ type: 'reasoning-delta', text: message.thinking, provider: 'ollama' });
          if (message?.content) parts.push({ type: 'text-delta', text: message.content });
          for (const call of message?.tool_calls ?? []) {
            const index = toolCallCount++;
            const { id, name, arguments: args } = toToolCall(call, index);
            parts.push({ type: 'tool-call-delta', index, id, name, argumentsDelta: args });
          }
          if (chunk.done) {
            parts.push({
              type: 'finish',
              ...finishOf(chunk.done_reason, toolCallCount > 0),
              usage: usageOf(chunk),
              model: chunk.model ?? model,
            });
          }
          return parts;
        },
      };
    },
  };
}
