import { liveWindow, type ServerMessage } from '@mast/protocol';
import { compileManifest, type AppSchema } from '@mast/schema';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN } from '../access/auth-context.js';
import { ChangeBus } from '../changes/change-bus.js';
import { SchemaRef } from '../access/schema-ref.js';
import { WritePath } from '../entities/write-path.js';
import { createPlan } from '../store/conformance/fixtures.js';
import type { ChangeRecord, Row } from '../store/index.js';
import { createSqliteStore, type SqliteStore } from '../store/sqlite/index.js';
import type { EncodedFrame, LiveSink } from './live-frames.js';
import { LiveEngine } from './live-engine.js';

/**
 * The engine against a real SQLite store. Commits go through the write path onto one bus; the
 * test holds them and hands them to the engine's bus when it chooses, in commit order, so it can
 * make several commits arrive while the engine is busy (what happens under load) on purpose.
 */

const schema: AppSchema = compileManifest({
  manifest_version: 1,
  name: 'engine-test',
  version: '1.0.0',
  entities: [
    {
      name: 'Todo',
      crdt: false,
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'ownerId', type: 'string', optional: false, unique: false },
      ],
      indexes: [],
    },
  ],
  routes: [],
});

/** A sink that keeps every message it is sent, parsed from the shared frame's bytes. */
class RecordingSink implements LiveSink {
  readonly messages: ServerMessage[] = [];
  readonly #waiters = new Set<() => void>();

  send(frame: EncodedFrame): void {
    this.messages.push(JSON.parse(frame.buffer.toString('utf8')) as ServerMessage);
    for (const wake of [...this.#waiters]) wake();
  }

  of<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.messages.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }

  /** Resolves once `count` messages of `type` arrived. */
  async until(type: ServerMessage['type'], count: number): Promise<void> {
    if (this.of(type).length >= count) return;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        if (this.of(type).length < count) return;
        this.#waiters.delete(wake);
        resolve();
      };
      this.#waiters.add(wake);
    });
  }
}

let store: SqliteStore;
let writes: WritePath;
let engine: LiveEngine;
/** Commits the write path published and the engine has not been given yet. */
let held: Array<readonly ChangeRecord[]>;
let engineBus: ChangeBus;

