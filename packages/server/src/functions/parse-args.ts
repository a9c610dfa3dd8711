import type { z } from 'zod';
import { AppError } from '../errors/index.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates a call's arguments: an absent body is `{}`; at the top level a null value counts as
 * absent (Pylon's rule), inside objects it is a value. Every problem is listed in one
 * INVALID_ARGS message, joined with "; ".
 */
export function parseArgs(name: string, validator: z.ZodType<Record<string, unknown>>, raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) raw = {};
  if (!isPlainObject(raw)) throw new AppError('INVALID_ARGS', `Function "${name}" takes a JSON object of arguments`);
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
  throw new AppError('INVALID_ARGS', message, fields.length > 0 ? { fields } : {});
}
