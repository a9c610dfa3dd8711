import { get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyResultDiff } from '@mast/protocol';
import type { FieldTypeName, Manifest, ManifestField } from '@mast/schema';
import { CrdtClient } from './helpers/crdt-client.js';
import { deployFunctions } from './helpers/functions-app.js';
import { LiveClient } from './helpers/live-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

/**
 * A team chat on relational rules only: three users, two channels, memberships and messages. A
 * message is readable by the members of its channel, and only a member may post. Every read
 * path (REST get / list / query / cursor / lookup, sync pull, a fresh live subscription, an open
 * live subscription, an open SSE stream, resume, a function's ctx.db, joining a channel's room) is checked row by
 * row against an oracle written below in plain TypeScript, before and after a membership is
 * added and removed.
 */

const ADMIN = 'admin-token-for-relational-e2e';
type Row = Record<string, unknown> & { id: string };
const field = (name: string, type: FieldTypeName, optional = true): ManifestField => ({ name, type, optional, unique: false });
const MEMBER_OF_CHANNEL = 'exists(Membership, m => m.channelId == data.channelId && m.userId == auth.userId)';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'relational-e2e',
  version: '1',
  routes: [],
  entities: [
    { name: 'Channel', crdt: false, fields: [field('title', 'string', false)], indexes: [] },
    {
      name: 'Membership',
      crdt: false,
      fields: [field('title', 'string', false), field('channelId', 'id(Channel)', false), field('userId', 'string', false)],
      indexes: [{ name: 'by_channel_user', fields: ['channelId', 'userId'], unique: true }],
    },
    {
      name: 'Message',
      crdt: false,
      fields: [field('title', 'string', false), field('channelId', 'id(Channel)', false), field('authorId', 'string', false)],
      indexes: [{ name: 'by_channel', fields: ['channelId'], unique: false }],
    },
    {
      name: 'Note',
      fields: [field('title', 'string', false), field('body', 'richtext'), field('channelId', 'id(Channel)', false)],
      indexes: [],
    },
  ],
  policies: [
    { name: 'channel_members', entity: 'Channel', allowRead: 'exists(Membership, m => m.channelId == data.id && m.userId == auth.userId)' },
    { name: 'own_memberships', entity: 'Membership', allowRead: 'data.userId == auth.userId' },
    {
      name: 'message_members',
      entity: 'Message',
      allowRead: MEMBER_OF_CHANNEL,
      allowInsert: `data.authorId == auth.userId && ${MEMBER_OF_CHANNEL}`,
      allowUpdate: `data.authorId == auth.userId && ${MEMBER_OF_CHANNEL}`,
      allowDelete: 'data.authorId == auth.userId',
    },
    { name: 'note_members', entity: 'Note', allowRead: MEMBER_OF_CHANNEL },
    { name: 'channel_rooms', room: 'channel:{id}', allowJoin: 'exists(Membership, m => m.channelId == room.id && m.userId == auth.userId)' },
  ],
};

interface Actor {
  readonly name: string;
  readonly userId: string;
  token: string | null;
}
const alice: Actor = { name: 'alice', userId: 'alice', token: null };
const bob: Actor = { name: 'bob', userId: 'bob', token: null };
const carol: Actor = { name: 'carol', userId: 'carol', token: null };
const USERS = [alice, bob, carol];

/** The oracle: who may read which message, from the memberships as they are. */
let memberships: Array<{ id: string; channelId: string; userId: string }> = [];
const isMember = (a: Actor, channelId: unknown): boolean => memberships.some((m) => m.channelId === channelId && m.userId === a.userId);
const canReadMessage = (a: Actor, row: Row): boolean => isMember(a, row.channelId);

let t: TestServer;
let wsUrl: string;
let messages: Row[] = [];
const live = new Map<Actor, { client: LiveClient; rows: Map<string, Row>; query: string }>();
/** An SSE stream per user, opened at the start, its window kept by its events. */
const streams = new Map<Actor, { response: IncomingMessage; rows: Map<string, Row>; events: number; data: string[] }>();

