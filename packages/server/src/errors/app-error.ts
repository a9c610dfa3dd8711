import { errorCatalogue, type ErrorCode, type ErrorEnvelope } from '@mast/protocol';

/** Options of an AppError beyond its code. */
export interface AppErrorOptions {
  /** Field names the error is about. */
  fields?: string[];
  hint?: string;
  /** Extra keys placed inside the envelope's `error` object (e.g. `oldest_seq`). */
  extra?: Record<string, unknown>;
  /** The underlying error; logged, never sent to the client. */
  cause?: unknown;
}

/**
 * The one error type Mast throws on purpose. Its message is safe to show to the caller; its
 * `cause` is not. Only the transports (`http/`, `ws/`) turn it into a response.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly fields: string[] | undefined;
  readonly hint: string | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, options: AppErrorOptions = {}) {
    super(message ?? errorCatalogue[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.fields = options.fields;
    this.hint = options.hint;
    this.extra = options.extra;
  }

  /** The response body for this error. */
  toEnvelope(): ErrorEnvelope {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.fields ? { fields: this.fields } : {}),
        ...(this.hint ? { hint: this.hint } : {}),
        ...this.extra,
      },
    };
  }
}

/** Turns anything thrown into an AppError; unknown errors become 500 INTERNAL. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('INTERNAL', undefined, { cause: err });
}
