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
});
