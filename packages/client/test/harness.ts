import { WebSocket } from 'ws';
import type { Manifest } from '@mast/schema';
import { createClient, type ClientOptions, type MastClient, type WebSocketConstructor } from '../src/index.js';
import { startTestServer, type TestServer } from '../../../test/helpers/test-server.js';

export const ADMIN = 'admin-token-for-client-tests';
const OWNER = 'auth.userId == data.ownerId';

/** Todos only their owner reads and writes; notes (CRDT rows) any signed-in user may edit. */
export const clientManifest: Manifest = {
  manifest_version: 1,
  name: 'client-tests',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Todo',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'done', type: 'bool', optional: false, unique: false },
        { name: 'rank', type: 'int', optional: true, unique: false },
        { name: 'ownerId', type: 'string', optional: false, unique: false },
      ],
      indexes: [],
    },
    {
      name: 'Note',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'body', type: 'richtext', optional: true, unique: false },
      ],
      indexes: [],
    },
  ],
  policies: [
    { name: 'own', entity: 'Todo', allowRead: OWNER, allowInsert: OWNER, allowUpdate: OWNER, allowDelete: OWNER },
    { name: 'notes', entity: 'Note', allowRead: 'true', allowInsert: 'auth.userId != null', allowUpdate: 'auth.userId != null' },
  ],
};

/** A real server for client tests, on a real port with a real SQLite file. */
export async function startServer(options: { port?: number; dir?: string; config?: Parameters<typeof startTestServer>[1] } = {}): Promise<TestServer> {
  return startTestServer(clientManifest, { adminToken: ADMIN, ...options.config, ...(options.port ? { port: options.port } : {}) }, options.dir ? { dir: options.dir } : {});
}

/** Stops a server without deleting its folder, and starts it again on the same port and database. */
export async function restart(t: TestServer): Promise<TestServer> {
  const port = Number(new URL(t.url).port);
  await t.server.close();
  return startServer({ port, dir: t.dir });
}

/** A session token for `userId`, minted with the admin token. */
export async function tokenFor(t: TestServer, userId: string): Promise<string> {
  const res = await t.request('POST', '/api/auth/session', { body: { user_id: userId }, headers: { authorization: `Bearer ${ADMIN}` } });
  return (res.json as { token: string }).token;
}

/** A client of `t` over `ws`, with short reconnect delays. */
export function clientOf(t: TestServer, options: Partial<ClientOptions> = {}): MastClient {
  return createClient({ url: t.url, WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { baseMs: 20, maxMs: 200, pauseMs: 100 }, ...options });
}

/** Waits until `check` holds (polling), or fails naming `what`. */
export async function until(check: () => boolean | Promise<boolean>, what = 'condition', timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** Rows of `entity` as the server holds them (admin read). */
export async function serverRows(t: TestServer, entity: string): Promise<Array<Record<string, unknown>>> {
  const res = await t.request('POST', `/api/query/${entity}`, { body: { $limit: 1000 }, headers: { authorization: `Bearer ${ADMIN}` } });
  return res.json as Array<Record<string, unknown>>;
}

type Frame = { data: unknown };
/** A `ws` socket whose incoming frames, close codes and (with `log.sent`) sent messages the test sees; `intercept` may swallow a frame. */
export function instrumented(
  log: { closes: number[]; sockets: WebSocket[]; sent?: Array<Record<string, unknown>> },
  intercept: (ws: WebSocket, m: Record<string, unknown>) => boolean = () => false,
): WebSocketConstructor {
  const wrap = (ws: WebSocket, name: 'onmessage' | 'onclose', around: (fn: (ev: never) => void) => (ev: never) => void): void => {
    const own = Object.getOwnPropertyDescriptor(WebSocket.prototype, name)!;
    Object.defineProperty(ws, name, {
      get: () => own.get!.call(ws),
      set: (fn: unknown) => own.set!.call(ws, typeof fn === 'function' ? around(fn as (ev: never) => void) : fn),
    });
  };
  return function Instrumented(url: string, protocols?: string[]): WebSocket {
    const ws = new WebSocket(url, protocols);
    log.sockets.push(ws);
    const send = ws.send.bind(ws) as (data: unknown) => void;
    (ws as unknown as { send: (data: unknown) => void }).send = (data) => {
      if (typeof data === 'string') log.sent?.push(JSON.parse(data) as Record<string, unknown>);
      send(data);
    };
    wrap(ws, 'onmessage', (fn) => (ev: Frame) => {
      if (typeof ev.data === 'string' && intercept(ws, JSON.parse(ev.data) as Record<string, unknown>)) return;
      fn(ev as never);
    });
    wrap(ws, 'onclose', (fn) => (ev: { code: number }) => {
      log.closes.push(ev.code);
      fn(ev as never);
    });
    return ws;
  } as unknown as WebSocketConstructor;
}
