import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { LiveClient } from './helpers/live-client.js';

let t: TestServer;
let wsUrl: string;

beforeAll(async () => {
  t = await startTestServer(testManifest);
  wsUrl = t.url.replace('http', 'ws') + '/ws';
});
afterAll(() => t.close());

describe('barrier (protocol 2)', () => {
  it("acks with a seq at or past a write answered before it, after that write's diff", async () => {
    const { client } = await LiveClient.connect(wsUrl);
    client.send({ type: 'subscribe', id: 's', entity: 'Todo', filter: { ownerId: 'barrier' } });
    const result = await client.next('result');
    const res = await t.request('POST', '/api/entities/Todo', { body: { title: 'x', done: false, ownerId: 'barrier' } });
    const { seq } = res.json as { seq: number };
    client.send({ type: 'barrier', id: 'b1' });
    const ack = await client.next('ack', (m) => m.id === 'b1');
    expect(ack.seq).toBeGreaterThanOrEqual(seq);
    // The diff of the write came before the ack.
    const diffAt = client.frames.findIndex((f) => f.includes('"diff"') && f.includes(result.query));
    const ackAt = client.frames.findIndex((f) => f.includes('"b1"'));
    expect(diffAt).toBeGreaterThan(-1);
    expect(diffAt).toBeLessThan(ackAt);
    client.close();
  });

  it("covers a write that changed none of the socket's windows", async () => {
    const { client } = await LiveClient.connect(wsUrl);
    const res = await t.request('POST', '/api/entities/Todo', { body: { title: 'y', done: false, ownerId: 'elsewhere' } });
    const { seq } = res.json as { seq: number };
    client.send({ type: 'barrier', id: 'b2' });
    expect((await client.next('ack', (m) => m.id === 'b2')).seq).toBeGreaterThanOrEqual(seq);
    client.close();
  });

  it('refuses a barrier without an id', async () => {
    const { client } = await LiveClient.connect(wsUrl);
    client.send({ type: 'barrier' });
    expect(await client.next('error')).toMatchObject({ code: 'INVALID_MESSAGE' });
    client.close();
  });
});
