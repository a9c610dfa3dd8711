import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MastClientError } from './errors.js';
import type { ClientStorage, OutboxEntry } from './storage.js';

export * from './index.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/**
 * Durable storage in a directory the app names (Node only): one file per outbox entry (named by
 * its order, so a directory listing is the queue) and one per named value, each written to a
 * temporary file and renamed into place. One process writes a directory at a time: a `lock`
 * file holds the owner's pid, and a second client on the same directory is refused with
 * `OUTBOX_LOCKED` while that process lives.
 */
export async function fileStorage(dir: string): Promise<ClientStorage> {
  const outboxDir = join(dir, 'outbox');
  const metaDir = join(dir, 'meta');
  await mkdir(outboxDir, { recursive: true });
  await mkdir(metaDir, { recursive: true });
  const lockPath = join(dir, 'lock');
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new MastClientError('OUTBOX_LOCKED', `${dir} is in use by process ${owner}; one client writes an outbox at a time`);
      }
      await unlink(lockPath).catch(() => {}); // left by a process that died
    }
  }
  const entryFile = (entry: OutboxEntry): string => `${String(entry.order).padStart(16, '0')}-${encodeURIComponent(entry.key)}.json`;
  const metaFile = (key: string): string => join(metaDir, `${encodeURIComponent(key)}.json`);
  const files = new Map<string, string>();
  let closed = false;
  return {
    kind: 'file',
    async loadOutbox() {
      const names = (await readdir(outboxDir)).filter((n) => n.endsWith('.json')).sort();
      const entries: OutboxEntry[] = [];
      for (const name of names) {
        try {
          const entry = JSON.parse(await readFile(join(outboxDir, name), 'utf8')) as OutboxEntry;
          files.set(entry.key, name);
          entries.push(entry);
        } catch {
          // A file cut short by a crash mid-write never reached its final name; skip anything unreadable.
        }
      }
      return entries;
    },
    async putEntry(entry) {
      const name = entryFile(entry);
      files.set(entry.key, name);
      await writeAtomic(join(outboxDir, name), JSON.stringify(entry));
    },
    async deleteEntry(key) {
      const name = files.get(key);
      files.delete(key);
      if (name) await rm(join(outboxDir, name), { force: true });
    },
    async getMeta(key) {
      try {
        return JSON.parse(await readFile(metaFile(key), 'utf8')) as unknown;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async setMeta(key, value) {
      await writeAtomic(metaFile(key), JSON.stringify(value ?? null));
    },
    async deleteMeta(key) {
      await rm(metaFile(key), { force: true });
    },
    async clear() {
      for (const name of await readdir(outboxDir)) await rm(join(outboxDir, name), { force: true });
      for (const name of await readdir(metaDir)) await rm(join(metaDir, name), { force: true });
      files.clear();
    },
    async close() {
      if (closed) return;
      closed = true;
      await unlink(lockPath).catch(() => {});
    },
  };
}
