import { z } from 'zod';
import { requestId } from './common.js';
import { resultDiff } from './result-diff.js';

/**
 * Calling server functions over the socket, as `POST /api/fn/<name>` does over HTTP: same
 * caller (the socket's), same argument validation, same error codes. The answer to `fn-call`
 * is one `fn-result`, or one `error`, with the call's id; an action's `ctx.stream.write` chunks
 * arrive before it as `fn-chunk` messages, in order. `fn-cancel` (or closing the socket) ends a
 * call in flight: it answers `error FN_CANCELLED` and the handler's `ctx.signal` aborts.
 *
 * `fn-watch` keeps a query function live on the socket: `fn-watch-result` carries its first
 * result, then each `fn-watch-diff` what changed when a committed change altered the result
 * (see `result-diff.ts`). A re-run that fails answers `error` with the watch's id and ends the
 * watch; `fn-unwatch` (answered by `ack`) or closing the socket ends it too.
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

/** `fn-watch`, client → server: watch query function `name` with `args` (absent: `{}`). */
export const fnWatchMessage = z.object({
  type: z.literal('fn-watch'),
  id: requestId,
  name: z.string().min(1).max(128),
  args: z.unknown().optional(),
});

/** `fn-unwatch`, client → server: ends watch `id`; answered by `ack`. */
export const fnUnwatchMessage = z.object({
  type: z.literal('fn-unwatch'),
  id: requestId,
});

/** `fn-watch-result`, server → client: the first result of watch `id`. */
export const fnWatchResultMessage = z.object({
  type: z.literal('fn-watch-result'),
  id: requestId,
  value: z.unknown(),
});

/**
 * `fn-watch-diff`, server → client: watch `id` has a new result, different from the last one
 * sent; `applyResultDiff(last, diff)` is the new result.
 */
export const fnWatchDiffMessage = z.object({
  type: z.literal('fn-watch-diff'),
  id: requestId,
  diff: resultDiff,
});

/** `fn-call`. */
export type FnCallMessage = z.infer<typeof fnCallMessage>;
/** `fn-cancel`. */
export type FnCancelMessage = z.infer<typeof fnCancelMessage>;
/** `fn-chunk`. */
export type FnChunkMessage = z.infer<typeof fnChunkMessage>;
/** `fn-result`. */
export type FnResultMessage = z.infer<typeof fnResultMessage>;
/** `fn-watch`. */
export type FnWatchMessage = z.infer<typeof fnWatchMessage>;
/** `fn-unwatch`. */
export type FnUnwatchMessage = z.infer<typeof fnUnwatchMessage>;
/** `fn-watch-result`. */
export type FnWatchResultMessage = z.infer<typeof fnWatchResultMessage>;
/** `fn-watch-diff`. */
export type FnWatchDiffMessage = z.infer<typeof fnWatchDiffMessage>;