async function openStream(a: Actor): Promise<void> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    get(`${t.url}/events?entity=Message&filter=${encodeURIComponent(JSON.stringify({ $limit: 500 }))}`, { headers: { authorization: `Bearer ${a.token}` } }, resolve).on(
      'error',
      reject,
    );
  });
  expect(response.statusCode).toBe(200);
  const stream = { response, rows: new Map<string, Row>(), events: 0, data: [] as string[] };
  streams.set(a, stream);
  let text = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    text += chunk;
    for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const event = /^event: (\w+)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data === undefined) continue;
      stream.data.push(data);
      const message = JSON.parse(data) as { rows?: Row[]; added?: Row[]; changed?: Row[]; removed?: string[] };
      stream.events++;
      if (event === 'result') stream.rows = new Map((message.rows ?? []).map((r) => [r.id, r]));
      if (event === 'diff') {
        for (const id of message.removed ?? []) stream.rows.delete(id);
        for (const r of [...(message.added ?? []), ...(message.changed ?? [])]) stream.rows.set(r.id, r);
      }
    }
  });
}

async function call(actor: Actor | null, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const token = actor === null ? ADMIN : actor.token;
  const res = await t.request(method, path, { ...(body === undefined ? {} : { body }), headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, json: res.json };
}

async function ok(actor: Actor | null, method: string, path: string, body?: unknown): Promise<any> {
  const res = await call(actor, method, path, body);
  expect(res.status, `${actor?.name ?? 'admin'} ${method} ${path}: ${JSON.stringify(res.json)}`).toBeLessThan(300);
  return res.json;
}

const ids = (rows: readonly Row[]): string[] => rows.map((r) => r.id).sort();
const expected = (a: Actor): string[] => ids(messages.filter((m) => canReadMessage(a, m)));

async function addMembership(id: string, channelId: string, userId: string): Promise<number> {
  const created = await ok(null, 'POST', '/api/entities/Membership', { id, title: `${userId}@${channelId}`, channelId, userId });
  memberships.push({ id, channelId, userId });
  return created.seq as number;
}

async function removeMembership(id: string): Promise<number> {
  const deleted = await ok(null, 'DELETE', `/api/entities/Membership/${id}`);
  memberships = memberships.filter((m) => m.id !== id);
  return deleted.seq as number;
}

/** Every read path gives exactly the oracle's messages for `a`. */
async function expectReadsMatchOracle(a: Actor): Promise<void> {
  const want = expected(a);
  const where = `${a.name} (member of ${
    memberships
      .filter((m) => m.userId === a.userId)
      .map((m) => m.channelId)
      .join(', ') || 'nothing'
  })`;
  for (const row of messages) {
    const got = await call(a, 'GET', `/api/entities/Message/${row.id}`);
    expect(got.status, `${where} get ${row.id}`).toBe(canReadMessage(a, row) ? 200 : 404);
    if (got.status === 200) expect(got.json).toEqual(row);
    else expect(JSON.stringify(got.json)).not.toContain(String(row.title));
    const found = await call(a, 'GET', `/api/lookup/Message/title/${encodeURIComponent(String(row.title))}`);
    expect(found.status, `${where} lookup ${row.id}`).toBe(canReadMessage(a, row) ? 200 : 404);
  }
  expect(ids((await ok(a, 'GET', '/api/entities/Message?limit=1000')).data), `${where} list`).toEqual(want);
  expect(ids(await ok(a, 'POST', '/api/query/Message', { title: { $like: '%' }, $limit: 1000 })), `${where} query`).toEqual(want);
  // A limit counts only readable rows: the first page is full whenever more than one row is readable.
  const first = await ok(a, 'GET', '/api/entities/Message?limit=2');
  expect(first.data.length, `${where} limited list`).toBe(Math.min(2, want.length));
  const paged: Row[] = [];
  let page = await ok(a, 'GET', '/api/entities/Message/cursor?limit=2');
  paged.push(...page.data);
  while (page.has_more) {
    expect(page.data, `${where} a page with has_more is full`).toHaveLength(2);
    page = await ok(a, 'GET', `/api/entities/Message/cursor?limit=2&after=${page.next_cursor}`);
    paged.push(...page.data);
  }
  expect(ids(paged), `${where} cursor`).toEqual(want);
  const pulled = await ok(a, 'GET', '/api/sync/pull?since=0&limit=1000');
  const pulledMessages = pulled.changes.filter((c: any) => c.entity === 'Message' && c.kind !== 'delete').map((c: any) => c.row_id);
  expect([...new Set<string>(pulledMessages)].sort(), `${where} sync pull`).toEqual(want);
  const listed = await ok(a, 'POST', '/api/fn/listMessages', {});
  expect(ids(listed), `${where} ctx.db.list`).toEqual(want);
  const got = await ok(a, 'POST', '/api/fn/getMessages', { ids: messages.map((m) => m.id) });
  expect(got, `${where} ctx.db.get`).toEqual(messages.map((m) => (canReadMessage(a, m) ? m : null)));
  // A fresh subscription's initial result.
  const { client } = await LiveClient.connect(wsUrl, { token: a.token! });
  try {
    client.send({ type: 'subscribe', id: 'fresh', entity: 'Message', filter: { $limit: 500 } });
    expect(ids((await client.next('result')).rows as Row[]), `${where} subscribe`).toEqual(want);
    // The channel rooms admit exactly the members; a room no rule names is open to everyone signed in.
    for (const room of ['channel:general', 'channel:random', 'lobby']) {
      client.send({ type: 'join', id: `join-${room}`, room });
      // The other answer would fail the wait (it times out): each join is answered once.
      if (room === 'lobby' || isMember(a, room.slice('channel:'.length))) await client.next('joined', (m) => m.id === `join-${room}`);
      else expect(await client.next('error', (m) => m.id === `join-${room}`), `${where} join ${room}`).toMatchObject({ code: 'POLICY_DENIED', room });
    }
  } finally {
    client.close();
  }
  // The subscription opened at the start, kept current by diffs.
  expect([...live.get(a)!.rows.keys()].sort(), `${where} open subscription`).toEqual(want);
  // The SSE stream opened at the start (it has no barrier: its events are waited for, 5 s at most).
  const stream = streams.get(a)!;
  for (const end = Date.now() + 5000; Date.now() < end && ids([...stream.rows.values()]).join() !== want.join(); ) await new Promise((r) => setTimeout(r, 20));
  expect(ids([...stream.rows.values()]), `${where} open SSE stream`).toEqual(want);
}

/** Applies every diff that arrived so far to each open window; returns the diffs per actor. */
async function drainDiffs(seq: number): Promise<Map<Actor, Array<{ added: Row[]; removed: string[]; seq: number }>>> {
  const out = new Map<Actor, Array<{ added: Row[]; removed: string[]; seq: number }>>();
  for (const [actor, sub] of live) {
    // The engine handles commits and subscribes in one queue, so once the answer to a subscribe
    // sent now arrives, every diff up to `seq` has arrived before it.
    sub.client.send({ type: 'subscribe', id: `sync-${seq}`, entity: 'Membership' });
    await sub.client.next('result', (m) => m.id === `sync-${seq}`);
    sub.client.send({ type: 'unsubscribe', id: `sync-${seq}` });
    const diffs: Array<{ added: Row[]; removed: string[]; seq: number }> = [];
    for (const m of sub.client.unread()) {
      if (m.type !== 'diff' || m.query !== sub.query) continue;
      diffs.push({ added: m.added as Row[], removed: m.removed, seq: m.seq });
    }
    while (sub.client.unread().some((m) => m.type === 'diff' && m.query === sub.query)) {
      const m = await sub.client.next('diff', (d) => d.query === sub.query);
      for (const id of m.removed) {
        expect(sub.rows.has(id), `${actor.name} removal of a row it never had`).toBe(true);
        sub.rows.delete(id);
      }
      for (const row of [...m.added, ...m.changed] as Row[]) sub.rows.set(row.id, row);
    }
    out.set(actor, diffs);
  }
  return out;
}

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN });
  wsUrl = `${t.url.replace('http', 'ws')}/ws`;
  for (const user of USERS) user.token = (await ok(null, 'POST', '/api/auth/session', { user_id: user.userId })).token;
  for (const [id, title] of [
    ['general', 'General'],
    ['random', 'Random'],
  ])
    await ok(null, 'POST', '/api/entities/Channel', { id, title });
  await addMembership('ms-alice-general', 'general', 'alice');
  await addMembership('ms-bob-general', 'general', 'bob');
  await addMembership('ms-bob-random', 'random', 'bob');
  // Members post; every message is written by its author, through the insert rule.
  const posts: Array<[Actor, string, string]> = [
    [alice, 'general', 'hello all'],
    [bob, 'general', 'hi alice'],
    [alice, 'general', 'standup at 10'],
    [bob, 'random', 'lunch?'],
    [bob, 'random', 'coffee?'],
  ];
  for (const [i, [author, channelId, title]] of posts.entries()) {
    const id = `msg-${i + 1}`;
    await ok(author, 'POST', '/api/entities/Message', { id, title, channelId, authorId: author.userId });
  }
  messages = (await ok(null, 'GET', '/api/entities/Message?limit=1000')).data;
  expect(messages).toHaveLength(5);
  const loaded = await deployFunctions(t, {
    listMessages: 'export default query({ args: {}, handler: (ctx) => ctx.db.list("Message") });',
    getMessages: 'export default query({ args: { ids: v.array(v.string()) }, handler: (ctx, a) => Promise.all(a.ids.map((id) => ctx.db.get("Message", id))) });',
  });
  expect(loaded.errors).toEqual([]);
  for (const user of USERS) {
    const { client } = await LiveClient.connect(wsUrl, { token: user.token! });
    client.send({ type: 'subscribe', id: 'messages', entity: 'Message', filter: { $limit: 500 } });
    const result = await client.next('result', (m) => m.id === 'messages');
    live.set(user, { client, rows: new Map((result.rows as Row[]).map((r) => [r.id, r])), query: result.query });
    await openStream(user);
  }
}, 60_000);

