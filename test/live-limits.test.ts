import { ADMIN } from '@mast/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { LiveClient, RawSocketClient } from './helpers/live-client.js';

function wsUrlOf(t: TestServer): string {
  return t.url.replace('http', 'ws') + '/ws';
}

function portOf(t: TestServer): number {
  return Number(new URL(t.url).port);
}

async function insert(t: TestServer, data: Record<string, unknown>): Promise<{ id: string; seq: number }> {
  const res = await t.request('POST', '/api/entities/Todo', { body: data });
  expect(res.status).toBe(201);
  return res.json as { id: string; seq: number };
}

/** A socket subscribed to `ownerId = owner`, to show that others' misbehaviour does not reach it. */
async function bystander(t: TestServer, owner: string): Promise<LiveClient> {
  const { client } = await LiveClient.connect(wsUrlOf(t));
  client.send({ type: 'subscribe', id: 'watch', entity: 'Todo', filter: { ownerId: owner } });
  await client.next('result');
  return client;
}

async function stillServed(t: TestServer, client: LiveClient, owner: string): Promise<void> {
  const row = await insert(t, { title: 'still here', done: false, ownerId: owner });
  expect(await client.next('diff')).toMatchObject({ seq: row.seq, added: [{ id: row.id }] });
}

describe('bad input gets an error message and leaves the socket and its neighbours working', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(testManifest);
  });
  afterAll(() => t.close());

  it.each([
    ['malformed JSON', '{"type":"subscribe",', { code: 'INVALID_JSON' }],
    ['a JSON value that is not an object', '[1,2]', { code: 'INVALID_MESSAGE' }],
    ['an unknown message type', '{"type":"explode","id":"e1"}', { id: 'e1', code: 'UNKNOWN_MESSAGE' }],
    ['a subscribe without an id', '{"type":"subscribe","entity":"Todo"}', { code: 'INVALID_MESSAGE' }],
    ['an unknown entity', '{"type":"subscribe","id":"e2","entity":"Nope"}', { id: 'e2', code: 'ENTITY_NOT_FOUND' }],
    ['an unknown field', '{"type":"subscribe","id":"e3","entity":"Todo","filter":{"colour":"red"}}', { id: 'e3', code: 'INVALID_COLUMN', fields: ['colour'] }],
    ['an unknown operator', '{"type":"subscribe","id":"e4","entity":"Todo","filter":{"done":{"$near":1}}}', { id: 'e4', code: 'INVALID_QUERY' }],
    ['a value of the wrong type', '{"type":"subscribe","id":"e5","entity":"Todo","filter":{"priority":"high"}}', { id: 'e5', code: 'INVALID_FIELD_TYPE' }],
    ['an $offset', '{"type":"subscribe","id":"e6","entity":"Todo","filter":{"$offset":5}}', { id: 'e6', code: 'INVALID_QUERY' }],
    ['a limit over the maximum', '{"type":"subscribe","id":"e7","entity":"Todo","filter":{"$limit":100000}}', { id: 'e7', code: 'LIMIT_TOO_LARGE' }],
    ['an unsubscribe of an unknown id', '{"type":"unsubscribe","id":"e8"}', { id: 'e8', code: 'UNKNOWN_SUBSCRIPTION' }],
    ['an include of an unknown relation', '{"type":"subscribe","id":"e10","entity":"Todo","include":["owner"]}', { id: 'e10', code: 'INVALID_QUERY' }],
    ['a forged sender on a room broadcast', '{"type":"broadcast","id":"e11","room":"r","topic":"t","from":{"userId":"admin"}}', { id: 'e11', code: 'INVALID_MESSAGE' }],
    ['a join with a malformed room name', '{"type":"join","id":"e12","room":"no spaces"}', { id: 'e12', code: 'INVALID_MESSAGE' }],
    ['a resume with a negative seq', '{"type":"resume","id":"e9","since":-1,"subscriptions":[]}', { id: 'e9', code: 'INVALID_MESSAGE' }],
  ])('%s', async (_name, frame, expected) => {
    const watcher = await bystander(t, 'bystander');
    const { client } = await LiveClient.connect(wsUrlOf(t));
    client.send({ type: 'subscribe', id: 'mine', entity: 'Todo', filter: { ownerId: 'victim' } });
    await client.next('result');
    client.ws.send(frame);
    expect(await client.next('error')).toMatchObject(expected);
    await stillServed(t, watcher, 'bystander');
    await stillServed(t, client, 'victim');
    client.close();
    watcher.close();
  });

  it('a binary frame', async () => {
    const { client } = await LiveClient.connect(wsUrlOf(t));
    client.ws.send(Buffer.from([1, 2, 3]));
    expect(await client.next('error')).toMatchObject({ code: 'INVALID_MESSAGE' });
    client.close();
  });

  it('a second subscribe with an open id, also when sent before the first one was answered', async () => {
    const { client } = await LiveClient.connect(wsUrlOf(t));
    client.send({ type: 'subscribe', id: 'twice', entity: 'Todo', filter: { ownerId: 'dup' } });
    client.send({ type: 'subscribe', id: 'twice', entity: 'Todo', filter: { ownerId: 'other' } });
    expect(await client.next('error')).toMatchObject({ id: 'twice', code: 'DUPLICATE_SUBSCRIPTION' });
    await client.next('result');
    client.send({ type: 'subscribe', id: 'twice', entity: 'Todo' });
    expect(await client.next('error')).toMatchObject({ id: 'twice', code: 'DUPLICATE_SUBSCRIPTION' });
    // The first subscription is untouched.
    await stillServed(t, client, 'dup');
    client.close();
  });
});

