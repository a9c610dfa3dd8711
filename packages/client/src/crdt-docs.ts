import { decodeImportBlobMeta, LoroDoc, VersionVector, type PeerID } from 'loro-crdt';
import { crdtFrameTypes, decodeCrdtFrame } from '@mast/protocol';
import type { SocketPort } from './calls.js';
import { errorFromServer, type MastClientError } from './errors.js';
import { fromHex, toHex } from './hex.js';
import type { HttpOutcome } from './http.js';
import type { SendOutcome } from './outbox.js';
import type { ClientStorage, OutboxEntry } from './storage.js';

/** Where a document is: `loading` until the first snapshot, `synced` after, `error` when the server ended it. */
export type DocStatus = 'loading' | 'synced' | 'error';

/** What the document manager needs from the client. */
export interface DocPort extends SocketPort {
  sendBinary(bytes: Uint8Array): boolean;
  /** Queues a local update in the outbox (durable, in order with row writes). */
  queue(entity: string, id: string, update: Uint8Array): void;
  /** Where documents are kept across reloads (the outbox's storage). */
  storage(): ClientStorage;
  /** Whether the outbox still holds an insert of this row. */
  insertPending(entity: string, id: string): boolean;
  /** `POST /api/crdt/<entity>/<id>` with `{update: hex}`. */
  push(entity: string, id: string, update: Uint8Array): Promise<HttpOutcome>;
}

type Received = Map<PeerID, number>;

/** A document as storage keeps it (hex snapshot, `received` as pairs). */
interface StoredDoc {
  readonly snapshot: string;
  readonly received: Array<[PeerID, number]>;
}

function mergeInto(received: Received, vv: VersionVector): void {
  for (const [peer, counter] of vv.toJSON()) if ((received.get(peer) ?? 0) < counter) received.set(peer, counter);
}

/**
 * A CRDT row as a Loro document kept in sync with the server: the first `0x10` snapshot, then
 * `0x11` deltas; a frame that cannot be imported, or leaves changes pending (a gap), asks for a
 * fresh snapshot (`crdt-resync`). Local edits (`doc.commit()`) go to the outbox as Loro updates,
 * so they survive offline periods and are pushed in order.
 */
export class DocHandle {
  readonly entity: string;
  readonly id: string;
  /** Union of the end versions of every frame imported from the server. */
  readonly received: Received = new Map();
  holders = 0;
  #doc = new LoroDoc();
  #status: DocStatus = 'loading';
  #error: MastClientError | null = null;
  readonly #listeners = new Set<() => void>();
  #snapshotWaiters: Array<() => void> = [];
  #importing = false;
  #resync = false;
  #detach: () => void = () => {};
  readonly #onLocal: (update: Uint8Array) => void;
  readonly #manager: DocManager;

  /** Settles once the copy kept in storage (if any) was loaded; subscribing waits for it. */
  readonly restored: Promise<void>;

