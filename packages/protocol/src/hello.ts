import { z } from 'zod';
import { seqNumber } from './common.js';

/**
 * The first frame on every socket, from the server: the protocol version, the connection's id
 * (for logs and support), and the change-log head the server has published so far.
 */
export const helloMessage = z.object({
  type: z.literal('hello'),
  protocol: z.number().int().positive(),
  connectionId: z.string(),
  seq: seqNumber,
});

/** `hello`, server → client. */
export type HelloMessage = z.infer<typeof helloMessage>;
