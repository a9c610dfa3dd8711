/**
 * WebSocket close codes the server uses. 1xxx are the RFC 6455 codes; 4xxx are Mast's. Each
 * says whether the client should reconnect and `resume` from its last seq, or fix something
 * first; `docs/protocol.md` lists the same table.
 */
export const closeCodes = {
  GOING_AWAY: { code: 1001, reconnect: true, reason: 'server shutting down' },
  MESSAGE_TOO_BIG: { code: 1009, reconnect: true, reason: 'frame larger than the server accepts' },
  UNAUTHORIZED: { code: 4001, reconnect: false, reason: 'the token is unknown, revoked or malformed' },
  SESSION_EXPIRED: { code: 4002, reconnect: false, reason: 'the session expired; sign in again' },
  FORBIDDEN_ORIGIN: { code: 4003, reconnect: false, reason: 'the session cookie was sent from an origin that is not trusted' },
  RATE_LIMITED: { code: 4008, reconnect: true, reason: 'too many messages per second' },
  TOO_MANY_CONNECTIONS: { code: 4009, reconnect: true, reason: 'too many sockets from this address' },
  SLOW_CONSUMER: { code: 4010, reconnect: true, reason: 'the socket fell too far behind; resume from your last seq' },
  TOO_MANY_USER_CONNECTIONS: { code: 4011, reconnect: true, reason: 'too many sockets for this user' },
  ACCESS_CHANGED: { code: 4012, reconnect: true, reason: 'the org role or selected org of this connection changed; reconnect and resume' },
} as const satisfies Record<string, { code: number; reconnect: boolean; reason: string }>;

/** A named close code. */
export type CloseCodeName = keyof typeof closeCodes;
