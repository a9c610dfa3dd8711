import { randomBytes } from 'node:crypto';
import { LoroDoc } from 'loro-crdt';
import type { EntitySchema } from '@mast/schema';
import { crdtErrors, errors } from '../errors/index.js';
import type { CrdtRecord, Row, Store, WriteTx } from '../store/index.js';
import { DocCache } from './doc-cache.js';
import { checkDocValues, writeFields } from './row-doc.js';
import { systemClock, type Clock } from '../clock/clock.js';

/** Budgets of the document cache and where failures are reported. */
export interface RowDocsOptions {
  /** Most documents kept in memory. */
  readonly maxDocs: number;
  /** Most memory the cached documents may take, in bytes, as estimated by `memoryEstimate`. */
  readonly maxBytes: number;
  /** Reports a stored document that cannot be decoded (the request gets CRDT_CORRUPT). */
  readonly onCorrupt: (err: unknown, where: { entity: string; rowId: string }) => void;
  /** Where a stored document's `updatedAt` is read (default: the system clock). */
  readonly clock?: Clock;
}

/** Told of every committed document change: the new document, or null when the row was deleted. */
export type CommittedDocListener = (entity: string, rowId: string, doc: LoroDoc | null) => void;

const keyOf = (entity: string, rowId: string): string => `${entity}\u0000${rowId}`;

/**
 * The memory a decoded document takes, estimated from its snapshot. Measured with loro-crdt
 * 1.17 (WASM heap growth per document kept, one title and a text of random letters, after an
 * edit): 11 KB for an empty text (285 B snapshot), 12.5 KB for 200 characters (724 B), 17 KB
 * for 1,000 (2.3 KB), 41 KB for 5,000 (10 KB), 249 KB for 50,000 (28 KB). The whole process
 * grows more than the WASM heap: 20.5 KB of RSS per cached 200-character document (the bench's
 * cache cell, uncapped), counting the JS side of each document and the heap fragmentation that
 * loading and evicting leaves; with 12 KB as the base, a 16 MiB budget added 28 MiB. 24 KB plus
 * eight times the snapshot covers each of them, so the byte budget is an upper bound. The WASM
 * heap does not shrink, so an evicted document's memory is reused, not returned to the OS.
 */
export function memoryEstimate(snapshotBytes: number): number {
  return 24 * 1024 + snapshotBytes * 8;
}

/**
 * The Loro documents of CRDT rows. The cache holds committed documents only. A write takes the
 * row's document out of the cache (or decodes it from the sidecar as its transaction sees it),
 * changes it in place inside its transaction (`CrdtStage`), and puts it back after the commit;
 * a failed op or a rollback throws the changed document away, and the next use reloads the
 * committed one. Readers therefore never see a change that may still roll back, and no write
 * pays for copying the document. Evicted documents are reloaded from the sidecar on next use.
 */
export class RowDocs {
  readonly #store: Store;
  readonly #cache: DocCache<LoroDoc>;
  readonly #options: RowDocsOptions;
  readonly #listeners = new Set<CommittedDocListener>();
  /**
   * One Loro peer id for this process's own edits (REST and function writes), so the version
   * vector does not grow by one peer per write. Safe because writes to one row are serialised
   * (one writer) and only committed ops ever leave the process. A backend with concurrent
   * writers locks the document's row in `WriteTx.getCrdt` (PostgreSQL: `FOR UPDATE`), so a second
   * transaction on the document waits and continues this peer's counter from what the first
   * committed.
   */
  readonly #peer: bigint;
  /** Counts installed commits: a reload that started before one must not cache what it read. */
  #commits = 0;

  constructor(store: Store, options: RowDocsOptions) {
    this.#store = store;
    this.#options = options;
    // Only the cache holds a document between uses (writes take it out first, readers use it
    // synchronously), so one it lets go of can be freed at once instead of waiting for GC,
    // which keeps the WASM heap from growing with evicted documents.
    this.#cache = new DocCache<LoroDoc>(options.maxDocs, options.maxBytes, (doc) => doc.free());
    this.#peer = randomBytes(8).readBigUInt64BE() >> 1n;
  }

