import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LoroDoc } from 'loro-crdt';
import { decodeCrdtFrame, encodeCrdtFrame } from '@mast/protocol';
import type { FieldTypeName, Manifest, ManifestField } from '@mast/schema';
import { deployFunctions } from './helpers/functions-app.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

/**
 * One server, five entities with different rules, and five callers (two users, a guest, an
 * anonymous caller and the admin) using every read and write surface: REST, sync pull, live
 * queries and CRDT rows over a real WebSocket. What each caller receives is checked row by row
 * against an oracle: the rules below, written as plain TypeScript, applied to the rows as the
 * admin reads them. The policy package is never asked.
 */

const ADMIN = 'admin-token-for-policy-e2e';
type Entity = 'Diary' | 'Post' | 'Report' | 'Invoice' | 'Doc';
const ENTITIES: readonly Entity[] = ['Diary', 'Post', 'Report', 'Invoice', 'Doc'];
type Row = Record<string, unknown> & { id: string };

const field = (name: string, type: FieldTypeName, optional = true): ManifestField => ({ name, type, optional, unique: false });
const manifest: Manifest = {
  manifest_version: 1,
  name: 'policy-e2e',
  version: '1',
  routes: [],
  entities: [
    { name: 'Diary', crdt: false, fields: [field('title', 'string', false), field('ownerId', 'string', false)], indexes: [] },
    { name: 'Post', crdt: false, fields: [field('title', 'string', false), field('ownerId', 'string', false), field('published', 'bool')], indexes: [] },
    { name: 'Report', crdt: false, fields: [field('title', 'string', false), field('level', 'int')], indexes: [] },
    { name: 'Invoice', crdt: false, fields: [field('title', 'string', false), field('tenantId', 'string'), field('amount', 'float')], indexes: [] },
    { name: 'Doc', fields: [field('title', 'string', false), field('body', 'richtext'), field('ownerId', 'string', false), field('shared', 'bool')], indexes: [] },
  ],
  policies: [
    { name: 'diary_owner', entity: 'Diary', allow: 'auth.userId == data.ownerId' },
    { name: 'post_public', entity: 'Post', allowRead: 'data.published == true || auth.userId == data.ownerId', allowWrite: 'auth.userId == data.ownerId' },
    { name: 'report_roles', entity: 'Report', allowRead: 'auth.hasAnyRole("auditor", "manager")', allowWrite: '"manager" in auth.roles' },
    { name: 'invoice_tenant', entity: 'Invoice', allow: 'auth.tenantId == data.tenantId' },
    { name: 'doc_owner', entity: 'Doc', allowRead: 'auth.userId == data.ownerId || data.shared == true', allowWrite: 'auth.userId == data.ownerId' },
  ],
};

interface Actor {
  readonly name: string;
  token: string | null;
  userId: string | null;
  readonly roles: readonly string[];
  readonly tenantId: string | null;
  readonly admin: boolean;
}

/** The rules of the manifest, by hand. `none`: the caller can read no row of the entity at all. */
const owns = (a: Actor, r: Row): boolean => a.userId !== null && r.ownerId === a.userId;
const RULES: Record<Entity, { read(a: Actor, r: Row): boolean; write(a: Actor, r: Row): boolean; none(a: Actor): boolean }> = {
  Diary: { read: owns, write: owns, none: (a) => a.userId === null },
  Post: { read: (a, r) => r.published === true || owns(a, r), write: owns, none: () => false },
  Report: {
    read: (a) => a.roles.includes('auditor') || a.roles.includes('manager'),
    write: (a) => a.roles.includes('manager'),
    none: (a) => !a.roles.includes('auditor') && !a.roles.includes('manager'),
  },
  Invoice: {
    read: (a, r) => a.tenantId !== null && r.tenantId === a.tenantId,
    write: (a, r) => a.tenantId !== null && r.tenantId === a.tenantId,
    none: (a) => a.tenantId === null,
  },
  Doc: { read: (a, r) => owns(a, r) || r.shared === true, write: owns, none: () => false },
};
const canRead = (a: Actor, e: Entity, r: Row): boolean => a.admin || RULES[e].read(a, r);
const canWrite = (a: Actor, e: Entity, r: Row): boolean => a.admin || RULES[e].write(a, r);
const readsNone = (a: Actor, e: Entity): boolean => !a.admin && RULES[e].none(a);

const alice: Actor = { name: 'alice', token: null, userId: 'alice', roles: ['auditor'], tenantId: 'acme', admin: false };
const bob: Actor = { name: 'bob', token: null, userId: 'bob', roles: ['manager'], tenantId: 'globex', admin: false };
const guest: Actor = { name: 'guest', token: null, userId: null, roles: [], tenantId: null, admin: false };
const anon: Actor = { name: 'anonymous', token: null, userId: null, roles: [], tenantId: null, admin: false };
const admin: Actor = { name: 'admin', token: ADMIN, userId: '__admin__', roles: ['admin'], tenantId: null, admin: true };
const ACTORS = [alice, bob, guest, anon, admin];

