/**
 * The one catalogue of error codes Mast answers with. Every code has one HTTP status and a
 * default safe message; `docs/errors.md` lists the same codes and a test keeps them in step.
 * Codes Pylon defines keep Pylon's name and status; codes marked `mast` are ours.
 */
export const errorCatalogue = {
  // 400: the request is wrong
  INVALID_JSON: { status: 400, message: 'Invalid request body', origin: 'pylon' },
  INVALID_REQUEST: { status: 400, message: 'The HTTP request could not be parsed', origin: 'mast' },
  INVALID_URL: { status: 400, message: 'The URL has a malformed percent-escape', origin: 'mast' },
  INVALID_DATA: { status: 400, message: 'The request body has the wrong shape', origin: 'pylon' },
  INVALID_COLUMN: { status: 400, message: 'Unknown field', origin: 'pylon' },
  INVALID_FIELD_TYPE: { status: 400, message: 'A field value has the wrong type', origin: 'mast' },
  MISSING_FIELD: { status: 400, message: 'A required field is missing', origin: 'pylon' },
  IMMUTABLE_FIELD: { status: 400, message: 'This field cannot be changed', origin: 'mast' },
  INVALID_ID: { status: 400, message: 'Invalid row id', origin: 'pylon' },
  ENTITY_NOT_FOUND: { status: 400, message: 'Unknown entity', origin: 'pylon' },
  INVALID_QUERY: { status: 400, message: 'Invalid query', origin: 'pylon' },
  LIMIT_TOO_LARGE: { status: 400, message: 'The limit is over the maximum', origin: 'mast' },
  INVALID_CURSOR: { status: 400, message: 'Invalid cursor', origin: 'mast' },
  MISSING_OPERATIONS: { status: 400, message: 'The body needs an "operations" array', origin: 'pylon' },
  INVALID_OPERATION: { status: 400, message: 'Invalid operation', origin: 'mast' },
  JSON_TOO_DEEP: { status: 400, message: 'The JSON value is nested too deep or has too many elements', origin: 'mast' },
  INVALID_MESSAGE: { status: 400, message: 'A realtime message has the wrong shape', origin: 'mast' },
  UNKNOWN_MESSAGE: { status: 400, message: 'Unknown realtime message type', origin: 'mast' },
  NOT_SUPPORTED: { status: 400, message: 'This entity is not a CRDT entity', origin: 'pylon' },
  MISSING_UPDATE: { status: 400, message: 'The body needs an "update" hex string', origin: 'pylon' },
  INVALID_HEX: { status: 400, message: 'The update is not an even-length hex string', origin: 'pylon' },
  CRDT_DECODE_FAILED: { status: 400, message: 'The bytes are not a Loro update or snapshot', origin: 'pylon' },
  CRDT_FIELD_UNSUPPORTED: { status: 400, message: "This field's CRDT container cannot be written this way", origin: 'mast' },
  INVALID_ARGS: { status: 400, message: 'The function arguments are invalid', origin: 'pylon' },
  HANDLER_ERROR: { status: 400, message: 'Internal handler error', origin: 'pylon' },
  FN_TYPE_MISMATCH: { status: 400, message: 'This kind of function cannot do that', origin: 'pylon' },
  FN_TIMEOUT: { status: 400, message: 'The function did not finish in time', origin: 'pylon' },
  FN_RESULT_INVALID: { status: 400, message: 'The function returned a value that is not JSON', origin: 'mast' },
  FN_MUTATION_BLOCKED: { status: 400, message: 'The mutation awaited something other than ctx.db while holding the writer; use an action', origin: 'mast' },
  FN_CANCELLED: { status: 400, message: 'The call was cancelled by its caller', origin: 'mast' },
  FN_QUERY_BLOCKED: { status: 400, message: 'The query awaited something other than ctx.db while holding its read snapshot; use an action', origin: 'mast' },
  MISSING_CALLBACK: { status: 400, message: 'The sign-in needs a callback URL', origin: 'pylon' },
  INVALID_EMAIL: { status: 400, message: 'The email address is not valid', origin: 'mast' },
  WEAK_PASSWORD: { status: 400, message: 'The password is too short', origin: 'pylon' },
  PASSWORD_TOO_LONG: { status: 400, message: 'The password is too long', origin: 'mast' },
  NO_PASSWORD_SET: { status: 400, message: 'This account has no password; reset it to set one', origin: 'pylon' },
  // 401 / 403: who is asking
  AUTH_REQUIRED: { status: 401, message: 'Authentication required', origin: 'pylon' },
  UNAUTHORIZED: { status: 401, message: 'Unauthorized', origin: 'pylon' },
  INVALID_TOKEN: { status: 401, message: 'The token is unknown, revoked or malformed', origin: 'pylon' },
  SESSION_EXPIRED: { status: 401, message: 'The session has expired', origin: 'pylon' },
  ACCESS_CHANGED: { status: 401, message: 'The org role or selected org of this stream changed; reconnect', origin: 'mast' },
  INVALID_API_KEY: { status: 401, message: 'The API key is malformed, unknown, revoked or expired', origin: 'pylon' },
  INVALID_JWT: { status: 401, message: 'The JWT does not verify', origin: 'pylon' },
  OAUTH_FAILED: { status: 401, message: "The identity provider's answer could not be verified", origin: 'mast' },
  INVALID_CREDENTIALS: { status: 401, message: 'Invalid email or password', origin: 'pylon' },
  WRONG_PASSWORD: { status: 401, message: 'The current password is wrong', origin: 'pylon' },
  INVALID_CODE: { status: 401, message: 'The code is wrong or has expired', origin: 'pylon' },
  CSRF_REJECTED: { status: 403, message: 'Origin not allowed for a cookie-authenticated request', origin: 'pylon' },
  FORBIDDEN: { status: 403, message: 'This endpoint requires admin auth', origin: 'pylon' },
  POLICY_DENIED: { status: 403, message: 'Access denied by policy', origin: 'pylon' },
  API_KEY_AUTH_FORBIDDEN: { status: 403, message: 'This endpoint cannot be used with an API key', origin: 'pylon' },
  INSUFFICIENT_SCOPE: { status: 403, message: "The API key's scopes do not allow this", origin: 'mast' },
  NOT_A_MEMBER: { status: 403, message: 'You are not a member of this org', origin: 'pylon' },
  ORG_FORBIDDEN: { status: 403, message: 'Your role in this org does not allow this', origin: 'mast' },
  INVITE_EMAIL_MISMATCH: { status: 403, message: 'This invite is for another email address', origin: 'mast' },
  UNTRUSTED_REDIRECT: { status: 403, message: 'The redirect URL is not on a trusted origin', origin: 'pylon' },
  OAUTH_INVALID_STATE: { status: 403, message: 'The sign-in state is unknown, expired, already used or from another browser', origin: 'pylon' },
  OAUTH_EMAIL_UNVERIFIED: { status: 403, message: 'The provider has not verified this email address', origin: 'mast' },
  NOT_IN_ROOM: { status: 403, message: 'This socket has not joined the room', origin: 'mast' },
  // 404 / 405: what is asked for
  NOT_FOUND: { status: 404, message: 'Not found', origin: 'pylon' },
  FN_NOT_FOUND: { status: 404, message: 'No function with this name', origin: 'pylon' },
  UNKNOWN_SUBSCRIPTION: { status: 404, message: 'No subscription with this id on this socket', origin: 'mast' },
  ORG_NOT_FOUND: { status: 404, message: 'No org with this id', origin: 'mast' },
  INVALID_INVITE: { status: 404, message: 'The invite is unknown, already used or expired', origin: 'mast' },
  PROVIDER_NOT_FOUND: { status: 404, message: 'No sign-in provider with this name', origin: 'pylon' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed', origin: 'pylon' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time', origin: 'mast' },
  // 409 / 410: state
  UNIQUE_VIOLATION: { status: 409, message: 'A unique value is already taken', origin: 'mast' },
  EMAIL_TAKEN: { status: 409, message: 'An account with this email already exists', origin: 'pylon' },
  IDENTITY_TAKEN: { status: 409, message: 'This sign-in identity is already linked to an account', origin: 'mast' },
  OP_ID_REUSED: { status: 409, message: 'This op_id was already used for a different change', origin: 'mast' },
  DUPLICATE_SUBSCRIPTION: { status: 409, message: 'A subscription with this id is already open on this socket', origin: 'mast' },
  ALREADY_IN_ROOM: { status: 409, message: 'This socket has already joined the room', origin: 'mast' },
  JOB_STATE_CONFLICT: { status: 409, message: 'The job is not in a state that allows this', origin: 'mast' },
  CRDT_MISSING_DEPENDENCIES: { status: 409, message: 'The update depends on changes the server does not have; send them first', origin: 'mast' },
  CRDT_UNRELATED_HISTORY: {
    status: 409,
    message: "The update was made on a document created apart from the row's; load the row's document and redo the edits on it",
    origin: 'mast',
  },
  LAST_OWNER: { status: 409, message: 'An org must keep at least one owner', origin: 'mast' },
  LIMIT_REACHED: { status: 409, message: 'A limit on how many of these you may hold is reached', origin: 'mast' },
  RESYNC_REQUIRED: { status: 410, message: 'The cursor is outside the change log; re-sync', origin: 'pylon' },
  // 413 / 414 / 415 / 429 / 431: limits
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body too large', origin: 'pylon' },
  URL_TOO_LONG: { status: 414, message: 'A path segment of the URL is too long', origin: 'mast' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the body as application/json', origin: 'mast' },
  RATE_LIMITED: { status: 429, message: 'Too many requests', origin: 'pylon' },
  TOO_MANY_SUBSCRIPTIONS: { status: 429, message: 'Too many subscriptions on this socket', origin: 'mast' },
  TOO_MANY_ROOMS: { status: 429, message: 'This socket has joined too many rooms', origin: 'mast' },
  ROOM_FULL: { status: 429, message: 'The room has as many members as it may hold', origin: 'mast' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request line and headers are too large', origin: 'mast' },
  // 5xx: ours
  INTERNAL: { status: 500, message: 'Internal server error', origin: 'mast' },
  CRDT_CORRUPT: { status: 500, message: 'The stored CRDT document of this row cannot be read', origin: 'mast' },
  EMAIL_SEND_FAILED: { status: 500, message: 'The email could not be sent', origin: 'pylon' },
  EMAIL_NOT_CONFIGURED: { status: 503, message: 'No email transport is configured (set MAST_SMTP_URL)', origin: 'mast' },
  FN_OVERLOADED: { status: 503, message: 'Every function worker is busy and the queue of isolated calls is full; retry', origin: 'mast' },
  STORE_BUSY: { status: 503, message: 'The database is busy; retry', origin: 'mast' },
  IDP_UNAVAILABLE: { status: 503, message: 'The identity provider cannot be reached; retry', origin: 'mast' },
  SHUTTING_DOWN: { status: 503, message: 'The server is shutting down', origin: 'mast' },
} as const satisfies Record<string, { status: number; message: string; origin: 'pylon' | 'mast' }>;

/** A code from the catalogue. */
export type ErrorCode = keyof typeof errorCatalogue;

/** The JSON body of every error response: `{"error":{"code","message",...}}`. */
export interface ErrorEnvelope {
  error: {
    code: ErrorCode;
    message: string;
    /** Which field(s) the error is about, when it is about fields. */
    fields?: string[];
    hint?: string;
    /** Extra data some codes carry, e.g. `oldest_seq` on RESYNC_REQUIRED. */
    [extra: string]: unknown;
  };
}

/** True when `code` names an entry of the catalogue. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCatalogue, code);
}
