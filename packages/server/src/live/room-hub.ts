import { checkJsonLimits, DEFAULT_JSON_LIMITS, type JsonLimits, type RoomMember, type ServerMessage } from '@mast/protocol';

/** A JSON value: presence state, broadcast data. */
type Json = RoomMember['state'];
import type { AuthContext } from '../access/auth-context.js';
import { errors, liveErrors } from '../errors/index.js';
import { EncodedFrame, type LiveSink } from './live-frames.js';
import { systemClock, type Clock } from '../clock/clock.js';

/** A socket as rooms see it: a sink with the connection id members know it by. */
export interface RoomSink extends LiveSink {
  readonly id: string;
}

/** Who may join which room, beyond the built-in rule (signed in; guests when allowed). */
export type RoomAccess = (auth: AuthContext, room: string) => boolean;

/** Limits and rules of the rooms. */
export interface RoomHubOptions {
  /** Where presence times and expiry are read (default: the system clock). */
  readonly clock?: Clock;
  /** Rooms one sink may be a member of. */
  readonly maxRoomsPerSink: number;
  /** Members one room may hold. */
  readonly maxMembers: number;
  /** Largest presence state, in bytes of JSON. */
  readonly maxPresenceBytes: number;
  /** Largest broadcast data, in bytes of JSON. */
  readonly maxMessageBytes: number;
  /** Depth and size bounds of presence states and broadcast data (JSON_TOO_DEEP above); the protocol's defaults when absent. */
  readonly jsonLimits?: JsonLimits | undefined;
  /** A member that neither updates nor refreshes its presence for this long leaves (0: never). */
  readonly presenceTtlMs: number;
  /** Whether guest sessions may join. */
  readonly allowGuests: boolean;
  /** An app's own rule, checked after the built-in one. */
  readonly canJoin?: RoomAccess | undefined;
  /** The live engine's seq, stamped on room frames so a sink's frames never go back in seq. */
  readonly seq: () => number;
}

interface Member {
  readonly sink: RoomSink;
  readonly auth: AuthContext;
  readonly userId: string;
  readonly joinedAt: string;
  readonly topics: ReadonlySet<string> | null;
  state: Json;
  expiresAt: number;
  /** Whether the others were told of the join (so they are told of the leave). */
  announced: boolean;
}

/** Why a member left, as `presence` events say it. */
type LeaveReason = 'left' | 'closed' | 'expired' | 'denied';

/**
 * Rooms with presence and topic broadcasts, in memory on this node. A member is one sink (a
 * socket) in one room; its identity comes from the sink's session, never from a message. Every
 * event is encoded once and the same frame is written to each member it reaches: members of
 * that room only, and for broadcasts only the members that asked for the topic (all when they
 * named none). Everything is synchronous, so a sink sees room events in the order they happened.
 */
export class RoomHub {
  readonly #options: RoomHubOptions;
  readonly #rooms = new Map<string, Map<RoomSink, Member>>();
  readonly #bySink = new Map<RoomSink, Set<string>>();
  readonly #sweep: NodeJS.Timeout | undefined;

  constructor(options: RoomHubOptions) {
    this.#options = options;
    if (options.presenceTtlMs > 0) {
      this.#sweep = setInterval(() => this.expire(), Math.max(10, Math.min(options.presenceTtlMs / 4, 5_000)));
      this.#sweep.unref();
    }
  }

  /** Rooms with at least one member. */
  get roomCount(): number {
    return this.#rooms.size;
  }

