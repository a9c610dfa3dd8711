import { z } from 'zod';
import { requestId } from './common.js';

/**
 * `barrier`, client → server (version 2): answered by `ack` with `seq` once every change the
 * server had committed when it read the message has been applied to the socket's subscriptions
 * and their frames sent before the `ack`. A client that wrote over HTTP (whose answer carries the
 * write's `seq`) or called a mutation uses it to learn when its live queries show that write,
 * including a write that changed none of them, so its optimistic copy can be dropped then.
 */
export const barrierMessage = z.object({
  type: z.literal('barrier'),
  id: requestId,
});

/** `barrier`. */
export type BarrierMessage = z.infer<typeof barrierMessage>;
