import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '@mast/schema';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { callFn, deployFunctions } from './helpers/functions-app.js';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'fn-stream',
  version: '1',
  routes: [],
  entities: [{ name: 'Note', fields: [{ name: 'text', type: 'string', optional: false, unique: false }], indexes: [] }],
  policies: [{ name: 'open', entity: 'Note', allow: 'true' }],
};

const seen = ((globalThis as { __fnSeen?: Record<string, unknown> }).__fnSeen ??= {});
let t: TestServer;

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const stream = (name: string, args: unknown, accept: string) =>
  fetch(`${t.url}/api/fn/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(args) });

beforeAll(async () => {
  t = await startTestServer(manifest, { fnTimeout: 5000 });
  const set = await deployFunctions(t, {
    lines: `export default action({ args: { n: v.int() }, handler: async (ctx, a) => {
      for (let i = 0; i < a.n; i++) ctx.stream.write(i % 2 ? 'two\\nlines' : { i });
      return { total: a.n };
    } });`,
    failLate: `export default action({ handler: async (ctx) => { ctx.stream.write('partial'); throw ctx.error('UPSTREAM_DOWN', 'The model is unavailable'); } });`,
    badChunk: `export default action({ handler: async (ctx) => { ctx.stream.write(10n); return 'unreachable'; } });`,
    endless: `export default action({ args: { key: v.string() }, handler: async (ctx, a) => {
      ctx.signal.addEventListener('abort', () => { globalThis.__fnSeen[a.key] = ctx.signal.reason?.code ?? 'aborted'; });
      ctx.stream.write('started');
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    } });`,
    add: `export default mutation({ args: { text: v.string() }, handler: (ctx, a) => ctx.db.insert('Note', { text: a.text }) });`,
  });
  expect(set.errors).toEqual([]);
});
afterAll(() => t.close());

describe('streamed results over HTTP', () => {
  it('NDJSON: one line per chunk (newlines inside chunks stay escaped), then the result', async () => {
    const res = await stream('lines', { n: 3 }, 'application/x-ndjson');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([{ chunk: { i: 0 } }, { chunk: 'two\nlines' }, { chunk: { i: 2 } }, { result: { total: 3 } }]);
  });

  it('SSE: data events per chunk, then event: result', async () => {
    const res = await stream('lines', { n: 2 }, 'text/event-stream');
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(await res.text()).toBe('data: {"i":0}\n\ndata: "two\\nlines"\n\nevent: result\ndata: {"total":2}\n\n');
  });

  it('an error after chunks ends the stream with it; one before any chunk is an ordinary error response', async () => {
    const late = await stream('failLate', {}, 'application/x-ndjson');
    expect(late.status).toBe(200);
    expect(
      (await late.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([{ chunk: 'partial' }, { error: { code: 'UPSTREAM_DOWN', message: 'The model is unavailable' } }]);
    const sse = await stream('failLate', {}, 'text/event-stream');
    expect(await sse.text()).toBe('data: "partial"\n\nevent: error\ndata: {"code":"UPSTREAM_DOWN","message":"The model is unavailable"}\n\n');
    const early = await stream('lines', { n: 'three' }, 'application/x-ndjson');
    expect(early.status).toBe(400);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe('INVALID_ARGS');
    const unknown = await stream('nope', {}, 'text/event-stream');
    expect([unknown.status, ((await unknown.json()) as { error: { code: string } }).error.code]).toEqual([404, 'FN_NOT_FOUND']);
  });

  it('a chunk that is not JSON fails the call with FN_RESULT_INVALID', async () => {
    const res = await stream('badChunk', {}, 'application/x-ndjson');
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([400, 'FN_RESULT_INVALID']);
  });

  it('without a streaming Accept header the chunks are dropped and the result is the body', async () => {
    const res = await callFn(t, 'lines', { n: 4 });
    expect([res.status, res.json]).toEqual([200, { total: 4 }]);
  });

  it('a query or mutation asked for a stream answers with just its result', async () => {
    const res = await stream('add', { text: 'streamed mutation' }, 'application/x-ndjson');
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { result: string });
    expect(lines).toEqual([{ result: expect.any(String) }]);
  });

  it('the client disconnecting cancels the action: its signal aborts with FN_CANCELLED; other calls go on', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${t.url}/api/fn/endless`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.once('error', reject);
      req.end(JSON.stringify({ key: 'http-gone' }));
    });
    await until(() => seen['http-gone'] !== undefined);
    expect(seen['http-gone']).toBe('FN_CANCELLED');
    expect((await callFn(t, 'lines', { n: 1 })).status).toBe(200);
  });
});

describe('shutdown with a streamed call in flight', () => {
  it('cancels the call and ends its stream at once instead of waiting out the grace period', async () => {
    const own = await startTestServer(manifest, { fnTimeout: 20_000 });
    let closed = false;
    try {
      const set = await deployFunctions(own, {
        endless: `export default action({ handler: async (ctx) => { ctx.stream.write('started'); await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)); } });`,
      });
      expect(set.errors).toEqual([]);
      const res = await fetch(`${own.url}/api/fn/endless`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' }, body: '{}' });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value);
      expect(text).toBe('{"chunk":"started"}\n');
      const started = Date.now();
      await own.close();
      closed = true;
      // The default grace period is 10 s; the stream must not hold the shutdown for it.
      expect(Date.now() - started).toBeLessThan(3000);
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
      expect(
        text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as unknown),
      ).toEqual([{ chunk: 'started' }, { error: { code: 'FN_CANCELLED', message: expect.any(String) } }]);
    } finally {
      if (!closed) await own.close();
    }
  });
});
