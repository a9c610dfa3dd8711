/**
 * `npx tsx bench/src/browser-reload.ts [reloads]`: how long the example's web page takes, in
 * Debian's Chromium, to show 10,000 rows kept in IndexedDB after an offline reload.
 *
 * One server (`mast start examples/todo`, built, in a child process, MAST_MAX_LIMIT=10000)
 * holds 10,000 private todos of one user. A context signed in as that user opens
 * `/?limit=10000` (the example's list, its window widened from 50 by the `limit` parameter),
 * with the example's `indexedDbStorage('todo')`; once the list holds the 10,000 rows and the
 * client has stored them, and the service worker controls the page, the browser goes offline
 * and the server is stopped. Then, `reloads` times (default 20, after 2 warm-ups), alternated:
 *
 * - rows10k: reload → the list element holds its 10,000th row (`dom`, a MutationObserver
 *   installed at document start), and → the next animation frame after that (`frame`).
 *   Times are the page's `performance.now()`, i.e. from the reload's navigation start.
 * - emptyStore: the same reload of a second context whose user has no rows (its kept query is
 *   empty): navigation start → the (empty) list element is in the DOM. The app's own boot cost.
 * - bareIdbRead: in the 10,000-row page, `indexedDB.open` of the same database and one `get`
 *   of the stored query (the 10,000 rows deserialized), no client, no React.
 *
 * Prints one JSON object. Not a scenario of `npm run bench` and not run by CI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, sessionFor, startTodoServer, timingStats } from './harness/browser-rig.js';

const reloads = Number(process.argv[2] ?? 20);
const ROWS = 10_000;
const ADMIN = 'browser-reload-admin-token';
const WAIT = { timeout: 60_000 };

/** 10,000 private todos of `ownerId`, in batches of 500. */
async function seed(url: string, ownerId: string): Promise<void> {
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < ROWS; i += 500) {
    const operations = Array.from({ length: 500 }, (_, j) => ({
      op: 'insert',
      entity: 'Todo',
      data: { title: `todo number ${i + j}`, done: (i + j) % 3 === 0, shared: false, ownerId, createdAt: new Date(base + (i + j) * 1000).toISOString() },
    }));
    const res = await fetch(`${url}/api/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ operations }),
    });
    if (!res.ok) throw new Error(`batch insert: ${res.status} ${await res.text()}`);
  }
}

/**
 * Page code, run at document start of every load: notes `performance.now()` when the list
 * element first holds `rows` rows (`window.benchDom`), and at the next animation frame
 * (`window.benchFrame`).
 */
function marker(rows: number): string {
  return `(() => {
    const observer = new MutationObserver(() => {
      const list = document.querySelector('ul[data-testid=todos]');
      if (!list || list.childElementCount < ${rows}) return;
      window.benchDom = performance.now();
      observer.disconnect();
      requestAnimationFrame(() => { window.benchFrame = performance.now(); });
    });
    observer.observe(document, { subtree: true, childList: true });
  })()`;
}

/** Page code: the stored queries' keys and row counts in the client's IndexedDB database. */
const STORED = `new Promise((resolve, reject) => {
  const open = indexedDB.open('mast:todo');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    const out = {};
    const tx = db.transaction('meta', 'readonly');
    const cursor = tx.objectStore('meta').openCursor();
    cursor.onsuccess = () => {
      const c = cursor.result;
      if (!c) { db.close(); resolve(out); return; }
      if (String(c.key).startsWith('query:')) out[String(c.key)] = Array.isArray(c.value && c.value.rows) ? c.value.rows.length : -1;
      c.continue();
    };
  };
})`;

/** Page code: ms to open the database and read the one stored query `key` (its rows deserialized). */
const bareRead = (key: string): string => `new Promise((resolve, reject) => {
  const start = performance.now();
  const open = indexedDB.open('mast:todo');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    const get = db.transaction('meta', 'readonly').objectStore('meta').get(${JSON.stringify(key)});
    get.onsuccess = () => {
      const rows = get.result.rows;
      const ms = performance.now() - start;
      db.close();
      resolve({ ms, rows: rows.length });
    };
    get.onerror = () => reject(get.error);
  };
})`;

async function openPage(context: BrowserContext, url: string, user: string, token: string, rows: number): Promise<Page> {
  await context.addInitScript(([key, value]) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem(key, value), [
    'mast-todo.identity',
    JSON.stringify({ token, userId: user, label: user }),
  ] as const);
  await context.addInitScript(marker(rows));
  const page = await context.newPage();
  await page.goto(`${url}/?limit=${ROWS}`);
  await page.getByTestId('connection').filter({ hasText: 'open' }).waitFor(WAIT);
  await page.waitForFunction('navigator.serviceWorker.controller !== null', undefined, WAIT);
  await page.waitForFunction(`document.querySelectorAll('[data-testid=todo]').length === ${rows}`, undefined, WAIT);
  return page;
}

/** Waits until the client has stored the list's query with `rows` rows; returns its meta key. */
async function storedKey(page: Page, rows: number): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const stored = (await page.evaluate(STORED)) as Record<string, number>;
    const key = Object.keys(stored).find((k) => stored[k] === rows && k.includes(`${ROWS}`));
    if (key) return key;
    if (Date.now() > deadline) throw new Error(`the query was not stored with ${rows} rows: ${JSON.stringify(stored)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Reloads offline; returns the page's marks (ms from the reload's navigation start). */
