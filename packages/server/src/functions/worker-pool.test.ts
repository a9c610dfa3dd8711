import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerPool, type WorkerLease } from './worker-pool.js';

const threads = (): number => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
const auth = { userId: 'u1', isAdmin: false, isGuest: false, roles: [], tenantId: null };
const host = { perform: async () => null, chunk: () => undefined };

let pool: WorkerPool;
afterEach(async () => {
  await pool.close();
});

describe('the function worker pool', () => {
  it('frees the worker when a call cannot be sent to it (arguments that cannot be copied)', async () => {
    pool = new WorkerPool({ size: 1, maxQueued: 4, graceMs: 200, logger: pino({ level: 'silent' }) });
    const lease = await pool.acquire({ name: 'f', waitMs: 10_000 });
    const call = { url: 'file:///never-imported.ts', name: 'f', kind: 'query' as const, args: { callback: () => 1 }, auth, streams: false };
    await expect(lease.run(call, host, new AbortController().signal)).rejects.toThrow(/could not be cloned/);
    lease.release();
    // Without the fix the only worker stayed leased and this waited out its 1.5 s.
    const next = await pool.acquire({ name: 'g', waitMs: 1500 });
    next.release();
  });

  it("lets an isolated action's own calls start at most as many extra workers as the pool's size", async () => {
    pool = new WorkerPool({ size: 1, maxQueued: 0, graceMs: 200, logger: pino({ level: 'silent' }) });
    const parent = await pool.acquire({ name: 'parent', waitMs: 10_000 });
    const before = threads();
    const granted: WorkerLease[] = [];
    const pending = Array.from({ length: 20 }, (_, i) =>
      pool.acquire({ name: `nested${i}`, waitMs: 10_000, urgent: true }).then(
        (lease) => granted.push(lease),
        () => undefined,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // One extra worker (a worker is a few threads), not twenty.
    expect(granted).toHaveLength(1);
    expect(threads() - before).toBeLessThan(8);
    // The rest wait at the front of the queue and get workers as they free up.
    for (let i = 0; i < 3; i++) {
      granted[i]!.release();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(granted).toHaveLength(4);
    parent.release();
    for (const lease of granted) lease.release();
    await pool.close();
    await Promise.all(pending);
  });
});
