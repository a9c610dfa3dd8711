import { AppError } from './app-error.js';

/** The errors a store raises, whichever database it runs on. Each message is written here once. */
export const storeErrors = {
  noSuchColumn: (entity: string, name: string): AppError => new AppError('INVALID_COLUMN', `${entity} has no field "${name}"`, { fields: [name] }),
  likeNeedsText: (entity: string, field: string, kind: string): AppError =>
    new AppError('INVALID_QUERY', `like needs a text field; ${entity}.${field} is ${kind}`, { fields: [field] }),
  likePatternNotString: (): AppError => new AppError('INVALID_QUERY', 'a like pattern must be a string'),
  unknownRelatedEntity: (entity: string): AppError => new AppError('ENTITY_NOT_FOUND', `Unknown entity "${entity}" in a related filter`),
  unknownEntity: (entity: string): AppError => new AppError('ENTITY_NOT_FOUND', `Unknown entity "${entity}"`),
  notNonNegativeInteger: (name: string): AppError => new AppError('INVALID_QUERY', `${name} must be a non-negative integer`),
  badOrderDirection: (field: string): AppError => new AppError('INVALID_QUERY', 'order direction must be asc or desc', { fields: [field] }),
  /**
   * A unique index refused a write: `Todo.slug is already taken`, or `Todo.(owner, slug) are
   * already taken together`. The value is not repeated: the row holding it may be one the caller
   * cannot read (see docs/security.md).
   */
  uniqueViolation: (entity: string, fields: readonly string[], cause?: unknown): AppError =>
    new AppError('UNIQUE_VIOLATION', fields.length === 1 ? `${entity}.${fields[0]} is already taken` : `${entity}.(${fields.join(', ')}) are already taken together`, {
      fields: [...fields],
      cause,
    }),
  wrongStoredType: (entity: string, field: string, expected: string): AppError => new AppError('INVALID_FIELD_TYPE', `${entity}.${field} must be ${expected}`, { fields: [field] }),
  emptyId: (entity: string): AppError => new AppError('INVALID_ID', `${entity}.id must be a non-empty string`, { fields: ['id'] }),
  idImmutable: (entity: string): AppError => new AppError('IMMUTABLE_FIELD', `${entity}.id cannot be changed`, { fields: ['id'] }),
  busy: (cause: unknown): AppError => new AppError('STORE_BUSY', undefined, { cause }),
  unreachable: (cause: unknown): AppError => new AppError('STORE_BUSY', 'The database is unreachable; retry', { cause }),
  lookupTimedOut: (): AppError => new AppError('STORE_BUSY', 'A related-row lookup timed out'),
  lookupFailed: (cause: unknown): AppError => new AppError('STORE_BUSY', 'A related-row lookup failed', { cause }),
  closed: (): AppError => new AppError('SHUTTING_DOWN', 'the store is closed'),
  opIdReused: (opId: string, cause: unknown): AppError => new AppError('OP_ID_REUSED', `op_id "${opId}" was already recorded`, { cause }),
  lastOwner: (): AppError => new AppError('LAST_OWNER', 'An org must keep at least one owner; make someone else owner first, or delete the org'),
  emailTaken: (cause: unknown): AppError => new AppError('EMAIL_TAKEN', undefined, { cause }),
  identityTaken: (cause: unknown): AppError => new AppError('IDENTITY_TAKEN', undefined, { cause }),
};
