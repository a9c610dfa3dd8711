/**
 * Child process: the live subscribers of the `policy-live` scenario. Each socket signs in with
 * its own session token, subscribes once and waits for `result`; afterwards it notes each
 * `diff` (its seq, how many rows it added and removed, and its receipt time on the machine-wide
 * monotonic clock). `take` hands over and forgets what arrived since the last call.
 */
import WebSocket from 'ws';
import { serveRunner } from './child-rpc.js';
import { monotonicMs } from './delivery-histogram.js';

/** One subscription to open: who, on what, and a tag to group deliveries by. */
export interface LiveSubscription {
  readonly token: string;
  readonly entity: string;
  readonly filter: Record<string, unknown>;
  readonly tag: string;
}

/** What `open` needs. */
export interface OpenParams {
  /** `ws://127.0.0.1:<port>/ws`; any other host is refused. */
  readonly url: string;
  readonly subscriptions: readonly LiveSubscription[];
  /** Sockets opened at once. */
  readonly batch: number;
}

/** One diff as a socket received it. */
export interface Delivery {
  readonly socket: number;
  readonly tag: string;
  readonly seq: number;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  /** Monotonic ms at receipt. */
  readonly at: number;
}

interface Socket {
  readonly ws: WebSocket;
  readonly index: number;
  readonly tag: string;
}

const sockets: Socket[] = [];
let deliveries: Delivery[] = [];
let closedUnexpectedly = 0;

function open(url: string, sub: LiveSubscription, index: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, headers: { authorization: `Bearer ${sub.token}` } });
    const socket: Socket = { ws, index, tag: sub.tag };
    let live = false;
    const timer = setTimeout(() => fail(new Error(`socket ${index} got no result within 30 s`)), 30_000);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    ws.on('error', (err) => (live ? undefined : fail(err)));
    ws.on('close', (code) => {
      if (live) closedUnexpectedly++;
      else fail(new Error(`socket ${index} closed with ${code} before its result`));
    });
    ws.on('message', (data: Buffer) => {
      const at = monotonicMs();
      const message = JSON.parse(data.toString('utf8')) as { type: string; message?: string; seq?: number; added?: unknown[]; changed?: unknown[]; removed?: unknown[] };
      if (live) {
        if (message.type === 'diff') {
          deliveries.push({
            socket: index,
            tag: sub.tag,
            seq: message.seq ?? -1,
            added: message.added?.length ?? 0,
            changed: message.changed?.length ?? 0,
            removed: message.removed?.length ?? 0,
            at,
          });
        }
        return;
      }
      if (message.type === 'error') return fail(new Error(`subscribe failed: ${message.message}`));
      if (message.type === 'hello') ws.send(JSON.stringify({ type: 'subscribe', id: 's', entity: sub.entity, filter: sub.filter }));
      else if (message.type === 'result') {
        live = true;
        clearTimeout(timer);
        resolve(socket);
      }
    });
  });
}

async function openAll(raw: unknown): Promise<{ sockets: number }> {
  const params = raw as OpenParams;
  if (new URL(params.url).hostname !== '127.0.0.1') throw new Error('only 127.0.0.1 is allowed');
  for (let start = 0; start < params.subscriptions.length; start += params.batch) {
    const chunk = params.subscriptions.slice(start, start + params.batch);
    sockets.push(...(await Promise.all(chunk.map((sub, i) => open(params.url, sub, sockets.length + i)))));
  }
  return { sockets: sockets.length };
}

async function take(): Promise<{ deliveries: Delivery[]; closedUnexpectedly: number }> {
  const out = deliveries;
  deliveries = [];
  return { deliveries: out, closedUnexpectedly };
}

async function closeAll(): Promise<void> {
  for (const socket of sockets.splice(0)) socket.ws.terminate();
}

serveRunner({ open: openAll, take, close: async () => closeAll() }, closeAll);
