import { liveWindow, type ServerMessage } from '@mast/protocol';
import { compileManifest, relatedMayMatch, type AppSchema, type FilterNode } from '@mast/schema';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ANONYMOUS, type AuthContext } from '../access/auth-context.js';
import { ChangeBus } from '../changes/change-bus.js';
import { SchemaRef } from '../access/schema-ref.js';
import { WritePath } from '../entities/write-path.js';
import { createPlan } from '../store/conformance/fixtures.js';
import type { Store } from '../store/index.js';
import { createSqliteStore, type SqliteStore } from '../store/sqlite/index.js';
import type { EncodedFrame, LiveSink } from './live-frames.js';
import { LiveEngine } from './live-engine.js';

/**
 * Live windows under a membership rule, against a real SQLite store and the real compiled
 * policies: a membership change reaches exactly the subscriptions it concerns, in that commit's
 * diff, and only their windows are read again.
 */

const schema: AppSchema = compileManifest({
  manifest_version: 1,
  name: 'live-relational',
  version: '1.0.0',
  entities: [
    {
      name: 'Membership',
      crdt: false,
      fields: [
        { name: 'channelId', type: 'string', optional: false, unique: false },
        { name: 'userId', type: 'string', optional: false, unique: false },
      ],
      indexes: [{ name: 'by_channel_user', fields: ['channelId', 'userId'], unique: true }],
    },
    {
      name: 'Message',
      crdt: false,
      fields: [
        { name: 'channelId', type: 'string', optional: false, unique: false },
        { name: 'title', type: 'string', optional: false, unique: false },
      ],
      indexes: [],
    },
  ],
  routes: [],
  policies: [
    { name: 'memberships', entity: 'Membership', allowRead: 'data.userId == auth.userId' },
    { name: 'members_read', entity: 'Message', allowRead: 'exists(Membership, m => m.channelId == data.channelId && m.userId == auth.userId)' },
  ],
});

class RecordingSink implements LiveSink {
  readonly messages: ServerMessage[] = [];
  send(frame: EncodedFrame): void {
    this.messages.push(JSON.parse(frame.buffer.toString('utf8')) as ServerMessage);
  }
}

const USERS = 40;
const user = (i: number): AuthContext => ({ ...ANONYMOUS, userId: `u${i}` });

let store: SqliteStore;
let writes: WritePath;
let engine: LiveEngine;
let reads = 0;
let lookups = 0;

beforeEach(async () => {
  store = createSqliteStore({ path: ':memory:' });
  await store.migrate(createPlan(schema), schema);
  const ref = new SchemaRef(schema);
  // Counts the related-row lookups single-row decisions make; each goes to the real store.
  ref.bindStore({
    rowExists: (entity, where) => {
      lookups++;
      return store.rowExists(entity, where);
    },
  });
  const bus = new ChangeBus((err) => {
    throw err;
  });
  writes = new WritePath(store, ref, bus);
  // Counts the reads the engine makes; every call goes to the real store.
  const counted: Store = Object.create(store, {
    read: {
      value: <T>(fn: Parameters<Store['read']>[0]): Promise<T> => {
        reads++;
        return store.read(fn) as Promise<T>;
      },
    },
  }) as Store;
  engine = new LiveEngine({
    store: counted,
    schema: ref,
    bus,
    limits: { maxLimit: 1000, defaultLimit: 100 },
    maxSubscriptions: 10,
    access: {
      canRead: (auth, entity, row) => auth.isAdmin || ref.access.canRead(auth, entity, row),
      scopeOf: (auth) => ref.access.scopeOf(auth),
      readFilter: (auth, entity) => (auth.isAdmin ? true : ref.access.readFilter(auth, entity)),
      readDependencies: (auth, entity) => (auth.isAdmin ? [] : ref.access.readDependencies(entity)),
    },
    onError: (err) => {
      throw err;
    },
  });
  await engine.start();
});

afterEach(async () => {
  await engine.stop();
  await store.close();
});

async function write(op: Parameters<WritePath['apply']>[0][number]): Promise<number> {
  return (await writes.apply([op], { auth: ADMIN })).results[0]!.seq;
}

