/**
 * CRDT binary frames, Pylon's layout byte for byte: one type byte, the entity name as u16-BE
 * length + UTF-8, the row id as u16-BE length + UTF-8, then the Loro payload (the rest).
 * Pylon's clients import every payload the same way and ignore unknown type bytes, so the
 * types Mast adds are safe to send them.
 */

/** Frame type bytes: `0x10` full snapshot, `0x11` update since the receiver's version. */
export const crdtFrameTypes = {
  snapshot: 0x10,
  update: 0x11,
} as const;

/** A frame type name. */
export type CrdtFrameType = keyof typeof crdtFrameTypes;

/** One decoded frame. `payload` is a view into the frame's bytes, not a copy. */
export interface CrdtFrame {
  readonly type: number;
  readonly entity: string;
  readonly rowId: string;
  readonly payload: Uint8Array;
}

/** Largest entity name or row id, in UTF-8 bytes, that the u16 length can carry. */
export const MAX_CRDT_NAME_BYTES = 0xffff;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a frame; throws RangeError when the entity or row id is over 65,535 UTF-8 bytes. */
export function encodeCrdtFrame(type: number, entity: string, rowId: string, payload: Uint8Array): Uint8Array {
  const e = encoder.encode(entity);
  const r = encoder.encode(rowId);
  if (e.length > MAX_CRDT_NAME_BYTES || r.length > MAX_CRDT_NAME_BYTES) {
    throw new RangeError(`CRDT frame: entity and row id must each be at most ${MAX_CRDT_NAME_BYTES} bytes`);
  }
  const out = new Uint8Array(5 + e.length + r.length + payload.length);
  const view = new DataView(out.buffer);
  out[0] = type & 0xff;
  view.setUint16(1, e.length);
  out.set(e, 3);
  view.setUint16(3 + e.length, r.length);
  out.set(r, 5 + e.length);
  out.set(payload, 5 + e.length + r.length);
  return out;
}

/** Why a frame could not be read. */
export type CrdtFrameError = 'too-short' | 'entity-past-end' | 'row-past-end' | 'not-utf8';

/** Decodes a frame, or names what is wrong with it (a length running past the end, bad UTF-8). */
export function decodeCrdtFrame(bytes: Uint8Array): { ok: true; frame: CrdtFrame } | { ok: false; error: CrdtFrameError } {
  if (bytes.length < 5) return { ok: false, error: 'too-short' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entityLength = view.getUint16(1);
  if (3 + entityLength + 2 > bytes.length) return { ok: false, error: 'entity-past-end' };
  const rowLength = view.getUint16(3 + entityLength);
  const payloadStart = 5 + entityLength + rowLength;
  if (payloadStart > bytes.length) return { ok: false, error: 'row-past-end' };
  try {
    return {
      ok: true,
      frame: {
        type: bytes[0]!,
        entity: decoder.decode(bytes.subarray(3, 3 + entityLength)),
        rowId: decoder.decode(bytes.subarray(5 + entityLength, payloadStart)),
        payload: bytes.subarray(payloadStart),
      },
    };
  } catch {
    return { ok: false, error: 'not-utf8' };
  }
}
