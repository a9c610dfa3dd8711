import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

/**
 * Entity API scenarios, run in order against one server: method, path, body, expected status,
 * fragments the body must contain and must not contain.
 */
interface Scenario {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  status: number;
  has?: string[];
  hasNot?: string[];
  check?: (json: any) => void;
}

const ADMIN = 'test-admin-token-0123456789';

const scenarios: Scenario[] = [
  // inserts
  { name: 'insert with a client id', method: 'POST', path: '/api/entities/User', body: { id: 'u1', email: 'ada@example.com', name: 'Ada' }, status: 201, has: ['"id":"u1"'] },
  {
    name: 'insert todo t1',
    method: 'POST',
    path: '/api/entities/Todo',
    body: {
      id: 't1',
      title: 'write tests',
      done: false,
      priority: 2,
      score: 1.5,
      due: '2026-01-02T03:04:05Z',
      meta: { tags: ['a', 'b'], n: 1 },
      ownerId: 'u1',
      slug: 'write-tests',
    },
    status: 201,
  },
  { name: 'insert todo t2', method: 'POST', path: '/api/entities/Todo', body: { id: 't2', title: 'ship it', done: true, priority: 5 }, status: 201 },
  {
    name: 'insert todo t3 with SQL-looking text',
    method: 'POST',
    path: '/api/entities/Todo',
    body: { id: 't3', title: "Robert'); DROP TABLE Todo;--", done: false, priority: 1, ownerId: 'u1' },
    status: 201,
  },
  {
    name: 'insert generates a 40-hex id',
    method: 'POST',
    path: '/api/entities/Todo',
    body: { title: 'generated', done: false },
    status: 201,
    check: (j) => expect(j.id).toMatch(/^[0-9a-f]{40}$/),
  },
  // reads
  {
    name: 'get returns JSON booleans, json values and ISO datetimes',
    method: 'GET',
    path: '/api/entities/Todo/t1',
    status: 200,
    check: (j) =>
      expect(j).toEqual({
        id: 't1',
        title: 'write tests',
        done: false,
        priority: 2,
        score: 1.5,
        due: '2026-01-02T03:04:05.000Z',
        meta: { tags: ['a', 'b'], n: 1 },
        ownerId: 'u1',
        slug: 'write-tests',
      }),
  },
  { name: 'SQL-looking text is stored verbatim', method: 'GET', path: '/api/entities/Todo/t3', status: 200, has: ['DROP TABLE Todo;--'] },
  { name: 'get of a missing id', method: 'GET', path: '/api/entities/Todo/nope', status: 404, has: ['"code":"NOT_FOUND"', 'Todo with id \\"nope\\" not found'] },
  { name: 'unknown entity', method: 'GET', path: '/api/entities/Nope', status: 400, has: ['"code":"ENTITY_NOT_FOUND"'] },
  {
    name: 'list with limit and offset',
    method: 'GET',
    path: '/api/entities/Todo?limit=2&offset=1',
    status: 200,
    check: (j) => {
      expect(j.count).toBe(2);
      expect(j.limit).toBe(2);
      expect(j.offset).toBe(1);
      expect(j.has_more).toBe(true);
      expect(j.data.map((r: any) => r.id)).toEqual(['t1', 't2']);
    },
  },
  { name: 'list limit over the maximum', method: 'GET', path: '/api/entities/Todo?limit=100000', status: 400, has: ['"code":"LIMIT_TOO_LARGE"'] },
  { name: 'list with a non-numeric limit', method: 'GET', path: '/api/entities/Todo?limit=ten', status: 400, has: ['"code":"INVALID_QUERY"'] },
  {
    name: 'cursor first page',
    method: 'GET',
    path: '/api/entities/Todo/cursor?limit=2',
    status: 200,
    check: (j) => {
      expect(j.data).toHaveLength(2);
      expect(j.has_more).toBe(true);
      expect(j.next_cursor).toBe(j.data[1].id);
    },
  },
  {
    name: 'cursor after t2',
    method: 'GET',
    path: '/api/entities/Todo/cursor?after=t2&limit=10',
    status: 200,
    check: (j) => {
      expect(j.data.map((r: any) => r.id)).toEqual(['t3']);
      expect(j.has_more).toBe(false);
      expect(j.next_cursor).toBe('t3');
    },
  },
  { name: 'lookup by unique field', method: 'GET', path: '/api/lookup/User/email/ada%40example.com', status: 200, has: ['"id":"u1"'] },
  { name: 'lookup by int field reads the value as an int', method: 'GET', path: '/api/lookup/Todo/priority/5', status: 200, has: ['"id":"t2"'] },
  { name: 'lookup miss', method: 'GET', path: '/api/lookup/User/email/nobody@example.com', status: 404, has: ['"code":"NOT_FOUND"'] },
  { name: 'lookup on an unknown field', method: 'GET', path: '/api/lookup/User/password/x', status: 400, has: ['"code":"INVALID_COLUMN"'] },
  // filtered queries
  {
    name: 'query by equality on a bool',
    method: 'POST',
    path: '/api/query/Todo',
    body: { done: true },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t2']),
  },
  {
    name: 'query with $gte/$lt and order desc',
    method: 'POST',
    path: '/api/query/Todo',
    body: { priority: { $gte: 1, $lt: 5 }, $order: { priority: 'desc' } },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t1', 't3']),
  },
  {
    name: 'query with $in and $limit',
    method: 'POST',
    path: '/api/query/Todo',
    body: { id: { $in: ['t1', 't2', 'zzz'] }, $limit: 1 },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t1']),
  },
  {
    name: 'query with $nin',
    method: 'POST',
    path: '/api/query/Todo',
    body: { id: { $nin: ['t1', 't2'] }, ownerId: 'u1' },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t3']),
  },
  {
    name: 'query with $ne counts nulls as not equal',
    method: 'POST',
    path: '/api/query/Todo',
    body: { ownerId: { $ne: 'u1' }, id: { $in: ['t1', 't2', 't3'] } },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t2']),
  },
  {
    name: 'query with null matches missing values',
    method: 'POST',
    path: '/api/query/Todo',
    body: { ownerId: null, done: true },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t2']),
  },
  {
    name: 'query with $exists',
    method: 'POST',
    path: '/api/query/Todo',
    body: { meta: { $exists: true } },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t1']),
  },
  {
    name: 'query with $like substring is case-sensitive',
    method: 'POST',
    path: '/api/query/Todo',
    body: { title: { $like: 'Ship' } },
    status: 200,
    check: (j) => expect(j).toEqual([]),
  },
  {
    name: 'query with $ilike',
    method: 'POST',
    path: '/api/query/Todo',
    body: { title: { $ilike: 'SHIP' } },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t2']),
  },
  {
    name: 'query with $or',
    method: 'POST',
    path: '/api/query/Todo',
    body: { $or: [{ id: 't1' }, { priority: 5 }] },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t1', 't2']),
  },
  {
    name: 'query with datetime comparison',
    method: 'POST',
    path: '/api/query/Todo',
    body: { due: { $gt: '2026-01-01' } },
    status: 200,
    check: (j) => expect(j.map((r: any) => r.id)).toEqual(['t1']),
  },
  { name: 'query with an unknown operator', method: 'POST', path: '/api/query/Todo', body: { priority: { $regex: '.*' } }, status: 400, has: ['"code":"INVALID_QUERY"', '$regex'] },
  { name: 'query on an unknown field', method: 'POST', path: '/api/query/Todo', body: { nope: 1 }, status: 400, has: ['"code":"INVALID_COLUMN"', '"fields":["nope"]'] },
  {
    name: 'query with a wrongly typed value',
    method: 'POST',
    path: '/api/query/Todo',
    body: { priority: 'high' },
    status: 400,
    has: ['"code":"INVALID_FIELD_TYPE"', 'Todo.priority'],
  },
  { name: 'query $limit over the maximum', method: 'POST', path: '/api/query/Todo', body: { $limit: 5000 }, status: 400, has: ['"code":"LIMIT_TOO_LARGE"'] },
  { name: 'query with a bad order direction', method: 'POST', path: '/api/query/Todo', body: { $order: { title: 'sideways' } }, status: 400, has: ['"code":"INVALID_QUERY"'] },
  { name: 'query with SQL in a field name', method: 'POST', path: '/api/query/Todo', body: { 'title" OR 1=1 --': 'x' }, status: 400, has: ['"code":"INVALID_COLUMN"'] },
  { name: 'query body that is not an object', method: 'POST', path: '/api/query/Todo', body: [1, 2], status: 400, has: ['"code":"INVALID_QUERY"'] },
  // bad writes
  { name: 'malformed JSON', method: 'POST', path: '/api/entities/Todo', rawBody: '{"title": "x",', status: 400, has: ['"code":"INVALID_JSON"'] },
  { name: 'body that is not an object', method: 'POST', path: '/api/entities/Todo', body: ['x'], status: 400, has: ['"code":"INVALID_DATA"'] },
  { name: 'unknown field', method: 'POST', path: '/api/entities/Todo', body: { title: 'x', done: false, colour: 'red' }, status: 400, has: ['"code":"INVALID_COLUMN"', 'colour'] },
  { name: 'wrong type', method: 'POST', path: '/api/entities/Todo', body: { title: 'x', done: 'yes' }, status: 400, has: ['"code":"INVALID_FIELD_TYPE"', 'Todo.done'] },
  {
    name: 'int field with a float',
    method: 'POST',
    path: '/api/entities/Todo',
    body: { title: 'x', done: false, priority: 1.5 },
    status: 400,
    has: ['"code":"INVALID_FIELD_TYPE"'],
  },
  {
    name: 'datetime that is not ISO',
    method: 'POST',
    path: '/api/entities/Todo',
    body: { title: 'x', done: false, due: 'next tuesday' },
    status: 400,
    has: ['"code":"INVALID_FIELD_TYPE"', 'Todo.due'],
  },
  { name: 'missing required field', method: 'POST', path: '/api/entities/Todo', body: { done: false }, status: 400, has: ['"code":"MISSING_FIELD"', '"fields":["title"]'] },
  { name: 'required field set to null', method: 'POST', path: '/api/entities/Todo', body: { title: null, done: false }, status: 400, has: ['"code":"MISSING_FIELD"'] },
  {
    name: 'duplicate unique value',
    method: 'POST',
    path: '/api/entities/User',
    body: { email: 'ada@example.com' },
    status: 409,
    has: ['"code":"UNIQUE_VIOLATION"', '"fields":["email"]'],
  },
  {
    name: 'duplicate client id',
    method: 'POST',
    path: '/api/entities/Todo',
    body: { id: 't1', title: 'again', done: false },
    status: 409,
    has: ['"code":"UNIQUE_VIOLATION"', '"fields":["id"]'],
  },
  { name: 'invalid client id', method: 'POST', path: '/api/entities/Todo', body: { id: 'has space', title: 'x', done: false }, status: 400, has: ['"code":"INVALID_ID"'] },
  {
    name: 'unsupported content type',
    method: 'POST',
    path: '/api/entities/Todo',
    rawBody: 'title=x',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
    has: ['"code":"UNSUPPORTED_MEDIA_TYPE"'],
  },
  { name: 'PUT is not allowed', method: 'PUT', path: '/api/entities/Todo/t1', body: { title: 'x' }, status: 405, has: ['"code":"METHOD_NOT_ALLOWED"'] },
  // updates and deletes
  { name: 'patch', method: 'PATCH', path: '/api/entities/Todo/t1', body: { done: true, priority: null }, status: 200, has: ['"updated":true'] },
  {
    name: 'patch applied',
    method: 'GET',
    path: '/api/entities/Todo/t1',
    status: 200,
    check: (j) => {
      expect(j.done).toBe(true);
      expect(j.priority).toBeNull();
      expect(j.title).toBe('write tests');
    },
  },
  { name: 'patch of a missing row', method: 'PATCH', path: '/api/entities/Todo/nope', body: { done: true }, status: 404, has: ['"code":"NOT_FOUND"'] },
  { name: 'patch with a wrong type', method: 'PATCH', path: '/api/entities/Todo/t1', body: { done: 1 }, status: 400, has: ['"code":"INVALID_FIELD_TYPE"'] },
  { name: 'patch sets a required field to null', method: 'PATCH', path: '/api/entities/Todo/t1', body: { title: null }, status: 400, has: ['"code":"MISSING_FIELD"'] },
  { name: 'patch changes the id', method: 'PATCH', path: '/api/entities/Todo/t1', body: { id: 't9' }, status: 400, has: ['"code":"IMMUTABLE_FIELD"'] },
  { name: 'empty patch', method: 'PATCH', path: '/api/entities/Todo/t1', body: {}, status: 400, has: ['"code":"INVALID_DATA"'] },
  { name: 'patch to a taken unique value', method: 'PATCH', path: '/api/entities/Todo/t2', body: { slug: 'write-tests' }, status: 409, has: ['"code":"UNIQUE_VIOLATION"'] },
  {
    name: 'failed patches changed nothing',
    method: 'GET',
    path: '/api/entities/Todo/t2',
    status: 200,
    check: (j) => {
      expect(j.slug).toBeNull();
      expect(j.done).toBe(true);
    },
  },
  { name: 'delete', method: 'DELETE', path: '/api/entities/Todo/t3', status: 200, has: ['"deleted":true'] },
  { name: 'deleted row is gone', method: 'GET', path: '/api/entities/Todo/t3', status: 404 },
  { name: 'delete again', method: 'DELETE', path: '/api/entities/Todo/t3', status: 404, has: ['"code":"NOT_FOUND"'] },
  { name: 'delete with a JSON content type and no body', method: 'DELETE', path: '/api/entities/Todo/t2', headers: { 'content-type': 'application/json' }, status: 200 },
  // system
  { name: 'health', method: 'GET', path: '/health', status: 200, has: ['"status":"ok"'] },
  { name: 'unknown route', method: 'GET', path: '/api/nothing-here', status: 404, has: ['"code":"NOT_FOUND"'] },
  { name: 'manifest hides nothing it should not show', method: 'GET', path: '/api/manifest', status: 200, has: ['"name":"Todo"'] },
  { name: 'full manifest needs admin', method: 'GET', path: '/api/manifest?full=1', status: 403, has: ['"code":"FORBIDDEN"'] },
  { name: 'full manifest for admin', method: 'GET', path: '/api/manifest?full=1', headers: { authorization: `Bearer ${ADMIN}` }, status: 200 },
  { name: 'metrics need admin outside dev', method: 'GET', path: '/metrics', status: 401, has: ['"code":"UNAUTHORIZED"'] },
  {
    name: 'metrics for admin',
    method: 'GET',
    path: '/metrics',
    headers: { authorization: `Bearer ${ADMIN}` },
    status: 200,
    has: ['mast_http_requests_total', 'mast_changelog_head_seq', 'mast_db_size_bytes', 'mast_http_request_duration_seconds_bucket'],
    hasNot: [ADMIN],
  },
  {
    name: 'a wrong admin token is refused, not treated as anonymous',
    method: 'GET',
    path: '/api/manifest?full=1',
    headers: { authorization: `Bearer ${ADMIN}x` },
    status: 401,
    has: ['"code":"INVALID_TOKEN"'],
    hasNot: [ADMIN],
  },
];

