import { compareValues, evaluateFilter, totalOrder, type OrderTerm } from '@mast/schema/memory';
import type { MastClientError } from './errors.js';
import { querySpec, type Filter, type QuerySpec } from './query-spec.js';
import type { CachedRow, RowCache } from './row-cache.js';

/** What a live query shows at one moment; a new object only when something in it changed. */
export interface QueryState<R> {
  /** The rows in the query's order, pending writes included. */
  readonly rows: readonly R[];
  /** True until the server's first result arrived. */
  readonly loading: boolean;
  /** Why the server refused the query (it then holds no server rows). */
  readonly error: MastClientError | null;
  /** False when `$limit` cut the window: `loadMore()` can fetch more. */
  readonly complete: boolean;
  /** True while the rows are the ones kept from an earlier session, before the server answered. */
  readonly fromCache: boolean;
}

/** How a query reaches the socket; implemented by the client. */
export interface QueryHost {
  /** Opens (or re-opens, with a larger limit) the query's server subscription. */
  subscribe(query: LiveQuery<CachedRow>): void;
  /** Closes it; called when the last holder let go. */
  close(query: LiveQuery<CachedRow>): void;
}

/**
 * A live query: the window of one `subscribe` over the normalized cache. The server's window
 * is a set of ids (rows live once in the cache); pending writes join or leave it by the query's
 * filter, and rows are shown in the query's order (ties by id), cut at `$limit`.
 */
export class LiveQuery<R extends CachedRow = CachedRow> {
  readonly entity: string;
  /** The filter as the server gets it (its `$limit` grows with `loadMore()`). */
  filter: Filter | undefined;
  /** The subscription id on the current socket, and the server's query handle. */
  subId: string | null = null;
  handle: string | null = null;
  /** How many callers hold this query (identical queries are shared). */
  holders = 0;
  /** The seq its kept rows (from an earlier session) were current at: it resumes from there. */
  keptSeq: number | null = null;
  /** Set while kept rows are being looked up: the query subscribes or resumes once they are. */
  restoring: Promise<void> | null = null;

  readonly #cache: RowCache;
  readonly #host: QueryHost;
  #spec: QuerySpec;
  readonly #compare: (a: CachedRow, b: CachedRow) => number;
  #serverIds = new Set<string>();
  #state: QueryState<R> = { rows: [], loading: true, error: null, complete: false, fromCache: false };
  readonly #listeners = new Set<() => void>();
  #moreWaiters: Array<() => void> = [];

  constructor(entity: string, filter: Filter | undefined, cache: RowCache, host: QueryHost) {
    this.entity = entity;
    this.filter = filter;
    this.#spec = querySpec(filter);
    this.#cache = cache;
    this.#host = host;
    this.#compare = comparator(this.#spec.order);
    this.refresh();
  }

  /** The current state (stable object between changes, for `useSyncExternalStore`). */
  get state(): QueryState<R> {
    return this.#state;
  }

  get rows(): readonly R[] {
    return this.#state.rows;
  }

  get loading(): boolean {
    return this.#state.loading;
  }

  get error(): MastClientError | null {
    return this.#state.error;
  }

