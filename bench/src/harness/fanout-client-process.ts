/**
 * Child process: holds a share of the fan-out scenario's WebSocket subscribers. Each socket
 * waits for `hello`, subscribes to its topic and waits for `result`; afterwards it only notes
 * each `diff`'s seq and its receipt time on the machine-wide monotonic clock (the seq is read
 * from the frame's bytes, not by parsing the JSON, so the client stays cheap). `collect` is then
 * given the writes (seq, topic, response time) and computes latencies and completeness locally.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { serveRunner } from './child-rpc.js';
import { DeliveryHistogram, monotonicMs, type HistogramData } from './delivery-histogram.js';

/** What `connect` opens. */
export interface ConnectParams {
  /** `ws://127.0.0.1:<port>/ws`; any other host is refused. */
  readonly url: string;
  readonly entity: string;
  /** One topic per socket: the socket subscribes to `{"topic": t}`. */
  readonly topics: readonly number[];
  /** Sockets opened at once. */
  readonly batch: number;
  /**
   * `pylon`: Pylon's protocol (`--against pylon`). It has no subscribe message and pushes every
   * change to every socket, so a socket counts the change events of its own topic's row; at most
   * 64 sockets per client address, so sockets bind in turn to addresses `<addressBase>.2`, `.3`, ...
   */
  readonly protocol?: 'pylon';
  readonly addressBase?: string;
}

/** One write as the writer saw it. */
export interface WriteRecord {
  readonly seq: number;
  readonly topic: number;
  /** Monotonic ms when the request was sent and when its response had arrived. */
  readonly sentAt: number;
  readonly at: number;
}

/** What one client process saw for one cell. */
export interface CollectResult {
  /** (socket, matching write) pairs expected. */
  readonly expected: number;
  /** Pairs delivered: the socket got a diff with a seq at or after the write's (diffs may cover several writes). */
  readonly delivered: number;
  /** Diffs received twice or out of order (seq not above the previous one on the socket). */
  readonly duplicates: number;
  readonly frames: number;
  readonly fromResponse: HistogramData;
  readonly fromRequest: HistogramData;
  /** Sockets the server closed during the run, by close code. */
  readonly closed: Readonly<Record<string, number>>;
}

interface Subscriber {
  readonly ws: WebSocket;
  readonly topic: number;
  seqs: number[];
  ats: number[];
}

const SEQ = Buffer.from('"seq":');
const DIFF = Buffer.from('{"type":"diff"');
const PYLON_EVENT = Buffer.from('{"seq":');
const TOPIC = Buffer.from('"topic":');
const PYLON_SOCKETS_PER_ADDRESS = 60;
const subscribers: Subscriber[] = [];
const closed: Record<string, number> = {};

/** The seq of a diff frame, or -1 for any other frame. */
function diffSeq(data: Buffer): number {
  if (data.compare(DIFF, 0, DIFF.length, 0, DIFF.length) !== 0) return -1;
  let i = data.indexOf(SEQ) + SEQ.length;
  let seq = 0;
  for (let c = data[i]!; c >= 48 && c <= 57; c = data[++i]!) seq = seq * 10 + (c - 48);
  return seq;
}

/** Reads the decimal number after `key` in a frame, or -1. */
function numberAfter(data: Buffer, key: Buffer): number {
  let i = data.indexOf(key);
  if (i < 0) return -1;
  i += key.length;
  let value = 0;
  for (let c = data[i]!; c >= 48 && c <= 57; c = data[++i]!) value = value * 10 + (c - 48);
  return value;
}

/** A Pylon socket: live once open; it notes the change events of its topic's row. */
function openPylon(url: string, topic: number, localAddress: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
    const subscriber: Subscriber = { ws, topic, seqs: [], ats: [] };
    let live = false;
    ws.on('error', (err) => (live ? undefined : reject(err)));
    ws.on('close', (code) => (live ? (closed[code] = (closed[code] ?? 0) + 1) : reject(new Error(`socket closed with ${code} before it opened`))));
    ws.on('open', () => {
      live = true;
      resolve(subscriber);
    });
    ws.on('message', (data: Buffer) => {
      if (data.compare(PYLON_EVENT, 0, PYLON_EVENT.length, 0, PYLON_EVENT.length) !== 0 || numberAfter(data, TOPIC) !== topic) return;
      subscriber.seqs.push(numberAfter(data, PYLON_EVENT));
      subscriber.ats.push(monotonicMs());
    });
  });
}

