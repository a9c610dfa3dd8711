/**
 * `node --expose-gc --import tsx bench/src/client-cache.ts [rounds]`: what @mast/client's
 * normalized cache costs. One server (`mast start`, a child process) holds 10,000 rows.
 *
 * - Memory: the heap the client's live query of the 10,000 rows adds (rows in the cache, the
 *   query's order and window, the optimistic layer's bookkeeping), beside the baseline of the
 *   same rows as parsed JSON objects in an array. Both after a full GC, in this process.
 * - Apply time: a 1,000-row query answered, from `subscribe` sent to the rows shown
 *   (`ready()`), with the client, beside a raw socket that sends the same `subscribe` and
 *   parses the `result` frame (the server's and the transport's share). Alternated `rounds`
 *   times (default 15); the difference of the medians is the client's own cost.
 *
 * Prints one JSON object. Not a scenario of `npm run bench` and not run by CI.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createClient, type MastClient, type WebSocketConstructor } from '@mast/client';

const rounds = Number(process.argv[2] ?? 15);
const MAST = fileURLToPath(new URL('../../packages/cli/bin/mast.js', import.meta.url));
const ADMIN = 'client-cache-admin-token';
const ROWS = 10_000;

const manifest = {
  manifest_version: 1,
  name: 'client-cache',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Todo',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'done', type: 'bool', optional: false, unique: false },
        { name: 'rank', type: 'int', optional: false, unique: false },
        { name: 'note', type: 'string', optional: true, unique: false },
      ],
      indexes: [{ name: 'by_rank', fields: ['rank'], unique: false }],
    },
  ],
  policies: [{ name: 'open', entity: 'Todo', allow: 'true' }],
};

const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage().heapUsed;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

async function rawResult(port: number, filter: Record<string, unknown>): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, [`bearer.${ADMIN}`]);
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve()); // hello
    ws.once('error', reject);
  });
  const start = performance.now();
  const elapsed = await new Promise<number>((resolve) => {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; rows?: unknown[] };
      if (m.type === 'result') resolve(performance.now() - start);
    });
    ws.send(JSON.stringify({ type: 'subscribe', id: 'q1', entity: 'Todo', filter }));
  });
  ws.close();
  return elapsed;
}

async function clientResult(client: MastClient, filter: Record<string, unknown>): Promise<number> {
  const start = performance.now();
  const q = client.query('Todo', filter);
  await q.ready();
  const elapsed = performance.now() - start;
  if (q.rows.length !== 1000) throw new Error(`expected 1000 rows, got ${q.rows.length}`);
  q.close();
  return elapsed;
}

async function main(): Promise<void> {
  if (!gc) throw new Error('run with node --expose-gc');
  const dir = mkdtempSync(join(tmpdir(), 'mast-client-cache-'));
  writeFileSync(join(dir, 'pylon.manifest.json'), JSON.stringify(manifest));
  const env = { ...process.env, MAST_ADMIN_TOKEN: ADMIN, MAST_RATE_LIMIT: '0', MAST_MAX_LIMIT: String(ROWS), MAST_LOG_LEVEL: 'info', MAST_DATABASE_URL: join(dir, 'db.sqlite') };
  const server = spawn(process.execPath, [MAST, 'start', dir, '--port', '0', '--host', '127.0.0.1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer): void => {
        out += chunk.toString();
        const m = /"port":(\d+)/.exec(out);
        if (m && out.includes('Mast listening')) resolve(Number(m[1]));
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      server.once('exit', (code) => reject(new Error(`mast start exited ${code}:\n${out}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    for (let i = 0; i < ROWS; i += 500) {
      const ops = Array.from({ length: 500 }, (_, j) => ({
        op: 'insert',
        entity: 'Todo',
        data: { title: `todo number ${i + j}`, done: (i + j) % 3 === 0, rank: i + j, note: (i + j) % 2 === 0 ? 'a short note on this row' : null },
      }));
      const res = await fetch(`${base}/api/batch`, { method: 'POST', headers, body: JSON.stringify({ operations: ops }) });
      if (!res.ok) throw new Error(`batch insert: ${res.status} ${await res.text()}`);
    }

    // Memory: the client's live query of the rows, then the baseline: the same rows as plain
    // objects parsed from their JSON (what any fetch-and-keep code holds).
    const client = createClient({ url: base, auth: ADMIN, WebSocket: WebSocket as unknown as WebSocketConstructor });
    await client.connected();
    const h0 = heap();
    const all = client.query('Todo', { $order: { rank: 'asc' }, $limit: ROWS });
    await all.ready();
    if (all.rows.length !== ROWS || client.cachedRowCount !== ROWS) throw new Error(`expected ${ROWS} cached rows, got ${all.rows.length}/${client.cachedRowCount}`);
    const h1 = heap();
    const clientBytes = h1 - h0;
    const text = JSON.stringify(all.rows);
    const h2 = heap();
    const plain = JSON.parse(text) as unknown[];
    const h3 = heap();
    const baselineBytes = h3 - h2;
    if (plain.length !== ROWS) throw new Error('baseline rows missing');
    all.close();

    // Apply time: 1,000-row results, raw socket and client alternated.
    const filter = { rank: { $lt: 1000 }, $order: { rank: 'asc' }, $limit: 1000 };
    const raw: number[] = [];
    const viaClient: number[] = [];
    for (let i = 0; i < rounds + 2; i++) {
      const r = await rawResult(port, filter);
      const c = await clientResult(client, filter);
      if (i >= 2) {
        raw.push(r);
        viaClient.push(c);
      }
    }
    await client.close();
    console.log(
      JSON.stringify(
        {
          bench: 'client-cache',
          node: process.version,
          memory: {
            rows: ROWS,
            baselinePlainObjectsBytes: baselineBytes,
            clientQueryBytes: clientBytes,
            baselineBytesPerRow: round(baselineBytes / ROWS, 1),
            clientBytesPerRow: round(clientBytes / ROWS, 1),
            clientPer10kRowsMiB: round(clientBytes / 1024 / 1024, 2),
            ratio: round(clientBytes / baselineBytes),
          },
          apply1000: {
            rounds,
            rawSocketMedianMs: round(median(raw)),
            clientMedianMs: round(median(viaClient)),
            clientOwnMs: round(median(viaClient) - median(raw)),
            rawSocketMs: raw.map((x) => round(x, 1)),
            clientMs: viaClient.map((x) => round(x, 1)),
          },
        },
        null,
        2,
      ),
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
