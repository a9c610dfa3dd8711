import { get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '@mast/schema';
import { ADMIN } from '@mast/server';
import { LiveClient } from './helpers/live-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

/**
 * Included rows obey the target's relational read rule: a Task includes its Project, and a
 * project is readable by its members only. A membership added or removed changes the included
 * row in the open windows of that user (live and SSE), in that commit's diff, and of nobody else.
 */
const manifest: Manifest = {
  manifest_version: 1,
  name: 'include-relational',
  version: '1',
  routes: [],
  entities: [
    { name: 'Project', fields: [{ name: 'name', type: 'string', optional: false, unique: false }], indexes: [] },
    {
      name: 'Member',
      fields: [
        { name: 'projectId', type: 'id(Project)', optional: false, unique: false },
        { name: 'userId', type: 'string', optional: false, unique: false },
      ],
      indexes: [{ name: 'by_project_user', fields: ['projectId', 'userId'], unique: true }],
    },
    {
      name: 'Task',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'projectId', type: 'id(Project)', optional: false, unique: false },
      ],
      indexes: [],
      relations: [{ name: 'project', target: 'Project', field: 'projectId' }],
    },
  ],
  policies: [
    { name: 'project_members', entity: 'Project', allowRead: 'exists(Member, m => m.projectId == data.id && m.userId == auth.userId)' },
    { name: 'own_memberships', entity: 'Member', allowRead: 'data.userId == auth.userId' },
    // Tasks are public; what a caller learns of their project is the project's rule's business.
    { name: 'tasks', entity: 'Task', allowRead: 'true' },
  ],
};

let t: TestServer;
let wsUrl: string;
const tokens: Record<string, string> = {};

async function write(ops: Array<Record<string, unknown>>): Promise<number> {
  const { results } = await t.server.writes.apply(ops as never, { auth: ADMIN });
  return results[results.length - 1]!.seq;
}

type Row = Record<string, unknown> & { id: string };
const projectOf = (rows: readonly Row[]): Record<string, unknown> => Object.fromEntries(rows.map((r) => [r.id, (r.project as Row | null)?.name ?? null]));

async function subscribe(user: string): Promise<{ client: LiveClient; rows: Row[]; query: string }> {
  const { client } = await LiveClient.connect(wsUrl, { token: tokens[user]! });
  client.send({ type: 'subscribe', id: 's', entity: 'Task', filter: { $order: { title: 'asc' } }, include: ['project'] });
  const result = await client.next('result');
  return { client, rows: result.rows as Row[], query: result.query };
}

/** Waits until every change up to now reached the socket, then returns the diffs of its window. */
async function diffsOf(client: LiveClient, query: string): Promise<Array<{ seq: number; changed: Row[]; added: Row[]; removed: string[] }>> {
  client.send({ type: 'barrier', id: 'b' });
  await client.next('ack', (m) => m.id === 'b');
  const out: Array<{ seq: number; changed: Row[]; added: Row[]; removed: string[] }> = [];
  while (client.unread().some((m) => m.type === 'diff' && m.query === query)) {
    const d = await client.next('diff', (m) => m.query === query);
    out.push({ seq: d.seq, changed: d.changed as Row[], added: d.added as Row[], removed: d.removed });
  }
  return out;
}

beforeAll(async () => {
  t = await startTestServer(manifest);
  wsUrl = `${t.url.replace('http', 'ws')}/ws`;
  for (const user of ['ann', 'ben']) tokens[user] = (await t.server.sessions.issue({ userId: user })).token;
  await write([
    { op: 'insert', entity: 'Project', data: { id: 'p1', name: 'Apollo' } },
    { op: 'insert', entity: 'Project', data: { id: 'p2', name: 'Gemini' } },
    { op: 'insert', entity: 'Member', data: { id: 'm-ann-p1', projectId: 'p1', userId: 'ann' } },
    { op: 'insert', entity: 'Member', data: { id: 'm-ben-p2', projectId: 'p2', userId: 'ben' } },
    { op: 'insert', entity: 'Task', data: { id: 't1', title: 'a launch', projectId: 'p1' } },
    { op: 'insert', entity: 'Task', data: { id: 't2', title: 'b orbit', projectId: 'p2' } },
    { op: 'insert', entity: 'Task', data: { id: 't3', title: 'c land', projectId: 'p2' } },
  ]);
});
afterAll(() => t?.close());

describe('include of a target under a relational read rule', () => {
  it('shows each included project to its members only, and follows memberships live', async () => {
    const ann = await subscribe('ann');
    const ben = await subscribe('ben');
    expect(projectOf(ann.rows)).toEqual({ t1: 'Apollo', t2: null, t3: null });
    expect(projectOf(ben.rows)).toEqual({ t1: null, t2: 'Gemini', t3: 'Gemini' });
    // An SSE stream of ann's with the same include.
    const filter = encodeURIComponent(JSON.stringify({ $order: { title: 'asc' } }));
    // Read with node:http, so the connection is torn down when the test is done with it.
    let text = '';
    let wake: () => void = () => undefined;
    const sse = await new Promise<IncomingMessage>((resolve, reject) => {
      get(`${t.url}/events?entity=Task&filter=${filter}&include=project`, { headers: { authorization: `Bearer ${tokens.ann}` } }, resolve).on('error', reject);
    });
    expect(sse.statusCode).toBe(200);
    sse.setEncoding('utf8');
    sse.on('data', (chunk: string) => {
      text += chunk;
      wake();
    });
    const events = (): Array<{ event: string; data: any }> => [...text.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)].map((m) => ({ event: m[1]!, data: JSON.parse(m[2]!) }));
    const until = async (done: () => boolean): Promise<void> => {
      while (!done()) await new Promise<void>((resolve) => (wake = resolve));
    };
    await until(() => events().some((e) => e.event === 'result'));
    expect(projectOf(events().find((e) => e.event === 'result')!.data.rows)).toEqual({ t1: 'Apollo', t2: null, t3: null });

    // Ann joins Gemini: her windows now carry it on t2 and t3; ben's do not change.
    const joined = await write([{ op: 'insert', entity: 'Member', data: { id: 'm-ann-p2', projectId: 'p2', userId: 'ann' } }]);
    const annDiffs = await diffsOf(ann.client, ann.query);
    expect(annDiffs.map((d) => [d.seq, projectOf(d.changed), d.added, d.removed])).toEqual([[joined, { t2: 'Gemini', t3: 'Gemini' }, [], []]]);
    expect(await diffsOf(ben.client, ben.query)).toEqual([]);
    await until(() => events().some((e) => e.event === 'diff'));
    expect(
      events()
        .filter((e) => e.event === 'diff')
        .map((e) => [e.data.seq, projectOf(e.data.changed)]),
    ).toEqual([[joined, { t2: 'Gemini', t3: 'Gemini' }]]);

    // Ann leaves Apollo: t1's project turns null for her.
    const left = await write([{ op: 'delete', entity: 'Member', id: 'm-ann-p1' }]);
    expect((await diffsOf(ann.client, ann.query)).map((d) => [d.seq, projectOf(d.changed)])).toEqual([[left, { t1: null }]]);
    expect(await diffsOf(ben.client, ben.query)).toEqual([]);
    // A fresh subscription agrees with the window kept by diffs.
    const fresh = await subscribe('ann');
    expect(projectOf(fresh.rows)).toEqual({ t1: null, t2: 'Gemini', t3: 'Gemini' });
    for (const c of [ann.client, ben.client, fresh.client]) c.close();
    sse.destroy();
  });
});
