import type { IncomingMessage } from 'node:http';
import { bearerToken } from '../access/auth-context.js';

/** Prefix of the subprotocol that carries a token from browsers, which cannot set headers. */
export const BEARER_PROTOCOL_PREFIX = 'bearer.';

/**
 * The token a WebSocket handshake presents: the `Authorization: Bearer` header wins; otherwise
 * the first `bearer.<percent-encoded token>` subprotocol that decodes. Null when there is none
 * (an anonymous socket).
 */
export function handshakeToken(request: IncomingMessage): string | null {
  const fromHeader = bearerToken(request.headers.authorization);
  if (fromHeader !== null) return fromHeader;
  const offered = request.headers['sec-websocket-protocol'];
  if (!offered) return null;
  for (const entry of offered.split(',')) {
    const token = decodeBearerProtocol(entry.trim());
    if (token !== null) return token;
  }
  return null;
}

/** The token of a `bearer.<token>` subprotocol entry, or null when it is not one. */
export function decodeBearerProtocol(entry: string): string | null {
  if (!entry.startsWith(BEARER_PROTOCOL_PREFIX)) return null;
  try {
    const token = decodeURIComponent(entry.slice(BEARER_PROTOCOL_PREFIX.length).replace(/\+/g, ' '));
    return token === '' ? null : token;
  } catch {
    return null;
  }
}

/** The subprotocol to echo: the bearer entry the client offered (browsers require the echo). */
export function chooseProtocol(protocols: ReadonlySet<string>): string | false {
  for (const entry of protocols) if (decodeBearerProtocol(entry) !== null) return entry;
  return false;
}

/**
 * The client's address: the socket peer, or with `trustProxy` hops, the X-Forwarded-For entry
 * that many hops back from it (the same rule as the HTTP routes).
 */
export function clientAddress(request: IncomingMessage, trustProxy: number): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  if (trustProxy <= 0) return peer;
  const header = request.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const chain = [peer, ...forwarded.reverse()];
  return chain[Math.min(trustProxy, chain.length - 1)]!;
}

/**
 * Whether a handshake may authenticate with the session cookie: no Origin (not a browser), an
 * Origin naming this host (the Host header), or a trusted one (`*` trusts every origin).
 */
export function cookieOriginAllowed(request: IncomingMessage, trustedOrigins: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (trustedOrigins.includes('*') || trustedOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
