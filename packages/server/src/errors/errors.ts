import { describeJsonViolation, type JsonLimitViolation } from '@mast/protocol';
import { AppError } from './app-error.js';

/**
 * The errors raised in more than one place, each written once: the same situation answers the
 * same code and the same sentence wherever it is detected. A row another caller may not read
 * is "not found" in exactly these words too, so a hidden row and a missing one look alike.
 */
export const errors = {
  /** A row that does not exist, or that the caller may not read. */
  rowNotFound: (entity: string, id: string): AppError => new AppError('NOT_FOUND', `${entity} with id "${id}" not found`),
  /** An entity name the schema does not have; `known` lists the ones it has. */
  unknownEntity: (name: string, known?: readonly string[]): AppError =>
    new AppError('ENTITY_NOT_FOUND', `Unknown entity: "${name}"`, known ? { hint: `Entities: ${known.join(', ')}` } : {}),
  /** An account id with no account behind it. */
  accountNotFound: (): AppError => new AppError('NOT_FOUND', 'No account with this id'),
  /** A CRDT operation on an entity with `crdt: false`. */
  notCrdtEntity: (entity: string): AppError => new AppError('NOT_SUPPORTED', `${entity} is not a CRDT entity (crdt: false)`),
  /** A function call its caller cancelled. */
  fnCancelled: (name: string): AppError => new AppError('FN_CANCELLED', `The call of "${name}" was cancelled by its caller`),
  /** Work refused or ended because the server is closing. */
  shuttingDown: (): AppError => new AppError('SHUTTING_DOWN'),
  /** A configured default page size above the configured maximum. */
  defaultLimitOverMax: (defaultLimit: number, maxLimit: number): AppError =>
    new AppError('INVALID_DATA', `MAST_DEFAULT_LIMIT (${defaultLimit}) is over MAST_MAX_LIMIT (${maxLimit})`),
  /** Configuration options (named by their environment variables) that must be at least 1. */
  optionBelowOne: (options: string): AppError => new AppError('INVALID_DATA', `${options} must be at least 1`),
  /** RATE_LIMITED carrying `retry_after_secs` (sent as the Retry-After header too); `what` names what came too often. */
  rateLimited: (retryAfterSecs: number, what = 'requests'): AppError =>
    new AppError('RATE_LIMITED', `Too many ${what}. Retry after ${retryAfterSecs} seconds.`, { extra: { retry_after_secs: retryAfterSecs } }),
  /** A JSON value past the depth or size limits; `subject` says which value. */
  jsonTooDeep: (subject: string, violation: JsonLimitViolation, fields?: string[]): AppError =>
    new AppError('JSON_TOO_DEEP', `${subject}: ${describeJsonViolation(violation)}`, fields ? { fields } : {}),
  /**
   * `err` again with another message and extra envelope keys (which operation, which row): its
   * code, fields and hint are kept, and `err` is the cause.
   */
  annotated: (err: AppError, message: string, extra: Readonly<Record<string, unknown>>): AppError =>
    new AppError(err.code, message, {
      ...(err.fields ? { fields: err.fields } : {}),
      ...(err.hint ? { hint: err.hint } : {}),
      extra: { ...err.extra, ...extra },
      cause: err,
    }),
} as const;
