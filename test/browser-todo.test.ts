import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadAppSchema } from '@mast/schema';
import { MastServer, loadConfig } from '@mast/server';
import { launchChromium } from './helpers/browser.js';

// The example todo app's web page (examples/todo/web, built into examples/todo/public by
// `npm run build`) in real Chromium against a real server: two users, live shared rows, private
// rows that never reach the other user's socket, offline edits that survive a reload, a refused
// write rolled back, and a server restart.

const appDir = resolve('examples/todo');
const ADMIN = 'admin-token-of-the-browser-test';
const dataDir = mkdtempSync(join(tmpdir(), 'mast-browser-'));
const WAIT = { timeout: 15_000, interval: 50 };

let server: MastServer;
let port = 0;
let url: string;
let browser: Browser;
let contextA: BrowserContext;
let contextB: BrowserContext;
let pageA: Page;
let pageB: Page;
/** Every socket frame each page received, to prove what never reached it. */
const framesA: string[] = [];
const framesB: string[] = [];

/** The page's globals this file reads (its code runs in the page; the project's types have no DOM). */
type PageGlobals = { navigator: { onLine: boolean; serviceWorker: { controller: unknown } }; sameDocument?: boolean };

async function startServer(): Promise<void> {
  const { schema } = await loadAppSchema(appDir);
  const config = loadConfig({}, { port, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dataDir, 'todo.db'), adminToken: ADMIN, dev: true });
  server = await MastServer.create({ appDir, schema, config });
  port = await server.listen();
  url = `http://127.0.0.1:${port}`;
}

interface Shown {
  title: string;
  kind: string;
  done: boolean;
}

/** The todos a page shows, in its order. */
function shown(page: Page): Promise<Shown[]> {
  return page.locator('[data-testid=todo]').evaluateAll((items) =>
    items.map((item) => {
      const li = item as unknown as { getAttribute(name: string): string | null };
      return { title: li.getAttribute('data-title') ?? '', kind: li.getAttribute('data-kind') ?? '', done: li.getAttribute('data-done') === 'true' };
    }),
  );
}

const titles = async (page: Page): Promise<string[]> => (await shown(page)).map((t) => t.title).sort();
const text = async (page: Page, testId: string): Promise<string> => ((await page.getByTestId(testId).textContent()) ?? '').trim();

async function openPage(context: BrowserContext, frames: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('websocket', (ws) => ws.on('framereceived', (frame) => frames.push(typeof frame.payload === 'string' ? frame.payload : frame.payload.toString('latin1'))));
  await page.goto(url);
  // The service worker takes the page over on its first visit (clients.claim), so a reload works offline.
  await page.waitForFunction(() => (globalThis as unknown as PageGlobals).navigator.serviceWorker.controller !== null, undefined, { timeout: 15_000 });
  return page;
}

async function addTodo(page: Page, title: string, shared: boolean): Promise<void> {
  await page.getByLabel('new todo').fill(title);
  await page.getByLabel('shared', { exact: true }).setChecked(shared);
  await page.getByRole('button', { name: 'Add' }).click();
}

