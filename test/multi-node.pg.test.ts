import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Manifest } from '@mast/schema';
import type { ServerMessage } from '@mast/protocol';
import { testSchema, TEST_DATABASE_URL } from '@mast/server/testing';
import { startChildServer, writeApp, type ChildServer } from './helpers/child-server.js';
import { LiveClient } from './helpers/live-client.js';
import { CrdtClient } from './helpers/crdt-client.js';

// Three `mast start` processes on one PostgreSQL schema behave as one server for live queries:
// subscribers on every node see every write made through any node exactly once and in seq
// order, and never a row their policy denies; a node killed with SIGKILL during a burst of
// writes loses no acknowledged write, and its clients resume on another node with no gap; a
// node whose notification connection is terminated catches up from the change log.

const ADMIN = 'admin-token-for-multi-node';
const NODES = 3;
const SUBSCRIBERS_PER_NODE = 2;

const manifest: Manifest = {
  manifest_version: 1,
  name: 'multi-node',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Item',
      fields: [
        { name: 'node', type: 'int', optional: false, unique: false },
        { name: 'n', type: 'int', optional: false, unique: false },
        { name: 'secret', type: 'bool', optional: false, unique: false },
      ],
      indexes: [],
    },
    {
      name: 'Note',
      fields: [{ name: 'body', type: 'richtext', optional: true, unique: false }],
      indexes: [],
    },
    {
      name: 'Run',
      fields: [
        { name: 'key', type: 'string', optional: false, unique: false },
        { name: 'node', type: 'int', optional: false, unique: false },
      ],
      indexes: [],
    },
  ],
  policies: [{ name: 'public_items', entity: 'Item', allowRead: 'data.secret == false' }],
};

const schema = testSchema();
// Inside the repository, so function files can import @mast/functions from node_modules.
const dir = mkdtempSync(join(process.cwd(), '.tmp-nodes-'));
const nodes: ChildServer[] = [];
const clients: LiveClient[] = [];
let env: Record<string, string>;
let admin: pg.Client;

