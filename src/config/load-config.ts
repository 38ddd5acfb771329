import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { formatPath, issueMessage } from '../core/index.ts';
import { ConfigSchema, type Config } from './config-schema.ts';

/** A configuration problem, with every bad key's path in the message (`providers[1].models[0].price.input: …`). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: string[];
  constructor(issues: string[], source: string) {
    super(`invalid configuration (${source}):\n  ${issues.join('\n  ')}`);
    this.issues = issues;
  }
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown key`).join('\n  ');
  }
  return `${formatPath(issue.path)}: ${issueMessage(issue)}`;
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string value. A variable that is unset and has
 * no default is an error naming the key, so a missing secret fails start-up instead of a request.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path: PropertyKey[] = [], issues: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      issues.push(`${formatPath(path)}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, [...path, i], issues));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, [...path, k], issues);
    return out;
  }
  return value;
}

/** Validates a parsed config object (env already interpolated or not), throwing ConfigError on any problem. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, source = 'config'): Config {
  const issues: string[] = [];
  const interpolated = interpolateEnv(raw, env, [], issues);
  if (issues.length > 0) throw new ConfigError(issues, source);
  const result = ConfigSchema.safeParse(interpolated);
  if (!result.success) throw new ConfigError(result.error.issues.map(issueText), source);
  return result.data;
}

/** Reads a YAML or JSON config file (by extension; YAML otherwise) and validates it. */
export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], path);
  }
  let raw: unknown;
  // The YAML parser is loaded only for a YAML file: a JSON config never holds it in memory.
  const parseYaml = extname(path) === '.json' ? undefined : (await import('yaml')).parse;
  try {
    raw = parseYaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`], path);
  }
  return parseConfig(raw, env, path);
}

/** The config's JSON Schema, for editor completion (`switchboard config-schema`). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' });
}
