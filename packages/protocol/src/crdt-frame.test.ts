import { describe, expect, it } from 'vitest';
import { decodeCrdtFrame, encodeCrdtFrame } from './crdt-frame.js';

describe('CRDT frames', () => {
  it("encodes Pylon's example byte for byte and decodes it back", () => {
    const frame = encodeCrdtFrame(0x10, 'Message', 'msg_123', Uint8Array.from([0xab, 0xcd, 0xef]));
    expect(Buffer.from(frame).toString('hex')).toBe('100007' + Buffer.from('Message').toString('hex') + '0007' + Buffer.from('msg_123').toString('hex') + 'abcdef');
    const decoded = decodeCrdtFrame(frame);
    expect(decoded.ok && { ...decoded.frame, payload: [...decoded.frame.payload] }).toEqual({ type: 0x10, entity: 'Message', rowId: 'msg_123', payload: [0xab, 0xcd, 0xef] });
  });

  it('counts UTF-8 bytes, not characters, and allows an empty payload', () => {
    const frame = encodeCrdtFrame(0x11, 'É', 'ü€', new Uint8Array(0));
    expect([...frame.subarray(0, 3)]).toEqual([0x11, 0, 2]);
    const decoded = decodeCrdtFrame(frame);
    expect(decoded.ok && [decoded.frame.entity, decoded.frame.rowId, decoded.frame.payload.length]).toEqual(['É', 'ü€', 0]);
  });

  it('refuses to encode an entity or row id over 65,535 bytes', () => {
    expect(() => encodeCrdtFrame(0x10, 'E', 'x'.repeat(65_536), new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeCrdtFrame(0x10, 'é'.repeat(32_768), 'r', new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeCrdtFrame(0x10, 'E', 'x'.repeat(65_535), new Uint8Array(0))).not.toThrow();
  });

  it('names what is wrong with a frame whose lengths run past its end', () => {
    const good = encodeCrdtFrame(0x11, 'Note', 'n1', Uint8Array.from([1]));
    expect(decodeCrdtFrame(good.subarray(0, 4))).toEqual({ ok: false, error: 'too-short' });
    expect(decodeCrdtFrame(Uint8Array.from([0x11, 0xff, 0xff, 0, 0]))).toEqual({ ok: false, error: 'entity-past-end' });
    expect(decodeCrdtFrame(Uint8Array.from([0x11, 0, 2, 0x41, 0, 9]))).toEqual({ ok: false, error: 'entity-past-end' });
    expect(decodeCrdtFrame(Uint8Array.from([0x11, 0, 1, 0x41, 0, 9, 0x42]))).toEqual({ ok: false, error: 'row-past-end' });
    expect(decodeCrdtFrame(Uint8Array.from([0x11, 0, 1, 0xff, 0, 0]))).toEqual({ ok: false, error: 'not-utf8' });
  });
});
