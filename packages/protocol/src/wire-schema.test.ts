import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { closeCodes } from './close-codes.js';
import { crdtFrameTypes } from './crdt-frame.js';
import { errorCatalogue } from './error-codes.js';
import { clientMessage, serverMessage } from './messages.js';
import { PROTOCOL_HISTORY, PROTOCOL_VERSION } from './version.js';

/** Everything a client and a server must agree on, as one canonical text. */
function wireSchema(): string {
  return JSON.stringify({
    client: z.toJSONSchema(clientMessage, { unrepresentable: 'any' }),
    server: z.toJSONSchema(serverMessage, { unrepresentable: 'any' }),
    crdtFrames: crdtFrameTypes,
    closeCodes,
    errorCodes: Object.keys(errorCatalogue).sort(),
  });
}

/**
 * The hash of the wire schema each protocol version was released with. A change to any message,
 * frame type, close code or error code fails this test until it is recorded: either under a new
 * PROTOCOL_VERSION with its PROTOCOL_HISTORY entry (a change an existing client could misread),
 * or, for a purely additive change within the current version, by updating the current hash.
 */
const RELEASED: Readonly<Record<number, string>> = {
  2: '15bb22f2e8bd0a8f404b8276f3e42e9adfd6e721b22c7f44184d1b4080bd0fd8',
};

describe('the wire schema', () => {
  it('is the one recorded for the protocol version this code speaks', () => {
    const hash = createHash('sha256').update(wireSchema()).digest('hex');
    expect(hash, `The wire schema changed. Record it under PROTOCOL_VERSION ${PROTOCOL_VERSION} (or a new version) in wire-schema.test.ts.`).toBe(RELEASED[PROTOCOL_VERSION]);
  });

  it('has a history entry for every version up to the current one', () => {
    expect(PROTOCOL_HISTORY.map((h) => h.version)).toEqual(Array.from({ length: PROTOCOL_VERSION }, (_, i) => i + 1));
  });

  it('lets the client union name every client message type once', () => {
    const types = clientMessage.options.map((o) => o.shape.type.value);
    expect(new Set(types).size).toBe(types.length);
    expect(types).toEqual(expect.arrayContaining(['subscribe', 'resume', 'join', 'fn-call', 'barrier', 'crdt-subscribe', 'crdt-unsubscribe', 'crdt-resync']));
  });
});
