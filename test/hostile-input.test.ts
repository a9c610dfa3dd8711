import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoroDoc } from 'loro-crdt';
import { isErrorCode } from '@mast/protocol';
import type { Manifest } from '@mast/schema';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { LiveClient } from './helpers/live-client.js';
import { serverDoc } from './helpers/crdt-client.js';

const ADMIN = 'admin-token-for-hostile-input-tests';

/** `[[[…0…]]]` nested `depth` arrays deep. */
function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** The JSON text of `nested(depth)`, built without recursion (JSON.stringify would overflow). */
function nestedText(depth: number): string {
  return '['.repeat(depth) + '0' + ']'.repeat(depth);
}

/** A `$or` of `n` equality terms. */
function orOf(n: number): Record<string, unknown> {
  return { $or: Array.from({ length: n }, (_, i) => ({ title: `t${i}` })) };
}

/** Sends `text` over a fresh TCP connection and returns the whole answer (the server closes it). */
function rawHttp(port: number, text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const answer = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      resolve({ status, body: answer.slice(answer.indexOf('\r\n\r\n') + 4) });
    });
    socket.end(text);
  });
}

/** Asserts an answer is the error envelope with `code`. */
function expectEnvelope(body: string, code: string): void {
  const json = JSON.parse(body) as { error: { code: string; message: string } };
  expect(json.error.code).toBe(code);
  expect(isErrorCode(json.error.code)).toBe(true);
  expect(json.error.message.length).toBeGreaterThan(0);
}

