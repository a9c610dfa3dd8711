import { z } from 'zod';
import { requestId, seqNumber, wireRow } from './common.js';

/** Most subscriptions one `resume` may carry. */
export const MAX_RESUME_SUBSCRIPTIONS = 100;

/**
 * Reconnecting without a gap. The client sends the last seq it applied and the subscriptions it
 * held; the server re-subscribes them and, from the change log, answers each with `resumed` (a
 * delta on top of the client's rows) or, when a delta cannot be exact (a `$limit` window that
 * may have shifted), with a fresh `result`; then `ack` with the request id. A cursor outside
 * the retained log (pruned, or ahead of the head) is answered by `error RESYNC_REQUIRED`: the
 * client drops its rows and subscribes again.
 */
export const resumeMessage = z.object({
  type: z.literal('resume'),
  id: requestId,
  since: seqNumber,
  subscriptions: z
    .array(
      z.object({
        id: requestId,
        entity: z.string().min(1).max(128),
        filter: z.record(z.string(), z.unknown()).optional(),
        include: z.array(z.string().min(1).max(128)).max(32).optional(),
      }),
    )
    .max(MAX_RESUME_SUBSCRIPTIONS),
});

/** `resumed`, server → client: the rows that changed after `since`, for subscription `id`. */
export const resumedMessage = z.object({
  type: z.literal('resumed'),
  id: requestId,
  query: z.string(),
  seq: seqNumber,
  added: z.array(wireRow),
  changed: z.array(wireRow),
  removed: z.array(z.string()),
});

/** `resume`. */
export type ResumeMessage = z.infer<typeof resumeMessage>;
/** `resumed`. */
export type ResumedMessage = z.infer<typeof resumedMessage>;
