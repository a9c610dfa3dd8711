import { z } from 'zod';
import { requestId } from './common.js';

/**
 * Rooms, presence and topics. A socket joins a room by name and holds a presence state there
 * (any JSON value, size-capped by the server); every member is told when another joins,
 * updates its state or leaves (also when its socket closes or its presence expires). A member
 * broadcasts `data` under a topic to the room's other members, optionally narrowed to those
 * that asked for that topic. Only members hear a room, and the sender (`from`) is always set
 * by the server from the socket's session: a client message that carries `from` is refused.
 */

/** Most topics one member may narrow its broadcasts to. */
export const MAX_MEMBER_TOPICS = 32;

/** A room or topic name: 1-128 letters, digits and `_ - . : /`, starting with a letter or digit. */
export const roomName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/, 'a room or topic name is 1-128 letters, digits and _ - . : /, starting with a letter or digit');

/** A JSON value (presence state, broadcast data). */
const jsonValue = z.json();

/** `join`, client → server: enter `room` with a presence state; answered by `joined`. */
export const joinMessage = z.strictObject({
  type: z.literal('join'),
  id: requestId,
  room: roomName,
  presence: jsonValue.optional(),
  /** Only broadcasts under these topics reach this member (all when absent). */
  topics: z.array(roomName).max(MAX_MEMBER_TOPICS).optional(),
});

/** `leave`, client → server; answered by `ack`. */
export const leaveMessage = z.strictObject({
  type: z.literal('leave'),
  id: requestId,
  room: roomName,
});

/**
 * `presence`, client → server: replaces the member's state in `room` (every member hears
 * it), or without `state` only refreshes the presence's expiry (a heartbeat, heard by nobody).
 * With `id` it is answered by `ack`.
 */
export const presenceMessage = z.strictObject({
  type: z.literal('presence'),
  id: requestId.optional(),
  room: roomName,
  state: jsonValue.optional(),
});

/** `broadcast`, client → server: `data` under `topic` to the room's other members. */
export const broadcastMessage = z.strictObject({
  type: z.literal('broadcast'),
  id: requestId.optional(),
  room: roomName,
  topic: roomName,
  data: jsonValue.optional(),
});

/** A room member as others see it: who (from the session), which socket, its state. */
export const roomMember = z.object({
  userId: z.string(),
  connectionId: z.string(),
  state: jsonValue,
  /** ISO-8601. */
  joinedAt: z.string(),
});

/** `joined`, server → client: the answer to `join`, with every member (this socket included). */
export const joinedMessage = z.object({
  type: z.literal('joined'),
  id: requestId,
  room: roomName,
  connectionId: z.string(),
  members: z.array(roomMember),
});

/**
 * `presence`, server → members of `room`: `member` joined, updated its state, or left
 * (`reason`: it sent `leave`, its socket closed, its presence expired, or the room's join rule no
 * longer lets it in).
 */
export const presenceEventMessage = z.object({
  type: z.literal('presence'),
  room: roomName,
  event: z.enum(['join', 'update', 'leave']),
  member: roomMember,
  reason: z.enum(['left', 'closed', 'expired', 'denied']).optional(),
});

/** `broadcast`, server → members of `room`: a member's message; `from` is set by the server. */
export const broadcastEventMessage = z.object({
  type: z.literal('broadcast'),
  room: roomName,
  topic: roomName,
  from: z.object({ userId: z.string(), connectionId: z.string() }),
  data: jsonValue,
});

/** Any rooms message a client sends. */
export const roomClientMessage = z.discriminatedUnion('type', [joinMessage, leaveMessage, presenceMessage, broadcastMessage]);

/** `join`. */
export type JoinMessage = z.infer<typeof joinMessage>;
/** `leave`. */
export type LeaveMessage = z.infer<typeof leaveMessage>;
/** `presence`, client → server. */
export type PresenceMessage = z.infer<typeof presenceMessage>;
/** `broadcast`, client → server. */
export type BroadcastMessage = z.infer<typeof broadcastMessage>;
/** Any rooms client message. */
export type RoomClientMessage = z.infer<typeof roomClientMessage>;
/** A room member. */
export type RoomMember = z.infer<typeof roomMember>;
/** `joined`. */
export type JoinedMessage = z.infer<typeof joinedMessage>;
/** `presence`, server → client. */
export type PresenceEventMessage = z.infer<typeof presenceEventMessage>;
/** `broadcast`, server → client. */
export type BroadcastEventMessage = z.infer<typeof broadcastEventMessage>;
