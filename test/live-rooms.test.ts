import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { JoinedMessage } from '@mast/protocol';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { LiveClient } from './helpers/live-client.js';

function wsUrlOf(t: TestServer): string {
  return t.url.replace('http', 'ws') + '/ws';
}

/** A socket signed in as `userId` (a guest session when `guest`). */
async function as(t: TestServer, userId: string, guest = false): Promise<{ client: LiveClient; connectionId: string }> {
  const { token } = await t.server.sessions.issue({ userId, isGuest: guest });
  const { client, hello } = await LiveClient.connect(wsUrlOf(t), { token });
  return { client, connectionId: hello.connectionId };
}

async function join(client: LiveClient, room: string, extra: Record<string, unknown> = {}, id = `j-${room}`): Promise<JoinedMessage> {
  client.send({ type: 'join', id, room, ...extra });
  return client.next('joined', (m) => m.id === id);
}

/** Waits until the sockets earlier tests closed have left their rooms. */
async function settled(t: TestServer): Promise<void> {
  await expect.poll(() => t.server.rooms.memberCount).toBe(0);
}

/**
 * Proves `client` got nothing more from a room: a marker broadcast in `probeRoom` (which the
 * client is in) is sent after the fact, and the client must see it as its next message.
 */
async function nothingElse(client: LiveClient, probe: LiveClient, probeRoom: string): Promise<void> {
  probe.send({ type: 'broadcast', room: probeRoom, topic: 'marker', data: 'end' });
  await client.next('broadcast', (m) => m.topic === 'marker');
  expect(client.unread()).toEqual([]);
}

