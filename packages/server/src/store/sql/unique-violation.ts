import { AppError } from '../../errors/index.js';

/**
 * The AppError for a unique index that refused a write: `Todo.slug is already taken`, or
 * `Todo.(owner, slug) are already taken together` for a composite index, with the fields in
 * `fields`. The value is not repeated: the row holding it may be one the caller cannot read, and
 * the answer must be the same whichever row holds it (the 409 itself is the existence oracle
 * every unique constraint is; see docs/security.md).
 */
export function uniqueViolation(entity: string, fields: readonly string[], cause?: unknown): AppError {
  const message = fields.length === 1 ? `${entity}.${fields[0]} is already taken` : `${entity}.(${fields.join(', ')}) are already taken together`;
  return new AppError('UNIQUE_VIOLATION', message, { fields: [...fields], cause });
}
