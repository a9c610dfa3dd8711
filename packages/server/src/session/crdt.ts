import { crdtRowId, type CrdtClientMessage, type ServerMessage } from '@mast/protocol';
import type { AuthContext } from '../access/auth-context.js';
import type { CrdtHub, CrdtSink } from '../crdt/crdt-hub.js';
import { errorReply } from './reply.js';

/** A socket as the CRDT messages see it. */
export interface CrdtSocket extends CrdtSink {
  sendMessage(message: ServerMessage): void;
}

/** Reports a failed CRDT request as an `error` naming the row (and the request id when it had one). */
function reply(
  socket: CrdtSocket,
  err: unknown,
  where: { id?: string | undefined; entity?: string; rowId?: string },
  onInternal: (err: unknown, requestId: string | undefined) => void,
): void {
  const { message, internal } = errorReply(err, where.id);
  if (internal) onInternal(err, where.id);
  socket.sendMessage({
    ...message,
    ...(where.entity === undefined ? {} : { entity: where.entity }),
    ...(where.rowId === undefined ? {} : { rowId: where.rowId }),
  } as ServerMessage);
}

/** `crdt-subscribe`, `crdt-unsubscribe` and `crdt-resync`, already read by `parseClientMessage`. */
export function handleCrdtMessage(
  hub: CrdtHub,
  socket: CrdtSocket,
  auth: AuthContext,
  message: CrdtClientMessage,
  onInternal: (err: unknown, requestId: string | undefined) => void,
): void {
  const rowId = crdtRowId(message);
  if (rowId === null) {
    socket.sendMessage({
      type: 'error',
      ...(message.id === undefined ? {} : { id: message.id }),
      code: 'INVALID_MESSAGE',
      message: `Invalid ${message.type} message: needs "rowId"`,
    });
    return;
  }
  const where = { id: message.id, entity: message.entity, rowId };
  switch (message.type) {
    case 'crdt-subscribe': {
      const version = message.vv === undefined ? undefined : new Uint8Array(Buffer.from(message.vv, 'hex'));
      hub.subscribe(socket, auth, message.entity, rowId, version).catch((err: unknown) => reply(socket, err, where, onInternal));
      return;
    }
    case 'crdt-unsubscribe': {
      const found = hub.unsubscribe(socket, message.entity, rowId);
      // Pylon's clients send no id and expect no answer.
      if (message.id !== undefined) {
        if (found) socket.sendMessage({ type: 'ack', id: message.id });
        else
          socket.sendMessage({
            type: 'error',
            id: message.id,
            code: 'UNKNOWN_SUBSCRIPTION',
            message: `Not subscribed to ${message.entity} "${rowId}"`,
            entity: message.entity,
            rowId,
          });
      }
      return;
    }
    case 'crdt-resync':
      hub.resync(socket, message.entity, rowId).catch((err: unknown) => reply(socket, err, where, onInternal));
      return;
  }
}

/** A binary frame: a client's CRDT push. Success is silent (other subscribers get it as `0x11`). */
export function handleCrdtBinary(hub: CrdtHub, socket: CrdtSocket, auth: AuthContext, bytes: Uint8Array, onInternal: (err: unknown, requestId: string | undefined) => void): void {
  // The hub's errors already name the row (entity, rowId) when the frame could be read.
  hub.push(socket, auth, bytes).catch((err: unknown) => reply(socket, err, {}, onInternal));
}
