import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FieldTypeName, Manifest, ManifestField } from '@mast/schema';
import { testSchema, TEST_DATABASE_URL } from '@mast/server/testing';
import { LiveClient } from './helpers/live-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

/**
 * A server on PostgreSQL end to end (MAST_DATABASE_URL as a `postgres://` URL): REST writes and
 * reads, a unique violation, relational policies decided one row at a time (the store's
 * synchronous related-row lookups, inside a write that adds the membership it relies on too),
 * a live query that gets another user's write and hides what its policy denies, and sync pull.
 */

const field = (name: string, type: FieldTypeName, optional = true, unique = false): ManifestField => ({ name, type, optional, unique });
const MEMBER_OF_CHANNEL = 'exists(Membership, m => m.channelId == data.channelId && m.userId == auth.userId)';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'postgres-e2e',
  version: '1',
  routes: [],
  entities: [
    { name: 'Channel', fields: [field('title', 'string', false, true)], indexes: [] },
    {
      name: 'Membership',
      fields: [field('channelId', 'id(Channel)', false), field('userId', 'string', false)],
      indexes: [{ name: 'by_channel_user', fields: ['channelId', 'userId'], unique: true }],
    },
    {
      name: 'Message',
      fields: [field('title', 'string', false), field('channelId', 'id(Channel)', false), field('authorId', 'string', false), field('meta', 'json')],
      indexes: [],
    },
  ],
  policies: [
    { name: 'channels', entity: 'Channel', allow: 'true' },
    { name: 'own_memberships', entity: 'Membership', allowRead: 'data.userId == auth.userId', allowInsert: 'data.userId == auth.userId' },
    { name: 'message_members', entity: 'Message', allowRead: MEMBER_OF_CHANNEL, allowInsert: `data.authorId == auth.userId && ${MEMBER_OF_CHANNEL}` },
  ],
};

const schema = testSchema();
let t: TestServer;
let wsUrl: string;
const tokens: Record<string, string> = {};

const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });

beforeAll(async () => {
  // Creates the schema (and Mast's tables) that the server's URL then selects.
  await (await schema.open()).close();
  const url = `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema.name}`)}`;
  t = await startTestServer(manifest, { databaseUrl: url, adminToken: 'admin-token-for-postgres-e2e' });
  wsUrl = `${t.url.replace('http', 'ws')}/ws`;
  for (const user of ['alice', 'bob', 'carol']) tokens[user] = (await t.server.sessions.issue({ userId: user })).token;
});
afterAll(async () => {
  await t?.close();
  await schema.drop();
});

describe('a server on PostgreSQL', () => {
  it('writes and reads through REST, keeps json as written, and answers a duplicate with 409 and its field', async () => {
    const created = await t.request('POST', '/api/entities/Channel', { body: { id: 'c1', title: 'general' } });
    expect(created.status).toBe(201);
    expect(await t.request('POST', '/api/entities/Channel', { body: { id: 'c2', title: 'random' } })).toMatchObject({ status: 201 });
    const duplicate = await t.request('POST', '/api/entities/Channel', { body: { title: 'general' } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json).toMatchObject({ error: { code: 'UNIQUE_VIOLATION' } });
    expect(duplicate.text).toContain('Channel.title');
    const list = await t.request('POST', '/api/query/Channel', { body: { title: { $ilike: 'GEN%' } } });
    expect(list.json).toEqual([{ id: 'c1', title: 'general' }]);
  });

  it('decides relational policies per row, including on a membership the same transaction adds', async () => {
    expect((await t.request('POST', '/api/entities/Membership', { body: { id: 'm-alice', channelId: 'c1', userId: 'alice' }, headers: as('alice') })).status).toBe(201);
    const posted = await t.request('POST', '/api/entities/Message', {
      body: { id: 'hello', title: 'hi', channelId: 'c1', authorId: 'alice', meta: { b: 1, a: 2 } },
      headers: as('alice'),
    });
    expect(posted.status).toBe(201);
    // Bob is no member of c1: refused, nothing written.
    const refused = await t.request('POST', '/api/entities/Message', { body: { id: 'nope', title: 'x', channelId: 'c1', authorId: 'bob' }, headers: as('bob') });
    expect(refused.status).toBe(403);
    // One transaction: Bob joins c2 and posts there; the post's check sees the uncommitted membership.
    const joined = await t.request('POST', '/api/transact', {
      headers: as('bob'),
      body: [
        { op: 'insert', entity: 'Membership', data: { id: 'm-bob', channelId: 'c2', userId: 'bob' } },
        { op: 'insert', entity: 'Message', data: { id: 'bob-1', title: 'first', channelId: 'c2', authorId: 'bob' } },
      ],
    });
    expect(joined.status).toBe(200);
    expect((await t.request('GET', '/api/entities/Message/hello', { headers: as('alice') })).json).toEqual({
      id: 'hello',
      title: 'hi',
      channelId: 'c1',
      authorId: 'alice',
      meta: { b: 1, a: 2 },
    });
    expect((await t.request('GET', '/api/entities/Message/hello', { headers: as('bob') })).status).toBe(404);
    const bobSees = (await t.request('GET', '/api/entities/Message', { headers: as('bob') })).json as { data: Array<{ id: string }> };
    expect(bobSees.data.map((r) => r.id)).toEqual(['bob-1']);
  });

  it('sends a live diff of another user’s write only to the members who may read it', async () => {
    const { client: alice } = await LiveClient.connect(wsUrl, { token: tokens['alice']! });
    const { client: carol } = await LiveClient.connect(wsUrl, { token: tokens['carol']! });
    try {
      alice.send({ type: 'subscribe', id: 'q', entity: 'Message', filter: { channelId: 'c1' } });
      carol.send({ type: 'subscribe', id: 'q', entity: 'Message', filter: { channelId: 'c1' } });
      expect((await alice.next('result')).rows.map((r) => r.id)).toEqual(['hello']);
      expect((await carol.next('result')).rows).toEqual([]);
      // Carol joins c1 and posts; Alice gets the row as a diff, in the log's seq.
      await t.request('POST', '/api/entities/Membership', { body: { id: 'm-carol', channelId: 'c1', userId: 'carol' }, headers: as('carol') });
      const post = await t.request('POST', '/api/entities/Message', { body: { id: 'carol-1', title: 'hey', channelId: 'c1', authorId: 'carol' }, headers: as('carol') });
      expect(post.status).toBe(201);
      const diff = await alice.next('diff');
      expect(diff).toMatchObject({ seq: (post.json as { seq: number }).seq, added: [{ id: 'carol-1' }] });
    } finally {
      alice.close();
      carol.close();
    }
  });

  it('pulls the change log in seq order with no gap', async () => {
    const pulled = (await t.request('GET', '/api/sync/pull?since=0', { headers: { authorization: 'Bearer admin-token-for-postgres-e2e' } })).json as {
      changes: Array<{ seq: number }>;
    };
    expect(pulled.changes.map((c) => c.seq)).toEqual(pulled.changes.map((_, i) => i + 1));
    expect(pulled.changes.length).toBeGreaterThanOrEqual(8);
  });
});
