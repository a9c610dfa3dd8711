import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LoroDoc } from 'loro-crdt';
import type { Manifest } from '@mast/schema';
import { afterAll, expect, it } from 'vitest';
import { CrdtClient } from './helpers/crdt-client.js';
import { startChildServer, writeApp, type ChildServer } from './helpers/child-server.js';

// A real server process on a real SQLite file is killed with SIGKILL in the middle of concurrent
// acknowledged writes, several times, and restarted on the same file. Every write it answered
// must be there afterwards, the change log must have no gap, a transact must be all or nothing,
// and rows with a CRDT document must equal their stored document. Most of its time is the four
// server starts (about 1.2 s each on an idle 2-core machine, `npm run bench -- startup`).

const ADMIN = 'admin-token-for-kill-test';
const KILLS = 3;
const WRITERS = 6;

const manifest: Manifest = {
  manifest_version: 1,
  name: 'durability',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Item',
      fields: [
        { name: 'writer', type: 'int', optional: false, unique: false },
        { name: 'n', type: 'int', optional: false, unique: false },
      ],
      indexes: [],
    },
  ],
  policies: [],
};

const dir = mkdtempSync(join(tmpdir(), 'mast-kill-'));
const dbFile = join(dir, 'kill.db');
let server: ChildServer | undefined;
afterAll(async () => {
  server?.proc.kill('SIGKILL');
  await server?.exited;
  rmSync(dir, { recursive: true, force: true });
});

const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server!.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, json: await res.json() };
}

/** What the writers were told: acknowledged inserts, transact pairs, and each counter row's values. */
const acked = { inserts: new Map<string, number>(), pairs: new Set<string>(), attemptedPairs: new Set<string>() };
const counters = new Map<string, { acked: number; attempted: number }>();

/** One writer: inserts, a transact of two inserts, and an update of its counter row, until stopped. */
async function writer(w: number, round: number, stop: { now: boolean }): Promise<void> {
  const counterId = `c${w}`;
  for (let i = 0; !stop.now; i++) {
    try {
      const id = `r${round}-w${w}-${i}`;
      const inserted = await call('POST', '/api/entities/Item', { id, writer: w, n: i });
      if (inserted.status === 201) acked.inserts.set(id, inserted.json.seq as number);
      const pair = `p${round}-w${w}-${i}`;
      acked.attemptedPairs.add(pair);
      const t = await call('POST', '/api/transact', [
        { op: 'insert', entity: 'Item', data: { id: `${pair}-a`, writer: w, n: i } },
        { op: 'insert', entity: 'Item', data: { id: `${pair}-b`, writer: w, n: i } },
      ]);
      if (t.status === 200) acked.pairs.add(pair);
      const counter = counters.get(counterId)!;
      const next = counter.attempted + 1;
      counter.attempted = next;
      const patched = await call('PATCH', `/api/entities/Item/${counterId}`, { n: next });
      if (patched.status === 200) counter.acked = next;
    } catch {
      return; // the server is gone: this write was not acknowledged
    }
  }
}

it('keeps every acknowledged write, a gap-free change log and whole transacts across SIGKILLs', { timeout: 90_000 }, async () => {
  writeApp(dir, manifest);
  const env = { MAST_DATABASE_URL: dbFile, MAST_ADMIN_TOKEN: ADMIN, MAST_LOG_LEVEL: 'info', MAST_MAX_LIMIT: '100000' };
  for (let round = 0; round < KILLS; round++) {
    server = await startChildServer(dir, env);
    if (round === 0) {
      // Counter rows, each with a CRDT document (a subscribe makes it), so updates go through it.
      const client = await CrdtClient.connect(`${server.url.replace('http:', 'ws:')}/ws`, ADMIN, 'Item');
      for (let w = 0; w < WRITERS; w++) {
        expect((await call('POST', '/api/entities/Item', { id: `c${w}`, writer: w, n: 0 })).status).toBe(201);
        counters.set(`c${w}`, { acked: 0, attempted: 0 });
        client.send({ type: 'crdt-subscribe', entity: 'Item', rowId: `c${w}` });
        await client.frame(w);
      }
      client.ws.close();
    }
    const stop = { now: false };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w, round, stop));
    // Kill mid-load, at a different moment each round.
    await new Promise((resolve) => setTimeout(resolve, 600 + 250 * round));
    server.proc.kill('SIGKILL');
    expect(await server.exited).toBe('SIGKILL');
    stop.now = true;
    await Promise.all(writers);
  }
  expect(acked.inserts.size).toBeGreaterThan(KILLS * WRITERS);

  server = await startChildServer(dir, env);
  // Every acknowledged insert is there, with the seq it was answered with.
  const log: Array<{ seq: number; row_id: string }> = [];
  for (let since = 0, more = true; more; ) {
    const page = await call('GET', `/api/sync/pull?since=${since}&limit=1000`);
    expect(page.status).toBe(200);
    log.push(...page.json.changes);
    since = page.json.cursor.last_seq;
    more = page.json.has_more;
  }
  // No gap: seqs run 1, 2, 3, … to the head.
  expect(log.map((c) => c.seq)).toEqual(log.map((_, i) => i + 1));
  const bySeq = new Map(log.map((c) => [c.seq, c.row_id]));
  for (const [id, seq] of acked.inserts) expect(bySeq.get(seq), `insert ${id} answered with seq ${seq}`).toBe(id);
  const rows = new Map<string, { n: number }>(((await call('GET', '/api/entities/Item?limit=100000')).json.data as Array<{ id: string; n: number }>).map((r) => [r.id, r]));
  for (const id of acked.inserts.keys()) expect(rows.has(id), `acknowledged insert ${id}`).toBe(true);
  // A transact is whole: both rows or neither, and both when it was acknowledged.
  for (const pair of acked.attemptedPairs) {
    expect(rows.has(`${pair}-a`), `transact ${pair}`).toBe(rows.has(`${pair}-b`));
    if (acked.pairs.has(pair)) expect(rows.has(`${pair}-a`), `acknowledged transact ${pair}`).toBe(true);
  }
  // An update is there once acknowledged (a later one may have committed unanswered).
  for (const [id, { acked: done, attempted }] of counters) {
    const n = rows.get(id)!.n;
    expect(n >= done && n <= attempted, `${id}: n ${n}, acknowledged ${done}, attempted ${attempted}`).toBe(true);
  }
  server.proc.kill('SIGKILL');
  await server.exited;
  server = undefined;

  // Each counter row equals its stored document.
  const db = new Database(dbFile, { readonly: true });
  try {
    for (const id of counters.keys()) {
      const record = db.prepare('SELECT snapshot FROM _mast_crdt WHERE entity = ? AND row_id = ?').get('Item', id) as { snapshot: Buffer };
      const doc = new LoroDoc();
      doc.import(new Uint8Array(record.snapshot));
      const row = db.prepare('SELECT n FROM "Item" WHERE id = ?').get(id) as { n: number };
      expect(Number(doc.getMap('row').get('n')), `document of ${id}`).toBe(row.n);
    }
  } finally {
    db.close();
  }
});
