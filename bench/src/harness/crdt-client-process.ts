/**
 * Child process: the CRDT scenario's clients. `open` opens subscriber sockets on one row and a
 * writer socket; `type` then has the writer type one character at a time into its copy of the row's Loro document
 * and pushes each change as a binary 0x11 frame at a fixed rate; it returns the bytes each
 * subscriber received per keystroke and the push-to-receipt times on the machine-wide
 * monotonic clock. `subscribeOnce` times one crdt-subscribe until its 0x10 snapshot arrives.
 */
import { LoroDoc } from 'loro-crdt';
import WebSocket from 'ws';
import { decodeCrdtFrame, encodeCrdtFrame } from '@mast/protocol';
import { serveRunner } from './child-rpc.js';
import { DeliveryHistogram, monotonicMs, type DeliveryLatency } from './delivery-histogram.js';

/** The row the clients work on. */
export interface CrdtTarget {
  /** `ws://127.0.0.1:<port>/ws`; any other host is refused. */
  readonly url: string;
  readonly token: string;
  readonly entity: string;
  readonly rowId: string;
  readonly field: string;
}

/** What `type` does: `subscribers` sockets, `count` keystrokes at `ratePerSec`. */
export interface TypeParams extends CrdtTarget {
  readonly subscribers: number;
  readonly ratePerSec: number;
  readonly count: number;
}

/** What `type` measured. */
export interface TypeResult {
  readonly keystrokes: number;
  /** Size of the 0x10 frame a subscriber got before typing, and of one taken after it (what Pylon sends on every write). */
  readonly snapshotFrameBytesBefore: number;
  readonly snapshotFrameBytesAfter: number;
  /** Mean size of the writer's 0x11 push frames. */
  readonly pushFrameBytes: number;
  /** Binary bytes each subscriber received per keystroke (0x11 frames, mean over subscribers). */
  readonly bytesPerKeystrokePerSubscriber: number;
  readonly framesPerSubscriber: { readonly min: number; readonly max: number };
  /** Push sent → each subscriber's matching frame (k-th push, k-th frame). */
  readonly pushToReceiptMs: DeliveryLatency;
  /** Push sent → the last subscriber's frame, per keystroke. */
  readonly pushToLastReceiptMs: DeliveryLatency;
  /** Whether every subscriber's copy ended equal to the writer's text. */
  readonly converged: boolean;
  readonly errors: readonly string[];
}

interface Client {
  readonly ws: WebSocket;
  readonly doc: LoroDoc;
  readonly updates: { at: number; bytes: number }[];
  snapshotBytes: number;
  readonly errors: string[];
}

async function connect(target: CrdtTarget): Promise<Client> {
  const url = new URL(target.url);
  if (url.hostname !== '127.0.0.1' || url.protocol !== 'ws:') throw new Error(`refusing to connect to ${target.url}: only ws://127.0.0.1 is a target`);
  const ws = new WebSocket(target.url, { perMessageDeflate: false, headers: { authorization: `Bearer ${target.token}` } });
  const client: Client = { ws, doc: new LoroDoc(), updates: [], snapshotBytes: 0, errors: [] };
  let snapshot: () => void = () => undefined;
  const gotSnapshot = new Promise<void>((resolve) => (snapshot = resolve));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      const message = JSON.parse(data.toString('utf8')) as { type: string; code?: string; message?: string };
      if (message.type === 'hello') ws.send(JSON.stringify({ type: 'crdt-subscribe', id: 'c', entity: target.entity, rowId: target.rowId }));
      else if (message.type === 'error') client.errors.push(`${message.code}: ${message.message}`);
      return;
    }
    const at = monotonicMs();
    const decoded = decodeCrdtFrame(new Uint8Array(data));
    if (!decoded.ok) return void client.errors.push(`bad frame: ${decoded.error}`);
    client.doc.import(decoded.frame.payload);
    if (decoded.frame.type === 0x10) {
      client.snapshotBytes = data.length;
      snapshot();
    } else client.updates.push({ at, bytes: data.length });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await withTimeout(gotSnapshot, 30_000, () => `no snapshot for ${target.rowId}: ${client.errors.join('; ') || 'no error'}`);
  return client;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let opened: { params: TypeParams; subscribers: Client[]; writer: Client } | null = null;

/** Opens the subscribers and the writer (each gets its 0x10 snapshot), so `type` measures typing alone. */
async function open(raw: unknown): Promise<null> {
  const params = raw as TypeParams;
  const subscribers = await Promise.all(Array.from({ length: params.subscribers }, () => connect(params)));
  opened = { params, subscribers, writer: await connect(params) };
  return null;
}

