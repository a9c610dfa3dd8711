import { afterEach, describe, expect, it } from 'vitest';
import type { MastClient } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { startTestServer } from '../../../test/helpers/test-server.js';
import { deployFunctions } from '../../../test/helpers/functions-app.js';
import { ADMIN, clientManifest, clientOf, restart, serverRows, tokenFor, until } from './harness.js';

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function owned(client: MastClient): MastClient {
  cleanup.push(() => client.close());
  return client;
}

describe('faults', () => {
  it('pauses before reconnecting after 4008 (rate limited), then joins its room again', async () => {
    const t = await startTestServer(clientManifest, { adminToken: ADMIN, wsMessageRate: 5 });
    cleanup.push(() => t.close());
    const client = owned(clientOf(t, { auth: await tokenFor(t, 'ann'), backoff: { baseMs: 10, maxMs: 50, pauseMs: 400 } }));
    await client.connected();
    const room = client.room('busy', { presence: { n: 0 } });
    await until(() => room.state.joined, 'joined');
    let closedAt = 0;
    let closeCode: unknown;
    let reopenedAt = 0;
    client.onStatus((s) => {
      if (s.state === 'offline' && !closedAt) {
        closedAt = Date.now();
        closeCode = s.error?.details.closeCode;
      }
      if (s.state === 'open' && closedAt && !reopenedAt) reopenedAt = Date.now();
    });
    for (let i = 0; i < 10; i++) room.broadcast('t', i);
    await until(() => reopenedAt > 0, 'the reconnect');
    expect(closeCode).toBe(4008);
    expect(reopenedAt - closedAt).toBeGreaterThanOrEqual(390);
    await until(() => room.state.joined, 'joined again');
  });

  it('sends a mutation in flight again with its op id after the server restarts, and it writes once', async () => {
    let t = await startTestServer(clientManifest, { adminToken: ADMIN });
    const set = await deployFunctions(t, {
      slowAdd: `export default mutation({ args: { id: v.string() }, handler: async (ctx, a) => {
        await new Promise((r) => setTimeout(r, 200));
        await ctx.db.insert('Todo', { id: a.id, title: 'slow', done: false, ownerId: ctx.auth.userId });
        return { id: a.id };
      } });`,
    });
    expect(set.errors).toEqual([]);
    const client = owned(clientOf(t, { auth: await tokenFor(t, 'ann') }));
    await client.connected();
    const call = client.mutation('slowAdd', { id: 'once' });
    await new Promise((r) => setTimeout(r, 50));
    t = await restart(t);
    cleanup.push(() => t.close());
    await t.server.reloadFunctions();
    expect(await call).toEqual({ id: 'once' });
    expect((await serverRows(t, 'Todo')).filter((r) => r.id === 'once').length).toBe(1);
  });
});
