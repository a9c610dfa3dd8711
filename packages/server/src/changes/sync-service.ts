import type { ChangeEvent, ClientChange, PullResponse, PushResponse } from '@mast/protocol';
import { relatedMayMatch, type FilterNode } from '@mast/schema';
import type { AuthContext } from '../access/auth-context.js';
import { syncErrors, toAppError } from '../errors/index.js';
import type { WriteOp, WritePath } from '../entities/write-path.js';
import { parseCount } from '../entities/filter-parser.js';
import type { SchemaRef } from '../access/schema-ref.js';
import type { ChangeRecord, Row, Store } from '../store/index.js';

/** Told of a change that failed unexpectedly (INTERNAL), with its index in the push. */
export type UnexpectedFailure = (err: unknown, index: number) => void;

/** Default page size of a pull. */
const PULL_DEFAULT_LIMIT = 100;

/** A change-log record in its wire form. */
export function toChangeEvent(record: ChangeRecord): ChangeEvent {
  return {
    seq: record.seq,
    entity: record.entity,
    row_id: record.rowId,
    kind: record.kind,
    ...(record.data ? { data: record.data } : {}),
    ...(record.opId ? { op_id: record.opId } : {}),
    timestamp: new Date(record.at).toISOString(),
  };
}

/**
 * Pull and push for offline-capable clients, over the durable change log. A cursor is the
 * last seq a client has applied.
 */
export class SyncService {
  readonly #store: Store;
  readonly #writes: WritePath;
  readonly #schema: SchemaRef;
  readonly #maxLimit: number;
  readonly #maxPush: number;

  constructor(store: Store, writes: WritePath, schema: SchemaRef, limits: { maxLimit: number; maxPush: number }) {
    this.#store = store;
    this.#schema = schema;
    this.#writes = writes;
    this.#maxLimit = limits.maxLimit;
    this.#maxPush = limits.maxPush;
  }

