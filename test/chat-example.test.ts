import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAppSchema } from '@mast/schema';
import { MastServer, loadConfig } from '@mast/server';
import { LiveClient } from './helpers/live-client.js';

/**
 * The team chat of examples/chat, served from its folder on a real port with its own functions:
 * each user's open subscription holds exactly the messages of the channels they belong to, and
 * follows memberships as they are added and removed.
 */

const ADMIN = 'admin-token-for-the-chat-example';
const appDir = resolve('examples/chat');
const dataDir = mkdtempSync(join(tmpdir(), 'mast-chat-'));
let server: MastServer;
let url: string;
const logged: Array<{ level: number; msg: string }> = [];
const tokens: Record<string, string> = {};

type Row = Record<string, unknown> & { id: string };
type User = 'alice' | 'bob' | 'carol';
const USERS: readonly User[] = ['alice', 'bob', 'carol'];

async function call(who: User | 'admin', method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const token = who === 'admin' ? ADMIN : tokens[who]!;
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) };
}

async function ok(who: User | 'admin', method: string, path: string, body?: unknown): Promise<any> {
  const res = await call(who, method, path, body);
  expect(res.status, `${who} ${method} ${path}: ${JSON.stringify(res.json)}`).toBeLessThan(300);
  return res.json;
}

/** The oracle: channel memberships as the test made them, and every message posted. */
const members = new Map<string, { channelId: string; userId: User }>();
const posted: Array<{ id: string; channelId: string }> = [];
const expected = (u: User): string[] =>
  posted
    .filter((m) => [...members.values()].some((ms) => ms.channelId === m.channelId && ms.userId === u))
    .map((m) => m.id)
    .sort();

const live = new Map<User, { client: LiveClient; query: string; rows: Map<string, Row> }>();

/** Waits until every commit so far reached each socket, applies the diffs; returns who got one. */
async function settle(): Promise<Set<User>> {
  const changed = new Set<User>();
  for (const [user, sub] of live) {
    const id = `b${Math.random()}`;
    sub.client.send({ type: 'barrier', id });
    await sub.client.next('ack', (m) => m.id === id);
    while (sub.client.unread().some((m) => m.type === 'diff' && m.query === sub.query)) {
      const diff = await sub.client.next('diff', (m) => m.query === sub.query);
      changed.add(user);
      for (const removed of diff.removed) sub.rows.delete(removed);
      for (const row of [...diff.added, ...diff.changed] as Row[]) sub.rows.set(row.id, row);
    }
  }
  return changed;
}

async function expectWindowsMatchOracle(): Promise<void> {
  for (const [user, sub] of live) expect([...sub.rows.keys()].sort(), `${user}'s open subscription`).toEqual(expected(user));
}

async function post(user: User, channelId: string, text: string): Promise<void> {
  const { id } = await ok(user, 'POST', '/api/fn/postMessage', { channelId, text });
  posted.push({ id, channelId });
}

async function addMember(by: User, channelId: string, userId: User): Promise<string> {
  const { id } = await ok(by, 'POST', '/api/entities/Membership', { channelId, workspaceId: 'acme', userId });
  members.set(id, { channelId, userId });
  return id;
}

beforeAll(async () => {
  const { schema } = await loadAppSchema(appDir);
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dataDir, 'chat.db'), adminToken: ADMIN });
  const stream = new Writable({ write: (chunk, _enc, done) => (logged.push(JSON.parse(String(chunk))), done()) });
  server = await MastServer.create({ appDir, schema, config, logger: pino({ level: 'warn' }, stream) });
  url = `http://127.0.0.1:${await server.listen()}`;
  for (const user of USERS) tokens[user] = (await ok('admin', 'POST', '/api/auth/session', { user_id: user })).token;
  // The operator creates the workspace and makes alice its admin; everything else is done by users.
  await ok('admin', 'POST', '/api/entities/Workspace', { id: 'acme', title: 'Acme' });
  await ok('admin', 'POST', '/api/entities/Membership', { workspaceId: 'acme', userId: 'alice', role: 'admin' });
});

