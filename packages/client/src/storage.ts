/** A row write or CRDT update waiting in the outbox. CRDT updates are hex-encoded Loro bytes. */
export type QueuedWrite =
  | { readonly kind: 'insert'; readonly entity: string; readonly id: string; readonly data: Readonly<Record<string, unknown>> }
  | { readonly kind: 'update'; readonly entity: string; readonly id: string; readonly data: Readonly<Record<string, unknown>> }
  | { readonly kind: 'delete'; readonly entity: string; readonly id: string }
  | { readonly kind: 'crdt'; readonly entity: string; readonly id: string; readonly update: string };

/** One outbox entry: its op id (`key`, sent as the write's `op_id`) and its place in the queue. */
export interface OutboxEntry {
  readonly key: string;
  readonly order: number;
  readonly write: QueuedWrite;
}

/**
 * Where the client keeps what must survive a reload: the outbox (one record per entry, so
 * adding or removing one never rewrites the others) and small named values (the identity the
 * outbox belongs to, CRDT documents). Implementations: `memoryStorage()` (the default, not
 * durable), `fileStorage(dir)` from `@mast/client/node`, `indexedDbStorage(name)` from
 * `@mast/client/idb`.
 */
export interface ClientStorage {
  /** `memory` storage loses everything when the process or page goes away. */
  readonly kind: 'memory' | 'file' | 'indexeddb';
  /** Outbox entries in queue order. */
  loadOutbox(): Promise<OutboxEntry[]>;
  putEntry(entry: OutboxEntry): Promise<void>;
  deleteEntry(key: string): Promise<void>;
  getMeta(key: string): Promise<unknown>;
  setMeta(key: string, value: unknown): Promise<void>;
  deleteMeta(key: string): Promise<void>;
  /** Removes every entry and value (identity change). */
  clear(): Promise<void>;
  /** Releases the storage (its writer lock, its connection). */
  close(): Promise<void>;
}

/** Storage in memory: the default, and where the client falls back when durable storage fails. */
export function memoryStorage(): ClientStorage {
  const entries = new Map<string, OutboxEntry>();
  const meta = new Map<string, unknown>();
  return {
    kind: 'memory',
    async loadOutbox() {
      return [...entries.values()].sort((a, b) => a.order - b.order);
    },
    async putEntry(entry) {
      entries.set(entry.key, entry);
    },
    async deleteEntry(key) {
      entries.delete(key);
    },
    async getMeta(key) {
      return meta.get(key);
    },
    async setMeta(key, value) {
      meta.set(key, value);
    },
    async deleteMeta(key) {
      meta.delete(key);
    },
    async clear() {
      entries.clear();
      meta.clear();
    },
    async close() {},
  };
}
