import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveWindow, type ServerMessage } from '@mast/protocol';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { LiveClient } from './helpers/live-client.js';

/**
 * Fan-out of one shared query to more sockets than one turn of the event loop serves (the
 * engine yields between chunks, and commits that land meanwhile go out together), under a
 * burst of concurrent writes: every socket gets the same frames, in commit order, and what it
 * holds in the end is what the database holds, also for a socket that left and resumed.
 */

const SOCKETS = 300;
const WRITES = 40;
const FILTER = { ownerId: 'fan' };

let t: TestServer;
let wsUrl: string;

beforeAll(async () => {
  t = await startTestServer(testManifest, { wsMaxSocketsPerIp: SOCKETS + 10, rateLimit: 0 });
  wsUrl = t.url.replace('http', 'ws') + '/ws';
});
afterAll(() => t.close());

type Row = Record<string, unknown> & { id: string };

async function stored(): Promise<Map<string, Row>> {
  const res = await t.request('POST', '/api/query/Todo', { body: FILTER });
  expect(res.status).toBe(200);
  return new Map((res.json as Row[]).map((r) => [r.id, r]));
}

/** Every message the client has been sent, parsed, in order. */
function received(client: LiveClient): ServerMessage[] {
  return client.frames.map((raw) => JSON.parse(raw) as ServerMessage);
}

/** Resolves once `client` holds a diff (or resumed) at or past `seq`. */
async function caughtUp(client: LiveClient, seq: number): Promise<void> {
  await client.next('diff', (d) => d.seq >= seq, 30_000);
}

describe('fan-out to many sockets under a burst of writes', () => {
  it('delivers the same diffs to every socket, in commit order, converging on the stored rows; a socket that left resumes with no gap', async () => {
    const seeded: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await t.request('POST', '/api/entities/Todo', { body: { title: `seed ${i}`, done: false, ownerId: 'fan' } });
      seeded.push((res.json as { id: string }).id);
    }
    const clients: LiveClient[] = [];
    for (let i = 0; i < SOCKETS; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, SOCKETS - i) }, async () => (await LiveClient.connect(wsUrl)).client));
      for (const client of batch) client.send({ type: 'subscribe', id: 'fan', entity: 'Todo', filter: FILTER });
      await Promise.all(batch.map((client) => client.next('result', () => true, 30_000)));
      clients.push(...batch);
    }
    const [leaver, ...stayers] = clients as [LiveClient, ...LiveClient[]];

    // Inserts, updates and deletes, all sent at once.
    const answers = await Promise.all(
      Array.from({ length: WRITES }, async (_, k) => {
        const res =
          k % 4 === 0
            ? await t.request('POST', '/api/entities/Todo', { body: { title: `burst ${k}`, done: false, ownerId: 'fan' } })
            : k === 3
              ? await t.request('DELETE', `/api/entities/Todo/${seeded[0]}`)
              : await t.request('PATCH', `/api/entities/Todo/${seeded[1 + (k % 4)]}`, { body: { title: `edit ${k}`, priority: k } });
        expect(res.status).toBeLessThan(300);
        return res.json as { seq: number };
      }),
    );
    const last = Math.max(...answers.map((a) => a.seq));
    expect(answers.every((a) => Number.isInteger(a.seq))).toBe(true);

    // The leaver goes away as soon as it has any diff, and comes back after the burst.
    await leaver.next('diff', () => true, 30_000);
    leaver.ws.terminate();
    await leaver.closed;
    const cursor = Math.max(...received(leaver).flatMap((m) => (m.type === 'diff' ? [m.seq] : [])));

    await Promise.all(stayers.map((client) => caughtUp(client, last)));
    const want = await stored();
    const reference = stayers[0]!.frames.filter((raw) => raw.startsWith('{"type":"diff"'));
    expect(reference.length).toBeGreaterThan(0);
    expect(reference.length).toBeLessThanOrEqual(WRITES);
    for (const client of stayers) {
      const messages = received(client);
      const seqs = messages.flatMap((m) => (m.type === 'diff' ? [m.seq] : []));
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
      expect(seqs.at(-1)).toBe(last);
      expect(client.frames.filter((raw) => raw.startsWith('{"type":"diff"'))).toEqual(reference);
      expect(liveWindow(messages)).toEqual(want);
    }

    const { client: back } = await LiveClient.connect(wsUrl);
    back.send({ type: 'resume', id: 'r', since: cursor, subscriptions: [{ id: 'fan', entity: 'Todo', filter: FILTER }] });
    const ack = await back.next('ack', () => true, 30_000);
    expect(ack.seq).toBeGreaterThanOrEqual(last);
    expect(liveWindow([...received(leaver), ...received(back)])).toEqual(want);

    for (const client of [...stayers, back]) client.close();
  }, 120_000);
});
