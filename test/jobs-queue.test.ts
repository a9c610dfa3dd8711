import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '@mast/schema';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { callFn, deployFunctions } from './helpers/functions-app.js';

const ADMIN = 'admin-token-for-jobs';
const OWNER = 'auth.userId == data.ownerId';
const manifest: Manifest = {
  manifest_version: 1,
  name: 'jobs',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Note',
      fields: [
        { name: 'text', type: 'string', optional: false, unique: false },
        { name: 'ownerId', type: 'string', optional: false, unique: false },
      ],
      indexes: [],
    },
  ],
  policies: [{ name: 'own', entity: 'Note', allowRead: OWNER, allowInsert: OWNER, allowUpdate: OWNER, allowDelete: OWNER }],
};

interface Job {
  id: string;
  function: string;
  status: string;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  user_id: string | null;
  args: unknown;
}

// The jobs' clock runs with real time; the tests move it ahead instead of waiting.
let offset = 0;
const now = (): number => Date.now() + offset;
let t: TestServer;
const tokens: Record<string, string> = {};
const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });
const admin = { authorization: `Bearer ${ADMIN}` };
const code = (res: { json: unknown }) => (res.json as { error?: { code: string } }).error?.code;
const job = async (id: string): Promise<Job> => (await t.request('GET', `/api/jobs/${id}`, { headers: admin })).json as Job;
const notes = async (): Promise<Array<{ text: string; ownerId: string }>> =>
  ((await t.request('GET', '/api/entities/Note?limit=1000', { headers: admin })).json as { data: Array<{ text: string; ownerId: string }> }).data;

