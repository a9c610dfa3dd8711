import type { ServerMessage } from '@mast/protocol';
import { toAppError } from '../errors/index.js';

/** The `error` message for anything a request threw; unknown errors become INTERNAL. */
export function errorReply(err: unknown, id: string | undefined): { message: ServerMessage; internal: boolean } {
  const error = toAppError(err);
  return {
    message: {
      type: 'error',
      ...(id === undefined ? {} : { id }),
      code: error.code,
      message: error.message,
      ...(error.fields ? { fields: error.fields } : {}),
      ...(error.hint ? { hint: error.hint } : {}),
      ...error.extra,
    },
    internal: error.code === 'INTERNAL',
  };
}