function open(url: string, entity: string, topic: number): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const subscriber: Subscriber = { ws, topic, seqs: [], ats: [] };
    let state: 'hello' | 'result' | 'live' = 'hello';
    const timer = setTimeout(() => fail(new Error(`socket for topic ${topic} got no result within 30 s`)), 30_000);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    ws.on('error', (err) => (state === 'live' ? undefined : fail(err)));
    ws.on('close', (code) => {
      if (state === 'live') closed[code] = (closed[code] ?? 0) + 1;
      else fail(new Error(`socket closed with ${code} before its result`));
    });
    ws.on('message', (data: Buffer) => {
      if (state === 'live') {
        const seq = diffSeq(data);
        if (seq >= 0) {
          subscriber.seqs.push(seq);
          subscriber.ats.push(monotonicMs());
        }
        return;
      }
      const message = JSON.parse(data.toString('utf8')) as { type: string; message?: string };
      if (message.type === 'error') return fail(new Error(`subscribe failed: ${message.message}`));
      if (state === 'hello' && message.type === 'hello') {
        state = 'result';
        ws.send(JSON.stringify({ type: 'subscribe', id: 's', entity, filter: { topic } }));
      } else if (state === 'result' && message.type === 'result') {
        state = 'live';
        clearTimeout(timer);
        resolve(subscriber);
      }
    });
  });
}

async function connect(raw: unknown): Promise<{ sockets: number }> {
  const params = raw as ConnectParams;
  const url = new URL(params.url);
  if (url.hostname !== '127.0.0.1' || url.protocol !== 'ws:') throw new Error(`refusing to connect to ${params.url}: only ws://127.0.0.1 is a target`);
  for (let start = 0; start < params.topics.length; start += params.batch) {
    const batch = params.topics.slice(start, start + params.batch);
    const address = (k: number): string => `${params.addressBase ?? '127.0.0'}.${2 + Math.floor((start + k) / PYLON_SOCKETS_PER_ADDRESS)}`;
    subscribers.push(
      ...(await Promise.all(batch.map((topic, k) => (params.protocol === 'pylon' ? openPylon(params.url, topic, address(k)) : open(params.url, params.entity, topic))))),
    );
  }
  return { sockets: subscribers.length };
}

/**
 * Waits until no diff has arrived for `idleMs` (at most `maxMs`), so a cell does not start while
 * the server still drains an earlier one's backlog. Returns whether it got quiet.
 */
async function quiet(raw: unknown): Promise<boolean> {
  const { idleMs, maxMs } = raw as { idleMs: number; maxMs: number };
  const frames = (): number => subscribers.reduce((total, s) => total + s.seqs.length, 0);
  const deadline = monotonicMs() + maxMs;
  let last = frames();
  let since = monotonicMs();
  while (monotonicMs() < deadline) {
    await sleep(20);
    const now = frames();
    if (now !== last) [last, since] = [now, monotonicMs()];
    else if (monotonicMs() - since >= idleMs) return true;
  }
  return false;
}

/** Forgets what was received so far (before a cell). */
async function reset(): Promise<null> {
  for (const s of subscribers) [s.seqs, s.ats] = [[], []];
  for (const code of Object.keys(closed)) delete closed[code];
  return null;
}

/** Waits up to `waitMs` for every socket to have a diff covering its last matching write, then computes. */
async function collect(raw: unknown): Promise<CollectResult> {
  const { writes, waitMs } = raw as { writes: readonly WriteRecord[]; waitMs: number };
  const byTopic = new Map<number, WriteRecord[]>();
  for (const w of [...writes].sort((a, b) => a.seq - b.seq)) {
    const list = byTopic.get(w.topic) ?? [];
    list.push(w);
    byTopic.set(w.topic, list);
  }
  const done = (s: Subscriber): boolean => {
    const mine = byTopic.get(s.topic);
    return !mine || (s.seqs.length > 0 && s.seqs[s.seqs.length - 1]! >= mine[mine.length - 1]!.seq) || s.ws.readyState !== WebSocket.OPEN;
  };
  const deadline = monotonicMs() + waitMs;
  while (monotonicMs() < deadline && !subscribers.every(done)) await sleep(10);

  const fromResponse = new DeliveryHistogram();
  const fromRequest = new DeliveryHistogram();
  let expected = 0;
  let delivered = 0;
  let duplicates = 0;
  let frames = 0;
  for (const s of subscribers) {
    frames += s.seqs.length;
    for (let i = 1; i < s.seqs.length; i++) if (s.seqs[i]! <= s.seqs[i - 1]!) duplicates++;
    const mine = byTopic.get(s.topic) ?? [];
    expected += mine.length;
    let j = 0;
    for (const w of mine) {
      while (j < s.seqs.length && s.seqs[j]! < w.seq) j++;
      if (j === s.seqs.length) break;
      delivered++;
      fromResponse.record(s.ats[j]! - w.at);
      fromRequest.record(s.ats[j]! - w.sentAt);
    }
  }
  return { expected, delivered, duplicates, frames, fromResponse: fromResponse.toData(), fromRequest: fromRequest.toData(), closed: { ...closed } };
}

async function disconnect(): Promise<null> {
  const closing = subscribers.map((s) => new Promise<void>((resolve) => (s.ws.readyState === WebSocket.CLOSED ? resolve() : s.ws.once('close', () => resolve()))));
  for (const s of subscribers) s.ws.terminate();
  await Promise.all(closing);
  subscribers.length = 0;
  return null;
}

serveRunner({ connect, quiet, reset, collect, disconnect }, async () => {
  await disconnect();
});
