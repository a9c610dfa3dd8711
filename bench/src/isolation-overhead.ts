/**
 * `npx tsx bench/src/isolation-overhead.ts [seconds]`: what running a function in a worker
 * thread costs. One server (`mast start`, in a child process) serves the same one-row insert
 * mutation twice, in process and with `isolated: true`; autocannon calls each over HTTP at
 * concurrency 1 and 16 for `seconds` (default 3), in alternation. Prints one JSON object. Not a
 * scenario of `npm run bench` and not run by CI: a quick check of the figure in docs/functions.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type AutocannonResult } from 'autocannon';

const seconds = Number(process.argv[2] ?? 3);
const FUNCTIONS_API = new URL('../../packages/functions/src/index.ts', import.meta.url).href;
const MAST = fileURLToPath(new URL('../../packages/cli/bin/mast.js', import.meta.url));
const ADMIN = 'isolation-overhead-admin-token';

const manifest = {
  manifest_version: 1,
  name: 'isolation-overhead',
  version: '1',
  routes: [],
  entities: [{ name: 'Todo', fields: [{ name: 'title', type: 'string', optional: false, unique: false }], indexes: [] }],
  policies: [{ name: 'open', entity: 'Todo', allow: 'true' }],
};

const insert = (isolated: boolean): string =>
  `import { mutation, v } from ${JSON.stringify(FUNCTIONS_API)};\n` +
  `export default mutation({ isolated: ${isolated}, args: { title: v.string() }, handler: async (ctx, a) => ({ id: await ctx.db.insert('Todo', { title: a.title }) }) });\n`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-isolation-'));
  mkdirSync(join(dir, 'functions'));
  writeFileSync(join(dir, 'pylon.manifest.json'), JSON.stringify(manifest));
  writeFileSync(join(dir, 'functions', 'insertInProcess.ts'), insert(false));
  writeFileSync(join(dir, 'functions', 'insertIsolated.ts'), insert(true));
  const env = { ...process.env, MAST_ADMIN_TOKEN: ADMIN, MAST_RATE_LIMIT: '0', MAST_FN_RATE_LIMIT: '0', MAST_LOG_LEVEL: 'warn', MAST_DATABASE_URL: join(dir, 'db.sqlite') };
  const server = spawn(process.execPath, [MAST, 'start', dir, '--port', '0', '--host', '127.0.0.1', '--log-level', 'info'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      server.on('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
    });
    const results: Array<{ fn: string; connections: number; rps: number; p50Ms: number; p99Ms: number; errors: number }> = [];
    for (const connections of [1, 16]) {
      for (const fn of ['insertInProcess', 'insertIsolated', 'insertInProcess', 'insertIsolated']) {
        const latencies: number[] = [];
        const r = await new Promise<AutocannonResult>((resolve, reject) => {
          const run = autocannon(
            {
              url: `http://127.0.0.1:${port}/api/fn/${fn}`,
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
              body: '{"title":"overhead"}',
              connections,
              duration: seconds,
            },
            (err, result) => (err ? reject(err) : resolve(result)),
          );
          run.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => void latencies.push(ms));
        });
        latencies.sort((a, b) => a - b);
        const at = (q: number): number => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
        results.push({ fn, connections, rps: Math.round(r.requests.total / seconds), p50Ms: at(0.5), p99Ms: at(0.99), errors: r.errors + r.non2xx });
      }
    }
    const best = (fn: string, connections: number) => Math.max(...results.filter((r) => r.fn === fn && r.connections === connections).map((r) => r.rps));
    const summary = [1, 16].map((c) => ({
      connections: c,
      inProcessRps: best('insertInProcess', c),
      isolatedRps: best('insertIsolated', c),
      isolatedShare: Number((best('insertIsolated', c) / best('insertInProcess', c)).toFixed(2)),
    }));
    console.log(JSON.stringify({ seconds, results, summary }, null, 2));
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
