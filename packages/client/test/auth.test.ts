import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type MastClient, type WebSocketConstructor } from '../src/index.js';
import { startTestServer, testManifest, type TestServer } from '../../../test/helpers/test-server.js';
import { until } from './harness.js';

let t: TestServer;
let client: MastClient;

beforeAll(async () => {
  t = await startTestServer(testManifest, { dev: true });
  client = createClient({ url: t.url, WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { baseMs: 20, maxMs: 200 } });
  await client.connected();
});
afterAll(async () => {
  await client.close();
  await t.close();
});

async function lastCode(to: string): Promise<string> {
  const messages = ((await t.request('GET', `/api/auth/outbox?to=${encodeURIComponent(to)}`)).json as { messages: Array<{ text: string }> }).messages;
  return /\b(\d{6})\b/.exec(messages.at(-1)!.text)![1]!;
}

describe('auth helpers', () => {
  it('starts anonymous, signs in as a guest, registers, logs in, uses a magic code and signs out', async () => {
    expect(client.userId).toBeNull();
    const anonymousRoom = client.room('lobby-a');
    await until(() => anonymousRoom.state.error !== null, 'the anonymous join to be refused');
    expect(anonymousRoom.state.error?.code).toBe('AUTH_REQUIRED');
    anonymousRoom.leave();

    const guest = await client.auth.guest();
    expect(guest.guest).toBe(true);
    expect(client.userId).toBe(guest.userId);
    await until(() => client.status.state === 'open', 'the socket as the guest');

    const registered = await client.auth.register({ email: 'ada@example.com', password: 'correct horse battery' });
    expect(client.userId).toBe(registered.userId);
    await client.auth.signOut();
    expect(client.userId).toBeNull();

    await expect(client.auth.login({ email: 'ada@example.com', password: 'wrong password!!' })).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    const again = await client.auth.login({ email: 'ada@example.com', password: 'correct horse battery' });
    expect(again.userId).toBe(registered.userId);
    await client.auth.signOut();

    await client.auth.sendMagicCode('ada@example.com');
    const magic = await client.auth.verifyMagicCode({ email: 'ada@example.com', code: await lastCode('ada@example.com') });
    expect(magic.userId).toBe(registered.userId);
    await until(() => client.status.state === 'open', 'the socket as ada');
    // The new socket is the signed-in user's: it may join a room.
    const room = client.room('lobby-b');
    await until(() => room.state.joined, 'the join as ada');
    room.leave();
  });
});
