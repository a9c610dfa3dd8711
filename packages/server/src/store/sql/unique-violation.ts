import { AppError } from '../../errors/index.js';

const MAX_SHOWN = 80;

function show(value: unknown): string {
  const text = value === undefined ? '?' : JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

/**
 * The AppError for a unique index that refused a write: `Todo.slug "x" is already taken`, or
 * `Todo.(owner, slug) ("u1", "x") is already taken` for a composite index. `values` are domain
 * values of `fields` in order (the caller's own input, so safe to echo).
 */
export function uniqueViolation(entity: string, fields: readonly string[], values: readonly unknown[], cause?: unknown): AppError {
  const shown = values.map(show);
  const message =
    fields.length === 1
      ? `${entity}.${fields[0]} ${shown[0]} is already taken`
      : `${entity}.(${fields.join(', ')}) (${shown.join(', ')}) is already taken`;
  return new AppError('UNIQUE_VIOLATION', message, { fields: [...fields], cause });
}
