import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@mast/server';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { callFn, deployFunctions, FUNCTIONS_API, ownedTodoManifest } from './helpers/functions-app.js';

const ADMIN = 'admin-token-for-function-isolation';
const manifest = ownedTodoManifest('fn-isolation');
const LIMITS = { fnTimeout: 3000, fnMutationTimeout: 3000, fnIdle: 1000 };
/** How long a worker may take to stop after its call ended, before it is terminated (mast-server.ts). */
const GRACE_MS = 200;

/** One server and what it logged. */
interface Served {
  readonly t: TestServer;
  readonly logs: string[];
  readonly tokens: Record<string, string>;
}

/** Functions both servers serve: one runs them in process, the other (MAST_FN_ISOLATION=all) in a worker. */
const SHARED: Record<string, string> = {
  where: `import { isMainThread } from 'node:worker_threads';\nexport default query({ handler: () => isMainThread });`,
  add: `export default mutation({ args: { id: v.string(), title: v.string() }, handler: async (ctx, a) => ({ id: await ctx.db.insert('Todo', { id: a.id, title: a.title, ownerId: ctx.auth.userId }) }) });`,
  read: `export default query({ args: { id: v.string() }, handler: async (ctx, a) => ({
    row: await ctx.db.get('Todo', a.id), some: await ctx.db.query('Todo', { $order: { id: 'asc' } }),
    listed: (await ctx.db.list('Todo')).map((r) => r.id), looked: await ctx.db.lookup('Todo', 'id', a.id),
  }) });`,
  touch: `export default mutation({ args: { id: v.string() }, handler: async (ctx, a) => ({
    seen: await ctx.db.get('Todo', a.id), updated: await ctx.db.update('Todo', a.id, { title: 'taken' }), deleted: await ctx.db.delete('Todo', a.id),
  }) });`,
  giveAway: `export default mutation({ args: { to: v.string() }, handler: (ctx, a) => ctx.db.insert('Todo', { id: 'gift', title: 'gift', ownerId: a.to }) });`,
  catchDenied: `export default mutation({ args: { to: v.string() }, handler: async (ctx, a) => {
    try { await ctx.db.insert('Todo', { title: 'gift', ownerId: a.to }); return 'inserted'; }
    catch (err) { return { name: err.name, code: err.code, status: err.status, message: err.message, isError: err instanceof Error }; }
  } });`,
  addThenThrow: `export default mutation({ handler: async (ctx) => {
    await ctx.db.insert('Todo', { id: 'thrown', title: 'one', ownerId: ctx.auth.userId });
    throw new Error('secret internal detail');
  } });`,
  addThenRefuse: `export default mutation({ handler: async (ctx) => {
    await ctx.db.insert('Todo', { id: 'refused', title: 'refused', ownerId: ctx.auth.userId });
    throw ctx.error('QUOTA_EXCEEDED', 'You have too many todos');
  } });`,
  refuseWithClass: `import { FunctionError } from ${JSON.stringify(FUNCTIONS_API)};
export default query({ handler: () => { throw new FunctionError('NOT_TODAY', 'Come back tomorrow'); } });`,
  throwText: `export default query({ handler: () => { throw 'a bare string'; } });`,
  whoami: `export default query({ handler: (ctx) => ({ auth: ctx.auth, frozen: Object.isFrozen(ctx.auth), aborted: ctx.signal.aborted, kinds: [typeof ctx.db.get, typeof ctx.scheduler.runAfter, typeof ctx.stream] }) });`,
  badReturn: `export default query({ returns: v.string(), handler: () => 42 });`,
  bigint: `export default query({ handler: () => ({ n: 10n }) });`,
  aFunction: `export default query({ handler: () => ({ f() {} }) });`,
  shapes: `export default query({ handler: () => ({ at: new Date(0), nothing: undefined, list: [1, undefined], map: new Map([[1, 2]]), custom: { toJSON: () => 'custom' } }) });`,
  nothing: `export default query({ handler: () => undefined });`,
  insertThenBigint: `export default mutation({ handler: async (ctx) => { await ctx.db.insert('Todo', { id: 'bigint', title: 'then bigint', ownerId: ctx.auth.userId }); return 1n; } });`,
  queryWrites: `export default query({ handler: (ctx) => ctx.db.insert('Todo', { title: 'no', ownerId: ctx.auth.userId }) });`,
  querySchedules: `export default query({ handler: (ctx) => ctx.scheduler.runAfter(0, 'add', { id: 'x', title: 'no' }) });`,
  queryCalls: `export default query({ handler: (ctx) => ctx.runMutation('add', { id: 'x', title: 'no' }) });`,
  viaAction: `export default action({ args: { id: v.string() }, handler: async (ctx, a) => ({
    added: await ctx.runMutation('add', { id: a.id, title: 'via action' }), read: (await ctx.runQuery('read', { id: a.id })).row,
  }) });`,
  actionWrongKind: `export default action({ handler: (ctx) => ctx.runQuery('add', { id: 'x', title: 'no' }) });`,
  actionBadArgs: `export default action({ handler: (ctx) => ctx.runMutation('add', { id: 'x', title: 5 }) });`,
  scheduleAdd: `export default mutation({ args: { id: v.string() }, handler: async (ctx, a) => typeof (await ctx.scheduler.runAfter(0, 'add', { id: a.id, title: 'from a job' })) });`,
  scheduleThenThrow: `export default mutation({ handler: async (ctx) => { await ctx.scheduler.runAfter(0, 'add', { id: 'never', title: 'no' }); throw ctx.error('CHANGED_MY_MIND', 'No job'); } });`,
  scheduleUnknown: `export default mutation({ handler: (ctx) => ctx.scheduler.runAfter(0, 'nope', {}) });`,
  chunks: `export default action({ handler: async (ctx) => { ctx.stream.write({ i: 1 }); ctx.stream.write('two\\nlines'); ctx.stream.write(undefined); return 'done'; } });`,
  badChunk: `export default action({ handler: async (ctx) => { ctx.stream.write(10n); return 'unreachable'; } });`,
  catchBadChunk: `export default action({ handler: async (ctx) => { try { ctx.stream.write(10n); } catch (err) { return [err.code, err.message]; } return 'no error'; } });`,
};