let t: TestServer;

async function call(actor: Actor, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await t.request(method, path, { ...(body === undefined ? {} : { body }), headers: actor.token === null ? {} : { authorization: `Bearer ${actor.token}` } });
  return { status: res.status, json: res.json };
}

async function ok(actor: Actor, method: string, path: string, body?: unknown): Promise<any> {
  const res = await call(actor, method, path, body);
  expect(res.status, `${actor.name} ${method} ${path}: ${JSON.stringify(res.json)}`).toBeLessThan(300);
  return res.json;
}

/** Every row of every entity, as the admin (who bypasses rules) reads them: the oracle's input. */
async function truth(): Promise<Record<Entity, Row[]>> {
  const out = {} as Record<Entity, Row[]>;
  for (const e of ENTITIES) out[e] = (await ok(admin, 'GET', `/api/entities/${e}?limit=1000`)).data;
  return out;
}

const byId = (rows: readonly Row[]): Row[] => [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const visible = (a: Actor, e: Entity, rows: readonly Row[]): Row[] => byId(rows.filter((r) => canRead(a, e, r)));

/** A not-found answer with the id taken out, to compare a hidden row's answer with a missing one's. */
function shapeOf(res: { status: number; json: any }, id: string): unknown {
  return { status: res.status, body: JSON.parse(JSON.stringify(res.json).split(id).join('<id>')) };
}

/** A WebSocket client that keeps live windows per subscription and CRDT frames per row. */
class Client {
  readonly messages: Array<Record<string, any>> = [];
  readonly frames: Array<{ type: number; entity: string; rowId: string; payload: Uint8Array }> = [];
  /** The CRDT updates this client pushed (the server does not echo them back). */
  readonly pushed: Array<{ rowId: string; update: Uint8Array }> = [];
  /** Subscription id → entity, and the rows the client holds for it. */
  readonly subs = new Map<string, { entity: Entity; query?: string; rows: Map<string, Row> }>();
  /** Ids a diff removed that the window did not hold: each would name a row never sent. */
  readonly strayRemovals: string[] = [];
  /** Every row any live frame carried, with its entity: nothing here may fail the rules. */
  readonly seen: Array<{ entity: Entity; row: Row }> = [];
  readonly #wake = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const decoded = decodeCrdtFrame(new Uint8Array(data as Buffer));
        if (!decoded.ok) throw new Error(decoded.error);
        this.frames.push(decoded.frame);
      } else {
        const message = JSON.parse(String(data)) as Record<string, any>;
        this.messages.push(message);
        this.#apply(message);
      }
      for (const wake of [...this.#wake]) wake();
    });
  }

  static async open(url: string, actor: Actor): Promise<Client> {
    const ws = new WebSocket(url, { headers: actor.token === null ? {} : { authorization: `Bearer ${actor.token}` } });
    const client = new Client(ws);
    await client.waitFor(() => client.messages.find((m) => m.type === 'hello'), 'hello');
    return client;
  }

  #apply(m: Record<string, any>): void {
    if (m.type === 'result') {
      const sub = this.subs.get(m.id);
      if (!sub) return;
      sub.query = m.query;
      sub.rows = new Map(m.rows.map((r: Row) => [r.id, r]));
      for (const row of m.rows) this.seen.push({ entity: sub.entity, row });
    }
    if (m.type === 'diff') {
      for (const sub of this.subs.values()) {
        if (sub.query !== m.query) continue;
        for (const id of m.removed) {
          if (!sub.rows.has(id)) this.strayRemovals.push(`${sub.entity}/${id}`);
          sub.rows.delete(id);
        }
        for (const row of [...m.added, ...m.changed]) {
          sub.rows.set(row.id, row);
          this.seen.push({ entity: sub.entity, row });
        }
      }
    }
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  subscribe(id: string, entity: Entity, filter: Record<string, unknown> = {}): void {
    this.subs.set(id, { entity, rows: new Map() });
    this.send({ type: 'subscribe', id, entity, filter });
  }

  async waitFor<T>(find: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    const found = find();
    if (found !== undefined) return found;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake.delete(wake);
        reject(new Error(`timed out waiting for ${what}; messages: ${JSON.stringify(this.messages).slice(-1500)}`));
      }, timeoutMs);
      const wake = (): void => {
        const hit = find();
        if (hit === undefined) return;
        clearTimeout(timer);
        this.#wake.delete(wake);
        resolve(hit);
      };
      this.#wake.add(wake);
    });
  }

  /** The answer to request `id`: its `result` or its `error`. */
  reply(id: string): Promise<Record<string, any>> {
    return this.waitFor(() => this.messages.find((m) => m.id === id && (m.type === 'result' || m.type === 'error')), `the answer to ${id}`);
  }
}