  /** Calls `listener` after every change of `state`; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves with the state once the first result (or an error) arrived. */
  ready(): Promise<QueryState<R>> {
    if (!this.#state.loading) return Promise.resolve(this.#state);
    return new Promise((resolve) => {
      const off = this.subscribe(() => {
        if (this.#state.loading) return;
        off();
        resolve(this.#state);
      });
    });
  }

  /**
   * Grows a `$order` + `$limit` window by its first page size (or `by`); resolves when the
   * larger window arrived. Nothing to do for a complete window.
   */
  loadMore(by?: number): Promise<void> {
    if (this.#state.complete || this.#spec.limit === undefined) return Promise.resolve();
    const step = by ?? (this.#pageSize ??= this.#spec.limit);
    this.filter = { ...this.filter, $limit: this.#spec.limit + step };
    this.#spec = querySpec(this.filter);
    const done = new Promise<void>((resolve) => this.#moreWaiters.push(resolve));
    this.#host.subscribe(this as unknown as LiveQuery<CachedRow>);
    return done;
  }
  #pageSize: number | undefined;

  /** Lets go of this handle; the subscription closes when no holder is left. */
  close(): void {
    if (--this.holders > 0) return;
    this.#host.close(this as unknown as LiveQuery<CachedRow>);
  }

  /** `result`: the server's whole window, replacing what the query held. */
  applyResult(rows: readonly CachedRow[], complete: boolean, handle: string): void {
    this.handle = handle;
    const next = new Set(rows.map((r) => r.id));
    this.#cache.batch(() => {
      this.#cache.hold(
        this.entity,
        rows.filter((r) => !this.#serverIds.has(r.id)),
      );
      this.#cache.update(
        this.entity,
        rows.filter((r) => this.#serverIds.has(r.id)),
      );
      this.#cache.release(
        this.entity,
        [...this.#serverIds].filter((id) => !next.has(id)),
      );
      this.#serverIds = next;
      this.#state = { ...this.#state, loading: false, error: null, complete, fromCache: false };
    });
    this.refresh(true);
    for (const wake of this.#moreWaiters.splice(0)) wake();
  }

  /**
   * Rows kept from an earlier session (storage), shown until the server's result replaces them;
   * ignored once the server has answered.
   */
  applyStored(rows: readonly CachedRow[], complete: boolean): boolean {
    if (!this.#state.loading || this.handle !== null || this.#serverIds.size > 0) return false;
    this.#cache.batch(() => {
      this.#cache.hold(this.entity, rows);
      this.#serverIds = new Set(rows.map((r) => r.id));
      this.#state = { ...this.#state, loading: false, complete, fromCache: true };
    });
    this.refresh(true);
    return true;
  }

  /** `resumed`: the delta since the rows held; kept rows are confirmed by it. */
  applyResumed(added: readonly CachedRow[], changed: readonly CachedRow[], removed: readonly string[]): void {
    this.applyDelta(added, changed, removed);
    this.keptSeq = null;
    if (this.#state.fromCache) {
      this.#state = { ...this.#state, fromCache: false };
      this.refresh(true);
    }
  }

  /** `diff` or `resumed`: rows that entered, changed or left the window. */
  applyDelta(added: readonly CachedRow[], changed: readonly CachedRow[], removed: readonly string[]): void {
    this.#cache.batch(() => {
      const gone = removed.filter((id) => this.#serverIds.has(id));
      for (const id of gone) this.#serverIds.delete(id);
      this.#cache.release(this.entity, gone);
      for (const row of [...added, ...changed]) {
        if (this.#serverIds.has(row.id)) this.#cache.update(this.entity, [row]);
        else {
          this.#serverIds.add(row.id);
          this.#cache.hold(this.entity, [row]);
        }
      }
    });
  }

  /** The server refused the query: it shows only pending writes, with the error. */
  applyError(error: MastClientError): void {
    this.#dropServerRows();
    this.#state = { ...this.#state, loading: false, error };
    this.refresh(true);
    for (const wake of this.#moreWaiters.splice(0)) wake();
  }

  /** Forgets the server's rows (a resync, an identity change); loading again until a result. */
  reset(): void {
    this.#dropServerRows();
    this.handle = null;
    this.keptSeq = null;
    this.#state = { ...this.#state, loading: true, error: null, complete: false, fromCache: false };
    this.refresh(true);
  }

  /** Ids the server's window holds. */
  get serverIds(): ReadonlySet<string> {
    return this.#serverIds;
  }

  /** Recomputes the rows from the cache; notifies when they (or `force`d state) changed. */
  refresh(force = false): void {
    const layered = this.#cache.layeredIds(this.entity);
    const { where, limit } = this.#spec;
    const rows: CachedRow[] = [];
    const fromServer = new Set<CachedRow>();
    for (const id of this.#serverIds) {
      const row = this.#cache.row(this.entity, id);
      if (!row) continue;
      // The server decided a row it sent matches; only a pending write over it can change that.
      if (layered.has(id) && where && !evaluateFilter(where, row)) continue;
      rows.push(row);
      if (!layered.has(id)) fromServer.add(row);
    }
    for (const id of layered) {
      if (this.#serverIds.has(id)) continue;
      const row = this.#cache.row(this.entity, id);
      if (row && (!where || evaluateFilter(where, row))) rows.push(row);
    }
    rows.sort(this.#compare);
    let shown: CachedRow[] = rows;
    if (!this.#state.complete && !this.#state.loading && fromServer.size > 0) {
      // A cut window: a pending row that sorts past the server's last row may not belong in it.
      let last = -1;
      rows.forEach((r, i) => {
        if (this.#serverIds.has(r.id)) last = i;
      });
      shown = rows.filter((r, i) => i <= last || this.#serverIds.has(r.id));
    }
    if (limit !== undefined && shown.length > limit) shown = shown.slice(0, limit);
    const before = this.#state.rows;
    const same = before.length === shown.length && before.every((r, i) => r === shown[i]);
    if (same && !force) return;
    this.#state = { ...this.#state, rows: same ? before : (shown as unknown as R[]) };
    for (const listener of [...this.#listeners]) listener();
  }

  #dropServerRows(): void {
    this.#cache.release(this.entity, this.#serverIds);
    this.#serverIds = new Set();
  }
}

function comparator(order: readonly OrderTerm[] | undefined): (a: CachedRow, b: CachedRow) => number {
  const terms = totalOrder(order);
  return (a, b) => {
    for (const term of terms) {
      const x = a[term.field];
      const y = b[term.field];
      const xNull = x === null || x === undefined;
      const yNull = y === null || y === undefined;
      // NULL is the smallest value, as in the stores' ORDER BY.
      const c = xNull || yNull ? (xNull === yNull ? 0 : xNull ? -1 : 1) : compareValues(x, y);
      if (c !== 0) return term.direction === 'asc' ? c : -c;
    }
    return 0;
  };
}
