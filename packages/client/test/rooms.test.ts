import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MastClient, RoomBroadcast } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { clientOf, restart, startServer, tokenFor, until } from './harness.js';

let t: TestServer;
let ann: MastClient;
let bob: MastClient;

beforeAll(async () => {
  t = await startServer();
  ann = clientOf(t, { auth: await tokenFor(t, 'ann') });
  bob = clientOf(t, { auth: await tokenFor(t, 'bob') });
  await Promise.all([ann.connected(), bob.connected()]);
});
afterAll(async () => {
  await ann.close();
  await bob.close();
  await t.close();
});

describe('rooms and presence', () => {
  it("shows each member the others' presence, its changes and departures, and carries broadcasts", async () => {
    const a = ann.room<{ cursor: number }>('doc:1', { presence: { cursor: 1 } });
    const b = bob.room<{ cursor: number }>('doc:1', { presence: { cursor: 9 } });
    await until(() => a.state.others.length === 1 && b.state.others.length === 1, 'both members');
    expect(a.state.others[0]).toMatchObject({ userId: 'bob', state: { cursor: 9 } });

    b.setPresence({ cursor: 12 });
    await until(() => a.state.others[0]?.state.cursor === 12, 'the presence update');

    const heard: RoomBroadcast[] = [];
    b.onBroadcast((m) => heard.push(m));
    expect(a.broadcast('chat', { text: 'hi' })).toBe(true);
    await until(() => heard.length === 1, 'the broadcast');
    expect(heard[0]).toMatchObject({ topic: 'chat', data: { text: 'hi' }, from: { userId: 'ann' } });

    b.leave();
    await until(() => a.state.others.length === 0, 'bob leaving');
    a.leave();
  });

  it('joins again with the last presence after the server restarts', async () => {
    const a = ann.room<{ name: string }>('doc:2', { presence: { name: 'Ann' } });
    const b = bob.room<{ name: string }>('doc:2', { presence: { name: 'Bob' } });
    await until(() => a.state.others.length === 1, 'bob');
    t = await restart(t);
    await until(() => ann.status.state === 'open' && bob.status.state === 'open', 'both back');
    await until(() => a.state.joined && a.state.others.length === 1 && b.state.others.length === 1, 'both members again');
    expect(a.state.others[0]).toMatchObject({ userId: 'bob', state: { name: 'Bob' } });
    a.leave();
    b.leave();
  });
});