const sockets = new Map<Actor, Client>();
let wsUrl: string;
/** The rows written at the start, by whom, and the change-log seq once they all were. */
let SEEDED: Array<[Actor, Entity, Row]> = [];
let seededSeq = 0;

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN });
  wsUrl = t.url.replace('http', 'ws') + '/ws';
  for (const user of [alice, bob]) {
    user.token = (await ok(admin, 'POST', '/api/auth/session', { user_id: user.userId, roles: user.roles, tenant_id: user.tenantId })).token;
  }
  const issued = await ok(anon, 'POST', '/api/auth/guest');
  guest.token = issued.token;
  guest.userId = issued.user_id;
  expect(await ok(guest, 'GET', '/api/auth/me')).toMatchObject({ user_id: guest.userId, is_guest: true });

  // Each row is created by a caller the insert rule lets in.
  SEEDED = [
    [alice, 'Diary', { id: 'd-alice', title: 'alice diary', ownerId: 'alice' }],
    [bob, 'Diary', { id: 'd-bob', title: 'bob diary', ownerId: 'bob' }],
    [guest, 'Diary', { id: 'd-guest', title: 'guest diary', ownerId: guest.userId! }],
    [alice, 'Post', { id: 'p-alice-pub', title: 'alice post', ownerId: 'alice', published: true }],
    [alice, 'Post', { id: 'p-alice-draft', title: 'alice draft', ownerId: 'alice', published: false }],
    [bob, 'Post', { id: 'p-bob-pub', title: 'bob post', ownerId: 'bob', published: true }],
    [bob, 'Post', { id: 'p-bob-draft', title: 'bob draft', ownerId: 'bob' }],
    [bob, 'Report', { id: 'r-1', title: 'report one', level: 1 }],
    [bob, 'Report', { id: 'r-2', title: 'report two', level: 2 }],
    [alice, 'Invoice', { id: 'i-acme-1', title: 'acme one', tenantId: 'acme', amount: 10 }],
    [alice, 'Invoice', { id: 'i-acme-2', title: 'acme two', tenantId: 'acme', amount: 20 }],
    [bob, 'Invoice', { id: 'i-globex', title: 'globex one', tenantId: 'globex', amount: 30 }],
    [admin, 'Invoice', { id: 'i-none', title: 'no tenant', amount: 40 }],
    [alice, 'Doc', { id: 'doc-alice-shared', title: 'alice shared doc', body: 'shared text', ownerId: 'alice', shared: true }],
    [alice, 'Doc', { id: 'doc-alice-private', title: 'alice private doc', body: 'private text', ownerId: 'alice', shared: false }],
    [bob, 'Doc', { id: 'doc-bob', title: 'bob doc', body: 'bob text', ownerId: 'bob' }],
  ];
  for (const [actor, entity, row] of SEEDED) seededSeq = (await ok(actor, 'POST', `/api/entities/${entity}`, row)).seq;

  // Functions read through ctx.db with the caller's rules.
  const loaded = await deployFunctions(t, {
    listRows: `export default query({ args: { entity: v.string() }, handler: async (ctx, a) => {
      try { return { rows: await ctx.db.list(a.entity) }; } catch (e) { return { error: e.code }; }
    } });`,
    getRows: `export default query({ args: { entity: v.string(), ids: v.array(v.string()) }, handler: (ctx, a) => Promise.all(a.ids.map((id) => ctx.db.get(a.entity, id))) });`,
  });
  expect(loaded.errors).toEqual([]);

  for (const actor of ACTORS) {
    const client = await Client.open(wsUrl, actor);
    sockets.set(actor, client);
    for (const e of ENTITIES) client.subscribe(`live-${e}`, e, { $limit: 1000 });
  }
}, 60_000);

afterAll(async () => {
  for (const client of sockets.values()) client.ws.close();
  await t?.close();
});

