import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { MastConfig } from '../config/index.js';
import { type AppError, authErrors } from '../errors/index.js';
import type { AuthContext } from '../access/auth-context.js';
import { ROLE, USER_ID } from './session-service.js';

/** Which claims carry the caller's identity. */
export interface JwtClaimMap {
  readonly userId: string;
  readonly roles: string;
  readonly tenantId: string;
  readonly orgRole: string;
}

/** How tokens from an outside issuer are verified. Exactly one key source is set. */
export interface JwtOptions {
  readonly jwksUrl: string | null;
  readonly secret: string | null;
  readonly publicKey: string | null;
  readonly issuer: string;
  readonly audience: string | null;
  readonly algorithms: readonly string[];
  readonly clockSkewSecs: number;
  readonly claims: JwtClaimMap;
}

const HMAC = ['HS256', 'HS384', 'HS512'];
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const CLAIM_KEYS: ReadonlySet<string> = new Set(['userId', 'roles', 'tenantId', 'orgRole']);
/** Tokens longer than this are refused before any parsing. */
const MAX_TOKEN_LENGTH = 16_384;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True when a bearer token has the shape of a compact JWS (three base64url segments). */
export function looksLikeJwt(token: string): boolean {
  return token.startsWith('eyJ') && JWT_SHAPE.test(token);
}

/** Parses `userId=sub,roles=roles,...` into a claim map; throws on an unknown key. */
export function parseClaimMap(text: string): JwtClaimMap {
  const map: Record<string, string> = { userId: 'sub', roles: 'roles', tenantId: 'tenant_id', orgRole: 'org_role' };
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const claim = part.slice(eq + 1).trim();
    if (eq <= 0 || !CLAIM_KEYS.has(key) || claim === '') {
      throw new Error(`MAST_JWT_CLAIMS: "${part}" is not <userId|roles|tenantId|orgRole>=<claim name>`);
    }
    map[key] = claim;
  }
  return map as unknown as JwtClaimMap;
}

/**
 * The JWT options of a configuration, or null when no key source is configured. A half-done
 * configuration (a key without an issuer, two key sources, `none` or an algorithm that does not
 * fit the key) is refused at start-up rather than on the first request.
 */
export function jwtOptionsFromConfig(config: MastConfig): JwtOptions | null {
  const sources = [config.jwtJwksUrl, config.jwtSecret, config.jwtPublicKey].filter((s) => s !== null && s !== '');
  if (sources.length === 0) return null;
  if (sources.length > 1) throw new Error('Set only one of MAST_JWT_JWKS_URL, MAST_JWT_SECRET and MAST_JWT_PUBLIC_KEY');
  if (!config.jwtIssuer) throw new Error('MAST_JWT_ISSUER is required when JWTs are accepted');
  if (config.jwtSecret && Buffer.byteLength(config.jwtSecret) < 32) throw new Error('MAST_JWT_SECRET must be at least 32 bytes');
  if (config.jwtJwksUrl) {
    const url = new URL(config.jwtJwksUrl);
    if (url.protocol !== 'https:' && !isLoopback(url)) throw new Error('MAST_JWT_JWKS_URL must be https (http only for a loopback address)');
  }
  const fits = config.jwtSecret ? HMAC : ASYMMETRIC;
  const algorithms = config.jwtAlgorithms
    ? config.jwtAlgorithms
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== '')
    : fits;
  for (const alg of algorithms) {
    if (!fits.includes(alg)) throw new Error(`MAST_JWT_ALGORITHMS: ${alg} cannot be used with this key source (allowed: ${fits.join(', ')})`);
  }
  return {
    jwksUrl: config.jwtJwksUrl || null,
    secret: config.jwtSecret || null,
    publicKey: config.jwtPublicKey || null,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience || null,
    algorithms,
    clockSkewSecs: Math.floor(config.jwtClockSkew / 1000),
    claims: parseClaimMap(config.jwtClaims),
  };
}

/** True for http(s) URLs on 127.0.0.1, ::1 or localhost. */
export function isLoopback(url: URL): boolean {
  return url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost';
}

function invalid(message: string, cause?: unknown): AppError {
  return authErrors.invalidJwt(message, cause);
}

