import { relatedMayMatch, type FilterNode, type FindQuery } from '@mast/schema';
import type { AuthContext } from '../access/auth-context.js';
import type { ChangeBus } from '../changes/change-bus.js';
import { type FilterLimits, parseFilter } from '../entities/filter-parser.js';
import type { SchemaRef } from '../access/schema-ref.js';
import { liveErrors } from '../errors/index.js';
import type { ChangeRecord, Row, Store } from '../store/index.js';
import { type LiveAccess, OPEN_ACCESS } from './live-access.js';
import { EncodedFrame, type LiveSink } from './live-frames.js';
import { EntityIndex } from './live-index.js';
import { attachIncludes, includesReference, resolveIncludes } from './live-include.js';
import { LiveQuery, type LiveQueryDef } from './live-query.js';
import { resumeFrames } from './resume-delta.js';

/** A subscription as a client asks for it. */
export interface SubscriptionRequest {
  readonly id: string;
  readonly entity: string;
  readonly filter?: Record<string, unknown> | undefined;
  /** Names of to-one relations whose rows each row carries. */
  readonly include?: readonly string[] | undefined;
}

/** Settings of the live engine. */
export interface LiveEngineOptions {
  readonly store: Store;
  readonly schema: SchemaRef;
  readonly bus: ChangeBus;
  readonly limits: FilterLimits;
  readonly access?: LiveAccess;
  /** Most subscriptions one sink may hold. */
  readonly maxSubscriptions: number;
  /** Reports a failure no request is waiting for (a batch that could not be applied). */
  readonly onError: (err: unknown) => void;
}

/**
 * Sends per turn of the event loop during a fan-out, so a broadcast to many sockets never blocks
 * it long: between chunks, requests are served and their commits queue for the next round.
 */
const FANOUT_CHUNK = 256;
/** Most change-log entries a resume reads; past this, it answers with fresh results. */
const RESUME_MAX_CHANGES = 10_000;

interface Prepared {
  readonly id: string;
  readonly key: string;
  readonly def: LiveQueryDef;
  readonly auth: AuthContext;
}

/**
 * Live queries: the registry of shared evaluations, their maintenance from committed changes,
 * and fan-out of encoded frames to sinks. Everything that changes what a sink sees (batches
 * from the bus, initial results, resumes) runs through one queue in commit order, so every sink
 * receives frames in commit order even when a window must be refetched; requests that need no
 * data (unsubscribe, a sink going away) take effect at once.
 */
export class LiveEngine {
  readonly #options: LiveEngineOptions;
  readonly #access: LiveAccess;
  readonly #queries = new Map<string, LiveQuery>();
  readonly #entities = new Map<string, EntityIndex>();
  /** Per entity, the queries that include rows of it through a relation. */
  readonly #dependents = new Map<string, Set<LiveQuery>>();
  /** Per entity, the queries whose read rule looks at rows of it (`exists`). */
  readonly #readers = new Map<string, Set<LiveQuery>>();
  /** Per sink, its subscription ids; null while the subscribe is still queued. */
  readonly #subs = new Map<LiveSink, Map<string, LiveQuery | null>>();

  #tail: Promise<unknown> = Promise.resolve();
  /** Committed changes not yet applied, in commit order; one queued task applies them all. */
  #committed: ChangeRecord[] = [];
  #applyQueued = false;
  #seq = 0;
  #handles = 0;
  #stopBus: (() => void) | undefined;

  constructor(options: LiveEngineOptions) {
    this.#options = options;
    this.#access = options.access ?? OPEN_ACCESS;
  }

  /** The last seq whose changes every sink has been sent. */
  get seq(): number {
    return this.#seq;
  }

  /** How many shared evaluations are live (for metrics and tests). */
  get queryCount(): number {
    return this.#queries.size;
  }

