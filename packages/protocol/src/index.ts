export { errorCatalogue, isErrorCode } from './error-codes.js';
export type { ErrorCode, ErrorEnvelope } from './error-codes.js';
export type { ChangeEvent, ChangeKind, PullResponse, PushRequest, PushResponse, ClientChange } from './sync.js';
