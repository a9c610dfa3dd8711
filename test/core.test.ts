import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileManifest } from '@mast/schema';
import { type AuthContext, createCore, createSqliteStore, loadConfig, type MastCore } from '@mast/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS_API, ownedTodoManifest } from './helpers/functions-app.js';

// A core stands without its transports: no HTTP server, no port, no socket. The function runner
// is driven directly, as an embedding program or a unit test would.
const user = (userId: string): AuthContext => ({ userId, isAdmin: false, isGuest: false, roles: [], tenantId: null, orgRole: null });

let dir: string;
let core: MastCore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-core-'));
  mkdirSync(join(dir, 'functions'));
  const files: Record<string, string> = {
    add: "export default mutation({ args: { id: v.string(), title: v.string() }, handler: async (ctx, { id, title }) => { await ctx.db.insert('Todo', { id, title, ownerId: ctx.auth.userId }); return { id }; } });",
    addThenFail:
      "export default mutation({ args: { id: v.string() }, handler: async (ctx, { id }) => { await ctx.db.insert('Todo', { id, title: 'x', ownerId: ctx.auth.userId }); throw new Error('changed my mind'); } });",
    mine: "export default query({ args: {}, handler: async (ctx) => (await ctx.db.query('Todo')).map((t) => t.id) });",
  };
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(dir, 'functions', `${name}.ts`), `import { query, mutation, v } from ${JSON.stringify(FUNCTIONS_API)};\n${body}\n`);
  }
  const config = loadConfig({}, { logLevel: 'silent', databaseUrl: join(dir, 'core.db') });
  const store = createSqliteStore({ path: join(dir, 'core.db') });
  core = await createCore({ appDir: dir, store, schema: compileManifest(ownedTodoManifest('core')), config });
  await core.start();
});

afterAll(async () => {
  await core.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a core without transports', () => {
  it('loads the app functions and reports no load problems', () => {
    expect(core.loadProblems, core.loadProblems.join('\n')).toEqual([]);
    expect(
      core.registry
        .list()
        .map((f) => f.name)
        .sort(),
    ).toEqual(['add', 'addThenFail', 'mine']);
  });

  it('runs a mutation as one transaction: its row and its change-log entry commit together', async () => {
    const head = (await core.store.changeLogBounds()).head;
    expect(await core.functions.call('add', { id: 'a1', title: 'one' }, user('alice'))).toEqual({ id: 'a1' });
    const changes = await core.store.changesSince(head, 10);
    expect(changes.map((c) => [c.entity, c.kind, c.rowId])).toEqual([['Todo', 'insert', 'a1']]);
  });

  it('rolls a failing mutation back whole', async () => {
    const head = (await core.store.changeLogBounds()).head;
    await expect(core.functions.call('addThenFail', { id: 'gone' }, user('alice'))).rejects.toMatchObject({ code: 'HANDLER_ERROR' });
    expect((await core.store.changeLogBounds()).head).toBe(head);
    expect(await core.store.read((tx) => tx.get('Todo', 'gone'))).toBeNull();
  });

  it("reads through the caller's policies in a query", async () => {
    await core.functions.call('add', { id: 'b1', title: 'bob' }, user('bob'));
    expect(await core.functions.call('mine', {}, user('alice'))).toEqual(['a1']);
    expect(await core.functions.call('mine', {}, user('bob'))).toEqual(['b1']);
  });
});

describe('core.connect: the realtime protocol in process', () => {
  it("answers hello, a live query under the caller's policies, and a diff when a commit changes it", async () => {
    const frames: unknown[] = [];
    const connection = core.connect(user('alice'));
    connection.onFrame((frame) => frames.push(frame));
    await expect.poll(() => frames.length).toBeGreaterThan(0);
    expect(frames[0]).toMatchObject({ type: 'hello' });
    connection.send({ type: 'subscribe', id: 's1', entity: 'Todo' });
    await expect.poll(() => frames.find((f) => (f as { type: string }).type === 'result')).toBeTruthy();
    const result = frames.find((f) => (f as { type: string }).type === 'result') as { rows: Array<{ id: string }> };
    expect(result.rows.map((r) => r.id)).toEqual(['a1']);
    await core.functions.call('add', { id: 'a2', title: 'two' }, user('alice'));
    await core.functions.call('add', { id: 'b2', title: 'not alice' }, user('bob'));
    await expect.poll(() => frames.some((f) => (f as { type: string }).type === 'diff')).toBe(true);
    const diffs = frames.filter((f) => (f as { type: string }).type === 'diff');
    expect(JSON.stringify(diffs)).toContain('a2');
    expect(JSON.stringify(diffs)).not.toContain('b2');
    connection.close();
    expect((await connection.closed).code).toBe(1000);
  });

  it('answers a malformed message with an error and stays open', async () => {
    const frames: unknown[] = [];
    const connection = core.connect(user('alice'));
    connection.onFrame((frame) => frames.push(frame));
    connection.send({ type: 'subscribe', id: 'bad' });
    await expect.poll(() => frames.find((f) => (f as { type: string }).type === 'error')).toMatchObject({ type: 'error', id: 'bad', code: 'INVALID_MESSAGE' });
    connection.send({ type: 'subscribe', id: 'ok', entity: 'Todo' });
    await expect.poll(() => frames.some((f) => (f as { type: string; id?: string }).type === 'result')).toBe(true);
    connection.close();
  });

  it('is closed like a socket when its session is revoked', async () => {
    const issued = await core.sessions.issue({ userId: 'alice' });
    const auth = await core.authenticator.resolve(issued.token);
    const connection = core.connect(auth);
    await core.sessions.revoke(auth.sessionHash as string);
    expect((await connection.closed).code).toBe(4001);
  });
});
