import type { RoomClientMessage, ServerMessage } from '@mast/protocol';
import type { AuthContext } from '../access/auth-context.js';
import type { RoomHub, RoomSink } from '../live/room-hub.js';
import { errorReply } from './reply.js';

/** A socket as the room messages see it. */
export interface RoomSocket extends RoomSink {
  sendMessage(message: ServerMessage): void;
}

/**
 * `join`, `leave`, `presence` and `broadcast`. A failure is answered by `error` naming the
 * room (and the request id when the message had one); `leave`, and `presence` or `broadcast`
 * with an id, are answered by `ack`. The sender's identity is the socket's, never the message's.
 */
export function handleRoomMessage(
  hub: RoomHub,
  socket: RoomSocket,
  message: RoomClientMessage,
  auth: AuthContext,
  onInternal: (err: unknown, requestId: string | undefined) => void,
): void {
  try {
    switch (message.type) {
      case 'join':
        hub.join(socket, auth, message.id, message.room, message.presence, message.topics);
        return;
      case 'leave':
        hub.leave(socket, message.room);
        break;
      case 'presence':
        hub.presence(socket, message.room, message.state);
        break;
      case 'broadcast':
        hub.broadcast(socket, message.room, message.topic, message.data);
        break;
    }
    if (message.id !== undefined) socket.sendMessage({ type: 'ack', id: message.id });
  } catch (err) {
    const { message: reply, internal } = errorReply(err, message.id);
    if (internal) onInternal(err, message.id);
    socket.sendMessage({ ...reply, room: message.room } as ServerMessage);
  }
}
