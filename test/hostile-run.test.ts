import { connect } from 'node:net';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { clientMessage, closeCodes, encodeCrdtFrame, errorCatalogue, isErrorCode, serverMessage } from '@mast/protocol';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

/**
 * A generated hostile run against one real server: HTTP requests through fetch, raw bytes over
 * TCP, and WebSocket frames, drawn from a fixed seed so every run sends the same inputs. The
 * server must answer every one inside the contract: no 5xx, every error in the envelope with a
 * catalogue code, sockets answered by protocol messages or closed with a documented code, and
 * nothing logged at error level (an unexpected error). MAST_FUZZ_SEED picks another run.
 */

const seed = Number(process.env.MAST_FUZZ_SEED ?? 12);
const scale = Math.max(1, Math.floor(Number(process.env.MAST_FUZZ_RUNS ?? 0) / 1000));
const ADMIN = 'admin-token-for-the-hostile-run';

/** JSON text nested `depth` deep, built without recursion. */
const deepText = (depth: number, open = '['): string => open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth);

const PATHS = [
  '/api/entities/Todo',
  '/api/entities/Todo/t1',
  '/api/entities/User',
  '/api/entities/Nope',
  '/api/entities/Todo/cursor',
  '/api/query/Todo',
  '/api/query/Nope',
  '/api/batch',
  '/api/transact',
  '/api/sync/pull?since=0',
  '/api/sync/pull?since=-1',
  '/api/sync/pull?since=99999999999999999999',
  '/api/sync/push',
  '/api/fn',
  '/api/fn/nope',
  '/api/policy/explain',
  '/api/manifest',
  '/api/lookup/Todo/slug/x',
  '/api/auth/me',
  '/api/auth/session',
  '/api/auth/guest',
  '/api/auth/password/login',
  '/api/auth/password/reset/request',
  '/api/auth/magic/verify',
  '/api/auth/api-keys',
  '/api/auth/orgs',
  '/api/auth/select-org',
  '/api/jobs',
  '/api/jobs/x/retry',
  '/api/crons',
  '/metrics',
  '/health',
  '/events?entity=Nope',
  '/events?entity=Todo&filter=%7B',
  '/nowhere',
  '/api/entities/Todo/%zz',
  '/api/entities/%E0%A4%A',
  '/api/entities/Todo/' + 'a'.repeat(2_000),
  '/api/query/Todo?x=%ff%fe',
];
const HEADER_VALUES = [
  '',
  'Bearer x',
  'Bearer ' + ADMIN,
  'Bearer mast_s_garbage',
  'Basic Og==',
  'mast_session=%',
  'mast_session=%E0%A4%A; a=b',
  'mast_session=' + 'x'.repeat(5_000),
];

const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        title: fc.oneof(fc.string(), fc.integer()),
        done: fc.oneof(fc.boolean(), fc.string()),
        meta: fc.jsonValue({ maxDepth: 4 }),
        id: fc.oneof(fc.string({ maxLength: 200 }), fc.integer()),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc
    .record({
      operations: fc.array(
        fc.record(
          {
            op: fc.constantFrom('insert', 'update', 'delete', 'x'),
            entity: fc.constantFrom('Todo', 'User', 'Nope'),
            id: fc.string({ maxLength: 10 }),
            data: fc.jsonValue({ maxDepth: 3 }),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
    })
    .map((v) => JSON.stringify(v)),
  fc
    .record({ op: fc.constantFrom('$or', '$and'), n: fc.integer({ min: 0, max: 1_500 }) })
    .map(({ op, n }) => JSON.stringify({ [op]: Array.from({ length: n }, (_, i) => ({ title: `t${i}` })) })),
  fc
    .record({ depth: fc.integer({ min: 10, max: 20_000 }), open: fc.constantFrom('[', '{"a":') })
    .map(({ depth, open }) => `{"entity":"Todo","data":{"meta":${deepText(depth, open)}},"changes":[],"title":${deepText(depth, open)}}`),
  fc.string({ maxLength: 80 }),
  fc.constantFrom('', '{', 'null', '[]', '{"title":1e999}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '\u0000', '"\\ud800"'),
);

const httpInput = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'HEAD'),
  path: fc.oneof(
    fc.constantFrom(...PATHS),
    fc.constantFrom(...PATHS).chain((p) => fc.string({ maxLength: 20 }).map((s) => p + encodeURIComponent(s))),
  ),
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', null),
  authorization: fc.option(fc.constantFrom(...HEADER_VALUES.filter((h) => h.startsWith('B'))), { nil: undefined }),
  cookie: fc.option(fc.constantFrom(...HEADER_VALUES.filter((h) => h.startsWith('mast'))), { nil: undefined }),
  body: fc.option(jsonBody, { nil: undefined }),
});

