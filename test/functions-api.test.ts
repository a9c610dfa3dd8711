import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { callFn, deployFunctions, FUNCTIONS_API } from './helpers/functions-app.js';

const ADMIN = 'admin-token-for-function-tests';
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer(testManifest, { adminToken: ADMIN });
  const set = await deployFunctions(t, {
    addTodo: `export default mutation({
      args: { title: v.string(), priority: v.optional(v.int()) },
      async handler(ctx, args) {
        const id = await ctx.db.insert('Todo', { title: args.title, done: false, ...(args.priority === undefined ? {} : { priority: args.priority }) });
        return { id };
      },
    });`,
    echo: `export default query({
      args: { s: v.string(), n: v.number(), i: v.int(), b: v.boolean(), id: v.id('Todo'), tags: v.optional(v.array(v.string())),
              point: v.optional(v.object({ x: v.number(), y: v.number() })), extra: v.optional(v.any()) },
      handler: (_ctx, args) => args,
    });`,
    whoami: `export default query({ handler: (ctx) => ctx.auth });`,
    pylonReads: `export default query({ args: { title: v.string() }, handler: async (ctx, a) => ({
      listed: (await ctx.db.list('Todo')).length, found: (await ctx.db.lookup('Todo', 'title', a.title))?.title ?? null,
    }) });`,
    nothing: `export default action({ handler: () => undefined });`,
    openTodos: `export default query({
      args: { minPriority: v.optional(v.int()) },
      handler: (ctx, args) => ctx.db.query('Todo', { done: false, priority: { $gte: args.minPriority ?? 0 }, $order: { priority: 'desc' } }),
    });`,
  });
  expect(set.errors).toEqual([]);
});
afterAll(() => t.close());

describe('calling functions over HTTP', () => {
  it('runs the anchor mutation: POST /api/fn/addTodo {"title"} → 200 {"id"}, and the row exists', async () => {
    const res = await callFn(t, 'addTodo', { title: 'from a function' });
    expect(res.status, res.text).toBe(200);
    const { id } = res.json as { id: string };
    const row = await t.request('GET', `/api/entities/Todo/${id}`);
    expect(row.json).toMatchObject({ id, title: 'from a function', done: false });
  });

  it('returns the raw value, unwrapped; undefined becomes null', async () => {
    const args = { s: 'x', n: 1.5, i: 2, b: true, id: 'row1', tags: ['a'], point: { x: 1, y: 2 }, extra: { deep: [null] } };
    const res = await callFn(t, 'echo', args);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual(args);
    const none = await callFn(t, 'nothing');
    expect([none.status, none.text]).toEqual([200, 'null']);
  });

  it('queries use the REST filter language', async () => {
    for (const p of [1, 5, 3]) expect((await callFn(t, 'addTodo', { title: `p${p}`, priority: p })).status).toBe(200);
    const res = await callFn(t, 'openTodos', { minPriority: 2 });
    expect((res.json as Array<{ priority: number }>).map((r) => r.priority)).toEqual([5, 3]);
  });

  it("offers Pylon's list and lookup reads", async () => {
    const total = ((await t.request('GET', '/api/entities/Todo?limit=1000')).json as { count: number }).count;
    expect((await callFn(t, 'pylonReads', { title: 'p5' })).json).toEqual({ listed: total, found: 'p5' });
    expect((await callFn(t, 'pylonReads', { title: 'absent' })).json).toEqual({ listed: total, found: null });
  });

  it('hands the caller to ctx.auth', async () => {
    const minted = await t.request('POST', '/api/auth/session', { body: { user_id: 'ann', roles: ['editor'] }, headers: { authorization: `Bearer ${ADMIN}` } });
    const token = (minted.json as { token: string }).token;
    expect((await callFn(t, 'whoami', {}, { authorization: `Bearer ${token}` })).json).toEqual({
      userId: 'ann',
      isAdmin: false,
      isGuest: false,
      roles: ['editor'],
      tenantId: null,
    });
    expect((await callFn(t, 'whoami')).json).toMatchObject({ userId: null, isAdmin: false });
  });

  it('GET /api/fn lists the functions with kinds and argument schemas, for admin only', async () => {
    expect((await t.request('GET', '/api/fn')).status).toBe(403);
    const res = await t.request('GET', '/api/fn', { headers: { authorization: `Bearer ${ADMIN}` } });
    const list = res.json as Array<{ name: string; fn_type: string; args_schema: { properties?: Record<string, unknown>; required?: string[] } }>;
    expect(list.map((f) => [f.name, f.fn_type])).toEqual([
      ['addTodo', 'mutation'],
      ['echo', 'query'],
      ['nothing', 'action'],
      ['openTodos', 'query'],
      ['pylonReads', 'query'],
      ['whoami', 'query'],
    ]);
    expect(list[0]!.args_schema.required).toEqual(['title']);
  });
});