/** Rows in the server's database, read with the admin token. */
async function serverRows(): Promise<Array<{ title: string; done: boolean; ownerId: string | null; shared: boolean | null }>> {
  const res = await fetch(`${url}/api/entities/Todo?limit=1000`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return ((await res.json()) as { data: Array<{ title: string; done: boolean; ownerId: string | null; shared: boolean | null }> }).data;
}

beforeAll(async () => {
  if (!existsSync(join(appDir, 'public', 'index.html'))) throw new Error('examples/todo/public is not built: run npm run build');
  await startServer();
  browser = await launchChromium();
  contextA = await browser.newContext();
  contextB = await browser.newContext();
  pageA = await openPage(contextA, framesA);
  pageB = await openPage(contextB, framesB);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('two users see each other’s shared rows live and never each other’s private rows', async () => {
  // A registers with a password; B signs in with a code from the dev outbox.
  await pageA.getByLabel('Email and password').check();
  await pageA.getByLabel('email', { exact: true }).fill('ann@example.com');
  await pageA.getByLabel('password', { exact: true }).fill('correct horse battery');
  await pageA.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => text(pageA, 'who'), WAIT).toBe('ann@example.com');

  await pageB.getByLabel('Email code').check();
  await pageB.getByLabel('email', { exact: true }).fill('bob@example.com');
  await pageB.getByRole('button', { name: 'Send code' }).click();
  const code = ((await pageB.getByTestId('dev-code').locator('code').textContent()) ?? '').trim();
  expect(code).toMatch(/^\d{6}$/);
  await pageB.getByLabel('code', { exact: true }).fill(code);
  await pageB.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => text(pageB, 'who'), WAIT).toBe('bob@example.com');

  await addTodo(pageA, 'ann private', false);
  await addTodo(pageA, 'ann shared', true);
  await addTodo(pageB, 'bob private', false);
  await addTodo(pageB, 'bob shared', true);

  await expect.poll(() => titles(pageA), WAIT).toEqual(['ann private', 'ann shared', 'bob shared']);
  await expect.poll(() => titles(pageB), WAIT).toEqual(['ann shared', 'bob private', 'bob shared']);
  await expect.poll(() => text(pageA, 'pending'), WAIT).toBe('0');
  await expect.poll(() => text(pageB, 'pending'), WAIT).toBe('0');
  // A live change of a shared row reaches the other page.
  await pageA.getByLabel('done: ann shared').check();
  await expect.poll(async () => (await shown(pageB)).find((t) => t.title === 'ann shared')?.done, WAIT).toBe(true);
  // The private rows never reached the other user's socket, not even as an id.
  expect(framesA.length).toBeGreaterThan(0);
  expect(framesB.join('\n')).not.toContain('ann private');
  expect(framesA.join('\n')).not.toContain('bob private');
});

it('offline: adds and edits survive a reload while offline, then both users converge with nothing lost or duplicated', async () => {
  await contextA.setOffline(true);
  await pageA.getByTestId('offline-banner').waitFor(WAIT);
  await addTodo(pageA, 'ann offline', true);
  await pageA.getByRole('button', { name: 'edit ann shared' }).click();
  await pageA.getByLabel('edit: ann shared').fill('ann shared, edited offline');
  await pageA.getByLabel('edit: ann shared').press('Enter');
  await pageA.getByLabel('done: ann private').check();
  await expect.poll(() => text(pageA, 'pending'), WAIT).toBe('3');
  // Meanwhile B, online, adds a shared row.
  await addTodo(pageB, 'bob meanwhile', true);

  // The page itself loads offline, from the service worker's cache; its rows and pending
  // writes come back from IndexedDB.
  const response = await pageA.reload();
  expect(response?.fromServiceWorker()).toBe(true);
  expect(await pageA.evaluate(() => (globalThis as unknown as PageGlobals).navigator.onLine)).toBe(false);
  await pageA.getByTestId('offline-banner').waitFor(WAIT);
  await expect.poll(() => text(pageA, 'pending'), WAIT).toBe('3');
  await expect.poll(() => titles(pageA), WAIT).toEqual(['ann offline', 'ann private', 'ann shared, edited offline', 'bob shared']);
  expect((await shown(pageA)).find((t) => t.title === 'ann private')?.done).toBe(true);
  await expect.poll(() => titles(pageB), WAIT).toEqual(['ann shared', 'bob meanwhile', 'bob private', 'bob shared']);

  await contextA.setOffline(false);
  await expect.poll(() => text(pageA, 'pending'), WAIT).toBe('0');
  await expect.poll(() => text(pageA, 'connection'), WAIT).toBe('open');
  await expect.poll(() => titles(pageA), WAIT).toEqual(['ann offline', 'ann private', 'ann shared, edited offline', 'bob meanwhile', 'bob shared']);
  await expect.poll(() => titles(pageB), WAIT).toEqual(['ann offline', 'ann shared, edited offline', 'bob meanwhile', 'bob private', 'bob shared']);
  const rows = await serverRows();
  expect(rows.map((r) => r.title).sort()).toEqual(['ann offline', 'ann private', 'ann shared, edited offline', 'bob meanwhile', 'bob private', 'bob shared']);
  expect(rows.find((r) => r.title === 'ann private')?.done).toBe(true);
  expect(framesB.join('\n')).not.toContain('ann private');
});

it('a write the policy refuses is shown as failed and rolled back', async () => {
  // B may read A's shared row but not change it.
  const before = (await shown(pageB)).find((t) => t.title === 'ann offline');
  expect(before?.done).toBe(false);
  await pageB.getByLabel('done: ann offline').click(); // not check(): the box flips and flips back
  await expect.poll(() => pageB.getByTestId('failure').allInnerTexts(), WAIT).toEqual([expect.stringContaining('POLICY_DENIED')]);
  await expect.poll(async () => (await shown(pageB)).find((t) => t.title === 'ann offline')?.done, WAIT).toBe(false);
  expect(await pageB.getByLabel('done: ann offline').isChecked()).toBe(false);
  expect(await text(pageB, 'pending')).toBe('0');
  expect((await serverRows()).find((r) => r.title === 'ann offline')?.done).toBe(false);
  expect((await shown(pageA)).find((t) => t.title === 'ann offline')?.done).toBe(false);
});

it('after the server restarts, the pages reconnect and resume without a reload', async () => {
  await pageA.evaluate(() => ((globalThis as unknown as PageGlobals).sameDocument = true));
  await pageB.evaluate(() => ((globalThis as unknown as PageGlobals).sameDocument = true));
  await server.close();
  await pageA.getByTestId('offline-banner').waitFor(WAIT);
  await startServer();
  await expect.poll(() => text(pageA, 'connection'), WAIT).toBe('open');
  await expect.poll(() => text(pageB, 'connection'), WAIT).toBe('open');
  await addTodo(pageB, 'bob after restart', true);
  await expect.poll(() => titles(pageA), WAIT).toContain('bob after restart');
  expect(await pageA.evaluate(() => (globalThis as unknown as PageGlobals).sameDocument)).toBe(true);
  expect(await pageB.evaluate(() => (globalThis as unknown as PageGlobals).sameDocument)).toBe(true);
  expect((await titles(pageA)).filter((t) => t === 'bob after restart')).toHaveLength(1);
});

it('a guest signs in, sees the shared rows and none of the private ones, and signs out', async () => {
  const contextC = await browser.newContext();
  try {
    const pageC = await openPage(contextC, []);
    await pageC.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => text(pageC, 'who'), WAIT).toBe('guest');
    await expect.poll(() => titles(pageC), WAIT).toEqual(['ann offline', 'ann shared, edited offline', 'bob after restart', 'bob meanwhile', 'bob shared']);
    await addTodo(pageC, 'guest private', false);
    await expect.poll(() => text(pageC, 'pending'), WAIT).toBe('0');
    expect(await titles(pageA)).not.toContain('guest private');
    await pageC.getByRole('button', { name: 'Sign out' }).click();
    await pageC.getByTestId('sign-in').waitFor(WAIT);
  } finally {
    await contextC.close();
  }
});