  /** How many subscriptions sinks hold (for metrics). */
  get subscriptionCount(): number {
    let n = 0;
    for (const subs of this.#subs.values()) n += subs.size;
    return n;
  }

  /** Starts following the change bus from the current head of the change log. */
  async start(): Promise<void> {
    this.#stopBus = this.#options.bus.subscribe((changes) => {
      for (const change of changes) this.#committed.push(change);
      if (this.#applyQueued) return;
      this.#applyQueued = true;
      this.#enqueue(() => this.#applyCommitted()).catch(this.#options.onError);
    });
    await this.#enqueue(async () => {
      this.#seq = Math.max(this.#seq, (await this.#options.store.changeLogBounds()).head);
    });
  }

  /** Stops following the bus; resolves when queued work is done. */
  async stop(): Promise<void> {
    this.#stopBus?.();
    await this.#tail;
  }

  /**
   * Opens subscription `request.id` for `sink` and sends it `result`; later changes arrive as
   * `diff` frames addressed to the result's query handle. Throws AppError for an unknown entity
   * or field, an invalid filter, a duplicate id or too many subscriptions.
   */
  async subscribe(sink: LiveSink, request: SubscriptionRequest, auth: AuthContext): Promise<void> {
    const prepared = this.#prepare(request, auth);
    const subs = this.#reserve(sink, [request.id]);
    try {
      if (this.#options.bus.following) await this.#options.bus.caughtUp();
      await this.#enqueue(async () => {
        const query = await this.#attach(sink, subs, prepared);
        if (query) sink.send(resultFrame(prepared.id, query, this.#seq));
      });
    } catch (err) {
      this.#release(subs, [request.id]);
      throw err;
    }
  }

  /** Closes subscription `id` of `sink`; throws UNKNOWN_SUBSCRIPTION when it has none. */
  unsubscribe(sink: LiveSink, id: string): void {
    const subs = this.#subs.get(sink);
    if (!subs || !subs.has(id)) throw liveErrors.unknownSubscription(id);
    const query = subs.get(id);
    subs.delete(id);
    if (query) this.#detach(sink, query);
  }

  /** Forgets a sink that went away, with all its subscriptions. */
  dropSink(sink: LiveSink): void {
    const subs = this.#subs.get(sink);
    if (!subs) return;
    this.#subs.delete(sink);
    for (const query of subs.values()) if (query) this.#detach(sink, query);
  }

  /**
   * Re-opens a client's subscriptions after a reconnect and catches it up from `since`: each
   * gets `resumed` (a delta from the change log) or `result`, then `ack` goes to `requestId`.
   * Throws RESYNC_REQUIRED when `since` is outside the retained log.
   */
  async resume(sink: LiveSink, requestId: string, since: number, requests: readonly SubscriptionRequest[], auth: AuthContext): Promise<void> {
    const prepared = requests.map((r) => this.#prepare(r, auth));
    const ids = requests.map((r) => r.id);
    const subs = this.#reserve(sink, ids);
    try {
      if (this.#options.bus.following) await this.#options.bus.caughtUp();
      await this.#enqueue(async () => {
        const { store } = this.#options;
        const bounds = await store.changeLogBounds();
        if (since > bounds.head || since < bounds.prunedThrough) {
          throw liveErrors.outsideChangeLog(since, bounds.prunedThrough + 1, bounds.head);
        }
        const joined: Array<[string, LiveQuery]> = [];
        for (const p of prepared) {
          const query = await this.#attach(sink, subs, p);
          if (query) joined.push([p.id, query]);
        }
        // Read after the windows were fetched, so the log covers every change they reflect.
        const log = await store.changesSince(since, RESUME_MAX_CHANGES + 1);
        const frames = resumeFrames(joined, log.length > RESUME_MAX_CHANGES ? null : log, this.#seq, (who, entity, row) => this.#access.canRead(who, entity, row));
        for (const frame of frames) sink.send(frame);
        sink.send(new EncodedFrame({ type: 'ack', id: requestId, seq: this.#seq }, this.#seq));
      });
    } catch (err) {
      this.#release(subs, ids);
      throw err;
    }
  }

  /**
   * Answers `ack` to `requestId` with the engine's seq once every change committed before this
   * call has been applied and its frames sent (the queue runs in commit order).
   */
  async barrier(sink: LiveSink, requestId: string): Promise<void> {
    // Several nodes: first every change committed anywhere before this call reaches this node's bus.
    if (this.#options.bus.following) await this.#options.bus.caughtUp();
    await this.#enqueue(async () => {
      sink.send(new EncodedFrame({ type: 'ack', id: requestId, seq: this.#seq }, this.#seq));
    });
  }

  #prepare(request: SubscriptionRequest, auth: AuthContext): Prepared {
    const entity = this.#options.schema.entity(request.entity);
    if (request.filter?.$offset !== undefined) throw liveErrors.offsetNotLive();
    const query: FindQuery = parseFilter(entity, request.filter, this.#options.limits);
    const visible = this.#access.readFilter?.(auth, entity.name) ?? true;
    const where = query.where;
    const fetchWhere = visible === true ? where : where ? { kind: 'and' as const, items: [where, visible] } : visible;
    const include = resolveIncludes(entity, request.include, auth, this.#access);
    // What the window shows depends on the rows its read rule looks at, and on those the
    // included targets' read rules look at (a channel becomes readable with a membership).
    const readsFrom = [...new Set([entity.name, ...include.map((i) => i.target)].flatMap((name) => this.#access.readDependencies?.(auth, name) ?? []))];
    const def: LiveQueryDef = {
      entity: entity.name,
      where,
      fetchWhere,
      order: query.order,
      limit: query.limit ?? this.#options.limits.defaultLimit,
      ...(include.length > 0 ? { include } : {}),
      ...(readsFrom.length > 0 ? { readsFrom } : {}),
    };
    const scope = this.#access.scopeOf(auth, entity.name);
    // Included rows are read under each target's policy, so its scope is part of the key too.
    const includeKey = include.map((i) => [i.name, this.#access.scopeOf(auth, i.target)]);
    const key = JSON.stringify([def.entity, scope, def.where ?? null, def.order ?? [], def.limit, ...(include.length > 0 ? [includeKey] : [])]);
    return { id: request.id, key, def, auth };
  }

  #reserve(sink: LiveSink, ids: readonly string[]): Map<string, LiveQuery | null> {
    let subs = this.#subs.get(sink);
    if (!subs) this.#subs.set(sink, (subs = new Map()));
    const seen = new Set<string>();
    for (const id of ids) {
      if (subs.has(id) || seen.has(id)) throw liveErrors.duplicateSubscription(id);
      seen.add(id);
    }
    if (subs.size + ids.length > this.#options.maxSubscriptions) {
      throw liveErrors.tooManySubscriptions(this.#options.maxSubscriptions);
    }
    for (const id of ids) subs.set(id, null);
    return subs;
  }

  #release(subs: Map<string, LiveQuery | null>, ids: readonly string[]): void {
    for (const id of ids) if (subs.get(id) === null) subs.delete(id);
  }

  /** Joins (or creates) the shared query; null when the sink or the reservation went away. */
  async #attach(sink: LiveSink, subs: Map<string, LiveQuery | null>, p: Prepared): Promise<LiveQuery | null> {
    const query = this.#queries.get(p.key) ?? (await this.#create(p));
    if (this.#subs.get(sink) !== subs || subs.get(p.id) !== null) {
      if (query.sinks.size === 0) this.#forget(query);
      return null;
    }
    subs.set(p.id, query);
    query.sinks.set(sink, (query.sinks.get(sink) ?? 0) + 1);
    return query;
  }

  async #create(p: Prepared): Promise<LiveQuery> {
    let index = this.#entities.get(p.def.entity);
    if (!index) this.#entities.set(p.def.entity, (index = new EntityIndex()));
    const owner = index;
    const query: LiveQuery = new LiveQuery(`q${++this.#handles}`, p.key, p.def, p.auth, (id, inWindow) => owner.membership(query, id, inWindow));
    query.reset(await this.#fetch(query));
    query.takeDiff();
    owner.add(query);
    for (const include of p.def.include ?? []) {
      let dependents = this.#dependents.get(include.target);
      if (!dependents) this.#dependents.set(include.target, (dependents = new Set()));
      dependents.add(query);
    }
    for (const entity of p.def.readsFrom ?? []) {
      let readers = this.#readers.get(entity);
      if (!readers) this.#readers.set(entity, (readers = new Set()));
      readers.add(query);
    }
    this.#queries.set(p.key, query);
    return query;
  }

  #detach(sink: LiveSink, query: LiveQuery): void {
    const count = (query.sinks.get(sink) ?? 1) - 1;
    if (count > 0) query.sinks.set(sink, count);
    else query.sinks.delete(sink);
    if (query.sinks.size === 0) this.#forget(query);
  }

  #forget(query: LiveQuery): void {
    if (this.#queries.get(query.key) !== query) return;
    this.#queries.delete(query.key);
    const index = this.#entities.get(query.def.entity);
    index?.remove(query);
    if (index?.size === 0) this.#entities.delete(query.def.entity);
    for (const include of query.def.include ?? []) {
      const dependents = this.#dependents.get(include.target);
      dependents?.delete(query);
      if (dependents?.size === 0) this.#dependents.delete(include.target);
    }
    for (const entity of query.def.readsFrom ?? []) {
      const readers = this.#readers.get(entity);
      readers?.delete(query);
      if (readers?.size === 0) this.#readers.delete(entity);
    }
  }

  /**
   * The first `limit + 1` visible rows of a query, in order. Rows the access hook hides are
   * skipped; with the hook's `readFilter` the store already leaves them out, so one page is
   * read, otherwise further pages may be.
   */
  async #fetch(query: LiveQuery): Promise<Row[]> {
    const { def, auth } = query;
    const want = def.limit + 1;
    const page = Math.max(want, 100);
    const out: Row[] = [];
    for (let offset = 0; out.length < want; offset += page) {
      const where = def.fetchWhere;
      const rows = await this.#options.store.read((tx) => tx.find(def.entity, { ...(where ? { where } : {}), ...(def.order ? { order: def.order } : {}), limit: page, offset }));
      for (const row of rows) {
        if (this.#access.canRead(auth, def.entity, row)) out.push(row);
        if (out.length === want) break;
      }
      if (rows.length < page) break;
    }
    if (!def.include) return out;
    return attachIncludes(out, def.include, this.#options.store, (entity, row) => this.#access.canRead(auth, entity, row));
  }

  /**
   * Applies every change committed since the last call as one batch. While a batch is being
   * sent, later commits wait here and go out together: each subscription then gets one diff
   * with the seq of the last of them, so frames never outnumber what sockets can take, and a
   * diff still reflects every change up to its seq.
   */
  async #applyCommitted(): Promise<void> {
    const changes = this.#committed;
    this.#committed = [];
    this.#applyQueued = false;
    await this.#applyBatch(changes);
  }

  async #applyBatch(changes: readonly ChangeRecord[]): Promise<void> {
    const touched = new Set<LiveQuery>();
    const refetch = new Set<LiveQuery>();
    for (const change of changes) {
      const index = this.#entities.get(change.entity);
      // Subscribers with equal scopes get equal answers about one row, so each scope is asked
      // once per change: under a rule with exists(…) every answer is a store lookup.
      const decided = new Map<string, boolean>();
      const canRead = (auth: AuthContext, row: Row): boolean => {
        const scope = this.#access.scopeOf(auth, change.entity);
        let answer = decided.get(scope);
        if (answer === undefined) decided.set(scope, (answer = this.#access.canRead(auth, change.entity, row)));
        return answer;
      };
      for (const query of index?.candidates(change.rowId, change.data) ?? []) {
        touched.add(query);
        // A window with includes is rebuilt from the store: its rows carry related rows.
        if (query.def.include) refetch.add(query);
        else if (query.apply(change.rowId, change.data, (row) => canRead(query.auth, row))) refetch.add(query);
      }
      for (const query of this.#dependents.get(change.entity) ?? []) {
        if (!includesReference(query.def.include!, query.rows, change.entity, change.rowId)) continue;
        touched.add(query);
        refetch.add(query);
      }
      // A row a read rule looks at changed: rows may have become readable or stopped being so.
      // The window is read again and diffed against what subscribers hold, unless the changed
      // row (before or after) cannot be one the subscriber's rule looks for (another user's
      // membership).
      for (const query of this.#readers.get(change.entity) ?? []) {
        if (!ruleMayLookAt(query, change)) continue;
        touched.add(query);
        refetch.add(query);
      }
    }
    await Promise.all(
      [...refetch].map(async (query) => {
        const rows = await this.#fetch(query);
        if (this.#queries.get(query.key) === query) query.reset(rows);
      }),
    );
    const seq = changes[changes.length - 1]!.seq;
    this.#seq = Math.max(this.#seq, seq);
    let sent = 0;
    for (const query of touched) {
      const diff = query.takeDiff();
      if (!diff || query.sinks.size === 0) continue;
      const frame = new EncodedFrame({ type: 'diff', query: query.handle, seq, ...diff }, seq);
      for (const sink of [...query.sinks.keys()]) {
        // A sink that unsubscribed or went away while the loop was yielded gets nothing more.
        if (!query.sinks.has(sink)) continue;
        sink.send(frame);
        if (++sent % FANOUT_CHUNK === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

/**
 * Whether a change to a row of an entity the query's read rule (or an included target's) looks
 * at can change its window.
 */
function ruleMayLookAt(query: LiveQuery, change: ChangeRecord): boolean {
  const filters: FilterNode[] = [];
  if (query.def.fetchWhere) filters.push(query.def.fetchWhere);
  for (const include of query.def.include ?? []) if (include.visible !== null && include.visible !== true) filters.push(include.visible);
  if (filters.length === 0) return true;
  // Without the earlier image of an update or delete, what the row was is unknown.
  if (change.kind !== 'insert' && change.before == null) return true;
  return [change.data, change.before].some((image) => image != null && filters.some((where) => relatedMayMatch(where, change.entity, image)));
}

function resultFrame(id: string, query: LiveQuery, seq: number): EncodedFrame {
  return new EncodedFrame({ type: 'result', id, query: query.handle, seq, rows: [...query.rows], complete: query.complete }, seq);
}
