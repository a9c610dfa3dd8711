import { openDB, type IDBPDatabase } from 'idb';
import { MastClientError } from './errors.js';
import type { ClientStorage, OutboxEntry } from './storage.js';

interface LockManager {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void>): Promise<void>;
}

/**
 * Durable storage in IndexedDB (browsers), database `mast:<name>`: the outbox as one record per
 * entry in an `outbox` store ordered by an index, named values in `meta`. One tab writes an
 * outbox at a time: where Web Locks exist, the storage holds the lock `mast-outbox:<name>` until
 * closed, and a second tab's storage fails to open (`OUTBOX_LOCKED`). Opening is lazy: a
 * failure (private mode, blocked upgrade, quota) surfaces at the first read, and the client then
 * keeps its outbox in memory and reports it in `status.storageError`.
 */
export function indexedDbStorage(name: string): ClientStorage {
  let db: Promise<IDBPDatabase> | undefined;
  let releaseLock: (() => void) | undefined;

  async function acquireLock(): Promise<void> {
    const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
    if (!locks) return;
    const acquired = await new Promise<boolean>((resolve) => {
      void locks.request(`mast-outbox:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          resolve(false);
          return Promise.resolve();
        }
        resolve(true);
        return new Promise<void>((release) => (releaseLock = release));
      });
    });
    if (!acquired) throw new MastClientError('OUTBOX_LOCKED', `The outbox "${name}" is open in another tab; this one keeps its writes in memory`);
  }

  function open(): Promise<IDBPDatabase> {
    db ??= (async () => {
      await acquireLock();
      return openDB(`mast:${name}`, 1, {
        upgrade(database) {
          const outbox = database.createObjectStore('outbox', { keyPath: 'key' });
          outbox.createIndex('order', 'order');
          database.createObjectStore('meta');
        },
        blocking() {
          // A newer version wants the database: let it have it rather than stall every tab.
          void db?.then((d) => d.close());
        },
      });
    })();
    return db;
  }

  return {
    kind: 'indexeddb',
    async loadOutbox() {
      return (await (await open()).getAllFromIndex('outbox', 'order')) as OutboxEntry[];
    },
    async putEntry(entry) {
      await (await open()).put('outbox', entry);
    },
    async deleteEntry(key) {
      await (await open()).delete('outbox', key);
    },
    async getMeta(key) {
      return (await open()).get('meta', key);
    },
    async setMeta(key, value) {
      await (await open()).put('meta', value, key);
    },
    async deleteMeta(key) {
      await (await open()).delete('meta', key);
    },
    async clear() {
      const d = await open();
      await d.clear('outbox');
      await d.clear('meta');
    },
    async close() {
      if (db) (await db.catch(() => null))?.close();
      db = undefined;
      releaseLock?.();
      releaseLock = undefined;
    },
  };
}
