import { checkJsonLimits, DEFAULT_JSON_LIMITS, type JsonLimits } from '@mast/protocol';
import type { z } from 'zod';
import { errors, fnErrors } from '../errors/index.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates a call's arguments: an absent body is `{}`; at the top level a null value counts as
 * absent (Pylon's rule), inside objects it is a value. Every problem is listed in one
 * INVALID_ARGS message, joined with "; ". Arguments past `limits` are JSON_TOO_DEEP, refused
 * before the validator (which recurses) sees them.
 */
export function parseArgs(name: string, validator: z.ZodType<Record<string, unknown>>, raw: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): Record<string, unknown> {
  if (raw === undefined || raw === null) raw = {};
  if (!isPlainObject(raw)) throw fnErrors.argsNotObject(name);
  const violation = checkJsonLimits(raw, limits);
  if (violation !== null) throw errors.jsonTooDeep(`The arguments of "${name}" are refused`, violation);
  const present = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== null));
  const parsed = validator.safeParse(present, { reportInput: true });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'invalid_type' && issue.input === undefined) return `Missing required field "${path}" (${issue.message})`;
    if (issue.code === 'unrecognized_keys') return `Unknown argument${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${path ? `${path}.` : ''}${k}"`).join(', ')}`;
    return `${path || '(args)'}: ${issue.message}`;
  });
  const fields = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? '')).filter((f) => f !== ''))];
  return throwInvalid(problems.join('; '), fields);
}

function throwInvalid(message: string, fields: string[]): never {
  throw fnErrors.invalidArgs(message, fields);
}
