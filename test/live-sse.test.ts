import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

interface SseEvent {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

/** Reads an event stream and hands out events as they arrive. */
class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  readonly #events: SseEvent[] = [];

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  async next(event: string): Promise<SseEvent> {
    for (;;) {
      const index = this.#events.findIndex((e) => e.event === event);
      if (index !== -1) return this.#events.splice(index, 1)[0]!;
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`stream ended before a "${event}" event`);
      this.#buffer += this.#decoder.decode(value, { stream: true });
      let end: number;
      while ((end = this.#buffer.indexOf('\n\n')) !== -1) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(': ');
          fields.set(line.slice(0, colon), line.slice(colon + 2));
        }
        if (fields.has('data'))
          this.#events.push({ id: fields.get('id'), event: fields.get('event') ?? 'message', data: JSON.parse(fields.get('data')!) as Record<string, unknown> });
      }
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

let t: TestServer;

async function insert(data: Record<string, unknown>): Promise<{ id: string; seq: number }> {
  const res = await t.request('POST', '/api/entities/Todo', { body: data });
  return res.json as { id: string; seq: number };
}

async function open(filter: unknown, lastEventId?: string, token?: string): Promise<{ res: Response; events: SseReader }> {
  const res = await fetch(`${t.url}/events?entity=Todo&filter=${encodeURIComponent(JSON.stringify(filter))}`, {
    headers: { ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
  });
  return { res, events: new SseReader(res.body!) };
}

beforeAll(async () => {
  t = await startTestServer(testManifest);
});
afterAll(() => t.close());

describe('live query over Server-Sent Events', () => {
  it('streams the result and diffs with id = seq, and resumes from Last-Event-ID', async () => {
    const first = await insert({ title: 'first', done: false, ownerId: 'sse' });
    const filter = { ownerId: 'sse' };
    const { res, events } = await open(filter);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const result = await events.next('result');
    expect(result.data).toMatchObject({ type: 'result', rows: [{ id: first.id }] });
    expect(result.id).toBe(String(result.data.seq));
    const second = await insert({ title: 'second', done: false, ownerId: 'sse' });
    const diff = await events.next('diff');
    expect(diff).toMatchObject({ id: String(second.seq), data: { type: 'diff', added: [{ id: second.id }] } });
    await events.cancel();

    const missed = await insert({ title: 'missed', done: false, ownerId: 'sse' });
    const again = await open(filter, diff.id);
    const resumed = await again.events.next('resumed');
    expect(resumed.data).toMatchObject({ added: [{ id: missed.id }], changed: [], removed: [] });
    const live = await insert({ title: 'live', done: false, ownerId: 'sse' });
    expect(await again.events.next('diff')).toMatchObject({ id: String(live.seq), data: { added: [{ id: live.id }] } });
    await again.events.cancel();
  });

  it('sends a fresh result when Last-Event-ID is outside the change log', async () => {
    await insert({ title: 'x', done: false, ownerId: 'sse-ahead' });
    const { events } = await open({ ownerId: 'sse-ahead' }, '999999');
    expect((await events.next('result')).data).toMatchObject({ rows: [{ title: 'x' }] });
    await events.cancel();
  });

  it('ends with SESSION_EXPIRED when the session expires, with no write to wake it', async () => {
    const { token, session } = await t.server.sessions.issue({ userId: 'brief', expiresIn: 1 });
    const { events } = await open({ ownerId: 'sse-expiry' }, undefined, token);
    await events.next('result');
    const before = await insert({ title: 'before', done: false, ownerId: 'sse-expiry' });
    expect((await events.next('diff')).data).toMatchObject({ added: [{ id: before.id }] });
    // Nothing is written around the expiry: the stream must end by its own timer.
    const error = await events.next('error');
    expect(error.data).toMatchObject({ code: 'SESSION_EXPIRED' });
    expect(Date.now()).toBeGreaterThanOrEqual(session.expiresAt);
    await insert({ title: 'after', done: false, ownerId: 'sse-expiry' });
    await expect(events.next('diff')).rejects.toThrow('stream ended');
  });

  it('answers a bad request with the JSON error envelope before streaming', async () => {
    const res = await fetch(`${t.url}/events?entity=Nope`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'ENTITY_NOT_FOUND' } });
    const badFilter = await fetch(`${t.url}/events?entity=Todo&filter=%7Bnope`);
    expect(badFilter.status).toBe(400);
    expect(await badFilter.json()).toMatchObject({ error: { code: 'INVALID_JSON' } });
  });
});