describe('hostile input', () => {
  let t: TestServer;
  let port: number;
  const wsUrl = (): string => t.url.replace('http', 'ws') + '/ws';
  beforeAll(async () => {
    t = await startTestServer(testManifest, { adminToken: ADMIN });
    port = Number(new URL(t.url).port);
  });
  afterAll(() => t.close());

  it('refuses a join whose presence is nested 2,000 deep with JSON_TOO_DEEP, and the socket keeps serving', async () => {
    const { token } = await t.server.sessions.issue({ userId: 'ann' });
    const { client } = await LiveClient.connect(wsUrl(), { token });
    client.ws.send(JSON.stringify({ type: 'join', id: 'j', room: 'r1', presence: nested(2_000) }));
    const error = await client.next('error', (m) => m.id === 'j');
    expect(error.code).toBe('JSON_TOO_DEEP');
    expect(error.message).toMatch(/nested deeper than 64/);
    client.send({ type: 'join', id: 'j2', room: 'r1', presence: { cursor: 1 } });
    await client.next('joined', (m) => m.id === 'j2');
    // After a join: presence and broadcast data 10,000 deep.
    client.ws.send(`{"type":"presence","id":"p","room":"r1","state":${nestedText(10_000)}}`);
    expect((await client.next('error', (m) => m.id === 'p')).code).toBe('JSON_TOO_DEEP');
    client.ws.send(`{"type":"broadcast","id":"b","room":"r1","topic":"t","data":{"x":${nestedText(10_000)}}}`);
    expect((await client.next('error', (m) => m.id === 'b')).code).toBe('JSON_TOO_DEEP');
    client.send({ type: 'presence', id: 'p2', room: 'r1', state: { cursor: 2 } });
    await client.next('ack', (m) => m.id === 'p2');
    client.ws.close();
  });

  it('refuses deep JSON in subscribe filters, function arguments and CRDT requests on the socket', async () => {
    const { client } = await LiveClient.connect(wsUrl());
    client.ws.send(`{"type":"subscribe","id":"s","entity":"Todo","filter":{"meta":${nestedText(5_000)}}}`);
    expect((await client.next('error', (m) => m.id === 's')).code).toBe('JSON_TOO_DEEP');
    client.ws.send(`{"type":"fn-call","id":"f","name":"x","args":{"a":${nestedText(5_000)}}}`);
    expect((await client.next('error', (m) => m.id === 'f')).code).toBe('JSON_TOO_DEEP');
    client.ws.send(`{"type":"crdt-subscribe","id":"c","entity":"Todo","rowId":"r","x":${nestedText(5_000)}}`);
    expect((await client.next('error', (m) => m.id === 'c')).code).toBe('JSON_TOO_DEEP');
    client.ws.close();
  });

  it('refuses deep JSON bodies and json field values with 400 JSON_TOO_DEEP on every HTTP write path', async () => {
    const deep = nested(65);
    const paths: Array<[string, string, unknown]> = [
      ['POST', '/api/entities/Todo', { title: 'a', done: false, meta: deep }],
      ['POST', '/api/batch', { operations: [{ op: 'insert', entity: 'Todo', data: { title: 'a', done: false, meta: deep } }] }],
      ['POST', '/api/sync/push', { changes: [{ entity: 'Todo', row_id: 'r1', kind: 'insert', data: { title: 'a', done: false, meta: deep } }] }],
      ['POST', '/api/query/Todo', { meta: deep }],
    ];
    for (const [method, path, body] of paths) {
      const res = await t.request(method, path, { body });
      expect(res.status, path).toBe(400);
      expectEnvelope(res.text, 'JSON_TOO_DEEP');
    }
    const ok = await t.request('POST', '/api/entities/Todo', { body: { title: 'a', done: false, meta: nested(60) } });
    expect(ok.status).toBe(201);
    const list = await t.request('GET', '/api/entities/Todo');
    expect((list.json as { data: unknown[] }).data).toHaveLength(1);
  });

  it('answers a 1,000-term $or with 400 INVALID_QUERY over HTTP and on a socket; 256 terms run', async () => {
    for (const op of ['$or', '$and']) {
      const res = await t.request('POST', '/api/query/Todo', { body: { [op]: orOf(1_000).$or } });
      expect(res.status).toBe(400);
      expectEnvelope(res.text, 'INVALID_QUERY');
      expect(res.text).toMatch(/at most 256 conditions/);
    }
    expect((await t.request('POST', '/api/query/Todo', { body: orOf(255) })).status).toBe(200);
    expect((await t.request('POST', '/api/query/Todo', { body: { $and: orOf(255).$or } })).status).toBe(200);
    const { client } = await LiveClient.connect(wsUrl());
    client.send({ type: 'subscribe', id: 's', entity: 'Todo', filter: orOf(1_000) });
    expect((await client.next('error', (m) => m.id === 's')).code).toBe('INVALID_QUERY');
    client.send({ type: 'subscribe', id: 's2', entity: 'Todo', filter: orOf(255) });
    await client.next('result', (m) => m.id === 's2');
    client.ws.close();
  });

  it('answers a malformed session cookie as an unknown token, over HTTP and on the socket', async () => {
    const res = await t.request('GET', '/api/entities/Todo', { headers: { cookie: 'mast_session=%' } });
    expect(res.status).toBe(401);
    expectEnvelope(res.text, 'INVALID_TOKEN');
    const client = await LiveClient.open(wsUrl(), { headers: { cookie: 'mast_session=%E0%A4%A' } });
    expect((await client.closed).code).toBe(4001);
    expect((await t.request('GET', '/health')).status).toBe(200);
  });

  it('answers POST /api/policy/explain with deeply nested data with 400', async () => {
    const res = await t.request('POST', '/api/policy/explain', { rawBody: `{"entity":"Todo","data":{"x":${nestedText(10_000)}}}`, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(400);
    expectEnvelope(res.text, 'JSON_TOO_DEEP');
  });

  it('answers framework errors in the envelope: bad percent-escapes, over-long ids, 16 KB headers, unparsable requests', async () => {
    const bad = await t.request('GET', '/api/entities/Todo/%zz');
    expect(bad.status).toBe(400);
    expectEnvelope(bad.text, 'INVALID_URL');
    const longId = await t.request('GET', `/api/entities/Todo/${'a'.repeat(128)}`);
    expect(longId.status).toBe(404); // the longest valid id reaches the route
    expectEnvelope(longId.text, 'NOT_FOUND');
    const tooLong = await t.request('POST', `/api/query/${'a'.repeat(2_000)}`);
    expect(tooLong.status).toBe(414);
    expectEnvelope(tooLong.text, 'URL_TOO_LONG');
    const bigUrl = await rawHttp(port, `GET /api/entities/Todo?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(bigUrl.status).toBe(431);
    expectEnvelope(bigUrl.body, 'HEADERS_TOO_LARGE');
    const bigHeader = await rawHttp(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect(bigHeader.status).toBe(431);
    expectEnvelope(bigHeader.body, 'HEADERS_TOO_LARGE');
    const garbage = await rawHttp(port, 'NOT A REQUEST\r\n\r\n');
    expect(garbage.status).toBe(400);
    expectEnvelope(garbage.body, 'INVALID_REQUEST');
    const badJson = await t.request('POST', '/api/entities/Todo', { rawBody: '{"title":' });
    expect(badJson.status).toBe(400);
    expectEnvelope(badJson.text, 'INVALID_JSON');
    expect((await t.request('GET', '/health')).status).toBe(200);
  });
});

describe('hostile CRDT updates', () => {
  const manifest: Manifest = {
    manifest_version: 1,
    name: 'hostile-crdt',
    version: '1',
    routes: [],
    entities: [
      {
        name: 'Doc',
        fields: [
          { name: 'title', type: 'string', optional: false, unique: false },
          { name: 'meta', type: 'json', optional: true, unique: false },
        ],
        indexes: [],
      },
    ],
    policies: [{ name: 'open', entity: 'Doc', allow: 'true' }],
  };
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(manifest);
  });
  afterAll(() => t.close());

  it('refuses an update whose projected json value is nested past the bound, and leaves row and document as they were', async () => {
    expect((await t.request('POST', '/api/entities/Doc', { body: { id: 'd1', title: 'x', meta: { ok: true } } })).status).toBe(201);
    const doc = new LoroDoc();
    doc.import((await serverDoc(t.server, 'Doc', 'd1'))!.export({ mode: 'snapshot' }));
    const from = doc.oplogVersion();
    doc.getMap('row').set('meta', nested(100) as never);
    doc.commit();
    const update = doc.export({ mode: 'update', from });
    const { token } = await t.server.sessions.issue({ userId: 'ann' });
    const res = await fetch(`${t.url}/api/crdt/Doc/d1`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
      body: update,
    });
    expect(res.status).toBe(400);
    expectEnvelope(await res.text(), 'JSON_TOO_DEEP');
    expect((await t.request('GET', '/api/entities/Doc/d1')).json).toEqual({ id: 'd1', title: 'x', meta: { ok: true } });
    expect((await serverDoc(t.server, 'Doc', 'd1'))!.getMap('row').get('meta')).toEqual({ ok: true });
  });
});