/** The text of the page's note editor. */
const editorText = async (page: Page): Promise<string> => (await page.locator('[data-testid=editor] .cm-content').textContent()) ?? '';

it('a shared note: both type into one richtext field, one offline across a reload, and the texts converge', async () => {
  await pageA.getByRole('button', { name: 'Notes' }).click();
  await pageA.getByLabel('new note').fill('Plans');
  await pageA.getByRole('button', { name: 'Create note' }).click();
  await pageA.locator('[data-testid=editor] .cm-content').waitFor(WAIT);
  await pageB.getByRole('button', { name: 'Notes' }).click();
  await pageB.getByRole('button', { name: 'Plans' }).click();
  await pageB.locator('[data-testid=editor] .cm-content').waitFor(WAIT);
  // Presence: each sees the other in the note.
  await expect.poll(() => text(pageA, 'presence'), WAIT).toContain('bob@example.com');
  await expect.poll(() => text(pageB, 'presence'), WAIT).toContain('ann@example.com');

  await pageA.locator('[data-testid=editor] .cm-content').click();
  await pageA.keyboard.type('Hello');
  await expect.poll(() => editorText(pageB), WAIT).toBe('Hello');

  await contextA.setOffline(true);
  await pageA.getByTestId('offline-banner').waitFor(WAIT);
  await pageA.locator('[data-testid=editor] .cm-content').click();
  await pageA.keyboard.press('Control+End');
  await pageA.keyboard.type(' from Ann');
  await pageB.locator('[data-testid=editor] .cm-content').click();
  await pageB.keyboard.press('Control+Home');
  await pageB.keyboard.type('Bob: ');
  await expect.poll(() => editorText(pageB), WAIT).toBe('Bob: Hello');

  const response = await pageA.reload();
  expect(response?.fromServiceWorker()).toBe(true);
  await expect.poll(() => editorText(pageA), WAIT).toBe('Hello from Ann');
  expect(Number(await text(pageA, 'pending'))).toBeGreaterThan(0);

  await contextA.setOffline(false);
  await expect.poll(() => text(pageA, 'pending'), WAIT).toBe('0');
  await expect.poll(() => editorText(pageA), WAIT).toBe('Bob: Hello from Ann');
  await expect.poll(() => editorText(pageB), WAIT).toBe('Bob: Hello from Ann');
  const note = (await (await fetch(`${url}/api/entities/Note?limit=10`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
    data: Array<{ title: string; body: string }>;
  };
  expect(note.data.map((n) => [n.title, n.body])).toEqual([['Plans', 'Bob: Hello from Ann']]);
});
