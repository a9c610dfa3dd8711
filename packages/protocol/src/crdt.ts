import { z } from 'zod';
import { requestId } from './common.js';

/**
 * CRDT row sync over the socket. `crdt-subscribe` names a row (Pylon's `rowId`, or its alias
 * `row_id`); the server answers with a binary `0x10` snapshot frame, then sends a `0x11` frame
 * with only what this socket has not seen after each committed change. `vv` (hex of an encoded
 * Loro version vector) asks for just the updates since that version; an unknown or corrupt one
 * (or one the server does not include) is answered with a snapshot; send the last version
 * received from the server, not one with unpushed local edits. `crdt-resync` asks for a fresh snapshot after a gap. Clients
 * push updates as binary frames with the same layout. Pylon's clients send neither `id` nor `vv`.
 */

const rowRef = {
  id: requestId.optional(),
  entity: z.string().min(1).max(0xffff),
  rowId: z.string().min(1).max(0xffff).optional(),
  row_id: z.string().min(1).max(0xffff).optional(),
};

/** `crdt-subscribe`, client → server. */
export const crdtSubscribeMessage = z.object({
  type: z.literal('crdt-subscribe'),
  ...rowRef,
  vv: z
    .string()
    .regex(/^(?:[0-9a-fA-F]{2})*$/)
    .max(1 << 16)
    .optional(),
});

/** `crdt-unsubscribe`, client → server. */
export const crdtUnsubscribeMessage = z.object({ type: z.literal('crdt-unsubscribe'), ...rowRef });

/** `crdt-resync`, client → server: the client missed or could not import a frame. */
export const crdtResyncMessage = z.object({ type: z.literal('crdt-resync'), ...rowRef });

/** Any CRDT message a client sends. */
export const crdtClientMessage = z.discriminatedUnion('type', [crdtSubscribeMessage, crdtUnsubscribeMessage, crdtResyncMessage]);

/** `crdt-subscribe`. */
export type CrdtSubscribeMessage = z.infer<typeof crdtSubscribeMessage>;
/** `crdt-unsubscribe`. */
export type CrdtUnsubscribeMessage = z.infer<typeof crdtUnsubscribeMessage>;
/** `crdt-resync`. */
export type CrdtResyncMessage = z.infer<typeof crdtResyncMessage>;
/** Any CRDT client message. */
export type CrdtClientMessage = z.infer<typeof crdtClientMessage>;

/** The row a CRDT message names (`rowId` wins over `row_id`), or null when it names none. */
export function crdtRowId(message: { rowId?: string | undefined; row_id?: string | undefined }): string | null {
  return message.rowId ?? message.row_id ?? null;
}
