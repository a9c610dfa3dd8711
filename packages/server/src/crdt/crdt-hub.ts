import { decodeImportBlobMeta, VersionVector, type LoroDoc } from 'loro-crdt';
import { crdtFrameTypes, decodeCrdtFrame, encodeCrdtFrame, MAX_CRDT_NAME_BYTES, type ErrorMessage } from '@mast/protocol';
import { relatedMayMatch, type FilterNode } from '@mast/schema';
import type { AuthContext } from '../access/auth-context.js';
import type { AccessControl } from '../access/access-control.js';
import type { SchemaRef } from '../access/schema-ref.js';
import type { WritePath } from '../entities/write-path.js';
import { AppError, crdtErrors, errors } from '../errors/index.js';
import type { ChangeRecord, Store } from '../store/index.js';
import { pushCrdtUpdate, type PushOutcome } from './crdt-push.js';
import { projectDoc } from './row-doc.js';
import type { RowDocs } from './row-docs.js';

/** Where the hub writes: one client connection (a WebSocket in production, a fake in tests). */
export interface CrdtSink {
  sendBinary(bytes: Uint8Array): void;
  sendMessage(message: ErrorMessage): void;
}

/** What the hub is built from. */
export interface CrdtHubDeps {
  readonly store: Store;
  readonly schema: SchemaRef;
  readonly docs: RowDocs;
  readonly writes: WritePath;
  /** Largest update a client may push, in bytes. */
  readonly maxUpdateBytes: number;
  /** Reports a failure while fanning out a committed change (the write itself has succeeded). */
  readonly onError: (err: unknown) => void;
}

/** One socket's subscription to one row, with the version that socket is known to hold. */
interface Subscription {
  readonly sink: CrdtSink;
  readonly auth: AuthContext;
  readonly entity: string;
  readonly rowId: string;
  version: VersionVector;
}

const keyOf = (entity: string, rowId: string): string => `${entity}\u0000${rowId}`;

