/**
 * The realtime protocol's version and its history. A server speaks exactly one version and
 * announces it in `hello`; a change that an existing client could misread gets a new version.
 */

/** The version this code speaks. */
export const PROTOCOL_VERSION = 2;

/** Every version, oldest first, with what it changed. */
export const PROTOCOL_HISTORY = [
  {
    version: 1,
    summary:
      'hello; subscribe → result then diff (addressed to a shared query handle); unsubscribe; resume → resumed or result; ack and error; named close codes; rooms: join → joined, leave, presence (state or heartbeat), broadcast under a topic; presence and broadcast events to members only; functions: fn-call → fn-chunk and fn-result, fn-cancel, fn-watch → fn-watch-result and fn-watch-diff, fn-unwatch; CRDT rows: crdt-subscribe → binary 0x10 snapshot then 0x11 updates, crdt-unsubscribe, crdt-resync, client updates as binary frames',
  },
  {
    version: 2,
    summary:
      "barrier → ack with seq: every change committed before the server read it has reached the socket's subscriptions; presence leave reason denied (a member the room's join rule no longer admits, added within version 2)",
  },
] as const satisfies ReadonlyArray<{ version: number; summary: string }>;