  constructor(entity: string, id: string, manager: DocManager, onLocal: (update: Uint8Array) => void, stored: Promise<unknown>) {
    this.entity = entity;
    this.id = id;
    this.#manager = manager;
    this.#onLocal = (update) => {
      onLocal(update);
      this.#manager.save(this);
    };
    this.#attach(this.#doc);
    this.restored = stored.then(
      (value) => this.#restore(value),
      () => {},
    );
  }

  #restore(value: unknown): void {
    const kept = value as StoredDoc | undefined | null;
    if (!kept || typeof kept.snapshot !== 'string' || !Array.isArray(kept.received)) return;
    this.#importing = true;
    try {
      this.#doc.import(fromHex(kept.snapshot));
      for (const [peer, counter] of kept.received) if ((this.received.get(peer) ?? 0) < counter) this.received.set(peer, counter);
    } catch {
      // An unreadable copy: start from the server's snapshot instead.
    } finally {
      this.#importing = false;
    }
    this.#notify();
  }

  /** What storage keeps of this document: its snapshot (local edits included) and `received`. */
  toStored(): StoredDoc {
    return { snapshot: toHex(this.#doc.export({ mode: 'snapshot' })), received: [...this.received] };
  }

  /**
   * The row's Loro document. Read it again after each notification: when edits made before the
   * server's snapshot arrived (a row created offline) are redone on the server's document, this
   * becomes that document.
   */
  get doc(): LoroDoc {
    return this.#doc;
  }

  #attach(doc: LoroDoc): void {
    this.#detach();
    const stopLocal = doc.subscribeLocalUpdates((update) => {
      if (!this.#importing) this.#onLocal(update);
    });
    const stopChanges = doc.subscribe(() => this.#notify());
    this.#detach = () => {
      stopLocal();
      stopChanges();
    };
  }

  get status(): DocStatus {
    return this.#status;
  }

  get error(): MastClientError | null {
    return this.#error;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the server's answer to the subscribe (snapshot, or the delta since `vv`) was imported. */
  ready(): Promise<void> {
    if (this.#status === 'synced') return Promise.resolve();
    if (this.#status === 'error') return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      const off = this.subscribe(() => {
        if (this.#status === 'synced') {
          off();
          resolve();
        } else if (this.#status === 'error') {
          off();
          reject(this.#error);
        }
      });
    });
  }

  /** Stops syncing when the last holder closes. */
  close(): void {
    if (--this.holders > 0) return;
    this.#detach();
    this.#manager.forget(this);
  }

  /** The version to ask the server for deltas from: hex of `received`, or undefined before any frame. */
  vvHex(): string | undefined {
    return this.received.size === 0 ? undefined : toHex(new VersionVector(this.received).encode());
  }

  /** Imports one frame's payload; false when it could not be (bad bytes, or a gap). */
  importFrame(type: number, payload: Uint8Array): boolean {
    if (type === crdtFrameTypes.snapshot && this.#resync) {
      // The snapshot asked for after the server lost history: `received` starts again from it.
      this.#resync = false;
      this.received.clear();
    } else if (type === crdtFrameTypes.snapshot && this.received.size === 0 && this.#doc.oplogVersion().length() > 0) return this.#adopt(payload);
    let ok = true;
    this.#importing = true;
    try {
      const status = this.#doc.import(payload);
      if (status.pending && status.pending.size > 0) ok = false;
      else mergeInto(this.received, decodeImportBlobMeta(payload, false).partialEndVersionVector);
    } catch {
      ok = false;
    } finally {
      this.#importing = false;
    }
    if (ok) this.#manager.save(this);
    // The answer to a subscribe is a snapshot, or (for a `vv` the server holds) the delta since it.
    if (ok && (type === crdtFrameTypes.snapshot || this.#status === 'loading')) {
      this.#status = 'synced';
      this.#error = null;
    }
    if (ok && type === crdtFrameTypes.snapshot) for (const wake of this.#snapshotWaiters.splice(0)) wake();
    this.#notify();
    return ok;
  }

  /**
   * The first snapshot of a document that already has edits of its own (made before any frame
   * arrived, e.g. for a row created offline): importing it would merge two unrelated histories
   * (text twice). Instead, as `docs/protocol.md` says, the server's document is taken and the
   * local content redone on it as edits — keys of the root `row` map that differ are set, root
   * texts are brought over with `LoroText.update` (a character diff) — and those edits go to the
   * outbox like any other.
   */
  #adopt(payload: Uint8Array): boolean {
    const local = this.#doc;
    const server = new LoroDoc();
    try {
      server.import(payload);
    } catch {
      return false;
    }
    mergeInto(this.received, decodeImportBlobMeta(payload, false).partialEndVersionVector);
    this.#doc = server;
    this.#attach(server);
    for (const [name, cid] of Object.entries(local.getShallowValue())) {
      if (typeof cid !== 'string') continue;
      if (cid.endsWith(':Text')) {
        const text = local.getText(name).toString();
        if (server.getText(name).toString() !== text) server.getText(name).update(text);
      } else if (cid.endsWith(':Map') && name === 'row') {
        const theirs = server.getMap('row');
        for (const [key, value] of Object.entries(local.getMap('row').toJSON() as Record<string, unknown>)) {
          if (JSON.stringify(theirs.get(key)) !== JSON.stringify(value)) theirs.set(key, value as never);
        }
      }
    }
    server.commit();
    this.#manager.save(this);
    this.#status = 'synced';
    this.#error = null;
    for (const wake of this.#snapshotWaiters.splice(0)) wake();
    this.#notify();
    return true;
  }

  /** The row was not there (yet): loading again until the next subscribe answers. */
  retry(): void {
    this.#status = 'loading';
    this.#error = null;
    this.#notify();
  }

  /** Resolves at the next snapshot imported; with `resync`, `received` is set from that snapshot alone. */
  nextSnapshot(resync = false): Promise<void> {
    this.#resync = resync;
    return new Promise((resolve) => this.#snapshotWaiters.push(resolve));
  }

  fail(error: MastClientError): void {
    this.#status = 'error';
    this.#error = error;
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/**
 * The documents the client holds, their subscriptions on each new socket (with `vv`, so only
 * what was missed comes back), and the push side of the retry protocol of `docs/protocol.md`:
 * an outbox entry is pushed as queued; on `CRDT_MISSING_DEPENDENCIES` the document's changes
 * since `received` are pushed instead, and if that is refused too, the client resyncs and
 * pushes from the new `received`. `CRDT_UNRELATED_HISTORY` is not retried: those edits were
 * made on a document of the client's own, and are redone on the server's when its snapshot
 * arrives (`DocHandle`).
 */
export class DocManager {
  readonly #port: DocPort;
  readonly #docs = new Map<string, DocHandle>();

  constructor(port: DocPort) {
    this.#port = port;
  }

  open(entity: string, id: string): DocHandle {
    const key = docKey(entity, id);
    let handle = this.#docs.get(key);
    if (!handle) {
      const stored = this.#port.storage().getMeta(storedKey(entity, id));
      handle = new DocHandle(entity, id, this, (update) => this.#port.queue(entity, id, update), stored);
      this.#docs.set(key, handle);
      const opened = handle;
      void handle.restored.then(() => {
        if (this.#docs.get(key) === opened && this.#port.isOpen()) this.#subscribe(opened);
      });
    }
    handle.holders++;
    return handle;
  }

  forget(handle: DocHandle): void {
    this.#docs.delete(docKey(handle.entity, handle.id));
    this.#port.send({ type: 'crdt-unsubscribe', entity: handle.entity, rowId: handle.id });
  }

  /** A new socket: subscribe every document again from what it received. */
  up(): void {
    for (const handle of this.#docs.values()) void handle.restored.then(() => this.#subscribe(handle));
  }

  /** Keeps the document in storage (coalesced: one write per turn of the event loop). */
  save(handle: DocHandle): void {
    if (this.#saving.has(handle)) return;
    this.#saving.add(handle);
    setTimeout(() => {
      this.#saving.delete(handle);
      void this.#port
        .storage()
        .setMeta(storedKey(handle.entity, handle.id), handle.toStored())
        .catch(() => {});
    }, 0);
  }
  readonly #saving = new Set<DocHandle>();

  /** A binary frame from the server. */
  binary(bytes: Uint8Array): void {
    const decoded = decodeCrdtFrame(bytes);
    if (!decoded.ok) return;
    const { type, entity, rowId, payload } = decoded.frame;
    const handle = this.#docs.get(docKey(entity, rowId));
    if (!handle) return;
    if (!handle.importFrame(type, payload)) this.#port.send({ type: 'crdt-resync', id: this.#port.nextId('d'), entity, rowId });
  }

  /** A row insert was accepted: a document that found no row subscribes again. */
  rowInserted(entity: string, id: string): void {
    const handle = this.#docs.get(docKey(entity, id));
    if (handle && handle.status !== 'synced' && this.#port.isOpen()) {
      handle.retry();
      this.#subscribe(handle);
    }
  }

  /** An `error` naming a document's row; false when it names none the client holds. */
  handle(m: Record<string, unknown>): boolean {
    if (typeof m.entity !== 'string' || typeof m.rowId !== 'string') return false;
    const handle = this.#docs.get(docKey(m.entity, m.rowId));
    if (!handle) return false;
    // A row this client inserted but has not sent yet: wait for the insert (rowInserted).
    if (m.code === 'NOT_FOUND' && handle.status === 'loading' && this.#port.insertPending(m.entity, m.rowId)) return true;
    handle.fail(errorFromServer(m));
    return true;
  }

  /** Sends one queued CRDT update, following the retry protocol. */
  async push(entry: OutboxEntry): Promise<SendOutcome> {
    const write = entry.write;
    if (write.kind !== 'crdt') throw new Error('not a CRDT entry');
    const first = await this.#port.push(write.entity, write.id, fromHex(write.update));
    if (first.ok) return { ok: true, value: first.body };
    if (first.error.code !== 'CRDT_MISSING_DEPENDENCIES') return classify(first);
    const handle = this.#docs.get(docKey(write.entity, write.id));
    if (!handle) {
      // Not open since a reload: fill the gap from the stored copy, or report the update on its
      // write and drop it, so it blocks nothing after it.
      const kept = (await this.#port
        .storage()
        .getMeta(storedKey(write.entity, write.id))
        .catch(() => undefined)) as StoredDoc | undefined;
      if (!kept || typeof kept.snapshot !== 'string' || !Array.isArray(kept.received)) return { ok: false, retry: false, error: first.error };
      const doc = new LoroDoc();
      doc.import(fromHex(kept.snapshot));
      const again = await this.#port.push(write.entity, write.id, doc.export({ mode: 'update', from: new VersionVector(new Map(kept.received)) }));
      return again.ok ? { ok: true, value: again.body } : { ok: false, retry: false, error: again.error };
    }
    const fromReceived = (): Uint8Array => handle.doc.export({ mode: 'update', from: new VersionVector(handle.received) });
    const second = await this.#port.push(write.entity, write.id, fromReceived());
    if (second.ok) return { ok: true, value: second.body };
    if (second.error.code !== 'CRDT_MISSING_DEPENDENCIES') return classify(second);
    // The server's document lost history it had sent: resync, then push from the fresh version.
    if (!this.#port.isOpen()) return { ok: false, retry: true, error: second.error };
    const snapshot = handle.nextSnapshot(true);
    this.#port.send({ type: 'crdt-resync', id: this.#port.nextId('d'), entity: write.entity, rowId: write.id });
    await snapshot;
    const third = await this.#port.push(write.entity, write.id, fromReceived());
    return third.ok ? { ok: true, value: third.body } : classify(third);
  }

  #subscribe(handle: DocHandle): void {
    const vv = handle.vvHex();
    this.#port.send({ type: 'crdt-subscribe', id: this.#port.nextId('d'), entity: handle.entity, rowId: handle.id, ...(vv ? { vv } : {}) });
  }
}

function classify(outcome: Extract<HttpOutcome, { ok: false }>): SendOutcome {
  const retry = outcome.status === 0 || outcome.status >= 500 || outcome.status === 408 || outcome.status === 429 || outcome.status === 401;
  return { ok: false, retry, error: outcome.error } as SendOutcome;
}

function storedKey(entity: string, id: string): string {
  return `doc:${entity}:${id}`;
}

function docKey(entity: string, id: string): string {
  return `${entity}\u0000${id}`;
}
