import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { fileStorage } from '../src/node.js';
import type { ConnectionState, MastClient } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { clientOf, instrumented, serverRows, startServer, tokenFor, until } from './harness.js';

// A reload with durable storage: the client starts from the rows it kept and the seq they were
// current at, and resumes from there instead of reading the queries afresh.
const cleanup: Array<() => Promise<unknown> | undefined> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function owned(client: MastClient): MastClient {
  cleanup.push(() => client.close());
  return client;
}

async function write(t: TestServer, token: string, method: string, path: string, body?: unknown): Promise<void> {
  const res = await t.request(method, path, { ...(body === undefined ? {} : { body }), headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBeLessThan(300);
}

describe('resume from kept rows after a reload', () => {
  it('shows the kept rows at once, then resumes from their seq: the changes made meanwhile arrive as a delta, nothing is read afresh', async () => {
    const t = await startServer();
    cleanup.push(() => t.close());
    const token = await tokenFor(t, 'ann');
    const dir = mkdtempSync(join(tmpdir(), 'mast-kept-'));
    cleanup.push(() => void rmSync(dir, { recursive: true, force: true }));
    const first = clientOf(t, { auth: token, storage: await fileStorage(dir) });
    for (const title of ['a', 'b', 'c']) await first.insert('Todo', { id: title, title, done: false, ownerId: 'ann' });
    const q1 = first.query('Todo', { $order: { title: 'asc' } });
    await until(() => q1.rows.length === 3 && !q1.loading && first.optimisticWrites === 0, 'the rows');
    await new Promise((r) => setTimeout(r, 150)); // the coalesced save
    await first.close();

    // While the page is away: one row added, one changed, one deleted.
    await write(t, token, 'POST', '/api/entities/Todo', { id: 'd', title: 'd', done: false, ownerId: 'ann' });
    await write(t, token, 'PATCH', '/api/entities/Todo/b', { title: 'b2' });
    await write(t, token, 'DELETE', '/api/entities/Todo/c');

    const log = { closes: [] as number[], sockets: [] as WebSocket[], sent: [] as Array<Record<string, unknown>> };
    const second = owned(clientOf(t, { auth: token, storage: await fileStorage(dir), WebSocket: instrumented(log) }));
    const states: ConnectionState[] = [];
    second.onStatus((s) => states.at(-1) !== s.state && states.push(s.state));
    const q2 = second.query('Todo', { $order: { title: 'asc' } });
    // The kept rows may be replaced by the resumed ones before a poll would see them: record
    // every state the query shows instead.
    const shown: Array<{ titles: string[]; fromCache: boolean; first: unknown }> = [];
    const record = (): void => void shown.push({ titles: q2.rows.map((r) => r.title as string), fromCache: q2.state.fromCache, first: q2.rows[0] });
    record();
    const stopRecording = q2.subscribe(record);
    cleanup.push(() => void stopRecording());
    await until(() => shown.some((s) => s.fromCache && s.titles.length === 3), 'the kept rows');
    const fromCache = shown.find((s) => s.fromCache && s.titles.length === 3)!;
    expect(fromCache.titles).toEqual(['a', 'b', 'c']);
    const kept = fromCache.first;
    await until(() => !q2.state.fromCache && second.status.state === 'open', 'the resumed rows');
    expect(q2.rows.map((r) => r.title)).toEqual(['a', 'b2', 'd']);
    expect(q2.rows.map((r) => r.title)).toEqual((await serverRows(t, 'Todo')).map((r) => r.title).sort());
    // Resumed, not read afresh: the untouched row kept its identity, and no subscribe was sent.
    expect(q2.rows[0]).toBe(kept);
    expect(log.sent.filter((m) => m.type === 'subscribe')).toEqual([]);
    const resume = log.sent.find((m) => m.type === 'resume') as { since: number; subscriptions: unknown[] };
    expect(resume.subscriptions).toHaveLength(1);
    expect(resume.since).toBeGreaterThan(0);
    expect(states).toContain('resuming');

    // Still live afterwards.
    await write(t, token, 'POST', '/api/entities/Todo', { id: 'e', title: 'e', done: false, ownerId: 'ann' });
    await until(() => q2.rows.map((r) => r.title).join() === 'a,b2,d,e', 'a later row');

    // A query opened on the open socket with kept rows resumes on its own; its ack does not disturb the connection.
    await new Promise((r) => setTimeout(r, 150));
    q2.close();
    await until(() => second.cachedRowCount === 0, 'the query closed');
    await write(t, token, 'DELETE', '/api/entities/Todo/a');
    const q3 = second.query('Todo', { $order: { title: 'asc' } });
    await until(() => !q3.loading && !q3.state.fromCache && q3.rows.map((r) => r.title).join() === 'b2,d,e', 'the late resume');
    expect(log.sent.filter((m) => m.type === 'resume')).toHaveLength(2);
    expect(log.sent.filter((m) => m.type === 'subscribe')).toEqual([]);
    expect(second.status.state).toBe('open');
  });

  it('reads afresh when the kept seq is of another database (RESYNC_REQUIRED)', async () => {
    const t = await startServer();
    cleanup.push(() => t.close());
    const token = await tokenFor(t, 'ann');
    const dir = mkdtempSync(join(tmpdir(), 'mast-kept-'));
    cleanup.push(() => void rmSync(dir, { recursive: true, force: true }));
    const first = clientOf(t, { auth: token, storage: await fileStorage(dir) });
    for (let i = 0; i < 5; i++) await first.insert('Todo', { id: `r${i}`, title: `r${i}`, done: false, ownerId: 'ann' });
    const q1 = first.query('Todo', {});
    await until(() => q1.rows.length === 5 && first.optimisticWrites === 0, 'the rows');
    await new Promise((r) => setTimeout(r, 150));
    await first.close();

    // Another server, a fresh database whose head is behind the kept seq.
    const other = await startServer();
    cleanup.push(() => other.close());
    const otherToken = await tokenFor(other, 'ann');
    await write(other, otherToken, 'POST', '/api/entities/Todo', { id: 'x', title: 'x', done: false, ownerId: 'ann' });
    const log = { closes: [] as number[], sockets: [] as WebSocket[], sent: [] as Array<Record<string, unknown>> };
    const second = owned(clientOf(other, { auth: otherToken, storage: await fileStorage(dir), WebSocket: instrumented(log) }));
    const q2 = second.query('Todo', {});
    await until(() => !q2.loading && !q2.state.fromCache && q2.rows.map((r) => r.title).join() === 'x', 'the fresh read');
    expect(log.sent.some((m) => m.type === 'resume')).toBe(true);
    expect(log.sent.some((m) => m.type === 'subscribe')).toBe(true);
  });
});
