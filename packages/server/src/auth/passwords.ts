import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { authErrors } from '../errors/index.js';

/**
 * Password hashing with scrypt from node:crypto. It runs on libuv's thread pool, so a hash
 * never blocks the event loop. A hash records its own parameters and salt
 * (`$scrypt$ln=15,r=8,p=1$<salt>$<key>`, base64 without padding), so the cost can be raised
 * later without invalidating stored hashes.
 */

/** Longest password accepted, in UTF-8 bytes: hashing is costly, so its input is bounded. */
export const PASSWORD_MAX_BYTES = 256;

const KEY_BYTES = 32;
const SALT_BYTES = 16;
const BLOCK = 8;
const PARALLEL = 1;
/** Costs a stored hash may claim (a forged row must not make verification allocate gigabytes). */
const MIN_LN = 10;
const MAX_LN = 20;
const FORMAT = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function derive(password: string, salt: Buffer, ln: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** ln;
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))));
}

const b64 = (buf: Buffer): string => buf.toString('base64').replace(/=+$/, '');

/**
 * Checks a new password: at least `minLength` characters and at most PASSWORD_MAX_BYTES bytes.
 * WEAK_PASSWORD / PASSWORD_TOO_LONG name `field`.
 */
export function checkNewPassword(password: unknown, minLength: number, field: string): string {
  if (typeof password !== 'string') throw authErrors.passwordRequired(field);
  if ([...password].length < minLength) throw authErrors.weakPassword(field, minLength);
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) {
    throw authErrors.passwordTooLong(field, PASSWORD_MAX_BYTES);
  }
  return password;
}

/** A presented password: a string of at most PASSWORD_MAX_BYTES bytes, else INVALID_DATA naming `field`. */
export function readPresentedPassword(password: unknown, field: string): string {
  if (typeof password !== 'string' || password === '') throw authErrors.passwordRequired(field);
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) {
    throw authErrors.passwordTooLong(field, PASSWORD_MAX_BYTES);
  }
  return password;
}

/** Hashes passwords at one cost and verifies hashes of any supported cost. */
export class PasswordHasher {
  readonly #ln: number;
  #dummy: Promise<string> | undefined;

  /** `cost` is log2 of scrypt's N (15 → N = 32768, 32 MiB per hash). */
  constructor(cost: number) {
    if (!Number.isInteger(cost) || cost < MIN_LN || cost > MAX_LN) throw new Error(`password hash cost must be between ${MIN_LN} and ${MAX_LN}`);
    this.#ln = cost;
  }

  /** A new hash with a fresh random salt. */
  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await derive(password, salt, this.#ln, BLOCK, PARALLEL);
    return `$scrypt$ln=${this.#ln},r=${BLOCK},p=${PARALLEL}$${b64(salt)}$${b64(key)}`;
  }

  /**
   * True when `password` matches `stored`, compared in constant time. With `stored` null (no
   * such account, or no password set) it verifies against a dummy hash of the same cost and
   * returns false, so the answer takes as long as for a real account.
   */
  async verify(password: string, stored: string | null): Promise<boolean> {
    const target = stored ?? (await (this.#dummy ??= this.hash(randomBytes(16).toString('hex'))));
    const m = FORMAT.exec(target);
    if (!m) return false;
    const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (ln < MIN_LN || ln > MAX_LN || r < 1 || r > 32 || p < 1 || p > 16) return false;
    const expected = Buffer.from(m[5]!, 'base64');
    if (expected.length !== KEY_BYTES) return false;
    const key = await derive(password, Buffer.from(m[4]!, 'base64'), ln, r, p);
    return timingSafeEqual(key, expected) && stored !== null;
  }
}
