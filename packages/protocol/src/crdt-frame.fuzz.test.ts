import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCrdtFrame, encodeCrdtFrame } from './crdt-frame.js';

// A fixed seed in `npm test`; MAST_FUZZ_RUNS=100000 (and MAST_FUZZ_SEED) for a longer run.
const runs = Number(process.env.MAST_FUZZ_RUNS ?? 300);
const seed = Number(process.env.MAST_FUZZ_SEED ?? 12);
/** A longer run takes longer: about 10 ms a run is allowed, at least vitest's default. */
const timeout = Math.max(20_000, runs * 10);

const ERRORS = ['too-short', 'entity-past-end', 'row-past-end', 'not-utf8'];

describe('decodeCrdtFrame (fuzzed)', { timeout }, () => {
  it('answers any bytes with a frame or a named error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const decoded = decodeCrdtFrame(bytes);
        if (decoded.ok) {
          expect(decoded.frame.payload.length).toBeLessThanOrEqual(bytes.length);
        } else {
          expect(ERRORS).toContain(decoded.error);
        }
      }),
      { numRuns: runs * 3, seed },
    );
  });

  it('answers headers whose lengths point anywhere with a frame or a named error', () => {
    const header = fc.record({
      type: fc.integer({ min: 0, max: 255 }),
      entityLen: fc.integer({ min: 0, max: 0xffff }),
      rowLen: fc.integer({ min: 0, max: 0xffff }),
      tail: fc.uint8Array({ maxLength: 64 }),
    });
    fc.assert(
      fc.property(header, ({ type, entityLen, rowLen, tail }) => {
        const bytes = new Uint8Array(5 + tail.length + 2);
        bytes[0] = type;
        new DataView(bytes.buffer).setUint16(1, entityLen);
        bytes.set(tail, 3);
        new DataView(bytes.buffer).setUint16(3 + Math.min(tail.length, entityLen), rowLen);
        const decoded = decodeCrdtFrame(bytes);
        if (!decoded.ok) expect(ERRORS).toContain(decoded.error);
      }),
      { numRuns: runs, seed },
    );
  });

  it('reads back every frame it encodes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 100 }),
        (type, entity, rowId, payload) => {
          const decoded = decodeCrdtFrame(encodeCrdtFrame(type, entity, rowId, payload));
          // Lone surrogates do not survive UTF-8: those are refused as not-utf8, never misread.
          if (!decoded.ok) {
            expect(decoded.error).toBe('not-utf8');
            return;
          }
          expect(decoded.frame).toMatchObject({ type, entity, rowId });
          expect([...decoded.frame.payload]).toEqual([...payload]);
        },
      ),
      { numRuns: runs, seed },
    );
  });
});
