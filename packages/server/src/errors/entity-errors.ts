import { AppError } from './app-error.js';

/** The errors of entity rows: values against the schema, ids, filters, lookups and the write path. Each message is written here once. */
export const entityErrors = {
  invalidTotal: (given: string): AppError => new AppError('INVALID_QUERY', `total must be true or false, not ${JSON.stringify(given.slice(0, 40))}`, { fields: ['total'] }),
  lookupNotFound: (entity: string, field: string, value: string): AppError => new AppError('NOT_FOUND', `${entity}.${field} = ${value} not found`),
  invalidLookupValue: (entity: string, field: string, text: string): AppError =>
    new AppError('INVALID_FIELD_TYPE', `${entity}.${field}: "${text}" is not a valid value for this field`, { fields: [field] }),
  /** INVALID_QUERY for a filter or query parameter; `reason` says what is wrong (the parser words it). */
  invalidFilter: (reason: string, field?: string): AppError => new AppError('INVALID_QUERY', reason, field === undefined ? {} : { fields: [field] }),
  overMaximum: (name: string, n: number, max: number): AppError => new AppError('LIMIT_TOO_LARGE', `${name} ${n} is over the maximum of ${max}`),
  invalidId: (): AppError => new AppError('INVALID_ID', 'id must be 1-128 characters of A-Z a-z 0-9 _ - . : ~ @ (and not "cursor")', { fields: ['id'] }),
  fieldType: (entity: string, field: string, expected: string, got: string): AppError =>
    new AppError('INVALID_FIELD_TYPE', `${entity}.${field} must be ${expected}, got ${got}`, { fields: [field] }),
  fieldRequired: (entity: string, field: string): AppError => new AppError('MISSING_FIELD', `${entity}.${field} is required and cannot be null`, { fields: [field] }),
  unknownField: (entity: string, name: string, valid: string): AppError =>
    new AppError('INVALID_COLUMN', `Unknown field "${name}" on ${entity} (valid: ${valid})`, { fields: [name] }),
  dataNotObject: (entity: string): AppError => new AppError('INVALID_DATA', `The ${entity} data must be a JSON object`),
  missingFields: (entity: string, missing: string[]): AppError => new AppError('MISSING_FIELD', `${entity} needs ${missing.map((m) => `"${m}"`).join(', ')}`, { fields: missing }),
  idImmutable: (entity: string): AppError => new AppError('IMMUTABLE_FIELD', `${entity}.id cannot be changed`, { fields: ['id'] }),
  emptyPatch: (entity: string): AppError => new AppError('INVALID_DATA', `The ${entity} patch has no fields to change`),
  readOnlyKey: (): AppError => new AppError('INSUFFICIENT_SCOPE', 'This API key is read-only; changing data needs a key with the write scope'),
  opIdReused: (opId: string | undefined): AppError => new AppError('OP_ID_REUSED', `op_id "${opId}" was already used for a different change`),
} as const;
