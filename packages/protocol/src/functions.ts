import { z } from 'zod';
import { requestId } from './common.js';

/**
 * Calling server functions over the socket, as `POST /api/fn/<name>` does over HTTP: same
 * caller (the socket's), same argument validation, same error codes. The answer to `fn-call`
 * is one `fn-result`, or one `error`, with the call's id; an action's `ctx.stream.write` chunks
 * arrive before it as `fn-chunk` messages, in order. `fn-cancel` (or closing the socket) ends a
 * call in flight: it answers `error FN_CANCELLED` and the handler's `ctx.signal` aborts.
 */

/** `fn-call`, client → server. `args` is the arguments object (absent: `{}`). */
export const fnCallMessage = z.object({
  type: z.literal('fn-call'),
  id: requestId,
  name: z.string().min(1).max(128),
  args: z.unknown().optional(),
  /** A mutation's op id: a retried call with the same id and args returns the first result. */
  opId: z.string().min(1).max(200).optional(),
});

/** `fn-cancel`, client → server: ends call `id` if it is still running. */
export const fnCancelMessage = z.object({
  type: z.literal('fn-cancel'),
  id: requestId,
});

/** `fn-chunk`, server → client: one `ctx.stream.write` of call `id`; `index` counts from 0. */
export const fnChunkMessage = z.object({
  type: z.literal('fn-chunk'),
  id: requestId,
  index: z.number().int().nonnegative(),
  data: z.unknown(),
});

/** `fn-result`, server → client: call `id` returned `value` (null for undefined). */
export const fnResultMessage = z.object({
  type: z.literal('fn-result'),
  id: requestId,
  value: z.unknown(),
});

/** `fn-call`. */
export type FnCallMessage = z.infer<typeof fnCallMessage>;
/** `fn-cancel`. */
export type FnCancelMessage = z.infer<typeof fnCancelMessage>;
/** `fn-chunk`. */
export type FnChunkMessage = z.infer<typeof fnChunkMessage>;
/** `fn-result`. */
export type FnResultMessage = z.infer<typeof fnResultMessage>;