/** Maps jose's errors to INVALID_JWT with a precise message (IDP_UNAVAILABLE when the key set cannot be fetched). */
function verifyError(err: unknown): AppError {
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return invalid('The JWT has expired', err);
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = String((err as { claim?: unknown }).claim);
      if (claim === 'nbf' || claim === 'iat') return invalid('The JWT is not valid yet', err);
      if (claim === 'iss') return invalid('The JWT was issued by an issuer this server does not accept', err);
      if (claim === 'aud') return invalid('The JWT is meant for another audience', err);
      return invalid(`The JWT's "${claim.slice(0, 40)}" claim is missing or invalid`, err);
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return invalid('The JWT is signed with an algorithm this server does not accept', err);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalid('The JWT signature does not verify', err);
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return invalid('No key of the issuer verifies this JWT', err);
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return authErrors.idpUnavailable(err);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return invalid('The JWT is malformed', err);
    default:
      // fetch() failures of the key set surface as plain errors.
      if (err instanceof TypeError || (err as { code?: unknown }).code === 'ERR_JOSE_GENERIC') return authErrors.idpUnavailable(err);
      return invalid('The JWT is malformed', err);
  }
}

/**
 * Verifies bearer JWTs from an outside issuer (bring your own identity provider) with `jose`:
 * the signature against a JWKS, a PEM public key or a shared secret; only the configured
 * algorithms (never `none`); `iss`, `aud`, `exp` and `nbf` with a small clock skew; `exp` and the
 * user claim must be present. The claims then become the caller's context.
 */
export class JwtVerifier {
  readonly #options: JwtOptions;
  readonly #key: KeyObject | JWTVerifyGetKey;

  constructor(options: JwtOptions) {
    this.#options = options;
    if (options.jwksUrl !== null) {
      this.#key = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    } else if (options.publicKey !== null) {
      this.#key = createPublicKey(options.publicKey.replace(/\\n/g, '\n'));
    } else {
      this.#key = createSecretKey(Buffer.from(options.secret!, 'utf8'));
    }
  }

  /** The context a JWT grants; INVALID_JWT (with the reason) when it does not verify. */
  async verify(token: string): Promise<AuthContext> {
    if (token.length > MAX_TOKEN_LENGTH) throw invalid('The JWT is too long');
    const o = this.#options;
    let payload: JWTPayload;
    try {
      const verifyOptions = {
        issuer: o.issuer,
        algorithms: [...o.algorithms],
        clockTolerance: o.clockSkewSecs,
        requiredClaims: ['exp', o.claims.userId],
        ...(o.audience !== null ? { audience: o.audience } : {}),
      };
      const result = typeof this.#key === 'function' ? await jwtVerify(token, this.#key, verifyOptions) : await jwtVerify(token, this.#key, verifyOptions);
      payload = result.payload;
    } catch (err) {
      throw verifyError(err);
    }
    return contextOf(payload, o.claims);
  }
}

function contextOf(payload: JWTPayload, claims: JwtClaimMap): AuthContext {
  const userId = payload[claims.userId];
  if (typeof userId !== 'string' || !USER_ID.test(userId)) {
    throw invalid(`The JWT's "${claims.userId}" claim must be 1-128 characters of A-Z a-z 0-9 _ - . : @`);
  }
  const roles = payload[claims.roles] ?? [];
  if (!Array.isArray(roles) || roles.length > 32 || !roles.every((r) => typeof r === 'string' && ROLE.test(r))) {
    throw invalid(`The JWT's "${claims.roles}" claim must be a list of at most 32 role names`);
  }
  const tenantId = payload[claims.tenantId] ?? null;
  const orgRole = payload[claims.orgRole] ?? null;
  if (tenantId !== null && typeof tenantId !== 'string') throw invalid(`The JWT's "${claims.tenantId}" claim must be a string`);
  if (orgRole !== null && typeof orgRole !== 'string') throw invalid(`The JWT's "${claims.orgRole}" claim must be a string`);
  return Object.freeze({
    userId,
    isAdmin: false,
    isGuest: false,
    roles: Object.freeze([...(roles as string[])]),
    tenantId,
    orgRole: tenantId === null ? null : orgRole,
    expiresAt: (payload.exp as number) * 1000,
  });
}
