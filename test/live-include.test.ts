import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '@mast/schema';
import { ADMIN } from '@mast/server';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { LiveClient } from './helpers/live-client.js';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'include',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Author',
      fields: [
        { name: 'name', type: 'string', optional: false, unique: false },
        { name: 'hidden', type: 'bool', optional: true, unique: false },
      ],
      indexes: [],
      relations: [{ name: 'posts', target: 'Post', field: 'authorId', many: true }],
    },
    {
      name: 'Post',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'topic', type: 'string', optional: false, unique: false },
        { name: 'authorId', type: 'id(Author)', optional: true, unique: false },
      ],
      indexes: [],
      relations: [{ name: 'author', target: 'Author', field: 'authorId' }],
    },
  ],
  policies: [
    // Hidden authors are readable by nobody but the admin: included rows must obey this.
    { name: 'authors', entity: 'Author', allowRead: 'data.hidden != true', allowWrite: 'false' },
    { name: 'posts', entity: 'Post', allow: 'true' },
  ],
};

let t: TestServer;
let wsUrl: string;
let token: string;

type Op = { op: 'insert'; entity: string; data: Record<string, unknown> } | { op: 'update'; entity: string; id: string; data: Record<string, unknown> };

async function write(op: Op): Promise<{ id: string; seq: number }> {
  const [result] = (await t.server.writes.apply([op], { auth: ADMIN })).results;
  return { id: result!.id, seq: result!.seq };
}

beforeAll(async () => {
  t = await startTestServer(manifest);
  wsUrl = t.url.replace('http', 'ws') + '/ws';
  token = (await t.server.sessions.issue({ userId: 'reader' })).token;
});
afterAll(() => t.close());

describe('include on a live query', () => {
  it('carries each related row under its read policy, and keeps it live', async () => {
    const ann = await write({ op: 'insert', entity: 'Author', data: { name: 'Ann' } });
    const ghost = await write({ op: 'insert', entity: 'Author', data: { name: 'Ghost', hidden: true } });
    const other = await write({ op: 'insert', entity: 'Author', data: { name: 'Other' } });
    const p1 = await write({ op: 'insert', entity: 'Post', data: { title: 'p1', topic: 'live', authorId: ann.id } });
    const p2 = await write({ op: 'insert', entity: 'Post', data: { title: 'p2', topic: 'live', authorId: ghost.id } });
    const p3 = await write({ op: 'insert', entity: 'Post', data: { title: 'p3', topic: 'live' } });

    const { client } = await LiveClient.connect(wsUrl, { token });
    client.send({ type: 'subscribe', id: 's', entity: 'Post', filter: { topic: 'live', $order: { title: 'asc' } }, include: ['author'] });
    const result = await client.next('result');
    expect(result.rows).toEqual([
      expect.objectContaining({ id: p1.id, author: expect.objectContaining({ id: ann.id, name: 'Ann' }) }),
      // A related row the reader may not read is null, exactly like a missing one.
      expect.objectContaining({ id: p2.id, author: null }),
      expect.objectContaining({ id: p3.id, author: null }),
    ]);
    expect(JSON.stringify(result.rows)).not.toContain('Ghost');

    // A change to an author nobody in the window references sends nothing; the next diff is the rename.
    await write({ op: 'update', entity: 'Author', id: other.id, data: { name: 'Other 2' } });
    const renamed = await write({ op: 'update', entity: 'Author', id: ann.id, data: { name: 'Ann B.' } });
    expect(await client.next('diff')).toMatchObject({ seq: renamed.seq, added: [], removed: [], changed: [{ id: p1.id, author: { id: ann.id, name: 'Ann B.' } }] });

    // The related row becomes unreadable: the post stays, its author turns null.
    const hidden = await write({ op: 'update', entity: 'Author', id: ann.id, data: { hidden: true } });
    expect(await client.next('diff')).toMatchObject({ seq: hidden.seq, changed: [{ id: p1.id, author: null }] });

    // A new row and a re-pointed row carry their related rows.
    const p4 = await write({ op: 'insert', entity: 'Post', data: { title: 'p4', topic: 'live', authorId: other.id } });
    expect(await client.next('diff')).toMatchObject({ seq: p4.seq, added: [{ id: p4.id, author: { name: 'Other 2' } }], changed: [], removed: [] });
    const moved = await write({ op: 'update', entity: 'Post', id: p3.id, data: { authorId: other.id } });
    expect(await client.next('diff')).toMatchObject({ seq: moved.seq, changed: [{ id: p3.id, author: { id: other.id } }] });
    expect(client.unread()).toEqual([]);

    // Resume cannot build a delta from the change log for such a window: it gets a result.
    client.close();
    const { client: again } = await LiveClient.connect(wsUrl, { token });
    again.send({ type: 'resume', id: 'r', since: p4.seq, subscriptions: [{ id: 's', entity: 'Post', filter: { topic: 'live', $order: { title: 'asc' } }, include: ['author'] }] });
    const resumed = await again.next('result');
    expect(resumed.rows.map((r) => [r.title, (r.author as { name?: string } | null)?.name ?? null])).toEqual([
      ['p1', null],
      ['p2', null],
      ['p3', 'Other 2'],
      ['p4', 'Other 2'],
    ]);
    await again.next('ack');
    again.close();
  });

  it.each([
    ['an unknown relation', 'Post', ['editor'], /Unknown relation "editor" on Post \(to-one relations: author\)/],
    ['a to-many relation', 'Author', ['posts'], /to-many.*subscribe to Post with a filter on authorId/],
  ])('refuses %s with INVALID_QUERY', async (_what, entity, include, message) => {
    const { client } = await LiveClient.connect(wsUrl, { token });
    client.send({ type: 'subscribe', id: 'bad', entity, include });
    const error = await client.next('error');
    expect(error).toMatchObject({ id: 'bad', code: 'INVALID_QUERY' });
    expect(error.message).toMatch(message);
    client.close();
  });

  it('works over SSE with ?include=, a bad relation is an HTTP error before any event', async () => {
    const carl = await write({ op: 'insert', entity: 'Author', data: { name: 'Carl' } });
    const post = await write({ op: 'insert', entity: 'Post', data: { title: 'sse', topic: 'sse', authorId: carl.id } });
    const filter = encodeURIComponent(JSON.stringify({ topic: 'sse' }));
    const headers = { authorization: `Bearer ${token}` };
    const bad = await t.request('GET', `/events?entity=Post&include=author,editor`, { headers });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { code: 'INVALID_QUERY' } });
    const res = await fetch(`${t.url}/events?entity=Post&filter=${filter}&include=author`, { headers });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while (!/event: result\ndata: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const data = JSON.parse(/event: result\ndata: (.*)\n\n/.exec(text)![1]!) as { rows: Array<Record<string, unknown>> };
    expect(data.rows).toEqual([expect.objectContaining({ id: post.id, author: expect.objectContaining({ id: carl.id, name: 'Carl' }) })]);
    await reader.cancel();
  });
});
