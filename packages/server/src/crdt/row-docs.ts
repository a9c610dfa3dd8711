import { randomBytes } from 'node:crypto';
import { LoroDoc } from 'loro-crdt';
import type { EntitySchema } from '@mast/schema';
import { AppError } from '../errors/index.js';
import type { CrdtRecord, Row, Store, WriteTx } from '../store/index.js';
import { DocCache } from './doc-cache.js';
import { writeFields } from './row-doc.js';

/** Budgets of the document cache and where failures are reported. */
export interface RowDocsOptions {
  /** Most documents kept in memory. */
  readonly maxDocs: number;
  /** Most memory the cached documents may take, in bytes, as estimated by `memoryEstimate`. */
  readonly maxBytes: number;
  /** Reports a stored document that cannot be decoded (the request gets CRDT_CORRUPT). */
  readonly onCorrupt: (err: unknown, where: { entity: string; rowId: string }) => void;
}

/** Told of every committed document change: the new document, or null when the row was deleted. */
export type CommittedDocListener = (entity: string, rowId: string, doc: LoroDoc | null) => void;

const keyOf = (entity: string, rowId: string): string => `${entity}\u0000${rowId}`;

/**
 * The memory a decoded document takes, estimated from its snapshot: measured with loro-crdt
 * 1.17, a document holds about four times its (compressed) snapshot in WASM memory. The WASM
 * heap does not shrink, so an evicted document's memory is reused, not returned to the OS.
 */
export function memoryEstimate(snapshotBytes: number): number {
  return snapshotBytes * 4 + 2048;
}

/**
 * The Loro documents of CRDT rows. The cache holds committed documents only: a write works on
 * a fork inside its transaction (`CrdtStage`), and the fork replaces the cached document after
 * the commit, so readers never see a change that may still roll back, and a rollback needs no
 * clean-up. Evicted documents are reloaded from the sidecar on next use.
 */
export class RowDocs {
  readonly #store: Store;
  readonly #cache: DocCache<LoroDoc>;
  readonly #options: RowDocsOptions;
  readonly #listeners = new Set<CommittedDocListener>();
  /**
   * One Loro peer id for this process's own edits (REST and function writes), so the version
   * vector does not grow by one peer per write. Safe because writes to one row are serialised
   * (one writer); a backend with concurrent writers must lock the row before forking.
   */
  readonly #peer: bigint;
  /** Counts installed commits: a reload that started before one must not cache what it read. */
  #commits = 0;

  constructor(store: Store, options: RowDocsOptions) {
    this.#store = store;
    this.#options = options;
    this.#cache = new DocCache(options.maxDocs, options.maxBytes);
    this.#peer = randomBytes(8).readBigUInt64BE() >> 1n;
  }