describe('rooms, presence and topics', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(testManifest);
  });
  afterAll(() => t.close());

  it('scopes join, presence updates and broadcasts to the room, with the sender set by the server', async () => {
    const a = await as(t, 'ann');
    const b = await as(t, 'ben');
    const outsider = await as(t, 'olga');
    const probe = await as(t, 'pete');
    await join(outsider.client, 'side');
    await join(probe.client, 'side');
    await outsider.client.next('presence');

    const joinedA = await join(a.client, 'doc:1', { presence: { cursor: 1 } });
    expect(joinedA).toMatchObject({ room: 'doc:1', connectionId: a.connectionId, members: [{ userId: 'ann', connectionId: a.connectionId, state: { cursor: 1 } }] });
    const joinedB = await join(b.client, 'doc:1');
    expect(joinedB.members.map((m) => [m.userId, m.state])).toEqual([
      ['ann', { cursor: 1 }],
      ['ben', null],
    ]);
    expect(await a.client.next('presence')).toMatchObject({ room: 'doc:1', event: 'join', member: { userId: 'ben', connectionId: b.connectionId, state: null } });

    b.client.send({ type: 'presence', id: 'p1', room: 'doc:1', state: { cursor: 7 } });
    expect(await b.client.next('ack')).toEqual({ type: 'ack', id: 'p1' });
    expect(await a.client.next('presence')).toMatchObject({ event: 'update', member: { userId: 'ben', state: { cursor: 7 } } });

    a.client.send({ type: 'broadcast', room: 'doc:1', topic: 'chat', data: { text: 'hi', from: 'ben' } });
    const got = await b.client.next('broadcast');
    // `from` is the socket's identity; a "from" inside the data is just data.
    expect(got).toEqual({ type: 'broadcast', room: 'doc:1', topic: 'chat', from: { userId: 'ann', connectionId: a.connectionId }, data: { text: 'hi', from: 'ben' } });

    // Nothing of doc:1 reached the sockets outside it, nor came back to its senders.
    await nothingElse(outsider.client, probe.client, 'side');
    expect(a.client.unread()).toEqual([]);
    expect(b.client.unread()).toEqual([]);
    for (const c of [a, b, outsider, probe]) c.client.close();
  });

  it('refuses a forged sender, and a broadcast or presence from a non-member, reaching no member', async () => {
    const a = await as(t, 'amy');
    const b = await as(t, 'bo');
    const mallory = await as(t, 'mallory');
    await join(a.client, 'forge');
    await join(b.client, 'forge');
    await a.client.next('presence');

    b.client.send({ type: 'broadcast', id: 'f1', room: 'forge', topic: 'chat', data: 'x', from: { userId: 'amy', connectionId: 'c' } });
    const forged = await b.client.next('error');
    expect(forged).toMatchObject({ id: 'f1', room: 'forge', code: 'INVALID_MESSAGE' });
    expect(forged.message).toContain('"from"');
    expect(forged.message).toContain('a room message names no sender');
    b.client.send({ type: 'join', id: 'f2', room: 'forge2', userId: 'amy' });
    expect(await b.client.next('error')).toMatchObject({ id: 'f2', room: 'forge2', code: 'INVALID_MESSAGE' });
    b.client.send({ type: 'sing', id: 'f3' });
    expect((await b.client.next('error')).message).toContain('crdt-subscribe, crdt-unsubscribe, crdt-resync');

    mallory.client.send({ type: 'broadcast', id: 'm1', room: 'forge', topic: 'chat', data: 'spam' });
    expect(await mallory.client.next('error')).toEqual({ type: 'error', id: 'm1', room: 'forge', code: 'NOT_IN_ROOM', message: expect.stringContaining('forge') });
    mallory.client.send({ type: 'presence', room: 'forge', state: 'here' });
    expect(await mallory.client.next('error')).toMatchObject({ room: 'forge', code: 'NOT_IN_ROOM' });
    mallory.client.send({ type: 'leave', id: 'm2', room: 'forge' });
    expect(await mallory.client.next('error')).toMatchObject({ id: 'm2', code: 'NOT_IN_ROOM' });

    await nothingElse(a.client, b.client, 'forge');
    for (const c of [a, b, mallory]) c.client.close();
  });

  it('after leave, the member is gone for the others and its messages are refused', async () => {
    const a = await as(t, 'lea');
    const b = await as(t, 'leo');
    await join(a.client, 'lobby');
    await join(b.client, 'lobby');
    await a.client.next('presence');
    a.client.send({ type: 'leave', id: 'l1', room: 'lobby' });
    expect(await a.client.next('ack')).toEqual({ type: 'ack', id: 'l1' });
    expect(await b.client.next('presence')).toMatchObject({ event: 'leave', reason: 'left', member: { userId: 'lea' } });
    a.client.send({ type: 'broadcast', id: 'l2', room: 'lobby', topic: 't', data: 1 });
    expect(await a.client.next('error')).toMatchObject({ id: 'l2', code: 'NOT_IN_ROOM' });
    a.client.send({ type: 'presence', id: 'l3', room: 'lobby', state: 2 });
    expect(await a.client.next('error')).toMatchObject({ id: 'l3', code: 'NOT_IN_ROOM' });
    // Rejoining works and announces a fresh join.
    await join(a.client, 'lobby', {}, 'l4');
    expect(await b.client.next('presence')).toMatchObject({ event: 'join', member: { userId: 'lea' } });
    a.client.send({ type: 'join', id: 'l5', room: 'lobby' });
    expect(await a.client.next('error')).toMatchObject({ id: 'l5', room: 'lobby', code: 'ALREADY_IN_ROOM' });
    expect(b.client.unread()).toEqual([]);
    a.client.close();
    b.client.close();
  });

  it('a socket that closes mid-room leaves every room it was in; the others are told', async () => {
    const a = await as(t, 'cal');
    const b = await as(t, 'cat');
    await settled(t);
    await join(a.client, 'r1');
    await join(a.client, 'r2');
    await join(b.client, 'r1');
    await join(b.client, 'r2');
    await a.client.next('presence');
    await a.client.next('presence');
    a.client.close();
    const leaves = [await b.client.next('presence'), await b.client.next('presence')];
    expect(leaves.map((l) => l.type === 'presence' && [l.room, l.event, l.reason, l.member.userId]).sort()).toEqual([
      ['r1', 'leave', 'closed', 'cal'],
      ['r2', 'leave', 'closed', 'cal'],
    ]);
    expect(t.server.rooms.memberCount).toBe(2);
    b.client.close();
    await settled(t);
  });

  it('delivers a broadcast only to members listening to its topic', async () => {
    const a = await as(t, 'tia');
    const b = await as(t, 'tom');
    await join(b.client, 'topics', { topics: ['cursor', 'marker'] });
    await join(a.client, 'topics');
    a.client.send({ type: 'broadcast', room: 'topics', topic: 'chat', data: 'not for b' });
    a.client.send({ type: 'broadcast', room: 'topics', topic: 'cursor', data: { x: 1 } });
    expect(await b.client.next('broadcast')).toMatchObject({ topic: 'cursor', data: { x: 1 } });
    await b.client.next('presence');
    await nothingElse(b.client, a.client, 'topics');
    a.client.close();
    b.client.close();
  });

  it.each([
    ['an empty name', ''],
    ['a name with a space', 'two words'],
    ['a name over 128 characters', 'r'.repeat(129)],
    ['a name starting with a dot', '../etc'],
    ['a non-ASCII name', 'café'],
    ['a number', 42],
  ])('refuses %s', async (_what, room) => {
    const a = await as(t, 'val');
    a.client.send({ type: 'join', id: 'bad', room });
    const error = await a.client.next('error');
    expect(error).toMatchObject({ id: 'bad', code: 'INVALID_MESSAGE' });
    expect(error.message).toContain('room');
    a.client.send({ type: 'broadcast', id: 'bad2', room: 'ok', topic: 'has space', data: 1 });
    expect(await a.client.next('error')).toMatchObject({ id: 'bad2', code: 'INVALID_MESSAGE' });
    a.client.close();
  });

  it('anonymous sockets may not join; guests may by default', async () => {
    const { client: anon } = await LiveClient.connect(wsUrlOf(t));
    anon.send({ type: 'join', id: 'a1', room: 'open' });
    expect(await anon.next('error')).toMatchObject({ id: 'a1', room: 'open', code: 'AUTH_REQUIRED' });
    const guest = await as(t, 'guest_1', true);
    expect(await join(guest.client, 'open')).toMatchObject({ members: [{ userId: 'guest_1' }] });
    anon.close();
    guest.client.close();
  });
});