beforeEach(async () => {
  store = createSqliteStore({ path: ':memory:' });
  await store.migrate(createPlan(schema), schema);
  const ref = new SchemaRef(schema);
  const writeBus = new ChangeBus((err) => {
    throw err;
  });
  held = [];
  writeBus.subscribe((changes) => held.push(changes));
  writes = new WritePath(store, ref, writeBus);
  engineBus = new ChangeBus((err) => {
    throw err;
  });
  engine = new LiveEngine({
    store,
    schema: ref,
    bus: engineBus,
    limits: { maxLimit: 1000, defaultLimit: 100 },
    maxSubscriptions: 10,
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

/** Hands every held commit to the engine in one go, in commit order (as the bus would have). */
function release(): void {
  for (const changes of held.splice(0)) engineBus.publish(changes);
}

async function insert(title: string, ownerId = 'a'): Promise<{ id: string; seq: number }> {
  const [result] = (await writes.apply([{ op: 'insert', entity: 'Todo', data: { title, ownerId } }], { auth: ADMIN })).results;
  return { id: result!.id, seq: result!.seq };
}

async function update(id: string, title: string): Promise<number> {
  return (await writes.apply([{ op: 'update', entity: 'Todo', id, data: { title } }], { auth: ADMIN })).results[0]!.seq;
}

async function remove(id: string): Promise<number> {
  return (await writes.apply([{ op: 'delete', entity: 'Todo', id }], { auth: ADMIN })).results[0]!.seq;
}

async function stored(ownerId: string): Promise<Map<string, Row>> {
  const rows = await store.read((tx) => tx.find('Todo', { where: { kind: 'compare', field: 'ownerId', op: 'eq', value: ownerId } }));
  return new Map(rows.map((r) => [r.id, r]));
}

describe('commits that arrive while the engine is busy', () => {
  it('go out as one diff per subscription with the seq of the last, reflecting all of them', async () => {
    const first = await insert('first');
    release();
    const sink = new RecordingSink();
    await engine.subscribe(sink, { id: 's', entity: 'Todo', filter: { ownerId: 'a' } }, ADMIN);
    const other = new RecordingSink();
    await engine.subscribe(other, { id: 's', entity: 'Todo', filter: { ownerId: 'b' } }, ADMIN);

    const second = await insert('second');
    const edited = await update(first.id, 'first, edited');
    await update(second.id, 'second, edited');
    const gone = await insert('gone');
    const last = await remove(gone.id);
    expect(last).toBeGreaterThan(edited);
    release();
    await sink.until('diff', 1);
    await engine.stop();

    const [diff] = sink.of('diff');
    expect(sink.of('diff')).toHaveLength(1);
    expect(diff!.seq).toBe(last);
    expect(diff!.added).toEqual([expect.objectContaining({ id: second.id, title: 'second, edited' })]);
    expect(diff!.changed).toEqual([expect.objectContaining({ id: first.id, title: 'first, edited' })]);
    // Inserted and deleted within one diff: the client never held it, so nothing to remove.
    expect(diff!.removed).toEqual([]);
    expect(liveWindow(sink.messages)).toEqual(await stored('a'));
    // A subscription none of the commits touched gets nothing.
    expect(other.of('diff')).toEqual([]);
  });

  it('leave no gap and no duplicate for a client that resumes from a coalesced diff', async () => {
    const sink = new RecordingSink();
    await engine.subscribe(sink, { id: 's', entity: 'Todo', filter: { ownerId: 'a' } }, ADMIN);
    const kept = await insert('kept');
    const dropped = await insert('dropped');
    release();
    await sink.until('diff', 1);
    const cursor = sink.of('diff')[0]!.seq;
    expect(cursor).toBe(dropped.seq);
    engine.dropSink(sink);

    // Missed while away, also coalesced for the sockets that stayed.
    const stayed = new RecordingSink();
    await engine.subscribe(stayed, { id: 's', entity: 'Todo', filter: { ownerId: 'a' } }, ADMIN);
    await update(kept.id, 'kept, edited');
    await remove(dropped.id);
    const added = await insert('added');
    release();
    await stayed.until('diff', 1);

    const back = new RecordingSink();
    await engine.resume(back, 'r', cursor, [{ id: 's', entity: 'Todo', filter: { ownerId: 'a' } }], ADMIN);
    const [resumed] = back.of('resumed');
    expect(resumed!.seq).toBe(added.seq);
    expect(resumed!.added.map((r) => r.id)).toEqual([added.id]);
    expect(resumed!.changed).toEqual([expect.objectContaining({ id: kept.id, title: 'kept, edited' })]);
    expect(resumed!.removed).toEqual([dropped.id]);
    expect(liveWindow([...sink.messages, ...back.messages])).toEqual(await stored('a'));

    // Live again from there: the next diff is the next commit, once.
    const next = await insert('next');
    release();
    await back.until('diff', 1);
    expect(back.of('diff').map((d) => d.seq)).toEqual([next.seq]);
    expect(liveWindow([...sink.messages, ...back.messages])).toEqual(await stored('a'));
  });

  it('keep commit order across subscriptions: every diff a sink gets has a higher seq than the one before', async () => {
    const sink = new RecordingSink();
    await engine.subscribe(sink, { id: 'a', entity: 'Todo', filter: { ownerId: 'a' } }, ADMIN);
    await engine.subscribe(sink, { id: 'b', entity: 'Todo', filter: { ownerId: 'b' } }, ADMIN);
    const rounds: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i <= round; i++) await insert(`r${round}-${i}`, i % 2 === 0 ? 'a' : 'b');
      rounds.push(held.at(-1)![0]!.seq);
      release();
    }
    await engine.stop();
    const diffs = sink.of('diff');
    for (const owner of ['a', 'b']) {
      const handle = sink.of('result').find((r) => r.id === owner)!.query;
      const seqs = diffs.filter((d) => d.query === handle).map((d) => d.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
    // Commits released together went out together: one diff per touched subscription per release.
    expect(diffs.length).toBeLessThanOrEqual(rounds.length * 2);
    expect(diffs.at(-1)!.seq).toBe(rounds.at(-1));
    expect(liveWindow(sink.messages.filter((m) => m.type !== 'diff' || m.query === sink.of('result')[0]!.query))).toEqual(await stored('a'));
  });
});
