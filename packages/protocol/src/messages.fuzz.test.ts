import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from './error-codes.js';
import { clientMessage, parseClientMessage } from './messages.js';

// A fixed seed in `npm test`; MAST_FUZZ_RUNS=100000 (and MAST_FUZZ_SEED) for a longer run.
const runs = Number(process.env.MAST_FUZZ_RUNS ?? 300);
const seed = Number(process.env.MAST_FUZZ_SEED ?? 12);
/** A longer run takes longer: about 10 ms a run is allowed, at least vitest's default. */
const timeout = Math.max(20_000, runs * 10);

const TYPES = clientMessage.options.map((o) => o.shape.type.value);
const KEYS = ['id', 'room', 'entity', 'filter', 'presence', 'state', 'data', 'topic', 'topics', 'name', 'args', 'since', 'subscriptions', 'include', 'rowId', 'vv'];

/** Frames shaped like client messages: a known type, known keys, any JSON values. */
const messageLike = fc
  .record({ type: fc.oneof(fc.constantFrom(...TYPES), fc.string()), fields: fc.dictionary(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }) })
  .map(({ type, fields }) => JSON.stringify({ type, ...fields }));

/** Nesting past any bound, built as text (JSON.stringify would recurse). */
const deepFrame = fc.record({ type: fc.constantFrom(...TYPES), depth: fc.integer({ min: 64, max: 20_000 }), open: fc.constantFrom('[', '{"a":') }).map(({ type, depth, open }) => {
  const close = open === '[' ? ']' : '}';
  return `{"type":"${type}","id":"x","presence":${open.repeat(depth)}1${close.repeat(depth)}}`;
});

/** Every frame is answered: a message, or an error with a catalogue code and a message. */
function answered(text: string): void {
  const parsed = parseClientMessage(text);
  if (parsed.ok) {
    expect(TYPES).toContain(parsed.message.type);
  } else {
    expect(isErrorCode(parsed.code)).toBe(true);
    expect(typeof parsed.message).toBe('string');
  }
}

describe('parseClientMessage (fuzzed)', { timeout }, () => {
  it('answers any text with a message or an error', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), answered), { numRuns: runs, seed });
  });

  it('answers any JSON value with a message or an error', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => answered(JSON.stringify(value))),
      { numRuns: runs, seed },
    );
  });

  it('answers frames shaped like client messages with a message or an error', () => {
    fc.assert(fc.property(messageLike, answered), { numRuns: runs * 2, seed });
  });

  it('refuses nesting past the bound with JSON_TOO_DEEP before the schema sees it', () => {
    fc.assert(
      fc.property(deepFrame, (text) => {
        const parsed = parseClientMessage(text);
        expect(parsed.ok).toBe(false);
        if (!parsed.ok) expect(parsed.code).toBe('JSON_TOO_DEEP');
      }),
      { numRuns: Math.max(20, runs / 10), seed },
    );
  });
});