const rawInput = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => s + '\r\n\r\n'),
  fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'BREW', 'G ET', ''),
      path: fc.oneof(fc.constantFrom(...PATHS), fc.string({ maxLength: 30 })),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', ''),
      header: fc.constantFrom(
        'Host: x',
        'Content-Length: -1',
        'Content-Length: 5\r\nContent-Length: 6',
        'Transfer-Encoding: chunked',
        'Transfer-Encoding: chunked\r\nContent-Length: 3',
        'X: ' + 'y'.repeat(17_000),
        'Bad Header',
        ': empty',
        'Host: x\r\nContent-Type: application/json\r\nContent-Length: 2',
      ),
    })
    .map(
      ({ method, path, version, header }) => `${method} ${path} ${version}\r\n${header}\r\n\r\n${header.includes('chunked') ? 'zz\r\n' : header.endsWith('Length: 2') ? '{]' : ''}`,
    ),
  fc.integer({ min: 16_000, max: 40_000 }).map((n) => `GET /health?${'a'.repeat(n)} HTTP/1.1\r\nHost: x\r\n\r\n`),
);

const TYPES = clientMessage.options.map((o) => o.shape.type.value);
const FRAME_KEYS = ['id', 'room', 'entity', 'filter', 'presence', 'state', 'data', 'topic', 'topics', 'name', 'args', 'since', 'subscriptions', 'include', 'rowId', 'vv'];
const wsInput = fc.oneof(
  fc
    .record({
      type: fc.constantFrom(...TYPES, 'crdt-subscribe', 'crdt-resync', 'nope'),
      fields: fc.dictionary(fc.constantFrom(...FRAME_KEYS), fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('r1', 'Todo', 'topic', 'x')), { maxKeys: 5 }),
    })
    .map(({ type, fields }) => ({ text: JSON.stringify({ type, ...fields }) })),
  fc
    .record({ type: fc.constantFrom('join', 'presence', 'broadcast', 'subscribe', 'fn-call', 'crdt-subscribe'), depth: fc.integer({ min: 50, max: 30_000 }) })
    .map(({ type, depth }) => ({
      text: `{"type":"${type}","id":"d","room":"r1","topic":"t","entity":"Todo","name":"f","presence":${deepText(depth)},"state":${deepText(depth)},"data":${deepText(depth)},"filter":{"meta":${deepText(depth)}},"args":{"a":${deepText(depth)}}}`,
    })),
  fc
    .record({ n: fc.integer({ min: 1, max: 2_000 }) })
    .map(({ n }) => ({ text: JSON.stringify({ type: 'subscribe', id: `s${n}`, entity: 'Todo', filter: { $or: Array.from({ length: n }, (_, i) => ({ title: `t${i}` })) } }) })),
  fc.string({ unit: 'binary', maxLength: 100 }).map((text) => ({ text })),
  fc.uint8Array({ maxLength: 80 }).map((bytes) => ({ binary: bytes })),
  fc
    .record({ type: fc.integer({ min: 0, max: 255 }), rowId: fc.string({ maxLength: 10 }), payload: fc.uint8Array({ maxLength: 60 }) })
    .map(({ type, rowId, payload }) => ({ binary: encodeCrdtFrame(type, 'Todo', rowId, payload) })),
);

const DOCUMENTED_CLOSES = new Set<number>([...Object.values(closeCodes).map((c) => c.code), 1000]);

/** Checks one HTTP answer against the contract; returns a problem or null. */
function httpProblem(status: number, contentType: string | null, body: string): string | null {
  if (status >= 500) return `status ${status}: ${body.slice(0, 200)}`;
  if (status < 400) return null;
  if (!contentType?.includes('application/json')) return `status ${status} with content-type ${contentType}: ${body.slice(0, 200)}`;
  try {
    const json = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    const code = json.error?.code;
    if (typeof code !== 'string' || !isErrorCode(code) || typeof json.error?.message !== 'string') return `status ${status} outside the envelope: ${body.slice(0, 200)}`;
    if (errorCatalogue[code].status !== status) return `status ${status} with code ${code} (catalogued ${errorCatalogue[code].status})`;
  } catch {
    return `status ${status} body is not JSON: ${body.slice(0, 200)}`;
  }
  return null;
}

