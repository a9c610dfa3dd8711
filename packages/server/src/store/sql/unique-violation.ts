import { type AppError, storeErrors } from '../../errors/index.js';

/**
 * The AppError for a unique index that refused a write, with the fields in `fields`. The value is
 * not repeated: the row holding it may be one the caller cannot read, and the answer must be the
 * same whichever row holds it (the 409 itself is the existence oracle every unique constraint
 * is; see docs/security.md).
 */
export function uniqueViolation(entity: string, fields: readonly string[], cause?: unknown): AppError {
  return storeErrors.uniqueViolation(entity, fields, cause);
}