afterAll(async () => {
  for (const sub of live.values()) sub.client.close();
  for (const stream of streams.values()) stream.response.destroy();
  await t?.close();
});

describe('relational policies: a team chat, every read path against the oracle', () => {
  it('starts with each user reading the messages of their channels', async () => {
    expect(expected(alice)).toEqual(['msg-1', 'msg-2', 'msg-3']);
    expect(expected(bob)).toEqual(['msg-1', 'msg-2', 'msg-3', 'msg-4', 'msg-5']);
    expect(expected(carol)).toEqual([]);
    for (const user of USERS) await expectReadsMatchOracle(user);
  });

  it('explains a decision with the related row that decided it', async () => {
    const allowed = await ok(null, 'POST', '/api/policy/explain', { entity: 'Message', id: 'msg-1', auth: { user_id: 'alice' } });
    expect(allowed).toMatchObject({ allowed: true, related: [{ policy: 'message_members', rule: 'allowRead', entity: 'Membership', row: { id: 'ms-alice-general' } }] });
    const denied = await ok(null, 'POST', '/api/policy/explain', { entity: 'Message', id: 'msg-4', auth: { user_id: 'alice' } });
    expect(denied).toMatchObject({ allowed: false, reason: 'denied', related: [{ entity: 'Membership', row: null }] });
    const post = await ok(null, 'POST', '/api/policy/explain', {
      entity: 'Message',
      operation: 'insert',
      data: { channelId: 'random', authorId: 'carol', title: 'x' },
      auth: { user_id: 'carol' },
    });
    expect(post).toMatchObject({ allowed: false, related: [{ rule: 'allowInsert', entity: 'Membership', row: null }] });
  });

  it('lets only members post (the write rule reads memberships too)', async () => {
    const denied = await call(carol, 'POST', '/api/entities/Message', { id: 'msg-carol-1', title: 'let me in', channelId: 'general', authorId: 'carol' });
    expect(denied).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    const spoofed = await call(alice, 'POST', '/api/entities/Message', { id: 'msg-spoof', title: 'as bob', channelId: 'random', authorId: 'alice' });
    expect(spoofed.status).toBe(403);
    expect((await ok(null, 'GET', '/api/entities/Message?limit=1000')).data).toHaveLength(5);
  });

  it('delivers the rows a new membership makes readable to that user only, in the same commit', async () => {
    // A live query function of carol's: its result follows her memberships too.
    // Sync clients of carol's and alice's, up to date before the change.
    const carolCursor = (await ok(carol, 'GET', '/api/sync/pull?since=0&limit=1000')).cursor.last_seq as number;
    const aliceCursor = (await ok(alice, 'GET', '/api/sync/pull?since=0&limit=1000')).cursor.last_seq as number;
    const { client: watcher } = await LiveClient.connect(wsUrl, { token: carol.token! });
    watcher.send({ type: 'fn-watch', id: 'w1', name: 'listMessages' });
    const watched = await watcher.next('fn-watch-result', (m) => m.id === 'w1');
    expect(watched.value).toEqual([]);
    const seq = await addMembership('ms-carol-random', 'random', 'carol');
    const change = await watcher.next('fn-watch-diff', (m) => m.id === 'w1');
    expect(ids(applyResultDiff(watched.value, change.diff) as Row[]), 'carol fn-watch').toEqual(['msg-4', 'msg-5']);
    watcher.close();
    // Carol's view changed without a change to a message: her next pull says to start again.
    expect(await call(carol, 'GET', `/api/sync/pull?since=${carolCursor}`)).toMatchObject({ status: 410, json: { error: { code: 'RESYNC_REQUIRED' } } });
    // Alice's did not: another user's membership is none of her rules' business.
    const alicePull = await ok(alice, 'GET', `/api/sync/pull?since=${aliceCursor}`);
    expect(alicePull.changes).toEqual([]);
    expect(alicePull.cursor.last_seq).toBe(seq);
    const diffs = await drainDiffs(seq);
    expect(diffs.get(carol)!.map((d) => [d.seq, ids(d.added), d.removed])).toEqual([[seq, ['msg-4', 'msg-5'], []]]);
    // Users whose view did not change receive nothing.
    expect(diffs.get(alice)).toEqual([]);
    expect(diffs.get(bob)).toEqual([]);
    for (const user of USERS) await expectReadsMatchOracle(user);
    // Now carol may post to random, and the members' open windows get it.
    const posted = await ok(carol, 'POST', '/api/entities/Message', { id: 'msg-6', title: 'count me in', channelId: 'random', authorId: 'carol' });
    messages.push(posted.data ?? (await ok(null, 'GET', '/api/entities/Message/msg-6')));
    const after = await drainDiffs(posted.seq);
    expect(after.get(bob)!.flatMap((d) => ids(d.added))).toEqual(['msg-6']);
    expect(after.get(carol)!.flatMap((d) => ids(d.added))).toEqual(['msg-6']);
    expect(after.get(alice)).toEqual([]);
  });

  it('removes the rows a deleted membership hides, and resume answers as a fresh read', async () => {
    // A client that saw the world before the removal, then went away.
    const { client: before } = await LiveClient.connect(wsUrl, { token: bob.token! });
    before.send({ type: 'subscribe', id: 'old', entity: 'Message', filter: { $limit: 500 } });
    const old = await before.next('result');
    before.close();
    const bobCursor = (await ok(bob, 'GET', '/api/sync/pull?since=0&limit=1000')).cursor.last_seq as number;
    // Bob and alice are in general's room; the removal takes bob out of it, in the same commit's delivery.
    const { client: bobRoom } = await LiveClient.connect(wsUrl, { token: bob.token! });
    const { client: aliceRoom } = await LiveClient.connect(wsUrl, { token: alice.token! });
    bobRoom.send({ type: 'join', id: 'b', room: 'channel:general' });
    await bobRoom.next('joined');
    aliceRoom.send({ type: 'join', id: 'a', room: 'channel:general' });
    await aliceRoom.next('joined');
    bobRoom.send({ type: 'join', id: 'b2', room: 'channel:random' });
    await bobRoom.next('joined', (m) => m.id === 'b2');
    const seq = await removeMembership('ms-bob-general');
    expect(await bobRoom.next('error', (m) => m.room === 'channel:general')).toMatchObject({ code: 'POLICY_DENIED' });
    expect(await aliceRoom.next('presence', (m) => m.event === 'leave')).toMatchObject({ room: 'channel:general', reason: 'denied', member: { userId: 'bob' } });
    // Still a member of random: that room keeps him, and he can no longer speak in general.
    bobRoom.send({ type: 'broadcast', id: 'say', room: 'channel:general', topic: 'chat', data: 'still here?' });
    expect(await bobRoom.next('error', (m) => m.id === 'say')).toMatchObject({ code: 'NOT_IN_ROOM' });
    bobRoom.send({ type: 'broadcast', id: 'say2', room: 'channel:random', topic: 'chat', data: 'here' });
    await bobRoom.next('ack', (m) => m.id === 'say2');
    bobRoom.close();
    aliceRoom.close();
    // The pull that would cross the removal asks for a fresh pull, which hides general's messages.
    expect(await call(bob, 'GET', `/api/sync/pull?since=${bobCursor}`)).toMatchObject({ status: 410, json: { error: { code: 'RESYNC_REQUIRED' } } });
    const diffs = await drainDiffs(seq);
    expect(diffs.get(bob)!.map((d) => [d.seq, d.added, [...d.removed].sort()])).toEqual([[seq, [], ['msg-1', 'msg-2', 'msg-3']]]);
    expect(diffs.get(alice)).toEqual([]);
    expect(diffs.get(carol)).toEqual([]);
    for (const user of USERS) await expectReadsMatchOracle(user);
    const { client: again } = await LiveClient.connect(wsUrl, { token: bob.token! });
    try {
      again.send({ type: 'resume', id: 'r1', since: old.seq, subscriptions: [{ id: 'old', entity: 'Message', filter: { $limit: 500 } }] });
      const answer = await Promise.race([again.next('result', (m) => m.id === 'old'), again.next('resumed', (m) => m.id === 'old')]);
      const rows = new Map((old.rows as Row[]).map((r) => [r.id, r]));
      if (answer.type === 'result') {
        rows.clear();
        for (const r of answer.rows as Row[]) rows.set(r.id, r);
      } else {
        for (const id of answer.removed) rows.delete(id);
        for (const r of [...answer.added, ...answer.changed] as Row[]) rows.set(r.id, r);
      }
      expect([...rows.keys()].sort(), 'bob after resume').toEqual(expected(bob));
      await again.next('ack', (m) => m.id === 'r1');
    } finally {
      again.close();
    }
  });

  it('ends a CRDT subscription with POLICY_DENIED when the membership behind it goes', async () => {
    await ok(null, 'POST', '/api/entities/Note', { id: 'note-general', title: 'agenda', body: 'items', channelId: 'general' });
    const crdt = await CrdtClient.connect(wsUrl, alice.token, 'Note');
    try {
      crdt.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'note-general' });
      await crdt.frame(0);
      expect(crdt.text('note-general')).toBe('items');
      const outsider = await CrdtClient.connect(wsUrl, carol.token, 'Note');
      outsider.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'note-general' });
      expect(await outsider.error()).toMatchObject({ code: 'NOT_FOUND' });
      outsider.ws.close();
      const seq = await removeMembership('ms-alice-general');
      expect(await crdt.error((m) => m.entity === 'Note')).toMatchObject({ code: 'POLICY_DENIED', rowId: 'note-general' });
      const diffs = await drainDiffs(seq);
      expect(diffs.get(alice)!.map((d) => [d.seq, [...d.removed].sort()])).toEqual([[seq, ['msg-1', 'msg-2', 'msg-3']]]);
      // The row changes afterwards: nothing more reaches the socket that lost access.
      await ok(null, 'PATCH', '/api/entities/Note/note-general', { body: 'secret items' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(crdt.frames).toHaveLength(1);
      for (const user of USERS) await expectReadsMatchOracle(user);
    } finally {
      crdt.ws.close();
    }
  });

  it('a membership removal racing a post: the write check and every read see one order', async () => {
    const [post, seq] = await Promise.all([
      call(carol, 'POST', '/api/entities/Message', { id: 'msg-race', title: 'racing', channelId: 'random', authorId: 'carol' }),
      removeMembership('ms-carol-random'),
    ]);
    if (post.status < 300) {
      // Accepted: it committed while carol was still a member, so before the removal.
      expect(post.json.seq).toBeLessThan(seq);
      messages.push(await ok(null, 'GET', '/api/entities/Message/msg-race'));
    } else {
      expect(post.json.error.code).toBe('POLICY_DENIED');
    }
    await drainDiffs(seq);
    for (const u of USERS) await expectReadsMatchOracle(u);
    expect(expected(carol)).toEqual([]);
  });

  it('never lets a frame carry a message its receiver could not read at that point', () => {
    for (const [actor, sub] of live) {
      for (const raw of [...sub.client.frames, ...streams.get(actor)!.data]) {
        const message = JSON.parse(raw) as { type: string; rows?: Row[]; added?: Row[] };
        for (const row of [...(message.rows ?? []), ...(message.added ?? [])]) {
          if (typeof row.channelId !== 'string' || typeof row.authorId !== 'string') continue;
          // carol never joined general; alice never joined random.
          if (actor === carol) expect(row.channelId, `carol got ${row.id}`).toBe('random');
          if (actor === alice) expect(row.channelId, `alice got ${row.id}`).toBe('general');
        }
      }
    }
  });
});