/** Polls until `check` holds (the worker runs in the background); fails after `timeoutMs`. */
async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > end) throw new Error(`condition not reached within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const settled = (id: string, status: string) =>
  until(
    () => job(id),
    (j) => j.status === status,
  );

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN, jobPoll: 50, jobMaxAttempts: 3, jobBackoff: 10, fnTimeout: 1500, fnMutationTimeout: 1500 }, { now });
  for (const user of ['alice', 'bob']) {
    const res = await t.request('POST', '/api/auth/session', { body: { user_id: user }, headers: admin });
    tokens[user] = (res.json as { token: string }).token;
  }
  const set = await deployFunctions(t, {
    addNote: `export default mutation({ args: { text: v.string() }, handler: async (ctx, a) => ctx.db.insert('Note', { text: a.text, ownerId: ctx.auth.userId }) });`,
    later: `export default mutation({ args: { text: v.string(), ms: v.number() }, handler: async (ctx, a) => {
      await ctx.db.insert('Note', { text: 'scheduled ' + a.text, ownerId: ctx.auth.userId });
      return ctx.scheduler.runAfter(a.ms, 'addNote', { text: a.text });
    } });`,
    laterThenThrow: `export default mutation({ handler: async (ctx) => {
      await ctx.scheduler.runAfter(0, 'addNote', { text: 'never' });
      throw new Error('rolled back');
    } });`,
    schedule: `export default mutation({ args: { fn: v.string(), args: v.any(), ms: v.optional(v.any()) }, handler: async (ctx, a) => {
      await ctx.db.insert('Note', { text: 'before scheduling', ownerId: ctx.auth.userId });
      return ctx.scheduler.runAfter(a.ms ?? 0, a.fn, a.args);
    } });`,
    cancel: `export default mutation({ args: { id: v.string() }, handler: (ctx, a) => ctx.scheduler.cancel(a.id) });`,
    fromAction: `export default action({ args: { text: v.string() }, handler: (ctx, a) => ctx.scheduler.runAt(new Date(0), 'addNote', { text: a.text }) });`,
    fromQuery: `export default query({ handler: (ctx) => ctx.scheduler.runAfter(0, 'addNote', { text: 'q' }) });`,
    boom: `export default action({ args: { n: v.number() }, handler: () => { throw new Error('kaput ' + 1); } });`,
    hang: `export default action({ handler: () => new Promise(() => {}) });`,
    empty: `export default action({ handler: (ctx) => { throw ctx.error('EMPTY', 'nothing to send'); } });`,
    emptyForGood: `export default action({ handler: (ctx) => { throw ctx.error('EMPTY', 'nothing to send', { permanent: true }); } });`,
    emptyForGoodIsolated: `export default action({ isolated: true, handler: (ctx) => { throw ctx.error('EMPTY', 'nothing to send', { permanent: true }); } });`,
    count: `export default query({ handler: async (ctx) => (await ctx.db.query('Note')).length });`,
  });
  expect(set.errors).toEqual([]);
});
afterAll(() => t.close());

describe('scheduling from functions', () => {
  it('a mutation schedules a job in its transaction; it runs as the caller, under their policies', async () => {
    const id = (await callFn(t, 'later', { text: 'hello', ms: 0 }, as('alice'))).json as string;
    expect(id).toMatch(/^job_/);
    expect(await settled(id, 'succeeded')).toMatchObject({ function: 'addNote', attempts: 1, user_id: 'alice', args: { text: 'hello' }, last_error: null });
    expect(await notes()).toEqual(expect.arrayContaining([expect.objectContaining({ text: 'hello', ownerId: 'alice' })]));
  });

  it('a job waits for its time on the clock', async () => {
    const id = (await callFn(t, 'later', { text: 'in an hour', ms: 3_600_000 }, as('bob'))).json as string;
    const before = await job(id);
    expect(before.status).toBe('pending');
    offset += 3_600_000;
    await settled(id, 'succeeded');
    expect((await notes()).some((n) => n.text === 'in an hour' && n.ownerId === 'bob')).toBe(true);
  });

  it('a mutation that throws after scheduling leaves no job', async () => {
    const before = ((await t.request('GET', '/api/jobs?limit=1000', { headers: admin })).json as { jobs: Job[] }).jobs.length;
    expect(code(await callFn(t, 'laterThenThrow', {}, as('alice')))).toBe('HANDLER_ERROR');
    const after = ((await t.request('GET', '/api/jobs?limit=1000', { headers: admin })).json as { jobs: Job[] }).jobs;
    expect(after.length).toBe(before);
    expect((await notes()).some((n) => n.text === 'never')).toBe(false);
  });

  it('an action schedules too (runAt in the past runs at once)', async () => {
    const id = (await callFn(t, 'fromAction', { text: 'from an action' }, as('bob'))).json as string;
    await settled(id, 'succeeded');
    expect((await notes()).some((n) => n.text === 'from an action' && n.ownerId === 'bob')).toBe(true);
  });

  it("a job keeps the API-key scopes of its scheduler: a read-only key's job cannot write", async () => {
    const key = await t.request('POST', '/api/auth/api-keys', { body: { scopes: ['read'] }, headers: as('alice') });
    expect(key.status, key.text).toBe(201);
    const id = (await callFn(t, 'fromAction', { text: 'via a read-only key' }, { authorization: `Bearer ${(key.json as { key: string }).key}` })).json as string;
    const dead = await settled(id, 'dead');
    expect([dead.user_id, dead.last_error]).toEqual(['alice', expect.stringMatching(/^INSUFFICIENT_SCOPE: /)]);
    expect((await notes()).some((n) => n.text === 'via a read-only key')).toBe(false);
  });

  it('the owner cancels a pending job, nobody else does; a cancelled job never runs', async () => {
    const id = (await callFn(t, 'later', { text: 'cancel me', ms: 10 * 86_400_000 }, as('alice'))).json as string;
    expect((await callFn(t, 'cancel', { id }, as('bob'))).json).toBe(false);
    expect((await callFn(t, 'cancel', { id }, as('alice'))).json).toBe(true);
    expect((await callFn(t, 'cancel', { id }, as('alice'))).json).toBe(false);
    offset += 11 * 86_400_000;
    await until(
      () => callFn(t, 'count', {}, as('alice')),
      () => true,
    );
    expect((await job(id)).status).toBe('cancelled');
    // Admin retry brings it back; it then runs.
    const retried = await t.request('POST', `/api/jobs/${id}/retry`, { headers: admin });
    expect([retried.status, (retried.json as Job).status]).toEqual([200, 'pending']);
    await settled(id, 'succeeded');
  });
});

describe('bad schedules fail the call that makes them, and write nothing', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['an unknown function', { fn: 'nope', args: {} }, 'FN_NOT_FOUND'],
    ['a query', { fn: 'count', args: {} }, 'FN_TYPE_MISMATCH'],
    ['wrong arguments', { fn: 'addNote', args: { text: 5 } }, 'INVALID_ARGS'],
    ['unknown arguments', { fn: 'addNote', args: { text: 'a', extra: 1 } }, 'INVALID_ARGS'],
    ['a negative delay', { fn: 'addNote', args: { text: 'a' }, ms: -5 }, 'INVALID_ARGS'],
    ['a delay that is not a number', { fn: 'addNote', args: { text: 'a' }, ms: 'soon' }, 'INVALID_ARGS'],
  ];
  for (const [what, args, expected] of cases) {
    it(`${what}: ${expected}`, async () => {
      const [rows, jobs] = [(await notes()).length, ((await t.request('GET', '/api/jobs?limit=1000', { headers: admin })).json as { jobs: Job[] }).jobs.length];
      const res = await callFn(t, 'schedule', args, as('alice'));
      expect([res.status, code(res)]).toEqual([expected === 'FN_NOT_FOUND' ? 404 : 400, expected]);
      expect((await notes()).length).toBe(rows);
      expect(((await t.request('GET', '/api/jobs?limit=1000', { headers: admin })).json as { jobs: Job[] }).jobs.length).toBe(jobs);
    });
  }

  it('a query cannot schedule', async () => {
    const res = await callFn(t, 'fromQuery', {}, as('alice'));
    expect([res.status, code(res)]).toEqual([400, 'FN_TYPE_MISMATCH']);
  });
});

describe('failures: retries with backoff, then the dead letter', () => {
  it('a handler that throws is retried up to max attempts, then dead with its last error; other jobs run meanwhile', async () => {
    const id = (await callFn(t, 'schedule', { fn: 'boom', args: { n: 1 } }, as('alice'))).json as string;
    const ok = (await callFn(t, 'later', { text: 'unaffected', ms: 0 }, as('alice'))).json as string;
    await settled(ok, 'succeeded');
    const dead = await settled(id, 'dead');
    expect(dead).toMatchObject({ attempts: 3, max_attempts: 3 });
    expect(dead.last_error).toBe('HANDLER_ERROR: Internal handler error (kaput 1)');
    const list = (await t.request('GET', '/api/jobs?status=dead', { headers: admin })).json as { jobs: Job[] };
    expect(list.jobs.map((j) => j.id)).toContain(id);
    expect(list.jobs.every((j) => j.status === 'dead')).toBe(true);
  });

  it('an application error is retried like any failure by default; one marked permanent leaves the job dead at once', async () => {
    const retried = (await callFn(t, 'schedule', { fn: 'empty', args: {} }, as('alice'))).json as string;
    const permanent = (await callFn(t, 'schedule', { fn: 'emptyForGood', args: {} }, as('alice'))).json as string;
    const isolated = (await callFn(t, 'schedule', { fn: 'emptyForGoodIsolated', args: {} }, as('alice'))).json as string;
    expect(await settled(retried, 'dead')).toMatchObject({ attempts: 3, last_error: 'EMPTY: nothing to send' });
    expect(await settled(permanent, 'dead')).toMatchObject({ attempts: 1, max_attempts: 3, last_error: 'EMPTY: nothing to send' });
    // In a worker thread a first attempt may time out on a loaded machine (the worker starts
    // cold); dead before its last attempt with EMPTY as the last error is what permanence means.
    const isolatedDead = await settled(isolated, 'dead');
    expect(isolatedDead.last_error).toBe('EMPTY: nothing to send');
    expect(isolatedDead.attempts).toBeLessThan(isolatedDead.max_attempts);
    // A caller sees the same error either way.
    expect((await callFn(t, 'emptyForGood', {}, as('alice'))).json).toEqual({ error: { code: 'EMPTY', message: 'nothing to send' } });
  });

  it('a job that never returns fails its attempts on the deadline (FN_TIMEOUT)', async () => {
    const id = (await callFn(t, 'schedule', { fn: 'hang', args: {} }, as('alice'))).json as string;
    const dead = await settled(id, 'dead');
    expect(dead.attempts).toBe(3);
    expect(dead.last_error).toMatch(/^FN_TIMEOUT: /);
    expect((await callFn(t, 'count', {}, as('alice'))).status).toBe(200);
  });

  it('a job whose function disappeared fails with FN_NOT_FOUND', async () => {
    await deployFunctions(t, { gone: `export default mutation({ handler: () => 1 });` });
    const id = (await callFn(t, 'schedule', { fn: 'gone', args: {}, ms: 60_000 }, as('alice'))).json as string;
    const { rmSync } = await import('node:fs');
    rmSync(`${t.dir}/functions/gone.ts`);
    await t.server.reloadFunctions();
    offset += 60_000;
    expect((await settled(id, 'dead')).last_error).toMatch(/^FN_NOT_FOUND: /);
  });
});

describe('leases', () => {
  it('a job claimed by a worker that died runs again once its lease expires, and the stale worker cannot finish it', async () => {
    const id = (await callFn(t, 'later', { text: 'crash', ms: 1000 }, as('alice'))).json as string;
    // Another worker claims it at its time and "crashes" (never reports back).
    const [claimed] = await t.server.store.jobs.claim(now() + 1000, 120_000, 1);
    expect(claimed?.id).toBe(id);
    offset += 1000;
    await until(
      () => callFn(t, 'count', {}, as('alice')),
      () => true,
    );
    expect((await job(id)).status).toBe('running');
    expect((await notes()).some((n) => n.text === 'crash')).toBe(false);
    offset += 120_000;
    const done = await settled(id, 'succeeded');
    expect(done.attempts).toBe(2);
    expect(await t.server.store.jobs.complete(id, claimed!.attempts, now())).toBe(false);
    expect((await notes()).filter((n) => n.text === 'crash')).toHaveLength(1);
  });
});

describe('/api/jobs', () => {
  it('is admin only, validates its filters, and answers 404/409 for unknown ids and wrong states', async () => {
    expect((await t.request('GET', '/api/jobs', { headers: as('alice') })).status).toBe(403);
    expect(code(await t.request('GET', '/api/jobs?status=weird', { headers: admin }))).toBe('INVALID_QUERY');
    expect(code(await t.request('GET', '/api/jobs?limit=0', { headers: admin }))).toBe('INVALID_QUERY');
    expect(code(await t.request('GET', '/api/jobs?limit=5000', { headers: admin }))).toBe('LIMIT_TOO_LARGE');
    expect((await t.request('GET', '/api/jobs/job_missing', { headers: admin })).status).toBe(404);
    expect((await t.request('POST', '/api/jobs/job_missing/retry', { headers: admin })).status).toBe(404);
    const id = (await callFn(t, 'later', { text: 'admin cancels', ms: 86_400_000 }, as('bob'))).json as string;
    const retry = await t.request('POST', `/api/jobs/${id}/retry`, { headers: admin });
    expect([retry.status, code(retry)]).toEqual([409, 'JOB_STATE_CONFLICT']);
    expect(((await t.request('POST', `/api/jobs/${id}/cancel`, { headers: admin })).json as Job).status).toBe('cancelled');
    expect(code(await t.request('POST', `/api/jobs/${id}/cancel`, { headers: admin }))).toBe('JOB_STATE_CONFLICT');
    const pending = (await t.request('GET', '/api/jobs?status=cancelled', { headers: admin })).json as { jobs: Job[] };
    expect(pending.jobs.map((j) => j.id)).toContain(id);
  });
});

describe('retention', () => {
  it('finished jobs are pruned after MAST_JOB_RETENTION; pending ones stay', async () => {
    const pending = (await callFn(t, 'later', { text: 'far future', ms: 365 * 86_400_000 }, as('alice'))).json as string;
    const list = async () => ((await t.request('GET', '/api/jobs?limit=1000', { headers: admin })).json as { jobs: Job[] }).jobs;
    expect((await list()).some((j) => j.status === 'succeeded')).toBe(true);
    offset += 8 * 86_400_000;
    await t.server.pruneChangeLog();
    const left = await list();
    expect(left.some((j) => j.id === pending)).toBe(true);
    expect(left.filter((j) => j.status !== 'pending')).toEqual([]);
  });
});