describe('room limits', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(
      testManifest,
      { roomMaxPerSocket: 2, roomMaxMembers: 2, roomMaxPresence: 64, roomMaxMessage: 128, roomAllowGuests: false },
      {
        roomAccess: (auth, room) => !room.startsWith('staff:') || auth.roles.includes('staff'),
      },
    );
  });
  afterAll(() => t.close());

  it('caps rooms per socket and members per room', async () => {
    const a = await as(t, 'u1');
    await join(a.client, 'one');
    await join(a.client, 'two');
    a.client.send({ type: 'join', id: 'x', room: 'three' });
    expect(await a.client.next('error')).toMatchObject({ id: 'x', room: 'three', code: 'TOO_MANY_ROOMS' });
    const b = await as(t, 'u2');
    const c = await as(t, 'u3');
    await join(b.client, 'one');
    c.client.send({ type: 'join', id: 'y', room: 'one' });
    expect(await c.client.next('error')).toMatchObject({ id: 'y', room: 'one', code: 'ROOM_FULL' });
    // A refused join changed nothing: no one heard of u3, and the room still has two members.
    await a.client.next('presence');
    expect(t.server.rooms.memberCount).toBe(3);
    await nothingElse(a.client, b.client, 'one');
    for (const s of [a, b, c]) s.client.close();
  });

  it('refuses oversized presence and broadcast data, changing nothing', async () => {
    await settled(t);
    const a = await as(t, 'big1');
    const b = await as(t, 'big2');
    a.client.send({ type: 'join', id: 'p', room: 'sizes', presence: { blob: 'x'.repeat(100) } });
    const tooBig = await a.client.next('error');
    expect(tooBig).toMatchObject({ id: 'p', room: 'sizes', code: 'PAYLOAD_TOO_LARGE' });
    expect(tooBig.message).toMatch(/at most 64/);
    expect(t.server.rooms.roomCount).toBe(0);
    await join(a.client, 'sizes', { presence: { v: 1 } });
    await join(b.client, 'sizes');
    a.client.send({ type: 'presence', id: 'p2', room: 'sizes', state: 'y'.repeat(100) });
    expect(await a.client.next('error')).toMatchObject({ id: 'p2', code: 'PAYLOAD_TOO_LARGE' });
    a.client.send({ type: 'broadcast', id: 'p3', room: 'sizes', topic: 't', data: 'z'.repeat(200) });
    expect(await a.client.next('error')).toMatchObject({ id: 'p3', code: 'PAYLOAD_TOO_LARGE' });
    // b saw neither; a's state is still the one it joined with.
    await nothingElse(b.client, a.client, 'sizes');
    const c = await as(t, 'big3');
    c.client.send({ type: 'join', id: 'c', room: 'sizes' });
    expect(await c.client.next('error')).toMatchObject({ code: 'ROOM_FULL' });
    for (const s of [a, b, c]) s.client.close();
  });

  it('applies the guest rule and the server room rule', async () => {
    const guest = await as(t, 'guest_2', true);
    guest.client.send({ type: 'join', id: 'g', room: 'anything' });
    expect(await guest.client.next('error')).toMatchObject({ id: 'g', code: 'POLICY_DENIED' });
    const plain = await as(t, 'plain');
    plain.client.send({ type: 'join', id: 's', room: 'staff:ops' });
    expect(await plain.client.next('error')).toMatchObject({ id: 's', room: 'staff:ops', code: 'POLICY_DENIED' });
    const { token } = await t.server.sessions.issue({ userId: 'boss', roles: ['staff'] });
    const { client: staff } = await LiveClient.connect(wsUrlOf(t), { token });
    expect(await join(staff, 'staff:ops')).toMatchObject({ members: [{ userId: 'boss' }] });
    for (const c of [guest.client, plain.client, staff]) c.close();
  });

  it('the message rate limit counts room messages: a flooding member is closed (4008) and leaves', async () => {
    const r = await startTestServer(testManifest, { wsMessageRate: 20 });
    try {
      const a = await as(r, 'flood');
      const b = await as(r, 'calm');
      await join(a.client, 'spam');
      await join(b.client, 'spam');
      for (let i = 0; i < 10_000 && a.client.ws.readyState === WebSocket.OPEN; i++) a.client.send({ type: 'broadcast', room: 'spam', topic: 't', data: i });
      expect(await a.client.closed).toMatchObject({ code: 4008 });
      expect(await b.client.next('presence', (m) => m.event === 'leave')).toMatchObject({ reason: 'closed', member: { userId: 'flood' } });
      // At most the messages within the rate got through (the joins counted too).
      expect(b.client.unread().filter((m) => m.type === 'broadcast').length).toBeLessThanOrEqual(20);
      b.client.close();
    } finally {
      await r.close();
    }
  });

  it('a member that sends no heartbeat leaves when its presence expires; one that does stays', async () => {
    const r = await startTestServer(testManifest, { roomPresenceTtl: 1500 });
    try {
      const quiet = await as(r, 'quiet');
      const busy = await as(r, 'busy');
      await join(quiet.client, 'ttl');
      await join(busy.client, 'ttl');
      await quiet.client.next('presence');
      let beats = 0;
      const heartbeat = setInterval(() => busy.client.send({ type: 'presence', id: `hb${++beats}`, room: 'ttl' }), 200);
      try {
        const gone = await busy.client.next('presence', (m) => m.event === 'leave', 15_000);
        expect(gone).toMatchObject({ reason: 'expired', member: { userId: 'quiet' } });
        // The expired member is told as well.
        expect(await quiet.client.next('presence')).toMatchObject({ event: 'leave', reason: 'expired', member: { userId: 'quiet' } });
      } finally {
        clearInterval(heartbeat);
      }
      expect(r.server.rooms.memberCount).toBe(1);
      // Heartbeats are heard by nobody: the quiet socket got no presence from them.
      expect(quiet.client.unread().filter((m) => m.type === 'presence')).toEqual([]);
      quiet.client.send({ type: 'broadcast', id: 'late', room: 'ttl', topic: 't', data: 1 });
      expect(await quiet.client.next('error')).toMatchObject({ id: 'late', code: 'NOT_IN_ROOM' });
      quiet.client.close();
      busy.client.close();
    } finally {
      await r.close();
    }
  });
});