/** The first `result` of `GET /events` for the entity, or the error answered instead of a stream. */
async function sseResult(actor: Actor, e: Entity): Promise<{ status: number; json?: unknown; rows?: Row[] }> {
  const url = `${t.url}/events?entity=${e}&filter=${encodeURIComponent(JSON.stringify({ $limit: 999 }))}`;
  const res = await fetch(url, { headers: actor.token === null ? {} : { authorization: `Bearer ${actor.token}` } });
  if (res.status !== 200) return { status: res.status, json: await res.json() };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${actor.name} ${e}: the event stream ended before a result`);
      text += decoder.decode(value, { stream: true });
      const block = text.split('\n\n').find((b) => b.split('\n').includes('event: result') && text.includes(`${b}\n\n`));
      const data = block?.split('\n').find((line) => line.startsWith('data: '));
      if (data !== undefined) return { status: 200, rows: (JSON.parse(data.slice(6)) as { rows: Row[] }).rows };
    }
  } finally {
    await reader.cancel();
  }
}

/** REST reads, function reads, sync pull, a fresh live subscription and SSE all give exactly the oracle's rows. */
async function expectReadsMatchOracle(actor: Actor, rows: Record<Entity, Row[]>, tag: string): Promise<void> {
  const client = sockets.get(actor)!;
  for (const e of ENTITIES) {
    const expected = visible(actor, e, rows[e]);
    const where = `${actor.name} ${e}`;
    // get: every row, visible or not; a hidden row answers exactly as a missing id does.
    const missing = await call(actor, 'GET', `/api/entities/${e}/no-such-row`);
    expect(missing.status).toBe(404);
    for (const row of rows[e]) {
      const res = await call(actor, 'GET', `/api/entities/${e}/${row.id}`);
      if (canRead(actor, e, row)) expect(res, `${where} get ${row.id}`).toEqual({ status: 200, json: row });
      else expect(shapeOf(res, row.id), `${where} get ${row.id}`).toEqual(shapeOf(missing, 'no-such-row'));
      // lookup by a unique value: a query, so POLICY_DENIED where no row can be read
      const found = await call(actor, 'GET', `/api/lookup/${e}/title/${encodeURIComponent(String(row.title))}`);
      expect(found.status, `${where} lookup ${row.id}`).toBe(readsNone(actor, e) ? 403 : canRead(actor, e, row) ? 200 : 404);
      if (found.status === 200) expect(found.json).toEqual(row);
    }
    // list, query, cursor: either exactly the visible rows, or POLICY_DENIED when none can be.
    const list = await call(actor, 'GET', `/api/entities/${e}?limit=1000`);
    const query = await call(actor, 'POST', `/api/query/${e}`, { title: { $like: '' }, $limit: 1000 });
    const cursor = await call(actor, 'GET', `/api/entities/${e}/cursor?limit=2`);
    if (readsNone(actor, e)) {
      for (const res of [list, query, cursor]) expect(res, `${where} list`).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
      expect(expected).toEqual([]);
    } else {
      expect(byId(list.json.data), `${where} list`).toEqual(expected);
      expect(byId(query.json), `${where} query`).toEqual(expected);
      const paged: Row[] = [...cursor.json.data];
      let page = cursor.json;
      while (page.has_more) {
        page = await ok(actor, 'GET', `/api/entities/${e}/cursor?limit=2&after=${page.next_cursor}`);
        paged.push(...page.data);
      }
      expect(paged, `${where} cursor`).toEqual(expected);
    }
    // A fresh live subscription: its result is the visible rows, or POLICY_DENIED.
    const id = `${tag}-${e}`;
    client.subscribe(id, e, { $limit: 999 });
    const reply = await client.reply(id);
    if (readsNone(actor, e)) expect(reply, `${where} subscribe`).toMatchObject({ type: 'error', code: 'POLICY_DENIED' });
    else expect(byId(reply.rows), `${where} subscribe`).toEqual(expected);
    // A function's ctx.db, as the caller.
    const listed = await ok(actor, 'POST', '/api/fn/listRows', { entity: e });
    expect(listed.rows === undefined ? listed : { rows: byId(listed.rows) }, `${where} ctx.db.list`).toEqual(readsNone(actor, e) ? { error: 'POLICY_DENIED' } : { rows: expected });
    const got = await ok(actor, 'POST', '/api/fn/getRows', { entity: e, ids: rows[e].map((r) => r.id) });
    expect(got, `${where} ctx.db.get`).toEqual(rows[e].map((r) => (canRead(actor, e, r) ? r : null)));
    // The same query as Server-Sent Events.
    const sse = await sseResult(actor, e);
    if (readsNone(actor, e)) expect(sse, `${where} SSE`).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    else expect(byId(sse.rows!), `${where} SSE`).toEqual(expected);
  }
  // sync pull, replayed from 0, leaves exactly the visible rows; no change carries a hidden row.
  const replica = new Map<string, Row>();
  let since = 0;
  for (;;) {
    const page = await ok(actor, 'GET', `/api/sync/pull?since=${since}&limit=50`);
    for (const change of page.changes) {
      const key = `${change.entity}/${change.row_id}`;
      if (change.kind === 'delete') replica.delete(key);
      else {
        expect(canRead(actor, change.entity, change.data), `${actor.name} pulled ${key} seq ${change.seq}`).toBe(true);
        replica.set(key, change.data);
      }
    }
    since = page.cursor.last_seq;
    if (!page.has_more) break;
  }
  const expectedReplica = ENTITIES.flatMap((e) => visible(actor, e, rows[e]).map((r) => [`${e}/${r.id}`, r] as const));
  expect(new Map([...replica].sort()), `${actor.name} sync pull`).toEqual(new Map(expectedReplica.sort()));
}

describe('every caller sees exactly what the rules allow', () => {
  it('on REST, sync pull and live subscriptions, right after the rows were written', async () => {
    const rows = await truth();
    expect(rows.Diary.map((r) => r.id).sort()).toEqual(['d-alice', 'd-bob', 'd-guest']);
    for (const actor of ACTORS) await expectReadsMatchOracle(actor, rows, 'first');
    // The live windows opened before any row existed (or with the rows in) hold the same.
    for (const actor of ACTORS) {
      const client = sockets.get(actor)!;
      for (const e of ENTITIES) {
        if (readsNone(actor, e)) continue;
        await client.waitFor(() => (client.subs.get(`live-${e}`)!.rows.size === visible(actor, e, rows[e]).length ? true : undefined), `${actor.name} live ${e}`);
        expect(byId([...client.subs.get(`live-${e}`)!.rows.values()])).toEqual(visible(actor, e, rows[e]));
      }
    }
  }, 120_000);

  it('CRDT rows: subscribing needs read access; a hidden row answers as a missing one', async () => {
    const rows = await truth();
    for (const actor of ACTORS) {
      const client = sockets.get(actor)!;
      for (const row of [...rows.Doc, { id: 'doc-missing' } as Row]) {
        client.send({ type: 'crdt-subscribe', id: `c-${row.id}`, entity: 'Doc', rowId: row.id });
      }
      const missing = await client.waitFor(() => client.messages.find((m) => m.id === 'c-doc-missing'), 'missing doc');
      expect(missing).toMatchObject({ type: 'error', code: 'NOT_FOUND', entity: 'Doc', rowId: 'doc-missing' });
      for (const row of rows.Doc) {
        if (canRead(actor, 'Doc', row)) {
          const frame = await client.waitFor(() => client.frames.find((f) => f.rowId === row.id), `${actor.name} snapshot of ${row.id}`);
          expect(frame.type).toBe(0x10);
          const doc = new LoroDoc();
          doc.import(frame.payload);
          expect(doc.getText('body').toString()).toBe(row.body);
        } else {
          const error = await client.waitFor(() => client.messages.find((m) => m.id === `c-${row.id}`), `${actor.name} denial of ${row.id}`);
          expect(JSON.parse(JSON.stringify(error).split(row.id).join('<id>')), `${actor.name} ${row.id}`).toEqual(
            JSON.parse(JSON.stringify(missing).split('doc-missing').join('<id>')),
          );
          expect(client.frames.some((f) => f.rowId === row.id)).toBe(false);
        }
      }
    }
  });

  it('CRDT pushes: only the owner (and the admin) change a row; the others get the error their access calls for', async () => {
    const rows = await truth();
    const expectedErrors = new Map<Actor, Map<string, string>>();
    for (const actor of ACTORS) {
      const client = sockets.get(actor)!;
      const errors = new Map<string, string>();
      for (const row of rows.Doc) {
        const doc = new LoroDoc();
        const snapshot = client.frames.find((f) => f.rowId === row.id && f.type === 0x10);
        if (snapshot) doc.import(snapshot.payload);
        const from = doc.oplogVersion();
        doc.getText('body').insert(0, `[${actor.name}]`);
        doc.commit();
        const update = doc.export({ mode: 'update', from });
        client.pushed.push({ rowId: row.id, update });
        client.ws.send(encodeCrdtFrame(0x11, 'Doc', row.id, update));
        if (actor.userId === null) errors.set(row.id, 'AUTH_REQUIRED');
        else if (!canRead(actor, 'Doc', row)) errors.set(row.id, 'NOT_FOUND');
        else if (!canWrite(actor, 'Doc', row)) errors.set(row.id, 'POLICY_DENIED');
      }
      expectedErrors.set(actor, errors);
    }
    for (const [actor, errors] of expectedErrors) {
      const client = sockets.get(actor)!;
      for (const [rowId, code] of errors) {
        const error = await client.waitFor(() => client.messages.find((m) => m.type === 'error' && m.id === undefined && m.rowId === rowId), `${actor.name} push error ${rowId}`);
        expect(error.code, `${actor.name} push ${rowId}`).toBe(code);
      }
    }
    // The allowed pushes land; the refused ones left nothing.
    const admitted = (row: Row): string[] => ACTORS.filter((a) => a.userId !== null && canRead(a, 'Doc', row) && canWrite(a, 'Doc', row)).map((a) => `[${a.name}]`);
    for (const row of rows.Doc) {
      const want = admitted(row);
      let text = '';
      for (let i = 0; i < 100; i++) {
        text = (await ok(admin, 'GET', `/api/entities/Doc/${row.id}`)).body as string;
        if (want.every((w) => text.includes(w))) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const actor of ACTORS) expect(text.includes(`[${actor.name}]`), `${actor.name} in ${row.id}: ${text}`).toBe(want.includes(`[${actor.name}]`));
    }
    // Over HTTP: a guest pushing to a readable row is denied, to a hidden one is not found.
    const update = (() => {
      const doc = new LoroDoc();
      doc.getText('body').insert(0, 'x');
      return Buffer.from(doc.export({ mode: 'update' })).toString('hex');
    })();
    expect(await call(guest, 'POST', '/api/crdt/Doc/doc-alice-shared', { update })).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    const hidden = await call(guest, 'POST', '/api/crdt/Doc/doc-alice-private', { update });
    expect(shapeOf(hidden, 'doc-alice-private')).toEqual(shapeOf(await call(guest, 'POST', '/api/crdt/Doc/doc-nope', { update }), 'doc-nope'));
    expect(hidden.status).toBe(404);
  });
});

describe('writes change only what the rules allow', () => {
  it('batch: each caller tries to retitle every row; only rows it may read and write change', async () => {
    const before = await truth();
    for (const actor of [alice, bob, guest, anon]) {
      const current = await truth();
      const ops = ENTITIES.flatMap((e) => current[e].map((r) => ({ op: 'update', entity: e, id: r.id, data: { title: `${r.title} +${actor.name}` } })));
      const res = await ok(actor, 'POST', '/api/batch', { operations: ops });
      const expected = ENTITIES.flatMap((e) => current[e].map((r) => (!canRead(actor, e, r) ? 'NOT_FOUND' : !canWrite(actor, e, r) ? 'POLICY_DENIED' : 'ok')));
      expect(
        res.results.map((r: any) => (r.ok ? 'ok' : r.code)),
        actor.name,
      ).toEqual(expected);
      const after = await truth();
      for (const e of ENTITIES) {
        for (const r of current[e]) {
          const now = after[e].find((x) => x.id === r.id)!;
          const changed = canRead(actor, e, r) && canWrite(actor, e, r);
          expect(now, `${actor.name} ${e}/${r.id}`).toEqual(changed ? { ...now, title: `${r.title} +${actor.name}` } : r);
        }
      }
    }
    // Every row stayed with its owner and tenant.
    const after = await truth();
    for (const e of ENTITIES) expect(after[e].map((r) => [r.id, r.ownerId, r.tenantId])).toEqual(before[e].map((r) => [r.id, r.ownerId, r.tenantId]));
  });

  it("another user's row id in get, update and delete answers as a missing id and changes nothing", async () => {
    const before = await truth();
    const headSeq = async (): Promise<number> => (await ok(admin, 'POST', '/api/entities/Diary', { title: `probe ${Math.random()}`, ownerId: 'nobody' })).seq;
    const start = await headSeq();
    for (const [actor, entity, id] of [
      [bob, 'Diary', 'd-alice'],
      [guest, 'Diary', 'd-alice'],
      [alice, 'Invoice', 'i-globex'],
      [bob, 'Doc', 'doc-alice-private'],
      [guest, 'Report', 'r-1'],
    ] as const) {
      const probes: Array<[string, string, unknown?]> = [
        ['GET', `/api/entities/${entity}/%ID%`],
        ['PATCH', `/api/entities/${entity}/%ID%`, { title: 'hijacked' }],
        ['DELETE', `/api/entities/${entity}/%ID%`],
      ];
      for (const [method, path, body] of probes) {
        const hidden = await call(actor, method, path.replace('%ID%', id), body);
        const missing = await call(actor, method, path.replace('%ID%', 'no-such-id'), body);
        expect(hidden.status, `${actor.name} ${method} ${entity}/${id}`).toBe(404);
        expect(shapeOf(hidden, id), `${actor.name} ${method} ${entity}/${id}`).toEqual(shapeOf(missing, 'no-such-id'));
        expect(Object.keys(hidden.json.error).sort()).toEqual(['code', 'message']);
      }
      // A lookup of the hidden row's value answers as one of a value no row has.
      const title = String(before[entity].find((r) => r.id === id)!.title);
      if (!readsNone(actor, entity)) {
        expect(shapeOf(await call(actor, 'GET', `/api/lookup/${entity}/title/${encodeURIComponent(title)}`), title)).toEqual(
          shapeOf(await call(actor, 'GET', `/api/lookup/${entity}/title/no-such-title`), 'no-such-title'),
        );
      }
      // The same inside batch, transact and sync push.
      const batch = await ok(actor, 'POST', '/api/batch', {
        operations: [
          { op: 'delete', entity, id },
          { op: 'delete', entity, id: 'no-such-id' },
        ],
      });
      expect(shapeOf({ status: 0, json: batch.results[0] }, id)).toEqual(shapeOf({ status: 0, json: batch.results[1] }, 'no-such-id'));
      const tx = await call(actor, 'POST', '/api/transact', [{ op: 'update', entity, id, data: { title: 'x' } }]);
      expect(shapeOf(tx, id)).toEqual(shapeOf(await call(actor, 'POST', '/api/transact', [{ op: 'update', entity, id: 'no-such-id', data: { title: 'x' } }]), 'no-such-id'));
      const push = await ok(actor, 'POST', '/api/sync/push', {
        changes: [
          { entity, row_id: id, kind: 'delete' },
          { entity, row_id: 'no-such-id', kind: 'delete' },
        ],
      });
      expect(shapeOf({ status: 0, json: push.results[0] }, id)).toEqual(shapeOf({ status: 0, json: push.results[1] }, 'no-such-id'));
    }
    // Nothing was written in between: the next write follows the probe directly.
    expect(await headSeq()).toBe(start + 1);
    const after = await truth();
    for (const e of ENTITIES) expect(after[e].filter((r) => !String(r.title).startsWith('probe'))).toEqual(before[e].filter((r) => !String(r.title).startsWith('probe')));
  });

  it("refuses handing a row to someone else, planting rows on others, and a guest acting on users' rows", async () => {
    const before = await truth();
    const refused: Array<[Actor, string, string, unknown]> = [
      [alice, 'PATCH', '/api/entities/Post/p-alice-pub', { ownerId: 'bob' }],
      [alice, 'PATCH', '/api/entities/Diary/d-alice', { ownerId: guest.userId }],
      [alice, 'PATCH', '/api/entities/Invoice/i-acme-1', { tenantId: 'globex' }],
      [alice, 'PATCH', '/api/entities/Doc/doc-alice-private', { ownerId: 'bob', shared: true }],
      [bob, 'POST', '/api/entities/Post', { title: 'planted', ownerId: 'alice', published: true }],
      [bob, 'POST', '/api/entities/Invoice', { title: 'planted', tenantId: 'acme' }],
      [alice, 'POST', '/api/entities/Report', { title: 'auditors only read' }],
      [guest, 'POST', '/api/entities/Diary', { title: 'planted', ownerId: 'alice' }],
      [guest, 'PATCH', '/api/entities/Post/p-alice-pub', { title: 'defaced' }],
      [guest, 'DELETE', '/api/entities/Post/p-bob-pub', undefined],
      [guest, 'PATCH', '/api/entities/Doc/doc-alice-shared', { body: 'defaced' }],
      [anon, 'DELETE', '/api/entities/Post/p-alice-pub', undefined],
    ];
    for (const [actor, method, path, body] of refused) {
      expect(await call(actor, method, path, body), `${actor.name} ${method} ${path}`).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    }
    expect(await truth()).toEqual(before);
    // The rules still let each owner do its own work, the guest included.
    await ok(guest, 'PATCH', '/api/entities/Diary/d-guest', { title: 'guest diary, edited' });
    expect((await ok(guest, 'GET', '/api/entities/Diary/d-guest')).title).toBe('guest diary, edited');
  });

  it('the public manifest carries no rule expressions; the admin sees them with full=1', async () => {
    for (const actor of [alice, guest, anon]) {
      const published = (await ok(actor, 'GET', '/api/manifest')).policies as Array<Record<string, unknown>>;
      expect(published.map((p) => Object.keys(p).sort())).toEqual(manifest.policies!.map(() => ['entity', 'name']));
    }
    expect((await ok(admin, 'GET', '/api/manifest?full=1')).policies).toEqual(manifest.policies);
  });

  it('rows that leave a view arrive as removed, rows that enter it as added, on every socket', async () => {
    const seenBefore = new Map(ACTORS.map((a) => [a, sockets.get(a)!.messages.length]));
    await ok(alice, 'PATCH', '/api/entities/Post/p-alice-pub', { published: false });
    await ok(alice, 'PATCH', '/api/entities/Post/p-alice-draft', { published: true });
    await ok(admin, 'PATCH', '/api/entities/Invoice/i-acme-2', { tenantId: 'globex' });
    await ok(alice, 'PATCH', '/api/entities/Doc/doc-alice-shared', { shared: false });
    await ok(alice, 'DELETE', '/api/entities/Diary/d-alice');
    const last = (await ok(bob, 'PATCH', '/api/entities/Report/r-2', { level: 3 })).seq as number;

    // A result reflects every change up to its seq, so once it arrives every earlier diff has too.
    for (const actor of ACTORS) {
      const client = sockets.get(actor)!;
      client.subscribe('barrier', 'Post', { $limit: 1 });
      const reply = await client.reply('barrier');
      expect(reply.seq).toBeGreaterThanOrEqual(last);
    }
    const rows = await truth();
    for (const actor of ACTORS) {
      const client = sockets.get(actor)!;
      for (const e of ENTITIES) {
        if (readsNone(actor, e)) continue;
        expect(byId([...client.subs.get(`live-${e}`)!.rows.values()]), `${actor.name} live ${e}`).toEqual(visible(actor, e, rows[e]));
      }
      // No frame ever carried a row its subscriber could not read.
      for (const { entity, row } of client.seen) expect(canRead(actor, entity, row), `${actor.name} was sent ${entity}/${row.id}`).toBe(true);
      expect(client.seen.length).toBeGreaterThan(0);
      expect(client.strayRemovals, actor.name).toEqual([]);
    }
    const removedFor = (actor: Actor, entity: Entity): string[] => {
      const client = sockets.get(actor)!;
      const query = client.subs.get(`live-${entity}`)!.query;
      return client.messages.filter((m) => m.type === 'diff' && m.query === query).flatMap((m) => m.removed);
    };
    for (const actor of [bob, guest, anon]) expect(removedFor(actor, 'Post'), actor.name).toContain('p-alice-pub');
    for (const actor of [bob, guest, anon]) expect(removedFor(actor, 'Doc'), actor.name).toContain('doc-alice-shared');
    expect(removedFor(alice, 'Invoice')).toContain('i-acme-2');
    expect(removedFor(alice, 'Diary')).toContain('d-alice');
    // CRDT subscribers who may no longer read the row are told so, and their subscription ends.
    for (const actor of [bob, guest, anon]) {
      const client = sockets.get(actor)!;
      const fresh = (): Array<Record<string, any>> => client.messages.slice(seenBefore.get(actor));
      const ended = await client.waitFor(
        () => fresh().find((m) => m.type === 'error' && m.rowId === 'doc-alice-shared' && m.code === 'POLICY_DENIED'),
        `${actor.name} loses doc-alice-shared`,
      );
      expect(ended.message).not.toContain('shared text');
    }
    const framesBefore = new Map([bob, guest, anon].map((a) => [a, sockets.get(a)!.frames.length]));
    await ok(alice, 'PATCH', '/api/entities/Doc/doc-alice-shared', { body: 'now private text' });
    const adminClient = sockets.get(admin)!;
    await adminClient.waitFor(() => {
      const doc = new LoroDoc();
      for (const p of adminClient.pushed.filter((x) => x.rowId === 'doc-alice-shared')) doc.import(p.update);
      for (const f of adminClient.frames.filter((x) => x.rowId === 'doc-alice-shared')) doc.import(f.payload);
      return doc.getText('body').toString() === 'now private text' ? true : undefined;
    }, 'the admin receives the private edit');
    for (const [actor, count] of framesBefore)
      expect(
        sockets
          .get(actor)!
          .frames.slice(count)
          .some((f) => f.rowId === 'doc-alice-shared'),
        actor.name,
      ).toBe(false);
  });

  it('a resume after a reconnect names no row the caller could not see, and removes those it lost', async () => {
    const rows = await truth();
    for (const actor of [alice, bob, guest, anon]) {
      const client = await Client.open(wsUrl, actor);
      try {
        const subscriptions = ENTITIES.filter((e) => !readsNone(actor, e)).map((e) => ({ id: `r-${e}`, entity: e, filter: { $limit: 1000 } }));
        for (const sub of subscriptions) client.subs.set(sub.id, { entity: sub.entity, rows: new Map() });
        client.send({ type: 'resume', id: 'resume', since: seededSeq, subscriptions });
        await client.waitFor(() => client.messages.find((m) => m.type === 'ack' && m.id === 'resume'), `${actor.name} resume`);
        for (const sub of subscriptions) {
          const frame = client.messages.find((m) => m.id === sub.id)!;
          expect(frame.type, `${actor.name} ${sub.entity}`).toBe('resumed');
          const named = [...frame.added, ...frame.changed].map((r: Row) => r.id).concat(frame.removed);
          for (const rowId of named) {
            // Each id was readable at the cursor (the seed rows, as written then) or is now.
            const now = rows[sub.entity].find((r) => r.id === rowId);
            const then = SEEDED.find(([, e, r]) => e === sub.entity && r.id === rowId)?.[2];
            const known = (now !== undefined && canRead(actor, sub.entity, now)) || (then !== undefined && canRead(actor, sub.entity, then));
            expect(known, `${actor.name} was told about ${sub.entity}/${rowId}`).toBe(true);
          }
          for (const row of frame.added.concat(frame.changed)) expect(canRead(actor, sub.entity, row)).toBe(true);
        }
        const removed = (e: Entity): string[] => client.messages.find((m) => m.id === `r-${e}`)!.removed;
        if (actor !== alice) expect(removed('Post'), actor.name).toContain('p-alice-pub');
        if (actor !== alice) expect(removed('Doc'), actor.name).toContain('doc-alice-shared');
      } finally {
        client.ws.close();
      }
    }
  });

  it('after all of it, every read surface still matches the oracle', async () => {
    const rows = await truth();
    for (const actor of ACTORS) await expectReadsMatchOracle(actor, rows, 'final');
  }, 120_000);
});
