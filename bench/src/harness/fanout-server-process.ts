/**
 * Child process: the server side of the fan-out scenario (and of `crdt`), alone in its process on 127.0.0.1.
 * `start` runs either the Mast server or the baseline: a bare `ws` server that answers the
 * same PATCH with a seq and writes one encoded diff-shaped frame to every socket subscribed to
 * the row's topic. It samples its own event-loop delay (`loopStart` / `loopStop`) and reports
 * its RSS after a forced GC (`rss`; run it with --expose-gc).
 */
import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { compileManifest } from '@mast/schema';
import { MastServer, loadConfig, serverTextFrame, type MastConfig } from '@mast/server';
import { readFileSync } from 'node:fs';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveRunner } from './child-rpc.js';
import { seedPylon, startPylon, type PylonServer } from './pylon.js';

/** What `start` needs. */
export type FanoutServerParams =
  | { readonly kind: 'mast'; readonly appDir: string; readonly manifest: unknown; readonly config: Partial<MastConfig> }
  /** `raw`: the floor, which writes one pre-built WebSocket frame per socket instead of calling `ws.send`. */
  | { readonly kind: 'baseline'; readonly entity: string; readonly rows: readonly { readonly id: string; readonly topic: number }[]; readonly raw?: boolean }
  /** `--against pylon`: the real Pylon (its own process, started by this child), seeded with the rows. */
  | { readonly kind: 'pylon'; readonly manifest: unknown; readonly entity: string; readonly rows: readonly { readonly id: string; readonly topic: number }[] };

/** What `start` answers: the HTTP port, and for Pylon its WebSocket URL and the pid of its process. */
export interface FanoutServerStarted {
  readonly port: number;
  readonly wsUrl?: string;
  readonly pid?: number;
}

/** Event-loop delay over a window, in ms (from `monitorEventLoopDelay`, 1 ms resolution). */
export interface LoopDelay {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

let mast: MastServer | null = null;
let baseline: { http: Server; wss: WebSocketServer } | null = null;
let loop: IntervalHistogram | null = null;
let pylon: PylonServer | null = null;

async function start(raw: unknown): Promise<FanoutServerStarted> {
  const params = raw as FanoutServerParams;
  if (params.kind === 'pylon') {
    pylon = await startPylon(params.manifest);
    await seedPylon(
      pylon,
      params.entity,
      params.rows.map((row) => ({ ...row, n: 0 })),
    );
    return { port: Number(new URL(pylon.origin).port), wsUrl: pylon.wsUrl, pid: pylon.pid };
  }
  if (params.kind === 'mast') {
    // The environment is ignored on purpose: a stray MAST_* variable must not change the numbers.
    const config = loadConfig({}, { ...params.config, port: 0, host: '127.0.0.1', logLevel: 'silent' });
    mast = await MastServer.create({ appDir: params.appDir, schema: compileManifest(params.manifest), config });
    return { port: await mast.listen() };
  }
  return { port: await startBaseline(params.entity, params.rows, params.raw ?? false) };
}

/**
 * The baseline: what a broadcast costs with no query engine, no store and no policy. A write
 * bumps a counter, answers `{"updated":true,"seq":N}`, encodes one frame and sends that buffer
 * to every socket of the row's topic (a Map lookup stands in for Mast's equality index).
 */
async function startBaseline(entity: string, rows: readonly { id: string; topic: number }[], raw: boolean): Promise<number> {
  const topicOf = new Map(rows.map((r) => [r.id, r.topic]));
  const byTopic = new Map<number, Set<WebSocket>>();
  const prefix = `/api/entities/${entity}/`;
  let seq = 0;
  const http = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const id = (request.url ?? '').startsWith(prefix) ? request.url!.slice(prefix.length) : '';
      const topic = topicOf.get(id);
      if (request.method !== 'PATCH' || topic === undefined) {
        response.writeHead(404).end();
        return;
      }
      const patch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      seq++;
      response.writeHead(200, { 'content-type': 'application/json' }).end(`{"updated":true,"seq":${seq}}`);
      const text = JSON.stringify({ type: 'diff', query: `q${topic}`, seq, added: [], changed: [{ id, topic, ...patch }], removed: [] });
      if (raw) {
        const wire = serverTextFrame(text);
        for (const ws of byTopic.get(topic) ?? []) (ws as unknown as { _socket: { write(b: Buffer): boolean } })._socket.write(wire);
      } else {
        const frame = Buffer.from(text);
        for (const ws of byTopic.get(topic) ?? []) ws.send(frame);
      }
    });
  });
  const wss = new WebSocketServer({ server: http, path: '/ws', perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, connectionId: 'baseline', seq }));
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id: string; filter: { topic: number } };
      const topic = message.filter.topic;
      const set = byTopic.get(topic) ?? new Set<WebSocket>();
      byTopic.set(topic, set);
      set.add(ws);
      ws.once('close', () => set.delete(ws));
      const row = [...topicOf].find(([, t]) => t === topic);
      ws.send(JSON.stringify({ type: 'result', id: message.id, query: `q${topic}`, seq, rows: row ? [{ id: row[0], topic }] : [], complete: true }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  baseline = { http, wss };
  return (http.address() as { port: number }).port;
}

async function loopStart(): Promise<null> {
  loop?.disable();
  loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  return null;
}

async function loopStop(): Promise<LoopDelay> {
  if (!loop) throw new Error('loopStart was not called');
  if (pylon) {
    // Pylon is another process with no event loop; this process only waited.
    loop.disable();
    loop = null;
    return { p50: 0, p99: 0, max: 0 };
  }
  loop.disable();
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  const result = { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) };
  loop = null;
  return result;
}

async function rss(): Promise<{ rss: number; heapUsed: number }> {
  if (pylon) return { rss: Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pylon.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024, heapUsed: 0 };
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed };
}

/**
 * Gives rows of a CRDT entity their documents, as a first CRDT subscribe or push would (rows
 * written as JSON have none until then): the crdt scenario's cache cell needs documents to cache.
 */
async function materialize(raw: unknown): Promise<null> {
  const { entity, ids } = raw as { entity: string; ids: readonly string[] };
  if (!mast) throw new Error('materialize needs the Mast server');
  const schema = mast.schema.entity(entity);
  for (const id of ids) await mast.docs.materialize(schema, id);
  return null;
}

serveRunner({ start, loopStart, loopStop, rss, materialize }, async () => {
  await mast?.close();
  await pylon?.stop();
  if (baseline) {
    for (const ws of baseline.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => baseline!.wss.close(() => resolve()));
    await new Promise<void>((resolve) => baseline!.http.close(() => resolve()));
  }
});