describe('bad arguments are INVALID_ARGS, with every problem named', () => {
  const good = { s: 'x', n: 1, i: 1, b: false, id: 'r' };
  it.each([
    ['a wrong type', { ...good, s: 5 }, /s: .*expected string/],
    ['a fraction for v.int()', { ...good, i: 1.5 }, /i: .*expected int/],
    ['a missing field', { n: 1, i: 1, b: false, id: 'r' }, /Missing required field "s"/],
    ['null at the top level (absent)', { ...good, b: null }, /Missing required field "b"/],
    ['an empty id', { ...good, id: '' }, /id: /],
    ['a wrong element type', { ...good, tags: ['a', 2] }, /tags\.1: /],
    ['a wrong nested shape', { ...good, point: { x: 1 } }, /Missing required field "point\.y"/],
    ['an unknown argument', { ...good, typo: 1 }, /Unknown argument "typo"/],
    ['an unknown nested key', { ...good, point: { x: 1, y: 2, z: 3 } }, /Unknown argument "point\.z"/],
  ])('%s', async (_what, args, message) => {
    const res = await callFn(t, 'echo', args);
    expect(res.status, res.text).toBe(400);
    const error = (res.json as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('INVALID_ARGS');
    expect(error.message).toMatch(message);
  });

  it('lists several problems in one message', async () => {
    const res = await callFn(t, 'echo', { s: 1, n: 'x', i: 1, b: false, id: 'r' });
    const error = (res.json as { error: { message: string; fields: string[] } }).error;
    expect(error.message.split('; ')).toHaveLength(2);
    expect(error.fields).toEqual(['s', 'n']);
  });

  it('a body that is not an object is INVALID_ARGS; invalid JSON is INVALID_JSON; no body is {}', async () => {
    expect((await callFn(t, 'echo', [1, 2])).json).toMatchObject({ error: { code: 'INVALID_ARGS' } });
    expect((await callFn(t, 'echo', 'text')).json).toMatchObject({ error: { code: 'INVALID_ARGS' } });
    const bad = await t.request('POST', '/api/fn/echo', { rawBody: '{"s": ', headers: { 'content-type': 'application/json' } });
    expect([bad.status, (bad.json as { error: { code: string } }).error.code]).toEqual([400, 'INVALID_JSON']);
    expect((await t.request('POST', '/api/fn/whoami')).status).toBe(200);
  });

  it('an unknown function is 404 FN_NOT_FOUND', async () => {
    const res = await callFn(t, 'nope', {});
    expect([res.status, res.json]).toEqual([404, { error: { code: 'FN_NOT_FOUND', message: 'Function "nope" is not registered' } }]);
  });
});

describe('loading', () => {
  it('reports a broken file with its line and a file with no valid export, and serves the rest', async () => {
    writeFileSync(join(t.dir, 'functions', 'broken.ts'), `import { query } from ${JSON.stringify(FUNCTIONS_API)};\n\nexport default query({ handler: () => {{ });\n`);
    writeFileSync(join(t.dir, 'functions', 'throws.ts'), `const x = 1;\nthrow new Error('boom at load');\nexport default x;\n`);
    writeFileSync(join(t.dir, 'functions', 'plain.ts'), `export default { handler: () => 1 };\n`);
    writeFileSync(join(t.dir, 'functions', '_helper.ts'), `export const shared = 1;\n`);
    const set = await t.server.reloadFunctions();
    const byFile = Object.fromEntries(set.errors.map((e) => [e.file.split('/').pop(), e]));
    expect(Object.keys(byFile).sort()).toEqual(['broken.ts', 'plain.ts', 'throws.ts']);
    expect(byFile['broken.ts']).toMatchObject({ line: 3, message: expect.stringMatching(/could not be loaded/) });
    expect(byFile['throws.ts']).toMatchObject({ line: 2, message: expect.stringMatching(/boom at load/) });
    expect(byFile['plain.ts']!.message).toMatch(/no valid default export/);
    expect((await callFn(t, 'addTodo', { title: 'still served' })).status).toBe(200);
    expect((await callFn(t, 'broken')).status).toBe(404);
  });

  it('reloadFunctions picks up an edited file', async () => {
    await deployFunctions(t, { version: 'export default query({ handler: () => 1 });' });
    expect((await callFn(t, 'version')).json).toBe(1);
    // A later mtime makes the reload import the file anew.
    await new Promise((r) => setTimeout(r, 20));
    await deployFunctions(t, { version: 'export default query({ handler: () => 2 });' });
    expect((await callFn(t, 'version')).json).toBe(2);
  });
});