  /** The committed document of a row (cached or loaded from the sidecar), or null when it has none. */
  async read(entity: string, rowId: string): Promise<LoroDoc | null> {
    const cached = this.#cache.get(keyOf(entity, rowId));
    if (cached) return cached;
    const commits = this.#commits;
    const record = await this.#store.crdt.get(entity, rowId);
    if (!record) return null;
    const doc = this.#decode(record);
    // A commit installed meanwhile may be newer than what was read; caching this document would
    // let the next write fork from it and reuse op ids that clients already hold.
    if (this.#commits === commits) this.#cache.set(keyOf(entity, rowId), doc, memoryEstimate(record.snapshot.length));
    return doc;
  }

  /**
   * The document of a row that has none yet (written before its entity was a CRDT entity, or
   * repaired by removing a corrupt one), created from its SQL values and stored, so clients
   * never edit on top of a seed the server did not keep.
   */
  async materialize(entity: EntitySchema, rowId: string): Promise<LoroDoc> {
    const stage = this.stage();
    const doc = await this.#store.write(async (tx) => {
      const existing = await this.base(tx, entity.name, rowId);
      if (existing) return existing;
      const row = await tx.get(entity.name, rowId);
      if (!row) throw new AppError('NOT_FOUND', `${entity.name} with id "${rowId}" not found`);
      const seeded = await stage.fork(tx, entity, rowId, row);
      await stage.save(tx, entity.name, rowId, seeded);
      return seeded;
    });
    stage.commit();
    return doc;
  }

  /** Starts the document changes of one write transaction. */
  stage(): CrdtStage {
    return new CrdtStage(this);
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

  /** The document a transaction starts from: cached, else the one `tx` sees in the sidecar. */
  async base(tx: WriteTx, entity: string, rowId: string): Promise<LoroDoc | null> {
    // Other nodes may have written the row since it was cached: read what the transaction sees.
    const cached = this.#store.capabilities.multiNode ? undefined : this.#cache.get(keyOf(entity, rowId));
    if (cached) return cached;
    const record = await tx.getCrdt(entity, rowId);
    return record ? this.#decode(record) : null;
  }

  /** A new document for this process's edits. */
  newDoc(): LoroDoc {
    const doc = new LoroDoc();
    doc.setPeerId(this.#peer);
    return doc;
  }

  /** A writable fork of `doc` that records this process's edits under its own peer id. */
  fork(doc: LoroDoc): LoroDoc {
    const copy = doc.fork();
    copy.setPeerId(this.#peer);
    return copy;
  }

  /** Installs the documents of a committed transaction and tells the listeners. */
  installCommitted(changes: ReadonlyMap<string, { entity: string; rowId: string; doc: LoroDoc | null; bytes: number }>): void {
    this.#commits++;
    for (const [key, change] of changes) {
      if (change.doc) this.#cache.set(key, change.doc, change.bytes);
      else this.#cache.delete(key);
    }
    for (const change of changes.values()) for (const listener of this.#listeners) listener(change.entity, change.rowId, change.doc);
  }

  #decode(record: CrdtRecord): LoroDoc {
    const doc = new LoroDoc();
    try {
      doc.import(record.snapshot);
    } catch (err) {
      const where = { entity: record.entity, rowId: record.rowId };
      this.#options.onCorrupt(err, where);
      throw new AppError('CRDT_CORRUPT', `The stored CRDT document of ${record.entity} "${record.rowId}" cannot be read`, { cause: err });
    }
    return doc;
  }
}

/**
 * The document changes of one write transaction: forks of committed documents, persisted to
 * the sidecar through the transaction and installed in the cache by `commit()` once the
 * transaction has committed. Dropped unused on rollback.
 */
export class CrdtStage {
  readonly #docs: RowDocs;
  readonly #changes = new Map<string, { entity: string; rowId: string; doc: LoroDoc | null; bytes: number }>();

  constructor(docs: RowDocs) {
    this.#docs = docs;
  }

  /**
   * A private fork of the row's current document (this transaction's, else the committed one).
   * A row without a document (written before it was a CRDT entity, or whose sidecar entry was
   * removed to repair it) gets one seeded from `seed`, its current SQL values.
   */
  async fork(tx: WriteTx, entity: EntitySchema, rowId: string, seed: Row | null): Promise<LoroDoc> {
    const key = keyOf(entity.name, rowId);
    const staged = this.#changes.get(key);
    const base = staged ? staged.doc : await this.#docs.base(tx, entity.name, rowId);
    if (base) return this.#docs.fork(base);
    const doc = this.#docs.newDoc();
    if (seed) writeFields(doc, entity, withoutId(seed));
    return doc;
  }

  /** A new, empty document for a row being inserted (any orphaned document of that id is replaced on save). */
  create(): LoroDoc {
    return this.#docs.newDoc();
  }

  /** Persists `doc` as the row's document in this transaction. */
  async save(tx: WriteTx, entity: string, rowId: string, doc: LoroDoc): Promise<void> {
    const snapshot = doc.export({ mode: 'snapshot' });
    await tx.putCrdt({ entity, rowId, snapshot, version: doc.oplogVersion().encode(), updatedAt: Date.now() });
    this.#changes.set(keyOf(entity, rowId), { entity, rowId, doc, bytes: memoryEstimate(snapshot.length) });
  }

  /** Removes the row's document in this transaction (the row is being deleted). */
  async remove(tx: WriteTx, entity: string, rowId: string): Promise<void> {
    await tx.deleteCrdt(entity, rowId);
    this.#changes.set(keyOf(entity, rowId), { entity, rowId, doc: null, bytes: 0 });
  }

  /** Call after the transaction committed: the staged documents become the committed ones. */
  commit(): void {
    if (this.#changes.size > 0) this.#docs.installCommitted(this.#changes);
    this.#changes.clear();
  }
}

function withoutId(row: Row): Record<string, unknown> {
  const { id: _id, ...values } = row;
  return values;
}