describe('entity API scenarios', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(testManifest, { adminToken: ADMIN });
  });
  afterAll(async () => {
    await t.close();
  });

  for (const s of scenarios) {
    it(s.name, async () => {
      const res = await t.request(s.method, s.path, {
        ...(s.body !== undefined ? { body: s.body } : {}),
        ...(s.rawBody !== undefined ? { rawBody: s.rawBody } : {}),
        ...(s.headers ? { headers: s.headers } : {}),
      });
      expect(res.status, res.text).toBe(s.status);
      for (const fragment of s.has ?? []) expect(res.text).toContain(fragment);
      for (const fragment of s.hasNot ?? []) expect(res.text).not.toContain(fragment);
      if (s.status >= 400 && res.headers.get('content-type')?.includes('json')) {
        expect(Object.keys(res.json as object)).toContain('error');
      }
      s.check?.(res.json);
    });
  }

  it('reads a body as JSON whether declared application/json, text/plain or not at all; any other type is 415', async () => {
    const post = (headers: Record<string, string>, title: string) =>
      // A Uint8Array body makes fetch send no Content-Type of its own.
      fetch(`${t.url}/api/entities/Todo`, { method: 'POST', headers, body: new TextEncoder().encode(JSON.stringify({ title, done: false })) });
    for (const [headers, title] of [
      [{ 'content-type': 'application/json' }, 'declared'],
      [{ 'content-type': 'text/plain;charset=UTF-8' }, 'plain'],
      [{}, 'undeclared'],
    ] as const) {
      const res = await post(headers, title);
      expect(res.status, title).toBe(201);
    }
    const form = await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'form');
    expect(form.status).toBe(415);
    expect(await form.json()).toEqual({
      error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the body as JSON (Content-Type: application/json), not application/x-www-form-urlencoded' },
    });
    const bad = await fetch(`${t.url}/api/entities/Todo`, { method: 'POST', body: new TextEncoder().encode('{"title":') });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_JSON');
  });
});