  /** Memberships across all rooms. */
  get memberCount(): number {
    let n = 0;
    for (const members of this.#rooms.values()) n += members.size;
    return n;
  }

  /**
   * Makes `sink` a member of `room` and sends it `joined` (every member, itself included); the
   * other members get `presence` `join`. Throws AUTH_REQUIRED, POLICY_DENIED, ALREADY_IN_ROOM,
   * TOO_MANY_ROOMS, ROOM_FULL, JSON_TOO_DEEP or PAYLOAD_TOO_LARGE, having changed nothing.
   */
  join(
    sink: RoomSink,
    auth: AuthContext,
    requestId: string,
    room: string,
    presence: Json | undefined,
    topics: readonly string[] | undefined,
    now = (this.#options.clock ?? systemClock).now(),
  ): void {
    const userId = this.#admit(auth, room);
    const state = presence === undefined ? null : presence;
    this.#checkSize('Presence state', state, this.#options.maxPresenceBytes);
    const joined = this.#bySink.get(sink);
    if (joined?.has(room)) throw liveErrors.alreadyInRoom(room);
    if ((joined?.size ?? 0) >= this.#options.maxRoomsPerSink) {
      throw liveErrors.tooManyRooms(this.#options.maxRoomsPerSink);
    }
    let members = this.#rooms.get(room);
    if ((members?.size ?? 0) >= this.#options.maxMembers) throw liveErrors.roomFull(room, this.#options.maxMembers);
    if (!members) this.#rooms.set(room, (members = new Map()));
    const member: Member = {
      sink,
      auth,
      userId,
      joinedAt: new Date(now).toISOString(),
      topics: topics ? new Set(topics) : null,
      state,
      expiresAt: this.#expiry(now),
      announced: false,
    };
    members.set(sink, member);
    if (joined) joined.add(room);
    else this.#bySink.set(sink, new Set([room]));
    sink.send(this.#frame({ type: 'joined', id: requestId, room, connectionId: sink.id, members: [...members.values()].map(wireMember) }));
    // A sink that could not take the answer closed and left already: announce no ghost.
    if (members.get(sink) !== member) return;
    member.announced = true;
    this.#toOthers(members, sink, this.#frame({ type: 'presence', room, event: 'join', member: wireMember(member) }));
  }

  /** Takes `sink` out of `room`; the others get `presence` `leave`. Throws NOT_IN_ROOM. */
  leave(sink: RoomSink, room: string): void {
    this.#remove(this.#member(sink, room), room, 'left');
  }

  /**
   * Replaces the sink's presence state in `room` (the others get `presence` `update`), or with
   * `state` undefined only refreshes its expiry. Throws NOT_IN_ROOM, JSON_TOO_DEEP or PAYLOAD_TOO_LARGE.
   */
  presence(sink: RoomSink, room: string, state: Json | undefined, now = (this.#options.clock ?? systemClock).now()): void {
    const member = this.#member(sink, room);
    if (state !== undefined) this.#checkSize('Presence state', state, this.#options.maxPresenceBytes);
    member.expiresAt = this.#expiry(now);
    if (state === undefined) return;
    member.state = state;
    this.#toOthers(this.#rooms.get(room)!, sink, this.#frame({ type: 'presence', room, event: 'update', member: wireMember(member) }));
  }

  /**
   * Sends `data` under `topic` to the other members of `room` that listen to the topic, with
   * the sender named from its session. Throws NOT_IN_ROOM, JSON_TOO_DEEP or PAYLOAD_TOO_LARGE.
   */
  broadcast(sink: RoomSink, room: string, topic: string, data: Json | undefined, now = (this.#options.clock ?? systemClock).now()): void {
    const member = this.#member(sink, room);
    const value = data === undefined ? null : data;
    this.#checkSize('Broadcast data', value, this.#options.maxMessageBytes);
    member.expiresAt = this.#expiry(now);
    const frame = this.#frame({ type: 'broadcast', room, topic, from: { userId: member.userId, connectionId: sink.id }, data: value });
    for (const other of this.#rooms.get(room)!.values()) {
      if (other.sink !== sink && (other.topics === null || other.topics.has(topic))) other.sink.send(frame);
    }
  }

  /** Takes a sink that went away out of every room; the others get `presence` `leave` (closed). */
  dropSink(sink: RoomSink): void {
    const rooms = this.#bySink.get(sink);
    if (!rooms) return;
    for (const room of [...rooms]) this.#remove(this.#rooms.get(room)!.get(sink)!, room, 'closed');
  }

  /**
   * Asks the join rule again for every member of the rooms `affected` names (after a commit that
   * may have taken someone's right away, e.g. a membership deleted). A member who may no longer
   * join is taken out: it gets `error` POLICY_DENIED naming the room, the others `presence`
   * `leave` with reason `denied`. Admins stay. Returns how many members were removed.
   */
  recheck(affected: (room: string) => boolean): number {
    const canJoin = this.#options.canJoin;
    if (!canJoin) return 0;
    const removed: Array<[Member, string]> = [];
    for (const [room, members] of this.#rooms) {
      if (!affected(room)) continue;
      for (const member of members.values()) if (!member.auth.isAdmin && !canJoin(member.auth, room)) removed.push([member, room]);
    }
    for (const [member, room] of removed) {
      // A member whose socket closed while others were decided is gone already.
      if (this.#rooms.get(room)?.get(member.sink) !== member) continue;
      this.#remove(member, room, 'denied');
      member.sink.send(this.#frame({ type: 'error', code: 'POLICY_DENIED', message: `You may no longer be in room "${room}"`, room }));
    }
    return removed.length;
  }

  /** Removes members whose presence expired (the sweep calls this; tests may too). */
  expire(now = (this.#options.clock ?? systemClock).now()): void {
    if (this.#options.presenceTtlMs <= 0) return;
    const expired: Array<[Member, string]> = [];
    for (const [room, members] of this.#rooms) for (const member of members.values()) if (member.expiresAt <= now) expired.push([member, room]);
    for (const [member, room] of expired) this.#remove(member, room, 'expired');
  }

  /** Stops the expiry sweep. */
  stop(): void {
    clearInterval(this.#sweep);
  }

  #admit(auth: AuthContext, room: string): string {
    if (auth.userId === null) throw liveErrors.roomNeedsSignIn();
    if (auth.isGuest && !this.#options.allowGuests && !auth.isAdmin) throw liveErrors.roomNoGuests();
    if (!auth.isAdmin && this.#options.canJoin && !this.#options.canJoin(auth, room)) throw liveErrors.roomDenied(room);
    return auth.userId;
  }

  #member(sink: RoomSink, room: string): Member {
    const member = this.#rooms.get(room)?.get(sink);
    if (!member) throw liveErrors.notInRoom(room);
    return member;
  }

  #remove(member: Member, room: string, reason: LeaveReason): void {
    const members = this.#rooms.get(room)!;
    members.delete(member.sink);
    if (members.size === 0) this.#rooms.delete(room);
    const rooms = this.#bySink.get(member.sink)!;
    rooms.delete(room);
    if (rooms.size === 0) this.#bySink.delete(member.sink);
    const frame = this.#frame({ type: 'presence', room, event: 'leave', member: wireMember(member), reason });
    // An expired member is told too: nothing it sent made it leave.
    if (reason === 'expired') member.sink.send(frame);
    if (member.announced) this.#toOthers(members, member.sink, frame);
  }

  #checkSize(what: string, value: Json, max: number): void {
    // Bounded before JSON.stringify, which recurses and would overflow on a deep value.
    const violation = checkJsonLimits(value, this.#options.jsonLimits ?? DEFAULT_JSON_LIMITS);
    if (violation !== null) throw errors.jsonTooDeep(what, violation);
    const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
    if (bytes > max) throw liveErrors.roomPayloadTooLarge(what, bytes, max);
  }

  #expiry(now: number): number {
    return this.#options.presenceTtlMs > 0 ? now + this.#options.presenceTtlMs : Number.POSITIVE_INFINITY;
  }

  #frame(message: ServerMessage): EncodedFrame {
    return new EncodedFrame(message, this.#options.seq());
  }

  #toOthers(members: ReadonlyMap<RoomSink, Member>, except: RoomSink, frame: EncodedFrame): void {
    for (const sink of members.keys()) if (sink !== except) sink.send(frame);
  }
}

function wireMember(member: Member): RoomMember {
  return { userId: member.userId, connectionId: member.sink.id, state: member.state, joinedAt: member.joinedAt };
}
