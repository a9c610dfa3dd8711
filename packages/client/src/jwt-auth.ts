import type { TokenProvider } from './client.js';

/** Options of `jwtAuth`. */
export interface JwtAuthOptions {
  /** A cached JWT is fetched anew this long before its `exp` (default 30 s), so a socket never opens with one about to lapse. */
  readonly refreshBeforeMs?: number;
  /** The clock (tests). */
  readonly now?: () => number;
}

/** The `exp` claim of a JWT in milliseconds, or null when the token has none or is not a JWT. */
export function jwtExpiry(token: string): number | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const json = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * A token provider for JWTs from the app's own identity provider (the server verifies them
 * with `MAST_JWT_*`). `getToken` is the app's call to its provider (Auth0's
 * `getAccessTokenSilently`, Clerk's `getToken`, …); `forceRefresh` is true when the server
 * refused or expired the last token (close 4001 / 4002), so a cached one must not be returned.
 * The JWT is kept and reused until `refreshBeforeMs` before its `exp`.
 */
export function jwtAuth(getToken: (context: { forceRefresh: boolean }) => string | null | Promise<string | null>, options: JwtAuthOptions = {}): TokenProvider {
  const before = options.refreshBeforeMs ?? 30_000;
  const now = options.now ?? Date.now;
  let cached: string | null = null;
  return async ({ reason }) => {
    const forceRefresh = reason !== 'connect';
    if (!forceRefresh && cached !== null) {
      const exp = jwtExpiry(cached);
      if (exp === null || exp - before > now()) return cached;
    }
    cached = await getToken({ forceRefresh });
    return cached;
  };
}