/** Functions only the in-process server serves, each opting in to isolation (or not) itself. */
const OWN: Record<string, string> = {
  isoWhere: `import { isMainThread, threadId } from 'node:worker_threads';
export default query({ isolated: true, handler: () => ({ isMainThread, threadId }) });`,
  spinQuery: `import { writeFileSync } from 'node:fs';
export default query({ isolated: true, args: { marker: v.string() }, handler: async (ctx, a) => { await ctx.db.query('Todo'); writeFileSync(a.marker, ''); for (;;) {} } });`,
  spinMutation: `import { writeFileSync } from 'node:fs';
export default mutation({ isolated: true, args: { marker: v.string() }, handler: async (ctx, a) => {
  await ctx.db.insert('Todo', { id: 'spun', title: 'before the spin', ownerId: ctx.auth.userId });
  writeFileSync(a.marker, '');
  for (;;) {}
} });`,
  spinAction: `import { writeFileSync } from 'node:fs';
export default action({ isolated: true, args: { marker: v.string() }, handler: async (ctx, a) => { await ctx.runQuery('read', { id: 'x' }); writeFileSync(a.marker, ''); while (true) {} } });`,
  awaitAbort: `import { writeFileSync } from 'node:fs';
export default action({ isolated: true, args: { marker: v.string() }, handler: async (ctx, a) => {
  await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
  writeFileSync(a.marker, ctx.signal.reason.code + ': ' + ctx.signal.reason.message);
  return ctx.runQuery('read', { id: 'x' }).then(() => 'read after the end', (err) => err.code);
} });`,
  exitWorker: `export default action({ isolated: true, handler: () => { process.exit(7); } });`,
  throwLater: `export default action({ isolated: true, handler: () => { setTimeout(() => { throw new Error('late boom'); }, 0); return new Promise(() => {}); } });`,
  blocked: `export default mutation({ isolated: true, handler: async (ctx) => { await ctx.db.insert('Todo', { id: 'blocked', title: 'held', ownerId: ctx.auth.userId }); await new Promise((r) => setTimeout(r, 1500)); return 'too late'; } });`,
};

