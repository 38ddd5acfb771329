import { z } from 'zod';
import type { ValidatorConfig } from '../config/index.ts';
import type { ChatRequest, ChatResponse } from '../core/index.ts';

/**
 * The cascade's acceptance test of one step's answer. JSON Schema validation uses zod's
 * `z.fromJSONSchema` (zod is already the project's validator; it covers the common subset — types,
 * properties/required/additionalProperties, items, enum/const, string and number bounds, pattern,
 * anyOf/oneOf/allOf). Converted schemas are cached per schema object.
 *
 * Returns undefined when the answer is acceptable, else why not (recorded on the attempt).
 */
export type AnswerValidator = (res: ChatResponse) => string | undefined;

/** Openings of a refusal; matched case-insensitively against the start of the answer only, so an answer that merely quotes one passes. */
const REFUSAL = /^\s*(?:i(?:'m| am) sorry,? but |i(?: cannot|can't|'m unable to| am unable to| won't) (?:help|assist|comply|provide|do that|fulfil)|sorry,? (?:but )?i (?:can't|cannot)|as an ai(?: language model)?,? i (?:can't|cannot))/i;

const compiled = new WeakMap<object, z.ZodType | Error>();

function schemaOf(schema: Record<string, unknown>): z.ZodType | Error {
  let s = compiled.get(schema);
  if (!s) {
    try {
      s = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch (e) {
      s = e instanceof Error ? e : new Error(String(e));
    }
    compiled.set(schema, s);
  }
  return s;
}

function checkJson(text: string, schema: Record<string, unknown> | undefined): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (!schema) return undefined;
  const s = schemaOf(schema);
  if (s instanceof Error) return `JSON schema unusable: ${s.message}`;
  const r = s.safeParse(value);
  if (r.success) return undefined;
  const issue = r.error.issues[0]!;
  return `JSON schema: ${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}

/** The validator for one request on one cascade route: the route's checks plus the request's own JSON format. */
export function createAnswerValidator(config: ValidatorConfig | undefined, req: ChatRequest): AnswerValidator {
  const cfg = config ?? { nonEmpty: true, refusal: true };
  const regex = cfg.regex !== undefined ? new RegExp(cfg.regex) : undefined;
  const rf = req.responseFormat;
  return (res) => {
    const text = res.text;
    // A tool call is an answer in itself; text checks do not apply to it.
    if (res.toolCalls.length > 0) return undefined;
    if (cfg.nonEmpty && text.trim() === '') return 'empty answer';
    if (cfg.refusal && (res.finishReason === 'content_filter' || REFUSAL.test(text))) return 'refusal';
    if (cfg.maxLength !== undefined && text.length > cfg.maxLength) return `longer than ${cfg.maxLength} characters (${text.length})`;
    if (regex && !regex.test(text)) return `does not match /${cfg.regex}/`;
    if (rf?.type === 'json_schema') {
      const why = checkJson(text, rf.schema);
      if (why) return why;
    } else if (rf?.type === 'json_object' && !cfg.jsonSchema) {
      const why = checkJson(text, undefined);
      if (why) return why;
    }
    if (cfg.jsonSchema) return checkJson(text, cfg.jsonSchema);
    return undefined;
  };
}
