import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadAppSchema } from '@mast/schema';
import { MastServer, loadConfig } from '@mast/server';

const appDir = resolve('examples/todo');
const dataDir = mkdtempSync(join(tmpdir(), 'mast-example-'));
let server: MastServer;
let url: string;

beforeAll(async () => {
  const { schema } = await loadAppSchema(appDir);
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dataDir, 'todo.db') });
  server = await MastServer.create({ appDir, schema, config });
  url = `http://127.0.0.1:${await server.listen()}`;
});
afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('the example app serves addTodo as the anchor app does: POST /api/fn/addTodo {"title"} → {"id"}', async () => {
  const res = await fetch(`${url}/api/fn/addTodo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'write the docs' }) });
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: string };
  const row = await (await fetch(`${url}/api/entities/Todo/${id}`)).json();
  expect(row).toMatchObject({ id, title: 'write the docs', done: false });
});