async function type(): Promise<TypeResult> {
  if (!opened) throw new Error('open was not called');
  const { params, subscribers, writer } = opened;
  opened = null;
  const text = writer.doc.getText(params.field);
  const pushes: { at: number; bytes: number }[] = [];
  const start = monotonicMs();
  const intervalMs = 1000 / params.ratePerSec;
  for (let k = 0; k < params.count; k++) {
    const due = start + k * intervalMs;
    if (due > monotonicMs()) await sleep(due - monotonicMs());
    const from = writer.doc.oplogVersion();
    text.insert(Math.floor(text.length / 2), String.fromCharCode(97 + (k % 26)));
    writer.doc.commit();
    const frame = encodeCrdtFrame(0x11, params.entity, params.rowId, writer.doc.export({ mode: 'update', from }));
    pushes.push({ at: monotonicMs(), bytes: frame.length });
    writer.ws.send(frame);
  }
  const deadline = monotonicMs() + 15_000;
  while (monotonicMs() < deadline && subscribers.some((s) => s.updates.length < params.count)) await sleep(10);
  return summarise(params, subscribers, writer, pushes, text.toString());
}

/** Takes a fresh snapshot (what Pylon would send) and computes the result. */
async function summarise(
  params: TypeParams,
  subscribers: readonly Client[],
  writer: Client,
  pushes: readonly { at: number; bytes: number }[],
  expected: string,
): Promise<TypeResult> {
  const after = await connect(params);

  const each = new DeliveryHistogram();
  const last = new DeliveryHistogram();
  for (let k = 0; k < pushes.length; k++) {
    let latest = Number.NEGATIVE_INFINITY;
    for (const s of subscribers) {
      const frame = s.updates[k];
      if (!frame) continue;
      each.record(frame.at - pushes[k]!.at);
      latest = Math.max(latest, frame.at - pushes[k]!.at);
    }
    if (latest > Number.NEGATIVE_INFINITY) last.record(latest);
  }
  const bytes = subscribers.map((s) => s.updates.reduce((total, u) => total + u.bytes, 0));
  const counts = subscribers.map((s) => s.updates.length);
  const result: TypeResult = {
    keystrokes: pushes.length,
    snapshotFrameBytesBefore: subscribers[0]!.snapshotBytes,
    snapshotFrameBytesAfter: after.snapshotBytes,
    pushFrameBytes: Math.round(pushes.reduce((total, p) => total + p.bytes, 0) / Math.max(1, pushes.length)),
    bytesPerKeystrokePerSubscriber: Math.round((bytes.reduce((a, b) => a + b, 0) / subscribers.length / Math.max(1, pushes.length)) * 10) / 10,
    framesPerSubscriber: { min: Math.min(...counts), max: Math.max(...counts) },
    pushToReceiptMs: each.summary(),
    pushToLastReceiptMs: last.summary(),
    converged: [...subscribers, after].every((s) => s.doc.getText(params.field).toString() === expected),
    errors: [...new Set([...subscribers, writer, after].flatMap((s) => s.errors))],
  };
  for (const s of [...subscribers, writer, after]) s.ws.terminate();
  return result;
}

/** Subscribes to one row on a new socket and returns the time from subscribe to its snapshot. */
async function subscribeOnce(raw: unknown): Promise<{ ms: number; snapshotFrameBytes: number }> {
  const target = raw as CrdtTarget;
  const url = new URL(target.url);
  if (url.hostname !== '127.0.0.1' || url.protocol !== 'ws:') throw new Error(`refusing to connect to ${target.url}`);
  const ws = new WebSocket(target.url, { perMessageDeflate: false, headers: { authorization: `Bearer ${target.token}` } });
  try {
    return await withTimeout(
      new Promise((resolve, reject) => {
        let sent = 0;
        ws.on('error', reject);
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          if (isBinary) return resolve({ ms: monotonicMs() - sent, snapshotFrameBytes: data.length });
          const message = JSON.parse(data.toString('utf8')) as { type: string; message?: string };
          if (message.type === 'error') reject(new Error(message.message));
          if (message.type !== 'hello') return;
          sent = monotonicMs();
          ws.send(JSON.stringify({ type: 'crdt-subscribe', id: 'c', entity: target.entity, rowId: target.rowId }));
        });
      }),
      30_000,
      () => `no snapshot for ${target.rowId}`,
    );
  } finally {
    ws.terminate();
  }
}

serveRunner({ open, type, subscribeOnce });