  /**
   * Changes after `since`. Answers RESYNC_REQUIRED when entries the client has not seen were
   * pruned (including `since=0` once anything was pruned, since the log no longer holds every
   * row) and when the cursor is ahead of the head (another database, or a restore).
   */
  async pull(auth: AuthContext, sinceText: string | undefined, limitText: string | undefined): Promise<PullResponse> {
    const since = sinceText === undefined || sinceText === '' ? 0 : parseCount('since', sinceText);
    const limit = limitText === undefined ? PULL_DEFAULT_LIMIT : Math.max(1, parseCount('limit', limitText, this.#maxLimit));
    const bounds = await this.#store.changeLogBounds();
    if (since > bounds.head) {
      throw syncErrors.cursorAhead(since, bounds.prunedThrough + 1, bounds.head);
    }
    if (since < bounds.prunedThrough) {
      throw syncErrors.cursorPruned(since, bounds.prunedThrough + 1, bounds.head);
    }
    const records = await this.#store.changesSince(since, limit + 1);
    const page = records.slice(0, limit);
    if (since > 0 && this.#viewChanged(auth, page)) {
      throw syncErrors.viewChanged(since, bounds.prunedThrough + 1, bounds.head);
    }
    return {
      changes: page.flatMap((record) => this.#visibleTo(auth, record)),
      cursor: { last_seq: page.length > 0 ? page[page.length - 1]!.seq : since },
      has_more: records.length > limit,
    };
  }

  /**
   * Whether a change in the page is to a row that one of the caller's read rules looks for
   * (`exists`: their membership): rows they pulled before may have become readable or hidden
   * without a change of their own, which a log of changes cannot express. A pull from 0 decides
   * every row by the rules as they are now, so it is the fresh read the caller needs.
   */
  #viewChanged(auth: AuthContext, page: readonly ChangeRecord[]): boolean {
    if (auth.isAdmin || page.length === 0) return false;
    const access = this.#schema.access;
    /** Per entity whose read rule looks at other entities: the caller's filter, and those entities. */
    const rules: Array<{ filter: FilterNode; reads: readonly string[] }> = [];
    for (const entity of this.#schema.current.entities) {
      const reads = access.readDependencies(entity.name);
      if (reads.length === 0) continue;
      let filter: FilterNode | true;
      try {
        filter = access.readFilter(auth, entity.name);
      } catch {
        continue; // the caller reads no row of the entity, whatever changes
      }
      if (filter !== true) rules.push({ filter, reads });
    }
    return page.some((record) =>
      rules.some(({ filter, reads }) => {
        if (!reads.includes(record.entity)) return false;
        // Without the earlier image of an update or delete, what the row was is unknown.
        if (record.kind !== 'insert' && record.before == null) return true;
        return [record.data, record.before].some((image) => image != null && relatedMayMatch(filter, record.entity, image));
      }),
    );
  }

  /**
   * A change as this caller may see it: unchanged when they may read the row after it; a
   * tombstone when the row left their view (they could read it before); nothing otherwise.
   * The cursor still moves past filtered entries.
   */
  #visibleTo(auth: AuthContext, record: ChangeRecord): ChangeEvent[] {
    if (auth.isAdmin) return [toChangeEvent(record)];
    if (!this.#schema.current.entitiesByName.has(record.entity)) return [];
    const access = this.#schema.access;
    const sees = (row: Row | null | undefined): boolean => row != null && access.canRead(auth, record.entity, row);
    if (sees(record.data)) return [toChangeEvent(record)];
    if (record.kind !== 'insert' && sees(record.before)) {
      return [toChangeEvent({ ...record, kind: 'delete', data: null })];
    }
    return [];
  }

  /**
   * Applies client changes in order, each in its own transaction and each idempotent by its
   * `op_id`. A failing change is reported in its result and does not stop the ones after it,
   * whatever the failure: an unexpected one (INTERNAL) is reported with the safe envelope and
   * handed to `onUnexpected` (for the log), so a push never answers 500 after committing the
   * changes before it. The client's `row_id` is the row's id, so rows created offline keep it.
   */
  async push(body: unknown, auth: AuthContext, onUnexpected: UnexpectedFailure = () => undefined): Promise<PushResponse> {
    const changes = parsePushBody(body, this.#maxPush);
    const response: PushResponse = { applied: 0, deduped: 0, errors: [], results: [], cursor: { last_seq: 0 } };
    for (const [index, change] of changes.entries()) {
      const op: WriteOp =
        change.kind === 'insert'
          ? { op: 'insert', entity: change.entity, id: change.row_id, data: change.data ?? {} }
          : change.kind === 'update'
            ? { op: 'update', entity: change.entity, id: change.row_id, data: change.data ?? {} }
            : { op: 'delete', entity: change.entity, id: change.row_id };
      try {
        const outcome = await this.#writes.apply([op], change.op_id === undefined ? { auth } : { auth, opId: change.op_id });
        const seq = outcome.results[0]?.seq;
        if (outcome.deduped) response.deduped++;
        else response.applied++;
        response.results.push({
          ...(change.op_id !== undefined ? { op_id: change.op_id } : {}),
          row_id: change.row_id,
          ok: true,
          ...(seq !== undefined ? { seq } : {}),
          ...(outcome.deduped ? { deduped: true } : {}),
        });
      } catch (err) {
        const appError = toAppError(err);
        if (appError.code === 'INTERNAL') onUnexpected(err, index);
        response.errors.push(`${change.kind} ${change.entity}/${change.row_id}: ${appError.message}`);
        response.results.push({
          ...(change.op_id !== undefined ? { op_id: change.op_id } : {}),
          row_id: change.row_id,
          ok: false,
          error: { code: appError.code, message: appError.message },
        });
      }
    }
    response.cursor.last_seq = (await this.#store.changeLogBounds()).head;
    return response;
  }
}

function parsePushBody(body: unknown, max: number): ClientChange[] {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { changes?: unknown }).changes)) {
    throw syncErrors.invalidPushBody();
  }
  const changes = (body as { changes: unknown[] }).changes;
  if (changes.length > max) throw syncErrors.tooManyChanges(max, changes.length);
  return changes.map((c, index) => {
    const change = c as Partial<ClientChange> | null;
    const fail = (what: string): never => {
      throw syncErrors.invalidChange(index, what);
    };
    if (typeof change !== 'object' || change === null) return fail('must be an object');
    if (typeof change.entity !== 'string') fail('"entity" must be a string');
    if (typeof change.row_id !== 'string' || change.row_id === '') fail('"row_id" must be a non-empty string');
    if (change.kind !== 'insert' && change.kind !== 'update' && change.kind !== 'delete') fail('"kind" must be insert, update or delete');
    if (change.op_id !== undefined && (typeof change.op_id !== 'string' || change.op_id.length === 0 || change.op_id.length > 200)) {
      fail('"op_id" must be a string of 1-200 characters');
    }
    return change as ClientChange;
  });
}
