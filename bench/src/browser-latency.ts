/**
 * `npx tsx bench/src/browser-latency.ts [samples]`: the time from a write in one browser to its
 * render in another, beside the server-only latency of the same write to a raw socket. One
 * server (`mast start examples/todo`, built, in a child process) and Debian's Chromium with two
 * contexts signed in as two users, each on the example's web page.
 *
 * - browser: page A submits a shared todo through its form (timestamped in the page at the
 *   submit event); page B timestamps the moment its list shows the row (a MutationObserver).
 *   Both pages run in one browser on one machine, so their `performance.timeOrigin + now()`
 *   clocks agree. This covers the client's optimistic write, its HTTP insert, the server's
 *   fan-out, B's client cache and React's render.
 * - rawSocket: the same insert as an HTTP POST from Node, timed until the `diff` frame carrying
 *   it arrives on a plain WebSocket subscribed to the same query as user B.
 *
 * Samples run one at a time (default 100 each). Prints one JSON object. Not a scenario of
 * `npm run bench` and not run by CI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { launchChromium, sessionFor, startTodoServer, timingStats } from './harness/browser-rig.js';

const samples = Number(process.argv[2] ?? 100);
const ADMIN = 'browser-latency-admin-token';

/** Page-side clock in ms since the epoch, comparable across pages of one browser. */
const NOW = '(performance.timeOrigin + performance.now())';

async function browserSamples(url: string, tokens: { a: string; b: string }): Promise<number[]> {
  const browser = await launchChromium();
  try {
    const open = async (user: string, token: string): Promise<Page> => {
      const context = await browser.newContext();
      await context.addInitScript(([key, value]) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem(key, value), [
        'mast-todo.identity',
        JSON.stringify({ token, userId: user, label: user }),
      ] as const);
      const page = await context.newPage();
      await page.goto(url);
      await page.getByTestId('connection').filter({ hasText: 'open' }).waitFor({ timeout: 30_000 });
      return page;
    };
    const pageA = await open('bench-a', tokens.a);
    const pageB = await open('bench-b', tokens.b);
    // B: when a row appears, note when. A: note each submit.
    await pageB.evaluate(`(() => {
      window.seen = new Map();
      new MutationObserver(() => {
        for (const li of document.querySelectorAll('[data-testid=todo]')) {
          const t = li.getAttribute('data-title');
          if (!window.seen.has(t)) window.seen.set(t, ${NOW});
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    })()`);
    await pageA.evaluate(`(() => {
      window.submitted = [];
      document.addEventListener('submit', () => window.submitted.push(${NOW}), true);
    })()`);
    await pageA.getByLabel('shared', { exact: true }).setChecked(true);
    const out: number[] = [];
    for (let i = 0; i < samples + 5; i++) {
      const title = `b${i}-${Math.random().toString(36).slice(2, 8)}`;
      await pageA.getByLabel('new todo').fill(title);
      await pageA.getByLabel('new todo').press('Enter');
      try {
        await pageB.waitForFunction((t) => (globalThis as unknown as { seen: Map<string, number> }).seen.has(t), title, { timeout: 30_000, polling: 'raf' });
      } catch (err) {
        const state = async (page: Page) => ({
          connection: await page.getByTestId('connection').textContent(),
          pending: await page.getByTestId('pending').textContent(),
          rows: await page.locator('[data-testid=todo]').count(),
          hasTitle: await page.locator(`[data-title="${title}"]`).count(),
        });
        throw new Error(`sample ${i}: ${title} not shown in B within 30 s; A ${JSON.stringify(await state(pageA))}, B ${JSON.stringify(await state(pageB))}`, { cause: err });
      }
      const sent = (await pageA.evaluate('window.submitted.at(-1)')) as number;
      const seen = (await pageB.evaluate((t) => (globalThis as unknown as { seen: Map<string, number> }).seen.get(t), title)) as number;
      if (i >= 5) out.push(seen - sent); // the first few warm up the pages and the server
    }
    return out;
  } finally {
    await browser.close();
  }
}

async function rawSocketSamples(url: string, tokens: { a: string; b: string }): Promise<number[]> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, [`bearer.${encodeURIComponent(tokens.b)}`]);
  const waiters = new Map<string, () => void>();
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(String(data)) as { type: string; added?: Array<{ title?: string }> };
      if (m.type === 'hello') ws.send(JSON.stringify({ type: 'subscribe', id: 's1', entity: 'Todo', filter: { $order: { createdAt: 'desc' }, $limit: 50 } }));
      if (m.type === 'result') resolve();
      if (m.type === 'diff') for (const row of m.added ?? []) waiters.get(row.title ?? '')?.();
    });
    ws.once('error', reject);
  });
  const out: number[] = [];
  for (let i = 0; i < samples + 5; i++) {
    const title = `r${i}-${Math.random().toString(36).slice(2, 8)}`;
    const arrived = new Promise<void>((resolve) => waiters.set(title, resolve));
    const started = performance.now();
    const res = await fetch(`${url}/api/entities/Todo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.a}` },
      body: JSON.stringify({ title, done: false, shared: true, ownerId: 'bench-a', createdAt: new Date().toISOString() }),
    });
    if (res.status !== 201) throw new Error(`insert: ${res.status} ${await res.text()}`);
    await arrived;
    if (i >= 5) out.push(performance.now() - started);
    waiters.delete(title);
  }
  ws.close();
  return out;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-browser-latency-'));
  const server = await startTodoServer(dir, ADMIN);
  try {
    const tokens = { a: await sessionFor(server, 'bench-a'), b: await sessionFor(server, 'bench-b') };
    // Alternate the two so both see the same machine load.
    const raw1 = await rawSocketSamples(server.url, tokens);
    const browser = await browserSamples(server.url, tokens);
    const raw2 = await rawSocketSamples(server.url, tokens);
    console.log(
      JSON.stringify(
        {
          what: 'write in one client → visible in another (ms)',
          samplesEach: samples,
          browser: {
            ...timingStats(browser),
            measures: 'submit in Chromium page A → row rendered in Chromium page B (optimistic write, HTTP insert, fan-out, client cache, React)',
          },
          rawSocket: { ...timingStats([...raw1, ...raw2]), measures: 'HTTP POST from Node → diff frame on a raw WebSocket (the baseline, same run)' },
          loadAverage: (await import('node:os')).loadavg().map((v) => Math.round(v * 100) / 100),
          cores: (await import('node:os')).cpus().length,
        },
        null,
        2,
      ),
    );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
