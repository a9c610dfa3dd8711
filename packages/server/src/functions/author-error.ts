/**
 * An error whose code the function's author chose (`ctx.error`). It is not in the catalogue;
 * the transport sends it as `{"error":{"code","message"}}` with `status`.
 */
export class AuthorError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'AuthorError';
  }
}
