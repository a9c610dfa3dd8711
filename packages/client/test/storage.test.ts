import 'fake-indexeddb/auto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../src/node.js';
import { indexedDbStorage, memoryStorage, type ClientStorage } from '../src/index.js';
import { clientOf, startServer, tokenFor } from './harness.js';
import { storageCases } from './storage.case.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

storageCases('memory', async () => memoryStorage(), false);

let fileDir = '';
storageCases(
  'file',
  async (reopen) => {
    if (!reopen) {
      fileDir = mkdtempSync(join(tmpdir(), 'mast-storage-'));
      dirs.push(fileDir);
    }
    return fileStorage(fileDir);
  },
  true,
);

let idbName = '';
let idbCount = 0;
storageCases(
  'indexeddb',
  async (reopen) => {
    if (!reopen) idbName = `case-${++idbCount}`;
    return indexedDbStorage(idbName);
  },
  true,
);

describe('storage failures', () => {
  it('keeps the client working in memory when durable storage fails, and says so', async () => {
    const t = await startServer();
    let fail = false;
    const inner = memoryStorage();
    const flaky: ClientStorage = {
      ...inner,
      kind: 'indexeddb',
      async putEntry(entry) {
        if (fail) throw new Error('QuotaExceededError');
        return inner.putEntry(entry);
      },
    };
    const client = clientOf(t, { auth: await tokenFor(t, 'ann'), storage: flaky });
    await client.connected();
    expect(client.status.storage).toBe('durable');
    fail = true;
    const { id } = await client.insert('Todo', { title: 'still saved', done: false, ownerId: 'ann' });
    expect(id).toBeTruthy();
    expect(client.status.storage).toBe('memory');
    expect(client.status.storageError).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(client.status.storageError?.message).toMatch(/QuotaExceededError/);
    await client.close();
    await t.close();
  });
});
