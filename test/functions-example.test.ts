import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadAppSchema } from '@mast/schema';
import { MastServer, loadConfig } from '@mast/server';

const ADMIN = 'admin-token-for-the-example';
const appDir = resolve('examples/todo');
const dataDir = mkdtempSync(join(tmpdir(), 'mast-example-'));
// The jobs' clock runs with real time from 02:59:00 UTC on some day; the tests move it ahead.
const start = Date.parse('2026-06-01T02:59:00Z');
const base = Date.now();
let offset = 0;
let server: MastServer;
let url: string;

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const admin = { authorization: `Bearer ${ADMIN}` };
const todos = async (): Promise<Array<{ id: string; title: string; done: boolean }>> =>
  ((await (await fetch(`${url}/api/entities/Todo?limit=1000`)).json()) as { data: Array<{ id: string; title: string; done: boolean }> }).data;

async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > end) throw new Error(`condition not reached within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  const { schema } = await loadAppSchema(appDir);
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dataDir, 'todo.db'), adminToken: ADMIN, jobPoll: 50 });
  server = await MastServer.create({ appDir, schema, config, now: () => start + (Date.now() - base) + offset });
  url = `http://127.0.0.1:${await server.listen()}`;
});
afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('the example app serves addTodo as the anchor app does: POST /api/fn/addTodo {"title"} → {"id"}', async () => {
  const res = await post('/api/fn/addTodo', { title: 'write the docs' });
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: string };
  const row = await (await fetch(`${url}/api/entities/Todo/${id}`)).json();
  expect(row).toMatchObject({ id, title: 'write the docs', done: false });
});

it('loads its functions and its cron without errors', async () => {
  const set = await server.reloadFunctions();
  expect(set.errors).toEqual([]);
  expect([...set.functions.keys()].sort()).toEqual(['addTodo', 'clearCompleted', 'remindMe']);
  expect([...set.crons.keys()]).toEqual(['clearCompleted']);
});

it('remindMe adds the todo later, as a durable job', async () => {
  const res = await post('/api/fn/remindMe', { title: 'call the plumber', inMinutes: 30 });
  const { jobId } = (await res.json()) as { jobId: string };
  expect((await todos()).some((t) => t.title === 'Reminder: call the plumber')).toBe(false);
  expect(((await (await fetch(`${url}/api/jobs/${jobId}`, { headers: admin })).json()) as { status: string }).status).toBe('pending');
  offset += 30 * 60_000;
  await until(todos, (rows) => rows.some((t) => t.title === 'Reminder: call the plumber'));
  expect((await post('/api/fn/remindMe', { title: 'x', inMinutes: -1 })).status).toBe(400);
});

it('the nightly cron clears completed todos at 03:00 and keeps open ones', async () => {
  // The reminder test moved the clock past 03:00 on the first day: that run has fired.
  await until(
    async () => ((await (await fetch(`${url}/api/crons`, { headers: admin })).json()) as { crons: Array<{ next_run_at: string | null }> }).crons,
    (c) => c[0]?.next_run_at === '2026-06-02T03:00:00.000Z',
  );
  const done = ((await (await post('/api/fn/addTodo', { title: 'finished' })).json()) as { id: string }).id;
  await fetch(`${url}/api/entities/Todo/${done}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ done: true }) });
  const open = ((await (await post('/api/fn/addTodo', { title: 'still open' })).json()) as { id: string }).id;
  offset += 24 * 3_600_000;
  const rows = await until(todos, (r) => !r.some((t) => t.id === done));
  expect(rows.some((t) => t.id === open)).toBe(true);
  const runs = await until(
    async () =>
      ((await (await fetch(`${url}/api/jobs?status=succeeded`, { headers: admin })).json()) as { jobs: Array<{ cron: string | null; run_at: string }> }).jobs.filter(
        (j) => j.cron === 'clearCompleted',
      ),
    (j) => j.length >= 2,
  );
  expect(runs.map((j) => j.run_at).sort()).toEqual(['2026-06-01T03:00:00.000Z', '2026-06-02T03:00:00.000Z']);
});
