import { describe, expect, it } from 'vitest';
import type { NewJob } from '../store.js';
import type { StoreRef } from './fixtures.js';

const SYSTEM = { userId: null, isAdmin: true, isGuest: false, roles: [], tenantId: null, orgRole: null } as const;

function job(id: string, runAt: number, extra: Partial<NewJob> = {}): NewJob {
  return { id, fn: 'work', args: { n: 1 }, identity: SYSTEM, runAt, maxAttempts: 3, cron: null, createdAt: runAt, ...extra };
}

/** The job queue: transactional enqueue, leases with fencing, retries, dead letters and cron state. */
export function jobCases(store: StoreRef): void {
  describe('jobs', () => {
    it('enqueues in the caller transaction: a rollback leaves no job', async () => {
      await store().write((tx) => tx.enqueueJob(job('kept', 1_000)));
      await expect(
        store().write(async (tx) => {
          await tx.enqueueJob(job('dropped', 1_000));
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await store().jobs.get('kept')).toMatchObject({ id: 'kept', status: 'pending', attempts: 0, args: { n: 1 }, identity: SYSTEM });
      expect(await store().jobs.get('dropped')).toBeNull();
    });

    it('claims only due jobs, each once, oldest first, until its lease expires', async () => {
      await store().jobs.enqueue(job('late', 5_000));
      await store().jobs.enqueue(job('b', 2_000));
      await store().jobs.enqueue(job('a', 1_000));
      const [first, second] = await Promise.all([store().jobs.claim(3_000, 1_000, 10), store().jobs.claim(3_000, 1_000, 10)]);
      const claimed = [...first!, ...second!].map((j) => j.id);
      expect(claimed.sort()).toEqual(['a', 'b']);
      expect(first!.length === 0 || second!.length === 0).toBe(true);
      expect((await store().jobs.claim(3_500, 1_000, 10)).map((j) => j.id)).toEqual([]);
      // The lease of a and b ended at 4000: a crashed worker's jobs are claimed again, attempt 2.
      const again = await store().jobs.claim(4_000, 1_000, 10);
      expect(again.map((j) => [j.id, j.attempts, j.status, j.leaseUntil])).toEqual([
        ['a', 2, 'running', 5_000],
        ['b', 2, 'running', 5_000],
      ]);
    });

    it('a stale attempt can neither complete nor fail the job', async () => {
      await store().jobs.enqueue(job('j', 1_000));
      const [stale] = await store().jobs.claim(1_000, 100, 1);
      const [fresh] = await store().jobs.claim(2_000, 100, 1);
      expect(await store().jobs.complete('j', stale!.attempts, 2_050)).toBe(false);
      expect(await store().jobs.fail('j', stale!.attempts, 'late', null, 2_050)).toBe(false);
      expect(await store().write((tx) => tx.completeJob('j', stale!.attempts, 2_050))).toBe(false);
      expect(await store().write((tx) => tx.completeJob('j', fresh!.attempts, 2_050))).toBe(true);
      expect(await store().jobs.get('j')).toMatchObject({ status: 'succeeded', attempts: 2, leaseUntil: null });
    });

    it('a failed attempt is retried at its time, then dead; a dead job can be retried', async () => {
      await store().jobs.enqueue(job('j', 1_000));
      const [a1] = await store().jobs.claim(1_000, 100, 1);
      expect(await store().jobs.fail('j', a1!.attempts, 'boom 1', 5_000, 1_010)).toBe(true);
      expect(await store().jobs.get('j')).toMatchObject({ status: 'pending', runAt: 5_000, lastError: 'boom 1' });
      expect(await store().jobs.claim(4_999, 100, 1)).toEqual([]);
      const [a2] = await store().jobs.claim(5_000, 100, 1);
      await store().jobs.fail('j', a2!.attempts, 'boom 2', null, 5_010);
      expect(await store().jobs.get('j')).toMatchObject({ status: 'dead', attempts: 2, lastError: 'boom 2' });
      expect((await store().jobs.list({ status: 'dead', limit: 10 })).map((j) => j.id)).toEqual(['j']);
      expect(await store().jobs.retry('j', 6_000)).toBe(true);
      expect(await store().jobs.get('j')).toMatchObject({ status: 'pending', attempts: 0, runAt: 6_000 });
      expect(await store().jobs.retry('j', 6_000)).toBe(false);
    });

    it('cancels pending jobs only, and only its owner does when one is named', async () => {
      await store().jobs.enqueue(job('mine', 1_000, { identity: { ...SYSTEM, isAdmin: false, userId: 'u1' } }));
      await store().jobs.enqueue(job('plain', 1_000));
      await store()
        .jobs.claim(1_000, 100, 1)
        .then((c) => expect(c.map((j) => j.id)).toEqual(['mine']));
      await store().jobs.enqueue(job('other', 2_000, { identity: { ...SYSTEM, isAdmin: false, userId: 'u1' } }));
      expect(await store().jobs.cancel('mine')).toBe(false);
      expect(await store().jobs.cancel('other', 'u2')).toBe(false);
      expect(await store().write((tx) => tx.cancelJob('other', 'u1'))).toBe(true);
      expect(await store().jobs.cancel('other')).toBe(false);
      expect(await store().jobs.cancel('missing')).toBe(false);
      expect((await store().jobs.get('other'))?.status).toBe('cancelled');
      // The cancelled job is never claimed again; the others are (a lease ended, a pending job).
      expect((await store().jobs.claim(9_000, 100, 10)).map((j) => j.id)).toEqual(['mine', 'plain']);
    });

    it('prunes finished jobs older than the cut, never pending or running ones', async () => {
      for (const id of ['ok', 'gone', 'dead', 'pending', 'running']) await store().jobs.enqueue(job(id, 1_000));
      await store().jobs.cancel('gone', undefined, 1_500);
      const claimed = await store().jobs.claim(2_000, 100_000, 10);
      const attempt = (id: string) => claimed.find((j) => j.id === id)!.attempts;
      await store().jobs.complete('ok', attempt('ok'), 2_000);
      await store().jobs.fail('dead', attempt('dead'), 'boom', null, 2_000);
      await store().jobs.fail('pending', attempt('pending'), 'boom', 9_000, 2_000);
      expect(await store().jobs.prune(2_000)).toBe(1);
      expect(await store().jobs.prune(3_000)).toBe(2);
      expect((await store().jobs.list({ limit: 10 })).map((j) => j.id).sort()).toEqual(['pending', 'running']);
    });

    it('fires a cron exactly once per stored next run', async () => {
      await store().jobs.setCron({ name: 'nightly', schedule: '0 3 * * *', nextRunAt: 1_000 });
      const fire = (id: string) => store().jobs.fireCron('nightly', 1_000, 2_000, job(id, 1_000, { cron: 'nightly' }));
      const results = await Promise.all([fire('c1'), fire('c2')]);
      expect(results.sort()).toEqual([false, true]);
      expect(await store().jobs.crons()).toEqual([{ name: 'nightly', schedule: '0 3 * * *', nextRunAt: 2_000 }]);
      const jobs = await store().jobs.list({ limit: 10 });
      expect(jobs.map((j) => j.cron)).toEqual(['nightly']);
    });
  });
}
