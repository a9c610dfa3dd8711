import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mastSync, spawnMast, stopMast, type MastProcess } from './helpers/cli-process.js';
import { LiveClient } from './helpers/live-client.js';

// docs/getting-started.md, step by step, as a newcomer would follow it: the files are the code
// blocks of the page that start with their file name; the curl and WebSocket steps are done with
// fetch and a WebSocket client. @mast/* resolve to this repository's built packages.
const page = readFileSync('docs/getting-started.md', 'utf8');
const files = [...page.matchAll(/```ts\n\/\/ (\S+)\n([\s\S]*?)```/g)].map((m) => ({ path: m[1]!, text: m[2]! }));

let dir: string;
let app: string;
const running: MastProcess[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mast-walk-'));
  app = join(dir, 'chat');
});
afterAll(async () => {
  for (const p of running) await stopMast(p);
  rmSync(dir, { recursive: true, force: true });
});

async function serve(args: string[], env: Record<string, string> = {}): Promise<{ p: MastProcess; url: string }> {
  const p = spawnMast([...args, app, '--port', '0', '--host', '127.0.0.1'], env);
  running.push(p);
  const port = (await p.waitFor(/Mast listening on http:\/\/[^:]+:(\d+)/, 40_000))[1];
  return { p, url: `http://127.0.0.1:${port}` };
}

describe('docs/getting-started.md', { timeout: 120_000 }, () => {
  it('init, schema, a function, a policy, two users, a live subscription, a production-like start', async () => {
    expect(files.map((f) => f.path)).toEqual(['schema.ts', 'functions/send.ts']);
    // 1. Create the app; remove the example functions.
    expect(mastSync(['init', app]).status).toBe(0);
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(join(process.cwd(), 'node_modules/@mast'), join(app, 'node_modules/@mast'), 'dir');
    for (const file of readdirSync(join(app, 'functions'))) if (file.endsWith('.ts')) unlinkSync(join(app, 'functions', file));
    // 2 and 3. The schema with its policy, and the function.
    for (const f of files) writeFileSync(join(app, f.path), f.text);

    // 4. Dev mode.
    const dev = await serve(['dev']);
    const post = (path: string, body: unknown, token?: string) =>
      fetch(dev.url + path, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {}, body: JSON.stringify(body) });

    // 5. Two users; a message; who may read and change it.
    const session = async (user: string) => ((await (await post('/api/auth/session', { user_id: user })).json()) as { token: string }).token;
    const alice = await session('alice');
    const bob = await session('bob');
    const sent = await post('/api/fn/send', { channel: 'general', body: 'hello' }, alice);
    expect(sent.status).toBe(200);
    const { id } = (await sent.json()) as { id: string };
    const list = await fetch(`${dev.url}/api/entities/Message`, { headers: { authorization: `Bearer ${bob}` } });
    expect(((await list.json()) as { data: Array<{ body: string; authorId: string }> }).data).toMatchObject([{ body: 'hello', authorId: 'alice' }]);
    const patch = await fetch(`${dev.url}/api/entities/Message/${id}`, { method: 'PATCH', headers: { authorization: `Bearer ${bob}` }, body: JSON.stringify({ body: 'edited' }) });
    expect(patch.status).toBe(403);
    const empty = await post('/api/fn/send', { channel: 'general', body: ' ' }, alice);
    expect([empty.status, ((await empty.json()) as { error: { code: string } }).error.code]).toEqual([400, 'EMPTY']);
    expect((await fetch(`${dev.url}/api/entities/Message`)).status).toBe(403);

    // 6. A live subscription: bob sees alice's next message arrive.
    const { client } = await LiveClient.connect(`${dev.url.replace('http', 'ws')}/ws`, { protocols: [`bearer.${encodeURIComponent(bob)}`] });
    client.send({ type: 'subscribe', id: 'general', entity: 'Message', filter: { channel: 'general', $order: { sentAt: 'asc' } } });
    expect((await client.next('result')).rows).toMatchObject([{ body: 'hello' }]);
    expect((await post('/api/fn/send', { channel: 'general', body: 'are you there?' }, alice)).status).toBe(200);
    expect((await client.next('diff')).added).toMatchObject([{ body: 'are you there?', authorId: 'alice' }]);
    client.close();
    expect(await stopMast(dev.p)).toBe(0);

    // 7. A production-like start: the data is there; sessions need the admin token now.
    const admin = 'walk-admin-token-0123456789abcdef';
    const prod = await serve(['start'], { MAST_ADMIN_TOKEN: admin });
    expect((await fetch(`${prod.url}/health`)).status).toBe(200);
    expect((await fetch(`${prod.url}/api/auth/session`, { method: 'POST', body: JSON.stringify({ user_id: 'carol' }) })).status).toBe(403);
    const all = await fetch(`${prod.url}/api/entities/Message`, { headers: { authorization: `Bearer ${admin}` } });
    expect(((await all.json()) as { count: number }).count).toBe(2);
    expect(await stopMast(prod.p)).toBe(0);
  });
});