describe('live windows under a membership rule', () => {
  it('a membership insert or delete changes only the windows of the user it names, in its own diff', async () => {
    // Each user is a member of their own channel; every channel has two messages.
    for (let i = 0; i < USERS; i++) {
      await write({ op: 'insert', entity: 'Membership', id: `ms-${i}`, data: { channelId: `c${i}`, userId: `u${i}` } });
      for (const n of [1, 2]) await write({ op: 'insert', entity: 'Message', id: `m-${i}-${n}`, data: { channelId: `c${i}`, title: `message ${n} of c${i}` } });
    }
    const sinks = Array.from({ length: USERS }, () => new RecordingSink());
    for (let i = 0; i < USERS; i++) await engine.subscribe(sinks[i]!, { id: 'messages', entity: 'Message' }, user(i));
    for (let i = 0; i < USERS; i++) {
      expect([...liveWindow(sinks[i]!.messages).keys()].sort()).toEqual([`m-${i}-1`, `m-${i}-2`]);
    }
    const before = sinks.map((s) => s.messages.length);
    reads = 0;
    const joined = await write({ op: 'insert', entity: 'Membership', id: 'ms-7-in-3', data: { channelId: 'c3', userId: 'u7' } });
    await engine.stop();
    // One window was read again: u7's. The 39 others were left alone and were sent nothing.
    expect(reads).toBe(1);
    for (let i = 0; i < USERS; i++) expect(sinks[i]!.messages.length, `u${i}`).toBe(before[i]! + (i === 7 ? 1 : 0));
    const diff = sinks[7]!.messages.at(-1) as Extract<ServerMessage, { type: 'diff' }>;
    expect(diff).toMatchObject({ type: 'diff', seq: joined, removed: [] });
    expect(diff.added.map((r) => r.id).sort()).toEqual(['m-3-1', 'm-3-2']);
    expect([...liveWindow(sinks[7]!.messages).keys()].sort()).toEqual(['m-3-1', 'm-3-2', 'm-7-1', 'm-7-2']);

    await engine.start();
    reads = 0;
    const left = await write({ op: 'delete', entity: 'Membership', id: 'ms-3' });
    await engine.stop();
    expect(reads).toBe(1);
    const removed = sinks[3]!.messages.at(-1) as Extract<ServerMessage, { type: 'diff' }>;
    expect(removed).toMatchObject({ type: 'diff', seq: left, added: [], changed: [] });
    expect([...removed.removed].sort()).toEqual(['m-3-1', 'm-3-2']);
    // u7 still reads c3 through their own membership: nothing for them.
    expect(sinks[7]!.messages.at(-1)).toBe(diff);
  });
});

describe('a row inserted under a membership rule', () => {
  it('is decided once per scope, however many windows of that scope it is a candidate for', async () => {
    for (let i = 0; i < USERS; i++) await write({ op: 'insert', entity: 'Membership', id: `ms-${i}`, data: { channelId: `c${i}`, userId: `u${i}` } });
    // Three distinct windows per user (different limits, so none is shared).
    const sinks: RecordingSink[][] = [];
    for (let i = 0; i < USERS; i++) {
      sinks.push([]);
      for (const limit of [10, 11, 12]) {
        const sink = new RecordingSink();
        sinks[i]!.push(sink);
        await engine.subscribe(sink, { id: 'w', entity: 'Message', filter: { $limit: limit } }, user(i));
      }
    }
    const before = sinks.map((row) => row.map((s) => s.messages.length));
    lookups = 0;
    const seq = await write({ op: 'insert', entity: 'Message', id: 'm-5', data: { channelId: 'c5', title: 'for the members of c5' } });
    await engine.stop();
    // 120 windows are candidates (they have no filter); 40 scopes decide, one lookup each.
    expect(lookups).toBe(USERS);
    for (let i = 0; i < USERS; i++) {
      for (const [j, sink] of sinks[i]!.entries()) {
        expect(sink.messages.length, `u${i} window ${j}`).toBe(before[i]![j]! + (i === 5 ? 1 : 0));
        if (i === 5) expect(sink.messages.at(-1)).toMatchObject({ type: 'diff', seq, added: [{ id: 'm-5' }] });
      }
    }
  });
});

describe('relatedMayMatch', () => {
  const rule: FilterNode = {
    kind: 'related',
    entity: 'Membership',
    where: {
      kind: 'and',
      items: [
        { kind: 'link', field: 'channelId', outer: 'channelId', up: 1 },
        { kind: 'compare', field: 'userId', op: 'eq', value: 'u1' },
      ],
    },
  };
  it('rules out rows a related filter can never find, and keeps the rest', () => {
    expect(relatedMayMatch(rule, 'Membership', { channelId: 'c1', userId: 'u2' })).toBe(false);
    expect(relatedMayMatch(rule, 'Membership', { channelId: 'c9', userId: 'u1' })).toBe(true);
    expect(relatedMayMatch(rule, 'Message', { channelId: 'c1', userId: 'u1' })).toBe(false);
    expect(relatedMayMatch({ kind: 'not', item: rule }, 'Membership', { userId: 'u1' })).toBe(true);
    const nested: FilterNode = { kind: 'related', entity: 'Channel', where: { kind: 'or', items: [{ kind: 'compare', field: 'open', op: 'eq', value: true }, rule] } };
    expect(relatedMayMatch(nested, 'Membership', { userId: 'u2' })).toBe(false);
    expect(relatedMayMatch(nested, 'Channel', { open: false })).toBe(true);
  });
});
