import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../access/auth-context.js';
import type { EncodedFrame } from './live-frames.js';
import { RoomHub, type RoomSink } from './room-hub.js';

/** A sink that records what it is sent; `closeOnNext` makes the next send close it, as a slow socket does. */
class TestSink implements RoomSink {
  readonly frames: EncodedFrame[] = [];
  closeOnNext = false;
  constructor(
    readonly id: string,
    readonly hub: () => RoomHub,
  ) {}
  send(frame: EncodedFrame): void {
    if (this.closeOnNext) {
      this.closeOnNext = false;
      this.hub().dropSink(this);
      return;
    }
    this.frames.push(frame);
  }
  messages(): unknown[] {
    return this.frames.map((f) => JSON.parse(f.json) as unknown);
  }
}

const user = (userId: string): AuthContext => ({ userId, isAdmin: false, isGuest: false, roles: [], tenantId: null, orgRole: null });

function setup(presenceTtlMs = 0): { hub: RoomHub; sink: (id: string) => TestSink } {
  const hub = new RoomHub({ maxRoomsPerSink: 4, maxMembers: 10, maxPresenceBytes: 100, maxMessageBytes: 100, presenceTtlMs, allowGuests: true, seq: () => 7 });
  return { hub, sink: (id) => new TestSink(id, () => hub) };
}

describe('RoomHub', () => {
  it('writes one encoded frame, the same object, to every member a broadcast reaches', () => {
    const { hub, sink } = setup();
    const [a, b, c] = [sink('a'), sink('b'), sink('c')];
    for (const s of [a, b, c]) hub.join(s, user(s.id), 'j', 'room', undefined, undefined);
    b.frames.length = 0;
    c.frames.length = 0;
    hub.broadcast(a, 'room', 'chat', { n: 1 });
    expect(b.frames).toHaveLength(1);
    expect(c.frames[0]).toBe(b.frames[0]);
    expect(b.frames[0]!.seq).toBe(7);
    hub.stop();
  });

  it('announces no member whose socket closed while taking its own join answer', () => {
    const { hub, sink } = setup();
    const a = sink('a');
    const b = sink('b');
    hub.join(a, user('a'), 'j', 'room', undefined, undefined);
    b.closeOnNext = true;
    hub.join(b, user('b'), 'j', 'room', undefined, undefined);
    expect(a.messages()).toHaveLength(1); // its own `joined` only
    expect(hub.memberCount).toBe(1);
    hub.stop();
  });

  it('a member that closes while a broadcast is written leaves; the rest still get the broadcast', () => {
    const { hub, sink } = setup();
    const [a, b, c] = [sink('a'), sink('b'), sink('c')];
    for (const s of [a, b, c]) hub.join(s, user(s.id), 'j', 'room', undefined, undefined);
    for (const s of [a, b, c]) s.frames.length = 0;
    b.closeOnNext = true;
    hub.broadcast(a, 'room', 'chat', 1);
    expect(c.messages()).toEqual([
      expect.objectContaining({ type: 'presence', event: 'leave', reason: 'closed', member: expect.objectContaining({ userId: 'b' }) }),
      expect.objectContaining({ type: 'broadcast', data: 1 }),
    ]);
    expect(hub.memberCount).toBe(2);
    hub.stop();
  });

  it('expires members by their last presence or broadcast, not by their join', () => {
    const { hub, sink } = setup(1000);
    const a = sink('a');
    const b = sink('b');
    hub.join(a, user('a'), 'j', 'room', undefined, undefined, 0);
    hub.join(b, user('b'), 'j', 'room', undefined, undefined, 0);
    hub.presence(b, 'room', undefined, 900);
    hub.expire(999);
    expect(hub.memberCount).toBe(2);
    hub.expire(1000);
    expect(hub.memberCount).toBe(1);
    hub.broadcast(b, 'room', 't', null, 1500);
    hub.expire(2499);
    expect(hub.memberCount).toBe(1);
    hub.expire(2500);
    expect(hub.memberCount).toBe(0);
    expect(hub.roomCount).toBe(0);
    hub.stop();
  });

  it('takes out, on a re-check, the members the join rule no longer admits, in the rooms named only', () => {
    const allowed = new Set(['a@r1', 'b@r1', 'a@r2', 'admin@r1']);
    const hub = new RoomHub({
      maxRoomsPerSink: 4,
      maxMembers: 10,
      maxPresenceBytes: 100,
      maxMessageBytes: 100,
      presenceTtlMs: 0,
      allowGuests: true,
      seq: () => 7,
      canJoin: (auth, room) => allowed.has(`${auth.userId}@${room}`),
    });
    const [a, b, a2, root] = ['a', 'b', 'a2', 'root'].map((id) => new TestSink(id, () => hub)) as [TestSink, TestSink, TestSink, TestSink];
    hub.join(a, user('a'), 'j', 'r1', undefined, undefined);
    hub.join(b, user('b'), 'j', 'r1', undefined, undefined);
    hub.join(a2, user('a'), 'j', 'r2', undefined, undefined);
    hub.join(root, { ...user('admin'), isAdmin: true }, 'j', 'r1', undefined, undefined);
    expect(() => hub.join(b, user('b'), 'j', 'r2', undefined, undefined)).toThrow(/may not join room "r2"/);
    for (const s of [a, b, a2, root]) s.frames.length = 0;
    // a loses both rooms and the admin its grant; only r1 is re-checked.
    allowed.delete('a@r1');
    allowed.delete('a@r2');
    allowed.delete('admin@r1');
    expect(hub.recheck((room) => room === 'r1')).toBe(1);
    expect(a.messages()).toEqual([{ type: 'error', code: 'POLICY_DENIED', message: 'You may no longer be in room "r1"', room: 'r1' }]);
    expect(b.messages()).toMatchObject([{ type: 'presence', room: 'r1', event: 'leave', reason: 'denied', member: { userId: 'a', connectionId: 'a' } }]);
    expect(root.messages()).toEqual(b.messages());
    expect(a2.messages()).toEqual([]);
    expect(() => hub.presence(a, 'r1', { x: 1 })).toThrow(/has not joined room "r1"/);
    expect(hub.memberCount).toBe(3);
    // Nothing changed for anyone left: a second re-check removes nobody and sends nothing.
    b.frames.length = 0;
    expect(hub.recheck((room) => room === 'r1')).toBe(0);
    expect(b.messages()).toEqual([]);
    expect(hub.recheck(() => true)).toBe(1);
    expect(a2.messages()).toMatchObject([{ type: 'error', code: 'POLICY_DENIED', room: 'r2' }]);
    hub.stop();
  });
});
