/**
 * An error whose code the function's author chose (`ctx.error`). It is not in the catalogue;
 * the transport sends it as `{"error":{"code","message"}}` with `status`.
 */
export class AuthorError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** Retrying cannot help (`ctx.error(..., { permanent: true })`): a job is dead at once. */
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'AuthorError';
  }
}