/** Whether a change to a row that `entity`'s read rule looks at may change what `auth` reads of it. */
function mayConcern(access: AccessControl, auth: AuthContext, entity: string, change: ChangeRecord): boolean {
  let filter: FilterNode | true;
  try {
    filter = access.readFilter(auth, entity);
  } catch {
    return true; // the caller now reads nothing of the entity: check the subscription
  }
  if (filter === true) return false;
  if (change.kind !== 'insert' && change.before == null) return true;
  return [change.data, change.before].some((image) => image != null && relatedMayMatch(filter, change.entity, image));
}
const byteLength = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * CRDT row sync for connected clients, without sockets: subscriptions per (sink, row), each
 * with the version vector the client holds. A subscribe sends a `0x10` snapshot (or, when the
 * client names a version the server's document includes, a `0x11` update since it); after each
 * committed change every subscriber gets one `0x11` frame with exactly what it has not seen,
 * encoded once per distinct version. Client pushes go through the write path like HTTP ones.
 */
export class CrdtHub {
  readonly #deps: CrdtHubDeps;
  readonly #rows = new Map<string, Set<Subscription>>();
  readonly #bySink = new Map<CrdtSink, Map<string, Subscription>>();
  readonly #stop: () => void;

  constructor(deps: CrdtHubDeps) {
    this.#deps = deps;
    this.#stop = deps.docs.onCommit((entity, rowId, doc) => {
      try {
        this.#committed(entity, rowId, doc);
      } catch (err) {
        deps.onError(err);
      }
    });
  }

  /**
   * Subscribes `sink` to a row the caller may read (ENTITY_NOT_FOUND, NOT_SUPPORTED, NOT_FOUND
   * otherwise) and sends its first frame. `version` is an encoded Loro version vector the client
   * holds; one the server cannot serve from (unknown, corrupt, or ahead) gets a snapshot.
   * Subscribing again to the same row starts over with a new first frame.
   */
  async subscribe(sink: CrdtSink, auth: AuthContext, entityName: string, rowId: string, version?: Uint8Array): Promise<void> {
    const entity = this.#deps.schema.entity(entityName);
    if (!entity.crdt) throw errors.notCrdtEntity(entity.name);
    if (byteLength(entity.name) > MAX_CRDT_NAME_BYTES || byteLength(rowId) > MAX_CRDT_NAME_BYTES) {
      throw crdtErrors.rowIdTooLong(MAX_CRDT_NAME_BYTES);
    }
    const row = await this.#deps.store.read((tx) => tx.get(entity.name, rowId));
    if (!row || !this.#deps.schema.access.canRead(auth, entity.name, row)) {
      throw errors.rowNotFound(entity.name, rowId);
    }
    const from = version ? decodeVersion(version) : null;
    // Registered in the same synchronous step as the export, so no commit falls between them.
    const first = (doc: LoroDoc): Subscription => {
      const delta = from !== null && (doc.oplogVersion().compare(from) ?? -1) >= 0;
      const payload = delta ? doc.export({ mode: 'update', from: from! }) : doc.export({ mode: 'snapshot' });
      const subscription: Subscription = { sink, auth, entity: entity.name, rowId, version: doc.oplogVersion() };
      this.#add(subscription);
      sink.sendBinary(encodeCrdtFrame(delta ? crdtFrameTypes.update : crdtFrameTypes.snapshot, entity.name, rowId, payload));
      return subscription;
    };
    let subscription = await this.#deps.docs.use(entity.name, rowId, first);
    if (!subscription) {
      await this.#deps.docs.materialize(entity, rowId);
      subscription = await this.#deps.docs.use(entity.name, rowId, first);
    }
    if (!subscription) throw errors.rowNotFound(entity.name, rowId);
    await this.#catchUp(subscription);
  }

  /** Ends a subscription; false when `sink` held none for the row. */
  unsubscribe(sink: CrdtSink, entity: string, rowId: string): boolean {
    const key = keyOf(entity, rowId);
    const subscription = this.#bySink.get(sink)?.get(key);
    if (!subscription) return false;
    this.#remove(subscription);
    return true;
  }

  /** Sends a fresh `0x10` snapshot to a subscriber that reports a gap; UNKNOWN_SUBSCRIPTION without one. */
  async resync(sink: CrdtSink, entity: string, rowId: string): Promise<void> {
    const subscription = this.#bySink.get(sink)?.get(keyOf(entity, rowId));
    if (!subscription) throw crdtErrors.notSubscribed(entity, rowId);
    const sent = await this.#deps.docs.use(entity, rowId, (doc) => {
      subscription.version = doc.oplogVersion();
      sink.sendBinary(encodeCrdtFrame(crdtFrameTypes.snapshot, entity, rowId, doc.export({ mode: 'snapshot' })));
      return true;
    });
    if (!sent) throw errors.rowNotFound(entity, rowId);
    await this.#catchUp(subscription);
  }

  /**
   * A binary frame a client sent: a `0x10` or `0x11` frame carrying a Loro update for the row it
   * names, pushed through the write path. INVALID_MESSAGE for a frame whose lengths run past its
   * end or whose type is not one a client sends; push errors as for HTTP.
   */
  async push(sink: CrdtSink, auth: AuthContext, bytes: Uint8Array): Promise<{ entity: string; rowId: string; outcome: PushOutcome }> {
    const decoded = decodeCrdtFrame(bytes);
    if (!decoded.ok) throw crdtErrors.unreadableFrame(decoded.error);
    const { type, entity, rowId, payload } = decoded.frame;
    if (type !== crdtFrameTypes.update && type !== crdtFrameTypes.snapshot) {
      throw crdtErrors.serverFrameType(type, entity, rowId);
    }
    const subscription = this.#bySink.get(sink)?.get(keyOf(entity, rowId));
    if (subscription) credit(subscription, payload);
    try {
      const outcome = await pushCrdtUpdate(this.#deps.writes, auth, entity, rowId, payload, this.#deps.maxUpdateBytes);
      return { entity, rowId, outcome };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      // Frames carry no request id: the error names the row so the client can match it.
      throw errors.annotated(err, err.message, { entity, rowId });
    }
  }

  /**
   * After a commit: every subscription to a row whose entity's read rule looks at a changed
   * entity (`exists`), and could look for the changed row (before or after), is checked again;
   * a subscriber who may no longer read its row is dropped with POLICY_DENIED, as when the row
   * itself changes. The rule sees the last committed state.
   */
  async recheckRelated(changes: readonly ChangeRecord[]): Promise<void> {
    const access = this.#deps.schema.access;
    for (const subscriptions of [...this.#rows.values()]) {
      const first = subscriptions.values().next().value;
      if (!first) continue;
      const reads = access.readDependencies(first.entity);
      const relevant = changes.filter((c) => reads.includes(c.entity));
      if (relevant.length === 0) continue;
      const { entity, rowId } = first;
      const concerned = [...subscriptions].filter((s) => !s.auth.isAdmin && relevant.some((c) => mayConcern(access, s.auth, entity, c)));
      if (concerned.length === 0) continue;
      const row = await this.#deps.store.read((tx) => tx.get(entity, rowId));
      // A deleted row ends its subscriptions through the row's own commit.
      if (!row) continue;
      for (const s of concerned) {
        if (!subscriptions.has(s) || access.canRead(s.auth, entity, row)) continue;
        this.#remove(s);
        s.sink.sendMessage({ type: 'error', code: 'POLICY_DENIED', message: `You may no longer read ${entity} "${rowId}"`, entity, rowId });
      }
    }
  }

  /**
   * Changes read from a change log several nodes share: a subscribed CRDT row another node
   * changed is read from the store and each subscriber gets what it has not seen (a row this
   * node committed is already current, so nothing is sent twice); a deleted row ends its
   * subscriptions.
   */
  async logged(changes: readonly ChangeRecord[]): Promise<void> {
    const seen = new Set<string>();
    for (let i = changes.length - 1; i >= 0; i--) {
      const change = changes[i]!;
      const key = keyOf(change.entity, change.rowId);
      if (seen.has(key) || !this.#rows.has(key)) continue;
      seen.add(key);
      if (change.kind === 'delete') this.#committed(change.entity, change.rowId, null);
      else await this.#deps.docs.use(change.entity, change.rowId, (doc) => this.#committed(change.entity, change.rowId, doc));
    }
  }

  /** Ends every subscription of a sink (its socket closed). */
  dropSink(sink: CrdtSink): void {
    for (const subscription of [...(this.#bySink.get(sink)?.values() ?? [])]) this.#remove(subscription);
  }

  /** Subscriptions open now, for metrics and tests. */
  get size(): number {
    let n = 0;
    for (const set of this.#rows.values()) n += set.size;
    return n;
  }

  /** Stops listening to commits. */
  close(): void {
    this.#stop();
  }

  /** Sends what a commit carried that was newer than the (reloaded) document the first frame came from. */
  async #catchUp(subscription: Subscription): Promise<void> {
    await this.#deps.docs.use(subscription.entity, subscription.rowId, (doc) => {
      const current = this.#bySink.get(subscription.sink)?.get(keyOf(subscription.entity, subscription.rowId)) === subscription;
      if (current && (doc.oplogVersion().compare(subscription.version) ?? 0) > 0) this.#send([subscription], doc);
    });
  }

  #committed(entity: string, rowId: string, doc: LoroDoc | null): void {
    const subscriptions = this.#rows.get(keyOf(entity, rowId));
    if (!subscriptions || subscriptions.size === 0) return;
    if (!doc) {
      for (const s of [...subscriptions]) {
        this.#remove(s);
        s.sink.sendMessage({ type: 'error', code: 'NOT_FOUND', message: `${entity} "${rowId}" was deleted`, entity, rowId });
      }
      return;
    }
    // Policies may depend on the row's values: a subscriber who can no longer read it is dropped.
    const schema = this.#deps.schema;
    const row = { id: rowId, ...projectDoc(doc, schema.entity(entity)) };
    const allowed: Subscription[] = [];
    for (const s of subscriptions) {
      if (schema.access.canRead(s.auth, entity, row)) allowed.push(s);
      else {
        this.#remove(s);
        s.sink.sendMessage({ type: 'error', code: 'POLICY_DENIED', message: `You may no longer read ${entity} "${rowId}"`, entity, rowId });
      }
    }
    this.#send(allowed, doc);
  }

  /** One `0x11` frame per distinct version among `subscriptions`, then each version advances. */
  #send(subscriptions: readonly Subscription[], doc: LoroDoc): void {
    const frames = new Map<string, Uint8Array>();
    const current = doc.oplogVersion();
    for (const s of subscriptions) {
      // Already current (an earlier frame or a snapshot covered this commit): nothing to send.
      if ((current.compare(s.version) ?? 1) <= 0) continue;
      const key = Buffer.from(s.version.encode()).toString('base64');
      let frame = frames.get(key);
      if (frame === undefined) {
        frame = encodeCrdtFrame(crdtFrameTypes.update, s.entity, s.rowId, doc.export({ mode: 'update', from: s.version }));
        frames.set(key, frame);
      }
      s.version = current;
      s.sink.sendBinary(frame);
    }
  }

  #add(subscription: Subscription): void {
    const key = keyOf(subscription.entity, subscription.rowId);
    const previous = this.#bySink.get(subscription.sink)?.get(key);
    if (previous) this.#remove(previous);
    let set = this.#rows.get(key);
    if (!set) this.#rows.set(key, (set = new Set()));
    set.add(subscription);
    let mine = this.#bySink.get(subscription.sink);
    if (!mine) this.#bySink.set(subscription.sink, (mine = new Map()));
    mine.set(key, subscription);
  }

  #remove(subscription: Subscription): void {
    const key = keyOf(subscription.entity, subscription.rowId);
    const set = this.#rows.get(key);
    set?.delete(subscription);
    if (set?.size === 0) this.#rows.delete(key);
    const mine = this.#bySink.get(subscription.sink);
    mine?.delete(key);
    if (mine?.size === 0) this.#bySink.delete(subscription.sink);
  }
}

/**
 * Counts a client's own update as seen by it, so the commit does not echo it back. A Loro
 * document holds every peer's ops as a prefix, so a client that sent ops up to a peer's end
 * counter holds all of that peer's ops before it: the merged vector stays a lower bound of
 * what the client has, whether or not the push then succeeds.
 */
function credit(subscription: Subscription, payload: Uint8Array): void {
  let end: Map<`${number}`, number>;
  try {
    end = decodeImportBlobMeta(payload, false).partialEndVersionVector.toJSON();
  } catch {
    return; // not a Loro blob: the push fails anyway
  }
  const merged = subscription.version.toJSON();
  for (const [peer, counter] of end) if ((merged.get(peer) ?? 0) < counter) merged.set(peer, counter);
  subscription.version = new VersionVector(merged);
}

function decodeVersion(bytes: Uint8Array): VersionVector | null {
  try {
    return VersionVector.decode(bytes);
  } catch {
    return null;
  }
}
