import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { ConnectionState, MastClient } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { clientOf, restart, startServer, tokenFor, until } from './harness.js';

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(): Promise<TestServer> {
  const t = await startServer();
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

describe('connection state machine', () => {
  it('goes connecting → open, and offline → connecting → resuming → open across a server restart, keeping its rows', async () => {
    let t = await server();
    const token = await tokenFor(t, 'ann');
    const client = clientOf(t, { auth: token });
    const states = track(client);
    await client.connected();
    expect(states).toEqual(['connecting', 'open']);

    await client.insert('Todo', { title: 'a', done: false, ownerId: 'ann' });
    const todos = client.query('Todo', { $order: { title: 'asc' } });
    await todos.ready();
    await until(() => todos.rows.length === 1 && !client.status.pendingWrites, 'the first row');
    const before = todos.rows[0];
    let reloaded = false;
    todos.subscribe(() => {
      if (todos.loading || todos.rows.length === 0) reloaded = true;
    });

    t = await restart(t);
    cleanup.push(() => t.close());
    // A write while the client is away reaches it through resume, not a fresh result.
    await t.request('POST', '/api/entities/Todo', { body: { title: 'b', done: false, ownerId: 'ann' }, headers: { authorization: `Bearer ${token}` } });
    await until(() => todos.rows.length === 2, 'the row written while away');
    expect(states).toContain('offline');
    expect(states.slice(states.lastIndexOf('offline'))).toEqual(['offline', 'connecting', 'resuming', 'open']);
    // The row the client held is the same object: resumed as a delta, not reloaded.
    expect(todos.rows[0]).toBe(before);
    expect(reloaded).toBe(false);
    expect(todos.rows.map((r) => r.title)).toEqual(['a', 'b']);
  });

  it('stops with PROTOCOL_MISMATCH, and does not reconnect, when the server speaks another version', async () => {
    const wss = new WebSocketServer({ port: 0 });
    let connections = 0;
    wss.on('connection', (ws) => {
      connections++;
      ws.send(JSON.stringify({ type: 'hello', protocol: 99, connectionId: 'x', seq: 0 }));
    });
    cleanup.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const port = (wss.address() as { port: number }).port;
    const client = clientOf({ url: `http://127.0.0.1:${port}` } as TestServer);
    track(client);
    await expect(client.connected()).rejects.toMatchObject({ code: 'PROTOCOL_MISMATCH' });
    expect(client.status.state).toBe('closed');
    expect(client.status.error?.message).toMatch(/protocol 99/);
    await new Promise((r) => setTimeout(r, 300));
    expect(connections).toBe(1);
  });

  it('asks the token provider for a new token after 4001 and reconnects with it', async () => {
    const t = await server();
    const good = await tokenFor(t, 'ann');
    const reasons: string[] = [];
    const client = clientOf(t, {
      auth: ({ reason }) => {
        reasons.push(reason);
        return reasons.includes('unauthorized') ? good : 'not-a-real-token';
      },
    });
    track(client);
    await client.connected();
    expect(reasons).toContain('unauthorized');
    expect(client.userId).toBe('ann');
  });

  it('closes with AUTH_FAILED after 4001 when the app has no new token', async () => {
    const t = await server();
    const client = clientOf(t, { auth: 'not-a-real-token' });
    track(client);
    await expect(client.connected()).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(client.status.state).toBe('closed');
  });

  it('goes offline and retries with backoff while the server is away, then resumes', async () => {
    let t = await server();
    const client = clientOf(t, { auth: await tokenFor(t, 'ann') });
    const states = track(client);
    await client.connected();
    const port = Number(new URL(t.url).port);
    const dir = t.dir;
    await t.server.close();
    await until(() => client.status.state === 'offline' || client.status.state === 'connecting', 'offline');
    // Several attempts fail while nothing listens.
    await new Promise((r) => setTimeout(r, 400));
    expect(states.filter((s) => s === 'offline').length).toBeGreaterThan(1);
    t = await startServer({ port, dir });
    cleanup.push(() => t.close());
    await until(() => client.status.state === 'open', 'open again');
  });
});