beforeAll(async () => {
  await (await schema.open()).close();
  writeApp(dir, manifest);
  // A mutation that schedules jobs, and the job, which records the node that ran it.
  const api = "'@mast/functions'";
  mkdirSync(join(dir, 'functions'));
  writeFileSync(
    join(dir, 'functions', 'fanout.ts'),
    `import { mutation, v } from ${api};\nexport default mutation({ args: { count: v.number() }, handler: async (ctx, a) => { for (let i = 0; i < a.count; i++) await ctx.scheduler.runAfter(0, 'record', { key: 'k' + i }); } });\n`,
  );
  writeFileSync(
    join(dir, 'functions', 'record.ts'),
    `import { mutation, v } from ${api};\nexport default mutation({ args: { key: v.string() }, handler: (ctx, a) => ctx.db.insert('Run', { key: a.key, node: Number(process.env.MAST_TEST_NODE) }) });\n`,
  );
  const url = `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema.name}`)}`;
  // Unsupervised, so the process a test kills is the server itself.
  env = { MAST_DATABASE_URL: url, MAST_ADMIN_TOKEN: ADMIN, MAST_MAX_LIMIT: '100000', MAST_JOB_POLL: '50', MAST_SUPERVISE: 'false' };
  nodes.push(...(await Promise.all(Array.from({ length: NODES }, (_, i) => startChildServer(dir, { ...env, MAST_TEST_NODE: String(i) })))));
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const node of nodes) node.proc.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exited));
  await admin?.end();
  await schema.drop();
  rmSync(dir, { recursive: true, force: true });
});

const wsUrl = (node: ChildServer) => `${node.url.replace('http:', 'ws:')}/ws`;
const FILTER = { $limit: 10_000 };

/** Inserts one row through `node`; its seq when acknowledged, null when the node did not answer. */
async function insert(node: ChildServer, id: string, data: { node: number; n: number; secret: boolean }): Promise<number | null> {
  try {
    const res = await fetch(`${node.url}/api/entities/Item`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, ...data }),
    });
    if (res.status !== 201) return null;
    return ((await res.json()) as { seq: number }).seq;
  } catch {
    return null;
  }
}

/** A guest subscriber on `node` holding one window over every Item. */
async function subscriber(node: ChildServer): Promise<LiveClient> {
  const res = await fetch(`${node.url}/api/auth/guest`, { method: 'POST' });
  const { token } = (await res.json()) as { token: string };
  const { client } = await LiveClient.connect(wsUrl(node), { token });
  clients.push(client);
  client.send({ type: 'subscribe', id: 'items', entity: 'Item', filter: FILTER });
  await client.next('result', (m) => m.id === 'items');
  return client;
}

const messages = (client: LiveClient): ServerMessage[] => client.frames.map((raw) => JSON.parse(raw) as ServerMessage);

/** Polls `check` until it holds (the nodes deliver asynchronously); fails with `describe()` after `ms`. */
async function until(check: () => boolean, describe: () => string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * What a subscriber's frames say: the row ids it was told were added, in order, with the seq of
 * the frame that carried them; diff seqs must rise strictly.
 */
function deliveries(client: LiveClient): { added: Array<{ id: string; seq: number }>; seqs: number[] } {
  const added: Array<{ id: string; seq: number }> = [];
  const seqs: number[] = [];
  for (const m of messages(client)) {
    if (m.type === 'diff' || m.type === 'resumed') {
      seqs.push(m.seq);
      for (const row of m.added) added.push({ id: row.id, seq: m.seq });
    }
  }
  return { added, seqs };
}

/**
 * Checks one subscriber against the acknowledged writes: every public row exactly once, none
 * of the secret ones, frames in rising seq order, each row in the first frame whose seq covers
 * its write (so no frame carried a change ahead of an earlier one).
 */
function checkSubscriber(client: LiveClient, acked: Map<string, { seq: number; secret: boolean }>, from: number): void {
  const { added, seqs } = deliveries(client);
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
  const counts = new Map<string, number>();
  for (const a of added) counts.set(a.id, (counts.get(a.id) ?? 0) + 1);
  for (const [id, write] of acked) {
    if (write.seq <= from) continue;
    expect(counts.get(id) ?? 0, id).toBe(write.secret ? 0 : 1);
  }
  const frameSeqs = [...new Set(added.map((a) => a.seq))];
  for (const a of added) {
    const write = acked.get(a.id);
    if (!write) continue;
    const index = frameSeqs.indexOf(a.seq);
    expect(write.seq).toBeLessThanOrEqual(a.seq);
    if (index > 0) expect(write.seq).toBeGreaterThan(frameSeqs[index - 1]!);
  }
  for (const raw of client.frames) expect(raw).not.toContain('"secret":true');
}

function publicIds(acked: Map<string, { seq: number; secret: boolean }>): string[] {
  return [...acked].filter(([, w]) => !w.secret).map(([id]) => id);
}

const has = (client: LiveClient, ids: readonly string[]) => {
  const got = new Set(deliveries(client).added.map((a) => a.id));
  return ids.every((id) => got.has(id));
};

it('fans every write through any of three nodes out to subscribers on all of them, once and in seq order', { timeout: 60_000 }, async () => {
  const subscribers = await Promise.all(nodes.flatMap((node) => Array.from({ length: SUBSCRIBERS_PER_NODE }, () => subscriber(node))));
  const acked = new Map<string, { seq: number; secret: boolean }>();
  // Three writers per node, concurrently; every fifth row is one the guests may not read.
  await Promise.all(
    nodes.flatMap((node, k) =>
      [0, 1, 2].map(async (w) => {
        for (let i = 0; i < 15; i++) {
          const id = `a-${k}-${w}-${i}`;
          const secret = i % 5 === 4;
          const seq = await insert(node, id, { node: k, n: i, secret });
          expect(seq, id).not.toBeNull();
          acked.set(id, { seq: seq!, secret });
        }
      }),
    ),
  );
  const ids = publicIds(acked);
  for (const client of subscribers)
    await until(
      () => has(client, ids),
      () => `${ids.length} rows, got ${deliveries(client).added.length}`,
    );
  // A barrier on any node acknowledges with a seq covering every write made through the others.
  const head = Math.max(...[...acked.values()].map((w) => w.seq));
  for (const [i, client] of subscribers.entries()) {
    client.send({ type: 'barrier', id: `b${i}` });
    expect((await client.next('ack', (m) => m.id === `b${i}`)).seq).toBeGreaterThanOrEqual(head);
  }
  for (const client of subscribers) checkSubscriber(client, acked, 0);
});

it('runs each job once across the three nodes', { timeout: 60_000 }, async () => {
  const JOBS = 60;
  const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  expect((await fetch(`${nodes[0]!.url}/api/fn/fanout`, { method: 'POST', headers, body: JSON.stringify({ count: JOBS }) })).status).toBe(200);
  const runs = async () =>
    (await (await fetch(`${nodes[1]!.url}/api/query/Run`, { method: 'POST', headers, body: JSON.stringify({ $limit: 100_000 }) })).json()) as Array<{ key: string; node: number }>;
  let rows: Array<{ key: string; node: number }> = [];
  const deadline = Date.now() + 20_000;
  while ((rows = await runs()).length < JOBS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  // Past the point every job has run, a few more polls of every node run nothing again.
  await new Promise((resolve) => setTimeout(resolve, 300));
  rows = await runs();
  const keys = rows.map((r) => r.key).sort();
  expect(keys).toEqual(Array.from({ length: JOBS }, (_, i) => `k${i}`).sort());
});

it('carries CRDT edits pushed through one node to subscribers of the row on another', { timeout: 60_000 }, async () => {
  const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const created = await fetch(`${nodes[0]!.url}/api/entities/Note`, { method: 'POST', headers, body: JSON.stringify({ id: 'n1', body: 'hello' }) });
  expect(created.status).toBe(201);
  const [a, b] = await Promise.all([CrdtClient.connect(wsUrl(nodes[0]!), ADMIN, 'Note'), CrdtClient.connect(wsUrl(nodes[1]!), ADMIN, 'Note')]);
  try {
    for (const c of [a, b]) {
      c.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
      await c.frame(0);
      expect(c.text('n1')).toBe('hello');
    }
    a.type('n1', (doc) => doc.getText('body').insert(5, ' world'));
    await b.waitFor(() => (b.text('n1') === 'hello world' ? true : undefined), 15_000);
    b.type('n1', (doc) => doc.getText('body').insert(0, '> '));
    await a.waitFor(() => (a.text('n1') === '> hello world' ? true : undefined), 15_000);
    // The row as stored, read through the third node, is the merged document.
    const row = (await (await fetch(`${nodes[2]!.url}/api/entities/Note/n1`, { headers })).json()) as { body: string };
    expect(row.body).toBe('> hello world');
  } finally {
    a.ws.close();
    b.ws.close();
  }
});

it('loses no acknowledged write when a node is killed mid-burst; its clients resume on another node with no gap', { timeout: 60_000 }, async () => {
  const victim = nodes[2]!;
  const survivor = nodes[0]!;
  const watchers = await Promise.all([subscriber(victim), subscriber(victim), subscriber(nodes[1]!)]);
  const acked = new Map<string, { seq: number; secret: boolean }>();
  const stop = { now: false };
  const writers = nodes.flatMap((node, k) =>
    [0, 1].map(async (w) => {
      for (let i = 0; !stop.now; i++) {
        const id = `b-${k}-${w}-${i}`;
        const secret = i % 4 === 3;
        const seq = await insert(node, id, { node: k, n: i, secret });
        if (seq !== null) acked.set(id, { seq, secret });
        else if (node === victim) return;
      }
    }),
  );
  // Kill once the victim has acknowledged some writes of the burst.
  await until(
    () => [...acked.keys()].filter((id) => id.startsWith('b-2-')).length >= 10,
    () => 'victim writes',
  );
  victim.proc.kill('SIGKILL');
  expect(await victim.exited).toBe('SIGKILL');
  const moved = watchers.slice(0, 2);
  await Promise.all(moved.map((c) => c.closed));
  // The clients of the dead node reconnect to another and resume from the last seq they hold.
  const resumed: LiveClient[] = [];
  for (const old of moved) {
    const seqs = deliveries(old).seqs;
    const last = Math.max(0, ...seqs, ...messages(old).flatMap((m) => (m.type === 'result' ? [m.seq] : [])));
    const res = await fetch(`${survivor.url}/api/auth/guest`, { method: 'POST' });
    const { token } = (await res.json()) as { token: string };
    const { client } = await LiveClient.connect(wsUrl(survivor), { token });
    clients.push(client);
    client.send({ type: 'resume', id: 'r', since: last, subscriptions: [{ id: 'items', entity: 'Item', filter: FILTER }] });
    await client.next('ack', (m) => m.id === 'r');
    resumed.push(client);
  }
  // The burst goes on through the surviving nodes for a little longer.
  const more = acked.size + 30;
  await until(
    () => acked.size >= more,
    () => 'more writes',
  );
  stop.now = true;
  await Promise.all(writers);

  // Every acknowledged write is in the shared database (read through a surviving node).
  const res = await fetch(`${survivor.url}/api/query/Item`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ $limit: 100_000 }),
  });
  const stored = new Set(((await res.json()) as Array<{ id: string }>).map((r) => r.id));
  for (const id of acked.keys()) expect(stored.has(id), id).toBe(true);

  const ids = publicIds(acked);
  await until(
    () => has(watchers[2]!, ids),
    () => 'the subscriber on the surviving node',
  );
  checkSubscriber(watchers[2]!, acked, 0);
  for (const [i, client] of resumed.entries()) {
    const old = moved[i]!;
    // What the old socket got and what the resumed one got together: every public write once.
    await until(
      () => {
        const got = new Set([...deliveries(old).added, ...deliveries(client).added].map((a) => a.id));
        return ids.every((id) => got.has(id));
      },
      () => 'the resumed subscriber',
    );
    const counts = new Map<string, number>();
    for (const a of [...deliveries(old).added, ...deliveries(client).added]) counts.set(a.id, (counts.get(a.id) ?? 0) + 1);
    for (const [id, write] of acked) expect(counts.get(id) ?? 0, id).toBe(write.secret ? 0 : 1);
    expect(messages(client).some((m) => m.type === 'resumed')).toBe(true);
    for (const raw of [...old.frames, ...client.frames]) expect(raw).not.toContain('"secret":true');
  }
  nodes.splice(2, 1);
});

it('catches a node up from the change log after its notification connection is terminated', { timeout: 60_000 }, async () => {
  const [a, b] = [nodes[0]!, nodes[1]!];
  const onA = await subscriber(a);
  const onB = await subscriber(b);
  const channel = `mast_changes:${schema.name}`;
  const listeners = async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE query = $1', [`LISTEN "${channel}"`])).rows.map((r) => r.pid);
  // Two nodes listen (a backend of the killed node may linger until PostgreSQL notices it is gone).
  const before = await listeners();
  expect(before.length).toBeGreaterThanOrEqual(2);
  // Writes through B while both nodes' listen connections are being cut.
  const acked = new Map<string, { seq: number; secret: boolean }>();
  await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [before]);
  for (let i = 0; i < 20; i++) {
    const id = `c-${i}`;
    const seq = await insert(b, id, { node: 1, n: i, secret: false });
    expect(seq).not.toBeNull();
    acked.set(id, { seq: seq!, secret: false });
  }
  const ids = publicIds(acked);
  for (const client of [onA, onB])
    await until(
      () => has(client, ids),
      () => `after the listen connection dropped: ${deliveries(client).added.length}`,
    );
  for (const client of [onA, onB]) checkSubscriber(client, acked, 0);
  // Both nodes listen again, on new connections.
  let fresh: number[] = [];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && (fresh = (await listeners()).filter((pid) => !before.includes(pid))).length < 2; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(fresh.length).toBe(2);
  // And a write through B now reaches A by notification.
  const seq = await insert(b, 'c-last', { node: 1, n: 99, secret: false });
  acked.set('c-last', { seq: seq!, secret: false });
  await until(
    () => has(onA, ['c-last']),
    () => 'c-last on A',
  );
});
