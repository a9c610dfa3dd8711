import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { ConnectionState, MastClient, WebSocketConstructor } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { clientOf, instrumented, serverRows, startServer, tokenFor, until } from './harness.js';

// Close codes a real server sends (4012, 4010) and a socket lost in the middle of `resume`: the
// client reconnects, resumes from its last seq (no fresh result), and ends with every row once.
const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const t = await startServer(overrides);
  cleanup.push(() => t.close());
  return t;
}

function track(client: MastClient): ConnectionState[] {
  const states: ConnectionState[] = [client.status.state];
  client.onStatus((s) => {
    if (states.at(-1) !== s.state) states.push(s.state);
  });
  cleanup.push(() => client.close());
  return states;
}

async function insertAs(t: TestServer, token: string, title: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await t.request('POST', '/api/entities/Todo', { body: { title, done: false, ownerId: 'ann', ...extra }, headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(201);
}

/** Holds a query, watching for a fresh (loading) result, which a resume must not cause. */
async function heldQuery(client: MastClient): Promise<{ rows: () => string[]; reloaded: () => boolean }> {
  const todos = client.query('Todo', { $order: { title: 'asc' } });
  await until(() => !todos.loading && todos.rows.length === 1, 'the first row');
  const first = todos.rows[0];
  let reloaded = false;
  todos.subscribe(() => {
    if (todos.loading) reloaded = true;
  });
  // A resume applies deltas to the rows held: the first row keeps its identity.
  return { rows: () => todos.rows.map((r) => String(r.title).slice(0, 6)), reloaded: () => reloaded || todos.rows[0] !== first };
}

describe('close codes and a resume cut short', () => {
  it('4012 (the session selected another org): reconnects and resumes, missing nothing', async () => {
    const t = await setup();
    const token = await tokenFor(t, 'ann');
    const log = { closes: [] as number[], sockets: [] as WebSocket[] };
    const client = clientOf(t, { auth: token, WebSocket: instrumented(log) });
    const states = track(client);
    await client.connected();
    await insertAs(t, token, 'a');
    const q = await heldQuery(client);

    const org = await t.request('POST', '/api/auth/orgs', { body: { name: 'Acme' }, headers: { authorization: `Bearer ${token}` } });
    expect(org.status).toBe(201);
    const select = await t.request('POST', '/api/auth/select-org', { body: { orgId: (org.json as { id: string }).id }, headers: { authorization: `Bearer ${token}` } });
    expect(select.status).toBe(200);
    await until(() => log.closes.includes(4012), 'the 4012 close');
    await insertAs(t, token, 'b');
    await until(() => q.rows().join() === 'a,b' && client.status.state === 'open', 'the row written after the close');
    expect(states.slice(states.lastIndexOf('offline'))).toEqual(['offline', 'connecting', 'resuming', 'open']);
    expect(q.reloaded()).toBe(false);
  });

  it('4010 (a slow consumer): reconnects and resumes, with every row once', async () => {
    const t = await setup({ config: { wsMaxBuffered: 64 * 1024 } });
    const token = await tokenFor(t, 'ann');
    const log = { closes: [] as number[], sockets: [] as WebSocket[] };
    const client = clientOf(t, { auth: token, WebSocket: instrumented(log) });
    const states = track(client);
    await client.connected();
    await insertAs(t, token, 'a');
    const q = await heldQuery(client);

    // The client stops reading; large diffs pile up on the server until it gives up (4010).
    const tcp = (log.sockets.at(-1) as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();
    const big = 'x'.repeat(200 * 1024);
    for (let i = 0; i < 40 && !(await closedSlow(t)); i++)
      await insertAs(t, token, `big-${String(i).padStart(2, '0')}`, { rank: i, title: `big-${String(i).padStart(2, '0')}-${big}` });
    await until(() => closedSlow(t), 'the server closing the slow socket');
    tcp.resume();
    await until(() => log.closes.includes(4010), 'the 4010 close read by the client');
    const expected = (await serverRows(t, 'Todo')).map((r) => String(r.title).slice(0, 6)).sort();
    await until(() => client.status.state === 'open' && q.rows().join() === expected.join(), 'every row after the resume', 15_000);
    expect(new Set(q.rows()).size).toBe(q.rows().length);
    expect(states.slice(states.lastIndexOf('offline'))).toEqual(['offline', 'connecting', 'resuming', 'open']);
    expect(q.reloaded()).toBe(false);
  });

  it('a socket lost after `resumed` but before the resume’s ack: resumes again from the same seq, nothing lost or duplicated', async () => {
    let t = await setup();
    const token = await tokenFor(t, 'ann');
    const log = { closes: [] as number[], sockets: [] as WebSocket[] };
    let cut = 0;
    let sawResumed = false;
    const client = clientOf(t, {
      auth: token,
      WebSocket: instrumented(log, (ws, m) => {
        if (m.type === 'resumed') sawResumed = true;
        // The first resume's ack never arrives: the socket dies right after its deltas.
        if (m.type === 'ack' && sawResumed && cut === 0) {
          cut++;
          ws.terminate();
          return true;
        }
        return false;
      }),
    });
    const states = track(client);
    await client.connected();
    await insertAs(t, token, 'a');
    const q = await heldQuery(client);

    // The server restarts; rows are written while the client is away.
    const port = Number(new URL(t.url).port);
    await t.server.close();
    t = await startServer({ port, dir: t.dir });
    cleanup.push(() => t.close());
    await insertAs(t, token, 'b');
    await insertAs(t, token, 'c');
    await until(() => cut === 1, 'the socket cut after `resumed`');
    await until(() => client.status.state === 'open' && q.rows().join() === 'a,b,c', 'the rows after the second resume');
    expect(states.filter((s) => s === 'resuming').length).toBeGreaterThanOrEqual(2);
    expect(q.reloaded()).toBe(false);
    // The live query is still live: a later write arrives once.
    await insertAs(t, token, 'd');
    await until(() => q.rows().join() === 'a,b,c,d', 'a later row');
    await client.sync();
    expect(q.rows()).toEqual(['a', 'b', 'c', 'd']);
  });
});

async function closedSlow(t: TestServer): Promise<boolean> {
  return t.server.sockets.closedWith('SLOW_CONSUMER') > 0;
}
