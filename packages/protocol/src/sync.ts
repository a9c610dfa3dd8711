/**
 * The HTTP sync family: change-log entries as `GET /api/sync/pull` returns them, and the
 * client changes `POST /api/sync/push` accepts. Shapes follow Pylon's, with ISO timestamps.
 */

/** What a change did to a row. */
export type ChangeKind = 'insert' | 'update' | 'delete';

/** One committed change, in commit order. */
export interface ChangeEvent {
  seq: number;
  entity: string;
  row_id: string;
  kind: ChangeKind;
  /** The full row after the change; absent on deletes (the event is the tombstone). */
  data?: Record<string, unknown>;
  /** The client op that caused it, when one was given. */
  op_id?: string;
  /** Commit time, ISO-8601 UTC. */
  timestamp: string;
}

/** `GET /api/sync/pull?since=N` answer. */
export interface PullResponse {
  changes: ChangeEvent[];
  cursor: { last_seq: number };
  has_more: boolean;
}

/** One change sent by a client. */
export interface ClientChange {
  entity: string;
  row_id: string;
  kind: ChangeKind;
  data?: Record<string, unknown>;
  op_id?: string;
}

/** `POST /api/sync/push` body. */
export interface PushRequest {
  changes: ClientChange[];
  client_id?: string;
}

/** `POST /api/sync/push` answer: one result per change, in order. */
export interface PushResponse {
  applied: number;
  deduped: number;
  errors: string[];
  results: Array<{ op_id?: string; row_id: string; ok: boolean; seq?: number; deduped?: boolean; error?: { code: string; message: string } }>;
  cursor: { last_seq: number };
}
