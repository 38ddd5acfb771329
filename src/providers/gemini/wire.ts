import { z } from 'zod';

/**
 * Gemini (generativelanguage v1beta) payloads. Response schemas are loose: Google adds fields
 * (thoughtSignature, citationMetadata, safetyRatings, …) often, and an unknown field must never turn a
 * good reply into an invalid_response. Only the fields we read are typed.
 */

const count = z.number().int().nonnegative().optional();

export const FunctionCallSchema = z.looseObject({
  name: z.string().min(1),
  /** A JSON object (protobuf Struct); absent for a call without arguments. */
  args: z.record(z.string(), z.unknown()).optional(),
  id: z.string().optional(),
});

export const ResponsePartSchema = z.looseObject({
  text: z.string().optional(),
  /** Thinking models mark their thought summaries with `thought: true`. */
  thought: z.boolean().optional(),
  thoughtSignature: z.string().optional(),
  functionCall: FunctionCallSchema.optional(),
});

export const CandidateSchema = z.looseObject({
  content: z
    .looseObject({
      role: z.string().optional(),
      parts: z.array(ResponsePartSchema).optional(),
    })
    .optional(),
  finishReason: z.string().optional(),
  finishMessage: z.string().optional(),
  index: z.number().int().optional(),
});

export const UsageMetadataSchema = z.looseObject({
  promptTokenCount: count,
  candidatesTokenCount: count,
  thoughtsTokenCount: count,
  cachedContentTokenCount: count,
  toolUsePromptTokenCount: count,
  totalTokenCount: count,
});

export const GenerateContentResponseSchema = z.looseObject({
  candidates: z.array(CandidateSchema).optional(),
  promptFeedback: z.looseObject({ blockReason: z.string().optional() }).optional(),
  usageMetadata: UsageMetadataSchema.optional(),
  modelVersion: z.string().optional(),
  responseId: z.string().optional(),
});

/** google.rpc.Status as JSON; `details` are typed Any messages told apart by `@type`. */
export const ErrorEnvelopeSchema = z.looseObject({
  error: z.looseObject({
    code: z.number().int().optional(),
    message: z.string().optional(),
    status: z.string().optional(),
    details: z
      .array(
        z.looseObject({
          '@type': z.string().optional(),
          /** google.rpc.ErrorInfo */
          reason: z.string().optional(),
          /** google.rpc.RetryInfo, a protobuf Duration in JSON form ("34.4s"). */
          retryDelay: z.string().optional(),
        }),
      )
      .optional(),
  }),
});

export const BatchEmbedContentsResponseSchema = z.looseObject({
  embeddings: z.array(z.looseObject({ values: z.array(z.number()) })),
});

export type FunctionCall = z.infer<typeof FunctionCallSchema>;
export type UsageMetadata = z.infer<typeof UsageMetadataSchema>;
export type GenerateContentResponse = z.infer<typeof GenerateContentResponseSchema>;
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

// ---- Request side: what we send. Schemas (not validated at runtime) keep the types in one place. ----

/** A model turn sent back carries its thoughts (`thought: true`) and the signatures Gemini issued, on the parts it put them on. */
const Signed = { thoughtSignature: z.string().optional() };

export const RequestPartSchema = z.union([
  z.object({ text: z.string(), thought: z.boolean().optional(), ...Signed }),
  z.object({ inlineData: z.object({ mimeType: z.string(), data: z.string() }) }),
  z.object({ fileData: z.object({ fileUri: z.string(), mimeType: z.string() }) }),
  z.object({
    functionCall: z.object({ name: z.string(), args: z.record(z.string(), z.unknown()), id: z.string().optional() }),
    ...Signed,
  }),
  z.object({
    functionResponse: z.object({
      name: z.string(),
      response: z.record(z.string(), z.unknown()),
      id: z.string().optional(),
    }),
  }),
]);

export const ContentSchema = z.object({
  role: z.enum(['user', 'model']),
  parts: z.array(RequestPartSchema),
});

export const FunctionDeclarationSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  parametersJsonSchema: z.record(z.string(), z.unknown()).optional(),
});

export const GenerationConfigSchema = z.object({
  maxOutputTokens: z.number().optional(),
  temperature: z.number().optional(),
  topP: z.number().optional(),
  stopSequences: z.array(z.string()).optional(),
  seed: z.number().optional(),
  responseMimeType: z.string().optional(),
  responseJsonSchema: z.record(z.string(), z.unknown()).optional(),
  thinkingConfig: z.object({ thinkingBudget: z.number().optional(), includeThoughts: z.boolean().optional() }).optional(),
});

export const GenerateContentRequestSchema = z.object({
  contents: z.array(ContentSchema),
  systemInstruction: z.object({ parts: z.array(z.object({ text: z.string() })) }).optional(),
  tools: z.array(z.object({ functionDeclarations: z.array(FunctionDeclarationSchema) })).optional(),
  toolConfig: z
    .object({
      functionCallingConfig: z.object({
        mode: z.enum(['AUTO', 'ANY', 'NONE']),
        allowedFunctionNames: z.array(z.string()).optional(),
      }),
    })
    .optional(),
  generationConfig: GenerationConfigSchema.optional(),
});

export type RequestPart = z.infer<typeof RequestPartSchema>;
export type Content = z.infer<typeof ContentSchema>;
export type GenerationConfig = z.infer<typeof GenerationConfigSchema>;
export type GenerateContentRequest = z.infer<typeof GenerateContentRequestSchema>;
