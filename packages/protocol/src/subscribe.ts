import { z } from 'zod';
import { requestId, seqNumber, wireRow } from './common.js';

/**
 * Live queries. `subscribe` names an entity and a Pylon filter object (field conditions plus
 * `$order` and `$limit`; `$offset` is not live). The server answers `result` with the query's
 * current rows, then sends a `diff` whenever a committed change alters them. Diffs are
 * addressed to the server's `query` handle, not the client's id, so every socket sharing the
 * query receives the same bytes; `result` tells the client which handle its id maps to.
 */

/** `subscribe`, client → server. */
export const subscribeMessage = z.object({
  type: z.literal('subscribe'),
  id: requestId,
  entity: z.string().min(1).max(128),
  filter: z.record(z.string(), z.unknown()).optional(),
  /**
   * To-one relations to include: each row carries the related row (or null) under the
   * relation's name, read under the related entity's read policy, and changes to related rows
   * arrive as `changed` rows.
   */
  include: z.array(z.string().min(1).max(128)).max(32).optional(),
});

/** `unsubscribe`, client → server; answered by `ack`. */
export const unsubscribeMessage = z.object({
  type: z.literal('unsubscribe'),
  id: requestId,
});

/**
 * `result`, server → client: the whole window of a subscription as of `seq`, in the query's
 * order. `complete` is false when `$limit` cut the result. A client replaces what it held.
 */
export const resultMessage = z.object({
  type: z.literal('result'),
  id: requestId,
  query: z.string(),
  seq: seqNumber,
  rows: z.array(wireRow),
  complete: z.boolean(),
});

/**
 * `diff`, server → client: what the committed changes up to `seq` did to the query's window.
 * `added` rows entered it, `changed` rows stayed with new values, `removed` ids left it (deleted,
 * no longer matching, pushed out of a full window, or no longer visible to the subscriber).
 */
export const diffMessage = z.object({
  type: z.literal('diff'),
  query: z.string(),
  seq: seqNumber,
  added: z.array(wireRow),
  changed: z.array(wireRow),
  removed: z.array(z.string()),
});

/** `subscribe`. */
export type SubscribeMessage = z.infer<typeof subscribeMessage>;
/** `unsubscribe`. */
export type UnsubscribeMessage = z.infer<typeof unsubscribeMessage>;
/** `result`. */
export type ResultMessage = z.infer<typeof resultMessage>;
/** `diff`. */
export type DiffMessage = z.infer<typeof diffMessage>;