let inProcess: Served;
let isolated: Served;

async function serve(overrides: Parameters<typeof startTestServer>[1], files: Record<string, string>): Promise<Served> {
  const logs: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) });
  const t = await startTestServer(manifest, { adminToken: ADMIN, ...LIMITS, ...overrides }, { logger });
  const tokens: Record<string, string> = {};
  for (const user of ['alice', 'bob']) {
    const res = await t.request('POST', '/api/auth/session', { body: { user_id: user }, headers: { authorization: `Bearer ${ADMIN}` } });
    tokens[user] = (res.json as { token: string }).token;
  }
  const set = await deployFunctions(t, files);
  expect(set.errors).toEqual([]);
  return { t, logs, tokens };
}

const as = (s: Served, user: string) => ({ authorization: `Bearer ${s.tokens[user]}` });
const code = (res: { json: unknown }) => (res.json as { error?: { code: string } } | undefined)?.error?.code;
const rowStatus = async (s: Served, id: string) => (await s.t.request('GET', `/api/entities/Todo/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } })).status;

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  [inProcess, isolated] = await Promise.all([serve({ fnIsolation: 'off', fnWorkers: 1, fnQueue: 0 }, { ...SHARED, ...OWN }), serve({ fnIsolation: 'all', fnWorkers: 1 }, SHARED)]);
  // A worker's first start (tsx compiling the server's TypeScript inside the thread, as tests run
  // from source) can take seconds on a loaded machine: wait for it here, not inside the first
  // case's deadline.
  await until(async () => (await callFn(isolated.t, 'where', {}, as(isolated, 'alice'))).status === 200, 40_000);
  await until(async () => (await callFn(inProcess.t, 'isoWhere', {}, as(inProcess, 'alice'))).status === 200, 40_000);
}, 90_000);
afterAll(async () => {
  await Promise.all([inProcess?.t.close(), isolated?.t.close()]);
});

describe('options', () => {
  it('MAST_FN_ISOLATION takes off or all, MAST_FN_WORKERS at least 1', () => {
    expect(loadConfig({}).fnIsolation).toBe('off');
    expect(loadConfig({ MAST_FN_ISOLATION: 'all', MAST_FN_WORKERS: '2', MAST_FN_QUEUE: '0' })).toMatchObject({ fnIsolation: 'all', fnWorkers: 2, fnQueue: 0 });
    expect(() => loadConfig({ MAST_FN_ISOLATION: 'some' })).toThrow('MAST_FN_ISOLATION / --fn-isolation: "some" is not one of off, all');
    expect(() => loadConfig({ MAST_FN_ISOLATION: 'ALL' })).toThrow('MAST_FN_ISOLATION');
    expect(() => loadConfig({ MAST_FN_WORKERS: '0' })).toThrow('MAST_FN_WORKERS must be at least 1');
    expect(() => loadConfig({ MAST_FN_WORKERS: '-1' })).toThrow('MAST_FN_WORKERS');
  });
});

describe('MAST_FN_ISOLATION=all runs every function in a worker', () => {
  it('where a handler is not on the main thread; without it, it is', async () => {
    expect((await callFn(isolated.t, 'where', {}, as(isolated, 'alice'))).json).toBe(false);
    expect((await callFn(inProcess.t, 'where', {}, as(inProcess, 'alice'))).json).toBe(true);
    expect((await callFn(inProcess.t, 'isoWhere', {}, as(inProcess, 'alice'))).json).toMatchObject({ isMainThread: false });
  });
});

/** One call, made to both servers in turn; both must answer the same, and as `expected` says. */
interface Case {
  readonly title: string;
  readonly fn: string;
  readonly args?: unknown;
  readonly user?: string;
  readonly headers?: Record<string, string>;
  readonly status: number;
  /** The body (200), or the error's code. */
  readonly body?: unknown;
  readonly error?: string;
  /** Rows (by id) that must exist (true) or not (false) afterwards. */
  readonly rows?: Record<string, boolean>;
}

const alicesRow = { id: 'a1', title: 'one', ownerId: 'alice' };
const CASES: Case[] = [
  { title: 'a mutation commits', fn: 'add', args: { id: 'a1', title: 'one' }, status: 200, body: { id: 'a1' }, rows: { a1: true } },
  { title: 'a query reads through every ctx.db read', fn: 'read', args: { id: 'a1' }, status: 200, body: { row: alicesRow, some: [alicesRow], listed: ['a1'], looked: alicesRow } },
  { title: 'read policies apply: another user sees nothing', fn: 'read', args: { id: 'a1' }, user: 'bob', status: 200, body: { row: null, some: [], listed: [], looked: null } },
  {
    title: 'write policies apply: another user cannot touch the row',
    fn: 'touch',
    args: { id: 'a1' },
    user: 'bob',
    status: 200,
    body: { seen: null, updated: false, deleted: false },
    rows: { a1: true },
  },
  {
    title: 'a policy denial the handler lets through is the answer',
    fn: 'giveAway',
    args: { to: 'alice' },
    user: 'bob',
    status: 403,
    error: 'POLICY_DENIED',
    rows: { gift: false },
  },
  { title: 'a ctx.db error the handler catches has its name, code, status and message', fn: 'catchDenied', args: { to: 'alice' }, user: 'bob', status: 200 },
  { title: 'the same id twice is refused by the store', fn: 'add', args: { id: 'a1', title: 'again' }, status: 409, error: 'UNIQUE_VIOLATION' },
  { title: 'a plain throw is HANDLER_ERROR and rolls the mutation back', fn: 'addThenThrow', status: 400, error: 'HANDLER_ERROR', rows: { thrown: false } },
  {
    title: "ctx.error is the author's code and rolls the mutation back",
    fn: 'addThenRefuse',
    status: 400,
    body: { error: { code: 'QUOTA_EXCEEDED', message: 'You have too many todos' } },
    rows: { refused: false },
  },
  { title: "new FunctionError is the author's code too", fn: 'refuseWithClass', status: 400, body: { error: { code: 'NOT_TODAY', message: 'Come back tomorrow' } } },
  { title: 'a thrown string is HANDLER_ERROR', fn: 'throwText', status: 400, error: 'HANDLER_ERROR' },
  {
    title: 'ctx.auth is the caller, frozen',
    fn: 'whoami',
    status: 200,
    body: { auth: { userId: 'alice', isAdmin: false, isGuest: false, roles: [], tenantId: null }, frozen: true, aborted: false, kinds: ['function', 'function', 'undefined'] },
  },
  { title: 'arguments are validated', fn: 'add', args: { id: 'a9', title: 5 }, status: 400, error: 'INVALID_ARGS', rows: { a9: false } },
  { title: 'unknown arguments are refused', fn: 'add', args: { id: 'a9', title: 't', extra: 1 }, status: 400, error: 'INVALID_ARGS' },
  { title: 'results are validated by returns', fn: 'badReturn', status: 400, error: 'FN_RESULT_INVALID' },
  { title: 'a BigInt result is not JSON', fn: 'bigint', status: 400, error: 'FN_RESULT_INVALID' },
  { title: 'a function in a result is not JSON', fn: 'aFunction', status: 400, error: 'FN_RESULT_INVALID' },
  { title: 'dates, undefined, maps and toJSON become JSON', fn: 'shapes', status: 200, body: { at: '1970-01-01T00:00:00.000Z', list: [1, null], map: {}, custom: 'custom' } },
  { title: 'undefined is null', fn: 'nothing', status: 200, body: null },
  { title: 'a result that is not JSON rolls the mutation back', fn: 'insertThenBigint', status: 400, error: 'FN_RESULT_INVALID', rows: { bigint: false } },
  { title: 'a query cannot write', fn: 'queryWrites', status: 400, error: 'FN_TYPE_MISMATCH' },
  { title: 'a query cannot schedule', fn: 'querySchedules', status: 400, error: 'FN_TYPE_MISMATCH' },
  { title: 'a query cannot call functions', fn: 'queryCalls', status: 400, error: 'FN_TYPE_MISMATCH' },
  {
    title: 'an action runs a mutation and a query',
    fn: 'viaAction',
    args: { id: 'a2' },
    status: 200,
    body: { added: { id: 'a2' }, read: { id: 'a2', title: 'via action', ownerId: 'alice' } },
    rows: { a2: true },
  },
  { title: 'an action calling the wrong kind', fn: 'actionWrongKind', status: 400, error: 'FN_TYPE_MISMATCH' },
  { title: 'an action calling with bad arguments', fn: 'actionBadArgs', status: 400, error: 'INVALID_ARGS' },
  { title: 'a job scheduled in a mutation that throws does not exist', fn: 'scheduleThenThrow', status: 400, error: 'CHANGED_MY_MIND' },
  { title: 'scheduling an unknown function fails the call', fn: 'scheduleUnknown', status: 404, error: 'FN_NOT_FOUND' },
  { title: 'chunks are dropped for a caller that does not stream', fn: 'badChunk', status: 200, body: 'unreachable' },
  {
    title: 'an idempotent mutation runs',
    fn: 'add',
    args: { id: 'k1', title: 'once' },
    headers: { 'idempotency-key': 'key-1' },
    status: 200,
    body: { id: 'k1' },
    rows: { k1: true },
  },
  {
    title: 'its replay answers the first result without running again',
    fn: 'add',
    args: { id: 'k1', title: 'once' },
    headers: { 'idempotency-key': 'key-1' },
    status: 200,
    body: { id: 'k1' },
  },
  {
    title: 'its key with other arguments is refused',
    fn: 'add',
    args: { id: 'k2', title: 'other' },
    headers: { 'idempotency-key': 'key-1' },
    status: 409,
    error: 'OP_ID_REUSED',
    rows: { k2: false },
  },
];

describe('an isolated function answers like an in-process one', () => {
  it.each(CASES)('$title ($fn)', async (c) => {
    const answers = [];
    for (const s of [inProcess, isolated]) {
      const res = await callFn(s.t, c.fn, c.args, { ...as(s, c.user ?? 'alice'), ...c.headers });
      expect(res.status).toBe(c.status);
      if (c.error !== undefined) expect(code(res)).toBe(c.error);
      if (c.body !== undefined) expect(res.json).toEqual(c.body);
      for (const [id, present] of Object.entries(c.rows ?? {})) expect(await rowStatus(s, id)).toBe(present ? 200 : 404);
      answers.push(res.text);
    }
    expect(answers[1]).toBe(answers[0]);
  });

  it('a caught ctx.db error looks the same as in process', async () => {
    const res = await callFn(isolated.t, 'catchDenied', { to: 'alice' }, as(isolated, 'bob'));
    expect(res.json).toMatchObject({ name: 'AppError', code: 'POLICY_DENIED', status: 403, isError: true });
  });

  it('a plain throw is logged in the main thread with its message and the stack into the function file', async () => {
    for (const s of [inProcess, isolated]) {
      const line = s.logs.find((l) => l.includes('secret internal detail'));
      expect(line, 'logged').toBeDefined();
      const entry = JSON.parse(line!) as { msg: string; function: string; err: { message: string; stack: string } };
      expect(entry).toMatchObject({ msg: 'function handler failed', function: 'addThenThrow', err: { message: 'secret internal detail' } });
      expect(entry.err.stack).toContain('addThenThrow.ts');
      expect(s.logs.some((l) => l.includes('a bare string'))).toBe(true);
    }
  });

  it('streams the same chunks, and refuses the same chunk that is not JSON', async () => {
    const expected: Record<string, { status: number; lines: unknown[] }> = {
      chunks: { status: 200, lines: [{ chunk: { i: 1 } }, { chunk: 'two\nlines' }, { chunk: null }, { result: 'done' }] },
      badChunk: {
        status: 400,
        lines: [{ error: { code: 'FN_RESULT_INVALID', message: 'Function "badChunk" returned a value that is not JSON: Do not know how to serialize a BigInt' } }],
      },
      catchBadChunk: {
        status: 200,
        lines: [{ result: ['FN_RESULT_INVALID', 'Function "catchBadChunk" returned a value that is not JSON: Do not know how to serialize a BigInt'] }],
      },
    };
    for (const [fn, { status, lines }] of Object.entries(expected)) {
      const bodies = [];
      for (const s of [inProcess, isolated]) {
        const res = await fetch(`${s.t.url}/api/fn/${fn}`, { method: 'POST', headers: { ...as(s, 'alice'), accept: 'application/x-ndjson' } });
        expect(res.status).toBe(status);
        const text = await res.text();
        expect(
          text
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as unknown),
        ).toEqual(lines);
        bodies.push(text);
      }
      expect(bodies[1]).toBe(bodies[0]);
    }
  });

  it('a job scheduled by an isolated mutation runs, as one scheduled in process does', async () => {
    for (const s of [inProcess, isolated]) {
      expect((await callFn(s.t, 'scheduleAdd', { id: 'job1' }, as(s, 'alice'))).json).toBe('string');
      await until(async () => (await rowStatus(s, 'job1')) === 200);
      expect(await rowStatus(s, 'never')).toBe(404);
    }
  });
});

describe('a watched isolated query', () => {
  it('re-runs in a worker when a commit touches what it read', async () => {
    const controller = new AbortController();
    const res = await fetch(`${isolated.t.url}/api/fn/read/watch?args=${encodeURIComponent(JSON.stringify({ id: 'w1' }))}`, {
      headers: as(isolated, 'alice'),
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const results: unknown[] = [];
    const reading = (async () => {
      let buffer = '';
      for await (const chunk of res.body!) {
        buffer += Buffer.from(chunk as Uint8Array).toString();
        for (let cut = buffer.indexOf('\n\n'); cut !== -1; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = /^event: result\ndata: (.*)$/m.exec(block)?.[1];
          if (data !== undefined) results.push(JSON.parse(data));
        }
      }
    })().catch(() => undefined);
    try {
      await until(() => results.length === 1);
      expect(results[0]).toMatchObject({ row: null });
      expect((await callFn(isolated.t, 'add', { id: 'w1', title: 'watched' }, as(isolated, 'alice'))).status).toBe(200);
      await until(() => results.length === 2);
      expect(results[1]).toMatchObject({ row: { id: 'w1', title: 'watched', ownerId: 'alice' } });
    } finally {
      controller.abort();
      await reading;
    }
  });
});

/**
 * The thread of the one worker, once it takes a call: until a worker whose call ended has
 * finished or been replaced, the pool (one worker, no queue) answers FN_OVERLOADED.
 */
async function threadOf(): Promise<number> {
  let res = await callFn(inProcess.t, 'isoWhere', {}, as(inProcess, 'alice'));
  await until(async () => {
    if (res.status !== 200) res = await callFn(inProcess.t, 'isoWhere', {}, as(inProcess, 'alice'));
    return res.status === 200 || code(res) !== 'FN_OVERLOADED';
  });
  expect(res.status).toBe(200);
  return (res.json as { threadId: number }).threadId;
}

describe('a handler that spins in a worker', () => {
  let n = 0;

  /** Starts a spinning call and resolves once its handler is spinning. */
  async function spin(fn: string): Promise<{ done: () => boolean; result: Promise<{ res: Awaited<ReturnType<typeof callFn>>; ms: number }> }> {
    const marker = join(inProcess.t.dir, `spin-${++n}`);
    const started = performance.now();
    let finished = false;
    const result = callFn(inProcess.t, fn, { marker }, as(inProcess, 'alice')).then((res) => {
      finished = true;
      return { res, ms: performance.now() - started };
    });
    await until(() => existsSync(marker) || finished);
    expect(finished, 'still spinning').toBe(false);
    return { done: () => finished, result };
  }

  /** Calls that must answer while a handler spins: other functions, a REST read, an isolated call (FN_OVERLOADED: one worker, no queue). */
  async function othersAnswer(done: () => boolean, id: string, withMutation: boolean): Promise<void> {
    const h = as(inProcess, 'alice');
    const answers = await Promise.all([
      callFn(inProcess.t, 'read', { id: 'a1' }, h),
      callFn(inProcess.t, 'whoami', {}, h),
      inProcess.t.request('GET', '/api/entities/Todo/a1', { headers: h }),
      withMutation ? callFn(inProcess.t, 'viaAction', { id }, h) : callFn(inProcess.t, 'where', {}, h),
      callFn(inProcess.t, 'isoWhere', {}, h),
    ]);
    expect(answers.slice(0, 4).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((answers[0].json as { row: { id: string } }).row.id).toBe('a1');
    expect(answers[4].status).toBe(503);
    expect(code(answers[4])).toBe('FN_OVERLOADED');
    expect(done(), 'the spinning call is still running').toBe(false);
    if (withMutation) expect(await rowStatus(inProcess, id)).toBe(200);
  }

  it.each([
    ['query', 'spinQuery', LIMITS.fnTimeout, true],
    ['action', 'spinAction', LIMITS.fnTimeout, true],
    ['mutation', 'spinMutation', LIMITS.fnMutationTimeout, false],
  ] as const)(
    '%s: is stopped with FN_TIMEOUT while other calls go on, and the next call gets a new worker',
    async (_kind, fn, deadline, withMutation) => {
      const before = await threadOf();
      const { done, result } = await spin(fn);
      await othersAnswer(done, `during-${fn}`, withMutation);
      const { res, ms } = await result;
      expect(res.status).toBe(400);
      expect(code(res)).toBe('FN_TIMEOUT');
      expect(ms).toBeGreaterThanOrEqual(deadline);
      // A bound that catches a hang, not a slow machine.
      expect(ms).toBeLessThan(deadline + GRACE_MS + 2500);
      // The one worker was terminated and replaced.
      const after = await threadOf();
      expect(after).not.toBe(before);
      if (fn === 'spinMutation') {
        // Nothing of the spinning mutation was written, and the writer is free again.
        expect(await rowStatus(inProcess, 'spun')).toBe(404);
        expect((await callFn(inProcess.t, 'add', { id: 'after-spin', title: 't' }, as(inProcess, 'alice'))).status).toBe(200);
      }
    },
    20_000,
  );

  it('ctx.signal aborts in the worker at the deadline, and a worker that then finishes is kept', async () => {
    const marker = join(inProcess.t.dir, 'aborted');
    const before = await threadOf();
    const res = await callFn(inProcess.t, 'awaitAbort', { marker }, as(inProcess, 'alice'));
    expect(code(res)).toBe('FN_TIMEOUT');
    await until(() => existsSync(marker));
    expect(readFileSync(marker, 'utf8')).toBe(`FN_TIMEOUT: Function "awaitAbort" did not finish within ${LIMITS.fnTimeout} ms`);
    expect(await threadOf()).toBe(before);
  }, 20_000);

  it('a mutation in a worker that awaits something else while it holds the writer is FN_MUTATION_BLOCKED, as in process', async () => {
    await threadOf();
    const res = await callFn(inProcess.t, 'blocked', {}, as(inProcess, 'alice'));
    expect(code(res)).toBe('FN_MUTATION_BLOCKED');
    expect(await rowStatus(inProcess, 'blocked')).toBe(404);
  }, 20_000);
});

describe('a worker that crashes', () => {
  it.each([
    ['exits', 'exitWorker', 'exited with code 7'],
    ['throws outside the handler', 'throwLater', 'late boom'],
  ])(
    '%s: fails only its call (HANDLER_ERROR, logged), and the next call gets a new worker',
    async (_how, fn, logged) => {
      const before = await threadOf();
      const res = await callFn(inProcess.t, fn, {}, as(inProcess, 'alice'));
      expect(res.status).toBe(400);
      expect(code(res)).toBe('HANDLER_ERROR');
      expect(inProcess.logs.some((l) => l.includes(logged) && l.includes(`"function":"${fn}"`))).toBe(true);
      expect(await threadOf()).not.toBe(before);
      expect((await callFn(inProcess.t, 'read', { id: 'a1' }, as(inProcess, 'alice'))).status).toBe(200);
    },
    20_000,
  );
});
