/**
 * Every error the client raises or passes on: `code` is the server's catalogue code when the
 * server refused something (`POLICY_DENIED`, `UNIQUE_VIOLATION`, …) or one of the client's own
 * (`PROTOCOL_MISMATCH`, `CONNECTION_LOST`, `IDENTITY_CHANGED`, `AUTH_FAILED`, `CLOSED`,
 * `CANCELLED`, `NETWORK`).
 */
export class MastClientError extends Error {
  readonly code: string;
  /** HTTP status when the error came from an HTTP answer. */
  readonly status: number | undefined;
  /** The server's extra keys (`fields`, `oldest_seq`, …). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MastClientError';
    this.code = code;
    this.status = options.status;
    this.details = options.details ?? {};
  }
}

/** A MastClientError from a server `error` message or an HTTP error envelope. */
export function errorFromServer(body: unknown, status?: number): MastClientError {
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const inner = typeof record.error === 'object' && record.error !== null ? (record.error as Record<string, unknown>) : record;
  const { code, message, type: _type, id: _id, ...details } = inner;
  return new MastClientError(typeof code === 'string' ? code : 'INTERNAL', typeof message === 'string' ? message : `Request failed${status ? ` (${status})` : ''}`, {
    ...(status === undefined ? {} : { status }),
    details,
  });
}
