import { crdtClientMessage, crdtRowId, type ServerMessage } from '@mast/protocol';
import type { AuthContext } from '../auth/auth-context.js';
import type { CrdtHub, CrdtSink } from '../crdt/crdt-hub.js';
import { errorReply } from './ws-reply.js';

/** A socket as the CRDT messages see it. */
export interface CrdtSocket extends CrdtSink {
  sendMessage(message: ServerMessage): void;
}

const CRDT_TYPES: ReadonlySet<string> = new Set(crdtClientMessage.options.map((o) => o.shape.type.value));

/** Reports a failed CRDT request as an `error` naming the row (and the request id when it had one). */
function reply(socket: CrdtSocket, err: unknown, where: { id?: string | undefined; entity?: string; rowId?: string }, onInternal: (err: unknown, requestId: string | undefined) => void): void {
  const { message, internal } = errorReply(err, where.id);
  if (internal) onInternal(err, where.id);
  socket.sendMessage({ ...message, ...(where.entity === undefined ? {} : { entity: where.entity }), ...(where.rowId === undefined ? {} : { rowId: where.rowId }) } as ServerMessage);
}

/**
 * `crdt-subscribe`, `crdt-unsubscribe` and `crdt-resync` text frames. Returns false for any
 * other message, which the caller then reads as a live-query message.
 */
export function handleCrdtText(hub: CrdtHub, socket: CrdtSocket, auth: AuthContext, value: unknown, onInternal: (err: unknown, requestId: string | undefined) => void): boolean {
  if (typeof value !== 'object' || value === null || !CRDT_TYPES.has(String((value as { type?: unknown }).type))) return false;
  const parsed = crdtClientMessage.safeParse(value);
  const rawId = (value as { id?: unknown }).id;
  const id = typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 128 ? rawId : undefined;
  const rowId = parsed.success ? crdtRowId(parsed.data) : null;
  if (!parsed.success || rowId === null) {
    const issue = parsed.success ? 'needs "rowId"' : (parsed.error.issues[0]?.message ?? 'wrong shape');
    socket.sendMessage({ type: 'error', ...(id === undefined ? {} : { id }), code: 'INVALID_MESSAGE', message: `Invalid ${String((value as { type: unknown }).type)} message: ${issue}` });
    return true;
  }
  const message = parsed.data;
  const where = { id: message.id, entity: message.entity, rowId };
  switch (message.type) {
    case 'crdt-subscribe': {
      const version = message.vv === undefined ? undefined : new Uint8Array(Buffer.from(message.vv, 'hex'));
      hub.subscribe(socket, auth, message.entity, rowId, version).catch((err: unknown) => reply(socket, err, where, onInternal));
      return true;
    }
    case 'crdt-unsubscribe': {
      const found = hub.unsubscribe(socket, message.entity, rowId);
      // Pylon's clients send no id and expect no answer.
      if (message.id !== undefined) {
        if (found) socket.sendMessage({ type: 'ack', id: message.id });
        else socket.sendMessage({ type: 'error', id: message.id, code: 'UNKNOWN_SUBSCRIPTION', message: `Not subscribed to ${message.entity} "${rowId}"`, entity: message.entity, rowId });
      }
      return true;
    }
    case 'crdt-resync':
      hub.resync(socket, message.entity, rowId).catch((err: unknown) => reply(socket, err, where, onInternal));
      return true;
  }
}

/** A binary frame: a client's CRDT push. Success is silent (other subscribers get it as `0x11`). */
export function handleCrdtBinary(hub: CrdtHub, socket: CrdtSocket, auth: AuthContext, bytes: Uint8Array, onInternal: (err: unknown, requestId: string | undefined) => void): void {
  // The hub's errors already name the row (entity, rowId) when the frame could be read.
  hub.push(socket, auth, bytes).catch((err: unknown) => reply(socket, err, {}, onInternal));
}
