import { describeJsonViolation, type JsonLimitViolation } from '@mast/protocol';
import { AppError } from './app-error.js';

/** The errors of CRDT rows: frames, updates, documents and subscriptions. Each message is written here once. */
export const crdtErrors = {
  rowIdTooLong: (max: number): AppError => new AppError('INVALID_MESSAGE', `A row id may be at most ${max} bytes`),
  notSubscribed: (entity: string, rowId: string): AppError => new AppError('UNKNOWN_SUBSCRIPTION', `Not subscribed to ${entity} "${rowId}"`),
  unreadableFrame: (reason: string): AppError => new AppError('INVALID_MESSAGE', `Unreadable CRDT frame (${reason})`),
  serverFrameType: (type: number, entity: string, rowId: string): AppError =>
    new AppError('INVALID_MESSAGE', `A client CRDT frame has type 0x10 or 0x11, not 0x${type.toString(16).padStart(2, '0')}`, { extra: { entity, rowId } }),
  pushNeedsSignIn: (): AppError => new AppError('AUTH_REQUIRED', 'Sign in to push CRDT updates'),
  updateTooLarge: (max: number, got: number): AppError => new AppError('PAYLOAD_TOO_LARGE', `A CRDT update may be at most ${max} bytes, got ${got}`),
  emptyUpdate: (): AppError => new AppError('CRDT_DECODE_FAILED', 'The update is empty'),
  missingUpdate: (): AppError => new AppError('MISSING_UPDATE', 'The body needs "update": a hex string of Loro update bytes'),
  invalidHex: (): AppError => new AppError('INVALID_HEX', '"update" must be an even-length string of hex digits'),
  undecodable: (entity: string, rowId: string, cause: unknown): AppError =>
    new AppError('CRDT_DECODE_FAILED', `The update for ${entity} "${rowId}" is not a Loro update or snapshot`, { cause }),
  missingDependencies: (entity: string, rowId: string): AppError =>
    new AppError('CRDT_MISSING_DEPENDENCIES', `The update for ${entity} "${rowId}" depends on changes the server does not have; send them first or re-sync`),
  unrelatedHistory: (entity: string, rowId: string): AppError =>
    new AppError(
      'CRDT_UNRELATED_HISTORY',
      `The update for ${entity} "${rowId}" was made on a document created apart from the row's (its first change builds on nothing); load the row's document and redo the edits on it`,
    ),
  fieldUnsupported: (entity: string, field: string, reason: string): AppError => new AppError('CRDT_FIELD_UNSUPPORTED', `${entity}.${field}: ${reason}`, { fields: [field] }),
  fieldTooDeep: (entity: string, field: string, violation: JsonLimitViolation, what: string): AppError =>
    new AppError('JSON_TOO_DEEP', `${entity}.${field}: ${describeJsonViolation(violation)}; ${what}`, { fields: [field] }),
  corrupt: (entity: string, rowId: string, cause: unknown): AppError => new AppError('CRDT_CORRUPT', `The stored CRDT document of ${entity} "${rowId}" cannot be read`, { cause }),
} as const;
