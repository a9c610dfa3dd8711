import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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

/** Resolves once `check` holds; fails the test after `timeoutMs`. */
async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting for a worker grant');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
describe('the function worker pool', () => {
  it('warms one worker, starts more only as calls find every worker busy, and ends idle extras', async () => {
    pool = new WorkerPool({ size: 4, maxQueued: 8, graceMs: 200, idleMs: 300, logger: pino({ level: 'silent' }) });
    expect(pool.workerCount).toBe(0);
    pool.warm();
    expect(pool.workerCount).toBe(1);
    const first = await pool.acquire({ name: 'a', waitMs: 10_000 });
    expect(pool.workerCount).toBe(1);
    // The only worker is busy: a second call starts a second worker, a third one a third.
    const second = await pool.acquire({ name: 'b', waitMs: 10_000 });
    expect(pool.workerCount).toBe(2);
    const third = pool.acquire({ name: 'c', waitMs: 10_000 });
    expect(pool.workerCount).toBe(3);
    first.release();
    second.release();
    (await third).release();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Idle past idleMs: back to the one warm worker.
    expect(pool.workerCount).toBe(1);
  });

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
    // A worker's start takes seconds on a loaded machine: wait for the first grant, then give
    // over-granting a moment to show itself.
    await until(() => granted.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // One extra worker (a worker is a few threads), not twenty.
    expect(granted).toHaveLength(1);
    expect(threads() - before).toBeLessThan(8);
    // The rest wait at the front of the queue and get workers as they free up.
    for (let i = 0; i < 3; i++) {
      granted[i]!.release();
      await until(() => granted.length >= i + 2);
    }
    expect(granted).toHaveLength(4);
    parent.release();
    for (const lease of granted) lease.release();
    await pool.close();
    await Promise.all(pending);
  });

  it('refuses to run a function file whose content changed on disk since the main thread loaded it', async () => {
    // Inside the repository, so the file can import @mast/functions.
    const dir = mkdtempSync(join(process.cwd(), '.tmp-pool-'));
    try {
      mkdirSync(join(dir, 'functions'));
      const file = join(dir, 'functions', 'which.ts');
      const write = (text: string): string => {
        const source = `import { query } from '@mast/functions';\nexport default query({ async handler() { return '${text}'; } });\n`;
        writeFileSync(file, source);
        return `${pathToFileURL(file).href}?h=${createHash('sha256').update(source).digest('base64url')}`;
      };
      const checked = write('checked');
      const call = (url: string) => ({ url, name: 'which', kind: 'query' as const, args: {}, auth, streams: false });
      pool = new WorkerPool({ size: 1, maxQueued: 4, graceMs: 200, logger: pino({ level: 'silent' }) });
      let lease = await pool.acquire({ name: 'which', waitMs: 10_000 });
      expect(await lease.run(call(checked), host, new AbortController().signal)).toEqual({ ok: true, json: '"checked"' });
      lease.release();
      await pool.close();
      // The file is rewritten in place; a new worker asked for the checked content refuses it.
      write('swapped');
      pool = new WorkerPool({ size: 1, maxQueued: 4, graceMs: 200, logger: pino({ level: 'silent' }) });
      lease = await pool.acquire({ name: 'which', waitMs: 10_000 });
      const outcome = await lease.run(call(checked), host, new AbortController().signal).catch((err: Error) => err);
      expect(JSON.stringify(outcome)).toMatch(/changed on disk since the server loaded it/);
      lease.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a call waits for a busy worker at most its own deadline (FN_TIMEOUT), and past the queue bound is FN_OVERLOADED at once', async () => {
    pool = new WorkerPool({ size: 1, maxQueued: 1, graceMs: 200, logger: pino({ level: 'silent' }) });
    const held = await pool.acquire({ name: 'held', waitMs: 10_000 });
    const started = Date.now();
    const waiting = pool.acquire({ name: 'waits', waitMs: 300 });
    await expect(pool.acquire({ name: 'third', waitMs: 10_000 })).rejects.toMatchObject({ code: 'FN_OVERLOADED' });
    await expect(waiting).rejects.toMatchObject({ code: 'FN_TIMEOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    // A cancelled wait leaves the queue at once.
    const controller = new AbortController();
    const cancelled = pool.acquire({ name: 'cancelled', waitMs: 10_000, signal: controller.signal });
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'FN_CANCELLED' });
    held.release();
    const next = await pool.acquire({ name: 'next', waitMs: 1000 });
    next.release();
  });
});
