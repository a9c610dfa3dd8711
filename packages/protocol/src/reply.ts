import { z } from 'zod';
import { requestId, seqNumber } from './common.js';

/** `ack`, server → client: request `id` succeeded (unsubscribe, resume). */
export const ackMessage = z.object({
  type: z.literal('ack'),
  id: requestId,
  seq: seqNumber.optional(),
});

/**
 * `error`, server → client: request `id` failed (or, without `id`, a frame that could not be
 * read as a request). `code` is from the error catalogue; extra keys (e.g. `oldest_seq`) as in
 * the HTTP envelope. The socket stays open.
 */
export const errorMessage = z
  .object({
    type: z.literal('error'),
    id: requestId.optional(),
    code: z.string(),
    message: z.string(),
  })
  .catchall(z.unknown());

/** `ack`. */
export type AckMessage = z.infer<typeof ackMessage>;
/** `error`. */
export type ErrorMessage = z.infer<typeof errorMessage>;