  /** The time of day by this store's clock, in ms since the epoch. */
  now(): number {
    return (this.#options.clock ?? systemClock).now();
  }

  /**
   * Runs `fn` on the committed document of a row (null when it has none). `fn` must not keep
   * the document or await: a later write changes the cached document in place.
   */
  async use<T>(entity: string, rowId: string, fn: (doc: LoroDoc) => T): Promise<T | null> {
    const key = keyOf(entity, rowId);
    // Other nodes commit to a shared database: the stored document is the current one.
    const shared = this.#store.capabilities.multiNode;
    const cached = shared ? undefined : this.#cache.get(key);
    if (cached) return fn(cached);
    const commits = this.#commits;
    const record = await this.#store.crdt.get(entity, rowId);
    if (!record) return null;
    const doc = this.#decode(record);
    const result = fn(doc);
    // A commit installed meanwhile may be newer than what was read; caching this document would
    // let the next write build on it and reuse op ids that clients already hold.
    const kept = !shared && this.#commits === commits && !this.#cache.has(key) && this.#cache.set(key, doc, memoryEstimate(record.snapshot.length));
    // Freed at once when not kept: the garbage collector would free it only under JS heap
    // pressure, which WASM memory does not create.
    if (!kept) doc.free();
    return result;
  }

  /** A private copy of the committed document of a row, or null (for tests and tools). */
  async read(entity: string, rowId: string): Promise<LoroDoc | null> {
    return this.use(entity, rowId, (doc) => {
      const copy = new LoroDoc();
      copy.import(doc.export({ mode: 'snapshot' }));
      return copy;
    });
  }

  /**
   * Stores a document for a row that has none yet (JSON writes make none; a subscribe needs
   * one), created from its SQL values in a write transaction, so clients never edit on top of a
   * seed the server did not keep and two first subscribers get the same one.
   */
  async materialize(entity: EntitySchema, rowId: string): Promise<void> {
    const stage = this.stage();
    await this.#store.write(async (tx) => {
      if (await tx.getCrdt(entity.name, rowId)) return;
      const row = await tx.get(entity.name, rowId);
      if (!row) throw errors.rowNotFound(entity.name, rowId);
      await stage.save(tx, entity.name, rowId, await stage.open(tx, entity, rowId, row));
    });
    stage.commit();
  }

  /** Starts the document changes of one write transaction. */
  stage(): CrdtStage {
    return new CrdtStage(this);
  }

  /**
   * Forgets every cached document of `entity` (a migration dropped its stored documents, e.g. a
   * renamed field): each is loaded, or seeded from its row, again on next use.
   */
  forgetEntity(entity: string): void {
    const prefix = keyOf(entity, '');
    this.#cache.deleteMatching((key) => key.startsWith(prefix));
  }

  /** Calls `listener` after each commit that changed or removed a document; returns the unsubscribe. */
  onCommit(listener: CommittedDocListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Cache counters, for metrics and tests. */
  cacheStats(): { entries: number; bytes: number; evictions: number } {
    return this.#cache.stats();
  }

  /** Takes a row's document for a transaction: out of the cache, else as `tx` sees it in the sidecar. */
  async take(tx: WriteTx, entity: string, rowId: string): Promise<LoroDoc | null> {
    const key = keyOf(entity, rowId);
    // Other nodes may have written the row since it was cached: read what the transaction sees.
    const cached = this.#store.capabilities.multiNode ? undefined : this.#cache.get(key);
    this.#cache.delete(key);
    const record = cached ? null : await tx.getCrdt(entity, rowId);
    const doc = cached ?? (record ? this.#decode(record) : null);
    doc?.setPeerId(this.#peer);
    return doc;
  }

  /** A new document for this process's edits. */
  newDoc(): LoroDoc {
    const doc = new LoroDoc();
    doc.setPeerId(this.#peer);
    return doc;
  }

  /** A document decoded from a snapshot this process saved, for further edits. */
  reopen(entity: string, rowId: string, snapshot: Uint8Array): LoroDoc {
    const doc = this.#decode({ entity, rowId, snapshot, version: new Uint8Array(0), updatedAt: 0 });
    doc.setPeerId(this.#peer);
    return doc;
  }

  /** Installs the documents of a committed transaction and tells the listeners. */
  installCommitted(changes: ReadonlyMap<string, { entity: string; rowId: string; doc: LoroDoc | null; bytes: number }>): void {
    this.#commits++;
    // Listeners first: caching one document may evict (and free) another of this commit.
    for (const change of changes.values()) for (const listener of this.#listeners) listener(change.entity, change.rowId, change.doc);
    for (const [key, change] of changes) {
      if (change.doc) {
        if (!this.#cache.set(key, change.doc, change.bytes)) change.doc.free();
      } else this.#cache.delete(key);
    }
  }

  #decode(record: CrdtRecord): LoroDoc {
    const doc = new LoroDoc();
    try {
      doc.import(record.snapshot);
    } catch (err) {
      const where = { entity: record.entity, rowId: record.rowId };
      this.#options.onCorrupt(err, where);
      throw crdtErrors.corrupt(record.entity, record.rowId, err);
    }
    return doc;
  }
}

/** One row's document in a transaction: the document, and the snapshot last saved (null: none yet). */
interface StagedDoc {
  readonly entity: string;
  readonly rowId: string;
  doc: LoroDoc | null;
  saved: Uint8Array | null;
  deleted: boolean;
}

/**
 * The document changes of one write transaction: documents taken from the cache (or the
 * sidecar), changed in place, persisted through the transaction, and installed in the cache
 * by `commit()` once the transaction has committed. Dropped on rollback.
 */
export class CrdtStage {
  readonly #docs: RowDocs;
  readonly #staged = new Map<string, StagedDoc>();

  constructor(docs: RowDocs) {
    this.#docs = docs;
  }

  /**
   * The row's document for this transaction, to change in place (call `failed` when the op
   * changing it fails). A row without a document (only JSON writes so far, written before its
   * entity was a CRDT entity, or whose sidecar entry was removed to repair it) gets one seeded
   * from `seed`, its SQL values, stored when the caller saves it.
   */
  async open(tx: WriteTx, entity: EntitySchema, rowId: string, seed: Row | null): Promise<LoroDoc> {
    const key = keyOf(entity.name, rowId);
    const staged = this.#staged.get(key);
    if (staged?.doc) return staged.doc;
    const taken = staged ? null : await this.#docs.take(tx, entity.name, rowId);
    let doc = taken;
    if (!doc) {
      doc = this.#docs.newDoc();
      if (seed) {
        // A row written before values were bounded may hold one no document can: refused cleanly,
        // and a JSON write of a smaller value (which needs no document) repairs it.
        checkDocValues(entity, withoutId(seed), 'the row holds a value its CRDT document cannot; write a smaller value to the field first');
        writeFields(doc, entity, withoutId(seed));
      }
    }
    this.#staged.set(key, { entity: entity.name, rowId, doc, saved: staged?.saved ?? null, deleted: false });
    return doc;
  }

  /**
   * The row's document for this transaction when it has one (stored, or saved earlier in this
   * transaction), to change in place; null when it has none, which is never created here.
   */
  async existing(tx: WriteTx, entity: string, rowId: string): Promise<LoroDoc | null> {
    const key = keyOf(entity, rowId);
    const staged = this.#staged.get(key);
    if (staged) return staged.doc;
    const doc = await this.#docs.take(tx, entity, rowId);
    if (doc) this.#staged.set(key, { entity, rowId, doc, saved: null, deleted: false });
    return doc;
  }

  /**
   * The op that changed the row's document failed: its changes must not reach a later save or
   * the cache. The document goes back to what this transaction last saved (or is dropped, so
   * the next use reloads the committed one).
   */
  failed(entity: string, rowId: string): void {
    const key = keyOf(entity, rowId);
    const staged = this.#staged.get(key);
    if (!staged) return;
    if (staged.saved && !staged.deleted) staged.doc = this.#docs.reopen(entity, rowId, staged.saved);
    else if (!staged.deleted) this.#staged.delete(key);
  }

  /** Persists `doc` as the row's document in this transaction. */
  async save(tx: WriteTx, entity: string, rowId: string, doc: LoroDoc): Promise<void> {
    const snapshot = doc.export({ mode: 'snapshot' });
    await tx.putCrdt({ entity, rowId, snapshot, version: doc.oplogVersion().encode(), updatedAt: this.#docs.now() });
    this.#staged.set(keyOf(entity, rowId), { entity, rowId, doc, saved: snapshot, deleted: false });
  }

  /** Removes the row's document in this transaction (the row is being deleted). */
  async remove(tx: WriteTx, entity: string, rowId: string): Promise<void> {
    await tx.deleteCrdt(entity, rowId);
    this.#staged.set(keyOf(entity, rowId), { entity, rowId, doc: null, saved: null, deleted: true });
  }

  /** Call after the transaction committed: the saved documents become the committed ones. */
  commit(): void {
    const changes = new Map<string, { entity: string; rowId: string; doc: LoroDoc | null; bytes: number }>();
    for (const [key, s] of this.#staged) {
      if (s.deleted) changes.set(key, { entity: s.entity, rowId: s.rowId, doc: null, bytes: 0 });
      else if (s.saved && s.doc) changes.set(key, { entity: s.entity, rowId: s.rowId, doc: s.doc, bytes: memoryEstimate(s.saved.length) });
    }
    this.#staged.clear();
    if (changes.size > 0) this.#docs.installCommitted(changes);
  }
}

function withoutId(row: Row): Record<string, unknown> {
  const { id: _id, ...values } = row;
  return values;
}
