import { randomBytes, timingSafeEqual } from 'node:crypto';
import { authErrors } from '../errors/index.js';
import type { ApiKeyRecord, Store } from '../store/index.js';
import { type AuthContext, hashToken } from '../access/auth-context.js';
import { systemClock, type Clock } from '../clock/clock.js';

/** Prefix of every API key, so leaked keys are easy to recognise (and to scan for). */
export const API_KEY_PREFIX = 'mast_key_';

/**
 * The scopes a key can carry: `read` lets it read what its owner can read; `write` also lets it
 * change data (every change goes through the write path, which checks the scope).
 */
export const API_KEY_SCOPES = ['read', 'write'] as const;

/** Keys one user may hold at once. */
export const MAX_KEYS_PER_USER = 100;

const KEY_FORMAT = /^mast_key_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
const NAME_MAX = 100;
/** `last_used_at` is written at most this often per key, so a busy key does not write on every request. */
const TOUCH_INTERVAL_MS = 60_000;
/** Compared against when the id is unknown, so a miss costs what a hit costs. */
const DUMMY_HASH = hashToken('mast-api-key-dummy');

/** What a caller asks for when creating a key. */
export interface NewApiKey {
  readonly name?: string;
  readonly scopes?: readonly string[];
  /** Milliseconds since the epoch; null or absent: the key does not expire. */
  readonly expiresAt?: number | null;
}

/** The scopes as stored: `write` implies `read`; unknown names are INVALID_DATA. */
export function normaliseScopes(scopes: readonly string[]): string[] {
  for (const scope of scopes) {
    if (!(API_KEY_SCOPES as readonly string[]).includes(scope)) {
      throw authErrors.unknownScope(scope, API_KEY_SCOPES);
    }
  }
  return scopes.includes('write') ? ['read', 'write'] : ['read'];
}

/**
 * API keys: long-lived bearer credentials for scripts and servers. A key is
 * `mast_key_<id>_<secret>`; the database keeps the id and SHA-256 of the secret, so the key is
 * shown once, at creation. Verification compares hashes in constant time, and an unknown id
 * costs the same comparison as a known one.
 */
export class ApiKeyService {
  readonly #store: Store;
  readonly #onRevoke: (sessionHash: string) => void;

  /** `onRevoke` gets the `sessionHash` that contexts of a revoked key carry (to close its sockets). */
  readonly #clock: Clock;

  constructor(store: Store, onRevoke: (sessionHash: string) => void, clock: Clock = systemClock) {
    this.#store = store;
    this.#clock = clock;
    this.#onRevoke = onRevoke;
  }

  /** Creates a key for `userId`; returns the key (shown once) and its record. */
  async create(userId: string, input: NewApiKey, now = this.#clock.now()): Promise<{ key: string; record: ApiKeyRecord }> {
    const name = input.name ?? '';
    if (name.length > NAME_MAX) throw authErrors.keyNameTooLong(NAME_MAX);
    const scopes = normaliseScopes(input.scopes ?? ['read', 'write']);
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt !== null && expiresAt <= now) throw authErrors.keyExpiryPast();
    if ((await this.#store.apiKeys.count(userId)) >= MAX_KEYS_PER_USER) {
      throw authErrors.tooManyKeys(MAX_KEYS_PER_USER);
    }
    const id = randomBytes(16).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: ApiKeyRecord = { id, userId, name, secretHash: hashToken(secret).toString('hex'), scopes, expiresAt, createdAt: now, lastUsedAt: null };
    await this.#store.apiKeys.create(record);
    return { key: `${API_KEY_PREFIX}${id}_${secret}`, record };
  }

  list(userId: string): Promise<ApiKeyRecord[]> {
    return this.#store.apiKeys.list(userId);
  }

  /** Revokes a key of `userId`; false when that user has no such key (another user's key included). */
  async revoke(userId: string, id: string): Promise<boolean> {
    const revoked = await this.#store.apiKeys.revoke(id, userId);
    if (revoked) this.#onRevoke(sessionHashOf(id));
    return revoked;
  }

  /** The context a presented key grants; INVALID_API_KEY when it is malformed, unknown, wrong or expired. */
  async resolve(token: string, now = this.#clock.now()): Promise<AuthContext> {
    const m = KEY_FORMAT.exec(token);
    if (!m) throw authErrors.keyMalformed();
    const [, id, secret] = m as unknown as [string, string, string];
    const record = await this.#store.apiKeys.find(id);
    const presented = hashToken(secret);
    const stored = record ? Buffer.from(record.secretHash, 'hex') : DUMMY_HASH;
    const matches = timingSafeEqual(presented, stored.length === presented.length ? stored : DUMMY_HASH);
    if (!record || !matches) throw authErrors.keyUnknown();
    if (record.expiresAt !== null && record.expiresAt <= now) throw authErrors.keyExpired();
    if (record.lastUsedAt === null || now - record.lastUsedAt >= TOUCH_INTERVAL_MS) await this.#store.apiKeys.touch(id, now);
    return Object.freeze({
      userId: record.userId,
      isAdmin: false,
      isGuest: false,
      roles: Object.freeze([]),
      tenantId: null,
      orgRole: null,
      apiKeyId: id,
      apiKeyScopes: Object.freeze([...record.scopes]),
      sessionHash: sessionHashOf(id),
      ...(record.expiresAt !== null ? { expiresAt: record.expiresAt } : {}),
    });
  }
}

/** The `sessionHash` of contexts a key grants: never a session's hash (those are hex). */
function sessionHashOf(id: string): string {
  return `key:${id}`;
}

/** A key record in its wire shape (never the secret or its hash). */
export function apiKeyToWire(record: ApiKeyRecord): Record<string, unknown> {
  return {
    id: record.id,
    prefix: `${API_KEY_PREFIX}${record.id}`,
    name: record.name,
    scopes: record.scopes,
    expires_at: record.expiresAt === null ? null : new Date(record.expiresAt).toISOString(),
    created_at: new Date(record.createdAt).toISOString(),
    last_used_at: record.lastUsedAt === null ? null : new Date(record.lastUsedAt).toISOString(),
  };
}
