import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { type AppError, authErrors } from '../errors/index.js';
import type { AuthWrites } from '../store/index.js';

/**
 * One-time secrets sent by email: 6-digit codes (sign-in, email verification) and reset tokens.
 * Only a hash is stored: SHA-256 over purpose, subject and secret, so a code is bound to what it
 * was sent for. A new code for the same purpose and subject replaces the old one.
 */

/** What a code is for; a code of one purpose never passes as another. */
export type CodePurpose = 'magic' | 'verify' | 'reset';

/** A fresh 6-digit code from the CSPRNG. */
export function newCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/** A fresh reset token: 32 random bytes, base64url. */
export function newResetToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The stored hash of a code. Reset tokens are looked up by hash, so their subject is empty. */
export function codeHash(purpose: CodePurpose, subject: string, secret: string): string {
  return createHash('sha256').update(`${purpose}\u0000${subject}\u0000${secret}`).digest('hex');
}

/**
 * Checks a presented code inside a write transaction and returns null when it matches (the
 * code is then deleted: single use) or the error to answer with. A wrong guess is counted and
 * stays counted: the caller must commit the transaction and throw the error afterwards. The
 * `maxAttempts`-th wrong guess burns the code; from then on even the right code is refused
 * with RATE_LIMITED until a new one is sent.
 */
export async function consumeCode(
  auth: AuthWrites,
  purpose: CodePurpose,
  subject: string,
  presented: string,
  options: { maxAttempts: number; now: number },
): Promise<AppError | null> {
  const stored = await auth.getCode(purpose, subject);
  if (!stored) return authErrors.noCodePending();
  if (stored.expiresAt <= options.now) {
    await auth.deleteCode(purpose, subject);
    return authErrors.codeExpired();
  }
  const burnt = (): AppError => authErrors.codeBurnt(Math.max(1, Math.ceil((stored.expiresAt - options.now) / 1000)));
  if (stored.attempts >= options.maxAttempts) return burnt();
  const expected = Buffer.from(stored.codeHash, 'hex');
  const given = Buffer.from(codeHash(purpose, subject, presented), 'hex');
  if (expected.length === given.length && timingSafeEqual(expected, given)) {
    await auth.deleteCode(purpose, subject);
    return null;
  }
  const attempts = stored.attempts + 1;
  await auth.setCodeAttempts(purpose, subject, attempts);
  return attempts >= options.maxAttempts ? burnt() : authErrors.wrongCode();
}