async function reload(page: Page, rows: number): Promise<{ dom: number; frame: number }> {
  const response = await page.reload({ waitUntil: 'commit' });
  if (!response?.fromServiceWorker()) throw new Error('the reload did not come from the service worker');
  await page.waitForFunction('window.benchFrame !== undefined', undefined, { ...WAIT, polling: 50 });
  const marks = (await page.evaluate(
    '({ dom: window.benchDom, frame: window.benchFrame, rows: document.querySelectorAll("[data-testid=todo]").length, online: navigator.onLine })',
  )) as {
    dom: number;
    frame: number;
    rows: number;
    online: boolean;
  };
  if (marks.rows !== rows || marks.online) throw new Error(`after the reload: ${JSON.stringify(marks)}`);
  return { dom: marks.dom, frame: marks.frame };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-browser-reload-'));
  const server = await startTodoServer(dir, ADMIN, { MAST_MAX_LIMIT: String(ROWS) });
  const browser = await launchChromium();
  try {
    await seed(server.url, 'bench-reader');
    const full = await browser.newContext();
    const empty = await browser.newContext();
    const pageFull = await openPage(full, server.url, 'bench-reader', await sessionFor(server, 'bench-reader'), ROWS);
    const pageEmpty = await openPage(empty, server.url, 'bench-empty', await sessionFor(server, 'bench-empty'), 0);
    const key = await storedKey(pageFull, ROWS);
    // Nothing from the network from here on: the browser is offline and the server is gone.
    await full.setOffline(true);
    await empty.setOffline(true);
    await server.stop();

    const rowsDom: number[] = [];
    const rowsFrame: number[] = [];
    const emptyDom: number[] = [];
    const emptyFrame: number[] = [];
    const idb: number[] = [];
    for (let i = 0; i < reloads + 2; i++) {
      const a = await reload(pageFull, ROWS);
      const b = await reload(pageEmpty, 0);
      const read = (await pageFull.evaluate(bareRead(key))) as { ms: number; rows: number };
      if (read.rows !== ROWS) throw new Error(`bare read: ${read.rows} rows`);
      if (i < 2) continue; // warm-ups
      rowsDom.push(a.dom);
      rowsFrame.push(a.frame);
      emptyDom.push(b.dom);
      emptyFrame.push(b.frame);
      idb.push(read.ms);
    }
    console.log(
      JSON.stringify(
        {
          what: `offline reload of the example page → ${ROWS} rows from IndexedDB rendered (ms from navigation start, Chromium)`,
          rows: ROWS,
          reloads,
          rows10k: {
            dom: { ...timingStats(rowsDom), measures: `navigation start → the list holds its ${ROWS}th row (MutationObserver)` },
            frame: { ...timingStats(rowsFrame), measures: 'navigation start → the next animation frame after that' },
          },
          emptyStore: {
            dom: { ...timingStats(emptyDom), measures: 'same reload, a user with no rows: navigation start → the empty list is in the DOM' },
            frame: { ...timingStats(emptyFrame), measures: 'navigation start → the next animation frame after that' },
          },
          bareIdbRead: { ...timingStats(idb), measures: `indexedDB.open + one get of the stored query (${ROWS} rows) in the page, no client, no React` },
          query: key,
          loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
          cores: cpus().length,
        },
        null,
        2,
      ),
    );
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