describe('limits close the offending socket with a named code and no other', () => {
  it('a client that floods messages is closed with 4008', async () => {
    const t = await startTestServer(testManifest, { wsMessageRate: 20 });
    try {
      const watcher = await bystander(t, 'flood');
      const { client } = await LiveClient.connect(wsUrlOf(t));
      for (let i = 0; i < 10_000 && client.ws.readyState === WebSocket.OPEN; i++) client.send({ type: 'unsubscribe', id: `n${i}` });
      expect(await client.closed).toMatchObject({ code: 4008 });
      await stillServed(t, watcher, 'flood');
      watcher.close();
    } finally {
      await t.close();
    }
  });

  it('a frame over the size limit is closed with 1009', async () => {
    const t = await startTestServer(testManifest, { wsMaxFrame: 1024 });
    try {
      const { client } = await LiveClient.connect(wsUrlOf(t));
      client.send({ type: 'subscribe', id: 'big', entity: 'Todo', filter: { title: 'x'.repeat(2000) } });
      expect(await client.closed).toMatchObject({ code: 1009 });
    } finally {
      await t.close();
    }
  });

  it('sockets past the per-address cap are closed with 4009', async () => {
    const t = await startTestServer(testManifest, { wsMaxSocketsPerIp: 2 });
    try {
      const { client: a } = await LiveClient.connect(wsUrlOf(t));
      const { client: b } = await LiveClient.connect(wsUrlOf(t));
      const c = await LiveClient.open(wsUrlOf(t));
      expect(await c.closed).toMatchObject({ code: 4009 });
      a.close();
      await a.closed;
      await expect.poll(() => t.server.sockets.size).toBe(1);
      const { client: d } = await LiveClient.connect(wsUrlOf(t));
      d.close();
      b.close();
    } finally {
      await t.close();
    }
  });

  it('a client that never reads is closed as a slow consumer (4010); the others keep receiving', async () => {
    const t = await startTestServer(testManifest, { wsMaxBuffered: 64 * 1024 });
    try {
      const big = 'x'.repeat(1024 * 1024);
      await t.server.writes.apply(
        Array.from({ length: 16 }, (_, i) => ({ op: 'insert' as const, entity: 'Todo', data: { title: big, done: false, priority: i, ownerId: 'slow' } })),
        { auth: ADMIN },
      );
      const watcher = await bystander(t, 'fast');
      const raw = await RawSocketClient.open(portOf(t));
      raw.pause();
      raw.sendText(JSON.stringify({ type: 'subscribe', id: 'all', entity: 'Todo', filter: { ownerId: 'slow' } }));
      await expect.poll(() => t.server.sockets.closedWith('SLOW_CONSUMER')).toBe(1);
      await stillServed(t, watcher, 'fast');
      expect(await raw.closeCode()).toBe(4010);
      watcher.close();
    } finally {
      await t.close();
    }
  });

  it('a socket that stops answering pings is dropped; one that answers stays', async () => {
    const t = await startTestServer(testManifest, { wsPingInterval: 50 });
    try {
      const watcher = await bystander(t, 'ping');
      const raw = await RawSocketClient.open(portOf(t));
      await raw.ended;
      await stillServed(t, watcher, 'ping');
      watcher.close();
    } finally {
      await t.close();
    }
  });

  it('a slow consumer that resumes reading after the close grace period still reads its 4010 close', async () => {
    const t = await startTestServer(testManifest, { wsMaxBuffered: 64 * 1024 });
    try {
      const big = 'x'.repeat(256 * 1024);
      await t.server.writes.apply(
        Array.from({ length: 16 }, (_, i) => ({ op: 'insert' as const, entity: 'Todo', data: { title: big, done: false, priority: i, ownerId: 'stall' } })),
        { auth: ADMIN },
      );
      const raw = await RawSocketClient.open(portOf(t));
      raw.pause();
      raw.sendText(JSON.stringify({ type: 'subscribe', id: 'all', entity: 'Todo', filter: { ownerId: 'stall' } }));
      await expect.poll(() => t.server.sockets.closedWith('SLOW_CONSUMER')).toBe(1);
      // Stalled past the 5 s a socket closed for other limits gets to finish the handshake.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      expect(await raw.closeCode()).toBe(4010);
    } finally {
      await t.close();
    }
  });

  it('a socket whose session expires is closed with 4002', async () => {
    const t = await startTestServer(testManifest);
    try {
      const { token } = await t.server.sessions.issue({ userId: 'brief', expiresIn: 1 });
      const { client } = await LiveClient.connect(wsUrlOf(t), { token });
      expect(await client.closed).toMatchObject({ code: 4002 });
      const late = await LiveClient.open(wsUrlOf(t), { token });
      expect(await late.closed).toMatchObject({ code: 4002 });
    } finally {
      await t.close();
    }
  });
});