/** Sends raw bytes, reads until the server closes (or 2 s pass), and returns the answer. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, 2_000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', done);
    socket.on('close', done);
    socket.end(Buffer.from(text, 'latin1'));
  });
}

describe('a generated hostile run against a real server', () => {
  let t: TestServer;
  let port: number;
  const errorLogs: string[] = [];
  const counts = { http: 0, raw: 0, ws: 0 };

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, callback) {
        errorLogs.push(String(chunk));
        callback();
      },
    });
    t = await startTestServer(
      testManifest,
      { adminToken: ADMIN, dev: true, wsMessageRate: 100_000, rateLimit: 0, passwordHashCost: 10 },
      { logger: pino({ level: 'error' }, sink) },
    );
    port = Number(new URL(t.url).port);
  });
  afterAll(async () => {
    // The numbers behind "at least 1,000 inputs, 0 crashes, 0 5xx, 0 answers outside the envelope".
    console.log(`hostile run: ${counts.http} HTTP, ${counts.raw} raw HTTP, ${counts.ws} WebSocket inputs`);
    await t.close();
  });

  it('answers every HTTP request with a 2xx/3xx or an envelope error below 500', async () => {
    const problems: string[] = [];
    for (const input of fc.sample(httpInput, { seed, numRuns: 600 * scale })) {
      const headers: Record<string, string> = {};
      if (input.contentType !== null && input.body !== undefined) headers['content-type'] = input.contentType;
      if (input.authorization) headers.authorization = input.authorization;
      if (input.cookie) headers.cookie = input.cookie;
      const body_ = input.body !== undefined && input.method !== 'GET' && input.method !== 'HEAD' ? input.body : undefined;
      const abort = new AbortController();
      const res = await fetch(t.url + input.path, { method: input.method, headers, ...(body_ !== undefined ? { body: body_ } : {}), signal: abort.signal, redirect: 'manual' });
      const contentType = res.headers.get('content-type');
      // A live stream that opened is a 200; it is not read to its end.
      const body = contentType?.includes('text/event-stream') ? (abort.abort(), '') : await res.text();
      const problem = input.method === 'HEAD' ? (res.status >= 500 ? `HEAD status ${res.status}` : null) : httpProblem(res.status, contentType, body);
      if (problem) problems.push(`${input.method} ${input.path.slice(0, 80)}: ${problem}`);
      counts.http++;
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('answers raw malformed HTTP with an envelope error, or not at all, never with a 5xx', async () => {
    const problems: string[] = [];
    for (const text of fc.sample(rawInput, { seed, numRuns: 250 * scale })) {
      const answer = await rawExchange(port, text);
      counts.raw++;
      if (answer === '') continue; // the server closed without answering (e.g. an unsupported protocol version)
      const head = answer.slice(0, answer.indexOf('\r\n\r\n'));
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: ([^\r\n]+)/i.exec(head)?.[1] ?? null;
      const chunked = /\r\ntransfer-encoding: chunked/i.test(head);
      let body = answer.slice(head.length + 4);
      // A keep-alive answer may be followed by another (a pipelined second request): judge the first.
      const length = /\r\ncontent-length: (\d+)/i.exec(head);
      if (length) body = Buffer.from(body, 'latin1').subarray(0, Number(length[1])).toString('utf8');
      if (status === 0) problems.push(`no status line: ${JSON.stringify(answer.slice(0, 120))}`);
      else if (!chunked) {
        const problem = httpProblem(status, contentType, body);
        if (problem) problems.push(`${JSON.stringify(text.slice(0, 60))}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('answers every WebSocket frame with protocol messages or a documented close, and keeps serving', async () => {
    const { token } = await t.server.sessions.issue({ userId: 'hostile' });
    const inputs = fc.sample(wsInput, { seed, numRuns: 400 * scale });
    const problems: string[] = [];
    const batches = 8;
    for (let b = 0; b < batches; b++) {
      const ws = new WebSocket(t.url.replace('http', 'ws') + '/ws', { headers: { authorization: `Bearer ${token}` } });
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      let closeCode: number | null = null;
      void closed.then((code) => (closeCode = code));
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        try {
          const message = serverMessage.parse(JSON.parse(String(data)));
          if (message.type === 'error' && (!isErrorCode(message.code) || message.code === 'INTERNAL')) problems.push(`error ${message.code}: ${message.message}`);
        } catch (err) {
          problems.push(`not a protocol message: ${String(data).slice(0, 120)} (${String(err).slice(0, 80)})`);
        }
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      for (const input of inputs.slice((b * inputs.length) / batches, ((b + 1) * inputs.length) / batches)) {
        if (closeCode !== null) break;
        if ('binary' in input) ws.send(input.binary, { binary: true });
        else ws.send(input.text);
        counts.ws++;
      }
      // The socket still serves (a known request is answered), or it closed with a documented code.
      if (closeCode === null) {
        const answered = new Promise<void>((resolve) => ws.on('message', (data) => String(data).includes('"id":"alive"') && resolve()));
        ws.send(JSON.stringify({ type: 'unsubscribe', id: 'alive' }));
        await Promise.race([answered, closed]);
        ws.close(1000);
      }
      const code = await closed;
      if (!DOCUMENTED_CLOSES.has(code)) problems.push(`closed with ${code}`);
    }
    expect(problems).toEqual([]);
    expect((await t.request('GET', '/health')).status).toBe(200);
  }, 60_000);

  it('sent at least 1,000 inputs, and nothing was logged as an unexpected error', () => {
    expect(counts.http + counts.raw + counts.ws).toBeGreaterThanOrEqual(1_000);
    expect(errorLogs).toEqual([]);
  });
});