afterAll(async () => {
  for (const sub of live.values()) sub.client.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('examples/chat', () => {
  let general: string;
  let random: string;
  let bobInGeneral: string;

  it('starts without a warning (every index its rules look rows up by is declared) and loads its functions', async () => {
    expect(logged).toEqual([]);
    expect((await server.reloadFunctions()).errors).toEqual([]);
  });

  it('lets only a workspace admin open channels and add members', async () => {
    expect(await call('bob', 'POST', '/api/fn/createChannel', { workspaceId: 'acme', title: 'bobs' })).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    general = (await ok('alice', 'POST', '/api/fn/createChannel', { workspaceId: 'acme', title: 'general' })).id;
    random = (await ok('alice', 'POST', '/api/fn/createChannel', { workspaceId: 'acme', title: 'random' })).id;
    // The creator's memberships, as createChannel wrote them.
    for (const ms of (await ok('alice', 'GET', '/api/entities/Membership?limit=100')).data as Row[]) {
      if (typeof ms.channelId === 'string') members.set(ms.id, { channelId: ms.channelId, userId: 'alice' });
    }
    expect(members.size).toBe(2);
    bobInGeneral = await addMember('alice', general, 'bob');
    await addMember('alice', random, 'carol');
    // A member may not add people; nobody adds themselves.
    expect((await call('bob', 'POST', '/api/entities/Membership', { channelId: random, workspaceId: 'acme', userId: 'bob' })).status).toBe(403);
    expect(((await ok('bob', 'GET', '/api/entities/Channel?limit=100')).data as Row[]).map((c) => c.title)).toEqual(['general']);
  });

  it('delivers each message live to exactly the members of its channel', async () => {
    for (const user of USERS) {
      const { client } = await LiveClient.connect(`${url.replace('http', 'ws')}/ws`, { token: tokens[user]! });
      client.send({ type: 'subscribe', id: 'messages', entity: 'Message', filter: { $order: { sentAt: 'asc' }, $limit: 500 } });
      const result = await client.next('result', (m) => m.id === 'messages');
      live.set(user, { client, query: result.query, rows: new Map((result.rows as Row[]).map((r) => [r.id, r])) });
    }
    await post('alice', general, 'welcome to general');
    await post('bob', general, 'hi all');
    await post('carol', random, 'anyone for lunch?');
    await post('alice', random, 'me');
    // Bob is not in random: the insert rule refuses, and nothing is written.
    const refused = await call('bob', 'POST', '/api/fn/postMessage', { channelId: random, text: 'me too' });
    expect(refused).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    expect(await settle()).toEqual(new Set(USERS));
    await expectWindowsMatchOracle();
    expect(expected('bob')).toHaveLength(2);
    expect(expected('carol')).toHaveLength(2);
    // The query function answers under the same rules.
    expect(await ok('bob', 'POST', '/api/fn/channelMessages', { channelId: random })).toEqual([]);
    expect((await ok('carol', 'POST', '/api/fn/channelMessages', { channelId: random })).map((m: Row) => m.text)).toEqual(['anyone for lunch?', 'me']);
  });

  it('follows memberships: added rows arrive, removed ones leave, for that user only', async () => {
    await addMember('alice', random, 'bob');
    expect(await settle()).toEqual(new Set(['bob']));
    await expectWindowsMatchOracle();
    // Bob's presence in general's room ends with his membership.
    const bob = live.get('bob')!.client;
    bob.send({ type: 'join', id: 'j', room: `channel:${general}` });
    await bob.next('joined', (m) => m.id === 'j');
    live.get('carol')!.client.send({ type: 'join', id: 'j', room: `channel:${general}` });
    expect(await live.get('carol')!.client.next('error', (m) => m.id === 'j')).toMatchObject({ code: 'POLICY_DENIED' });
    await ok('alice', 'DELETE', `/api/entities/Membership/${bobInGeneral}`);
    members.delete(bobInGeneral);
    expect(await bob.next('error', (m) => m.room === `channel:${general}`)).toMatchObject({ code: 'POLICY_DENIED' });
    expect(await settle()).toEqual(new Set(['bob']));
    await expectWindowsMatchOracle();
    expect(expected('bob')).toEqual(
      posted
        .filter((m) => m.channelId === random)
        .map((m) => m.id)
        .sort(),
    );
  });
});
