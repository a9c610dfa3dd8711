import { AppError, authErrors } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { Account, AccountOps, AccountService } from './accounts.js';
import { normalizeEmail } from './accounts.js';
import type { AuthLimits, Limit, LimitKey } from './auth-limits.js';
import type { AuthContext } from '../access/auth-context.js';
import type { Mailer } from './mailer.js';
import { codeHash, consumeCode, newCode, newResetToken, type CodePurpose } from './one-time-codes.js';
import { checkNewPassword, readPresentedPassword, type PasswordHasher } from './passwords.js';
import type { IssuedSession, SessionService } from './session-service.js';
import { systemClock, type Clock } from '../clock/clock.js';

/** Limits and lifetimes of local sign-in. */
export interface LocalAuthOptions {
  readonly passwordMinLength: number;
  readonly magicCodeTtlMs: number;
  readonly codeMaxAttempts: number;
  readonly resetTokenTtlMs: number;
  /** Base URL for links in emails; without it the reset email carries only the token. */
  readonly publicUrl: string | null;
  readonly limits: {
    readonly login: Limit;
    readonly loginAccount: Limit;
    readonly send: Limit;
    readonly sendAccount: Limit;
    readonly verify: Limit;
    readonly guest: Limit;
  };
}

/** What local sign-in needs. */
export interface LocalAuthDeps {
  readonly store: Store;
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  readonly limits: AuthLimits;
  readonly mailer: Mailer;
  readonly hasher: PasswordHasher;
  readonly options: LocalAuthOptions;
  /** Reports failures that happen after the answer was sent (background email). */
  readonly onError: (err: unknown, what: string) => void;
  /** Where code expiry is read (default: the system clock). */
  readonly clock?: Clock;
}

/** A successful sign-in: the new session, the account, and how many guest rows moved to it. */
export interface SignIn {
  readonly issued: IssuedSession;
  readonly account: Account;
  readonly merged: number;
}

/** A password change or reset: the new session and how many sessions ended. */
export interface PasswordReplaced {
  readonly issued: IssuedSession;
  readonly revoked: number;
}

/** The request body as an object, or INVALID_DATA. */
function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw authErrors.bodyNotObject();
  return body as Record<string, unknown>;
}

function readString(body: Record<string, unknown>, field: string, max: number): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '' || value.length > max) {
    throw authErrors.invalidString(field, max);
  }
  return value;
}

/**
 * Email-and-password and emailed-code sign-in for local accounts. Every entry point counts
 * against its rate limits before doing any work; failures write nothing but those counters
 * (and a wrong code's attempt count). A guest who signs up or in keeps what they created:
 * their rows move to the account in the transaction that signs them in, and the guest session
 * ends.
 */
export class LocalAuth {
  readonly #d: LocalAuthDeps;

  constructor(deps: LocalAuthDeps) {
    this.#d = deps;
  }
  #now(): number {
    return (this.#d.clock ?? systemClock).now();
  }

  /** Counts a guest-session creation against the client address's limit. */
  limitGuest(ip: string): Promise<void> {
    return this.#d.limits.hit([{ bucket: 'guest', subject: ip, limit: this.#d.options.limits.guest }]);
  }

  /** `{email, password, displayName?}` → a new account with a password, signed in. */
  async register(caller: AuthContext, ip: string, body: unknown): Promise<SignIn> {
    const b = objectBody(body);
    const email = normalizeEmail(b.email);
    const password = checkNewPassword(b.password, this.#d.options.passwordMinLength, 'password');
    const displayName = b.displayName === undefined ? undefined : readString(b, 'displayName', 200);
    await this.#limitLogin(ip, email);
    const passwordHash = await this.#d.hasher.hash(password);
    return this.signIn(caller, (ops) => ops.create({ email, passwordHash, ...(displayName !== undefined ? { displayName } : {}) }));
  }

  /**
   * `{email, password}` → a session. A wrong password, an unknown email and an account without
   * a password all answer INVALID_CREDENTIALS after the same scrypt work.
   */
  async login(caller: AuthContext, ip: string, body: unknown): Promise<SignIn> {
    const b = objectBody(body);
    const email = normalizeEmail(b.email);
    const password = readPresentedPassword(b.password, 'password');
    await this.#limitLogin(ip, email);
    const record = await this.#d.store.read((tx) => tx.auth.accountByEmail(email));
    if (!(await this.#d.hasher.verify(password, record?.passwordHash ?? null)) || !record) {
      throw authErrors.invalidCredentials();
    }
    return this.signIn(caller, async (ops) => (await ops.get(record.id))!);
  }

  /** `{currentPassword, newPassword}` for the signed-in account: every session ends and a new one is issued. */
  async changePassword(caller: AuthContext, ip: string, body: unknown): Promise<PasswordReplaced> {
    const userId = this.#accountCaller(caller);
    const b = objectBody(body);
    const current = readPresentedPassword(b.currentPassword, 'currentPassword');
    const next = checkNewPassword(b.newPassword, this.#d.options.passwordMinLength, 'newPassword');
    await this.#d.limits.hit([
      { bucket: 'login', subject: ip, limit: this.#d.options.limits.login },
      { bucket: 'login-account', subject: userId, limit: this.#d.options.limits.loginAccount },
    ]);
    const record = await this.#d.store.read((tx) => tx.auth.accountById(userId));
    if (!record) throw authErrors.passwordChangeNeedsAccount();
    if (record.passwordHash === null) throw authErrors.noPasswordSet();
    if (!(await this.#d.hasher.verify(current, record.passwordHash))) throw authErrors.wrongPassword();
    const passwordHash = await this.#d.hasher.hash(next);
    await this.#d.accounts.transaction((ops) => ops.setPasswordHash(userId, passwordHash));
    return this.#replaceSessions(userId);
  }

  /**
   * `{email}` → a reset token by email when an account has that address. The answer is the same
   * whether it does or not, and so is the work done before answering (the rate limit and one
   * account lookup): the token is stored and the email sent after the answer, off the response
   * path, so neither the response nor its timing tells which addresses have accounts.
   * `afterAnswer` runs that work once the answer is out (HTTP: when the response has closed).
   */
  async requestReset(ip: string, body: unknown, afterAnswer: (work: () => void) => void = setImmediate): Promise<void> {
    const email = normalizeEmail(objectBody(body).email);
    this.#requireMailer();
    await this.#limitSend(ip, email);
    const record = await this.#d.store.read((tx) => tx.auth.accountByEmail(email));
    if (record) afterAnswer(() => void this.#sendReset(record.id, email).catch((err: unknown) => this.#d.onError(err, 'password reset email')));
  }

  /** Stores a new reset token for an account and mails it; the work `requestReset` defers. */
  async #sendReset(accountId: string, email: string): Promise<void> {
    const token = newResetToken();
    const now = this.#now();
    const expiresAt = now + this.#d.options.resetTokenTtlMs;
    await this.#d.store.write((tx) => tx.auth.putCode({ purpose: 'reset', subject: accountId, codeHash: codeHash('reset', '', token), attempts: 0, createdAt: now, expiresAt }));
    const base = this.#d.options.publicUrl?.replace(/\/+$/, '');
    const minutes = Math.round(this.#d.options.resetTokenTtlMs / 60_000);
    const text =
      (base ? `Reset your password: ${base}/reset-password?token=${token}\n\n` : '') +
      `Your password reset token: ${token}\n\nIt works once, for ${minutes} minutes. If you did not ask for it, ignore this email.`;
    await this.#d.mailer.send({ to: email, subject: 'Reset your password', text });
  }

  /** `{token, newPassword}` → the password is set, every session ends and a new one is issued. */
  async completeReset(ip: string, body: unknown): Promise<PasswordReplaced & { account: Account }> {
    const b = objectBody(body);
    const token = readString(b, 'token', 200);
    const next = checkNewPassword(b.newPassword, this.#d.options.passwordMinLength, 'newPassword');
    await this.#d.limits.hit([{ bucket: 'verify', subject: ip, limit: this.#d.options.limits.verify }]);
    const hash = codeHash('reset', '', token);
    const invalid = (): AppError => authErrors.invalidResetToken();
    const pending = await this.#d.store.read((tx) => tx.auth.findCodeByHash('reset', hash));
    if (!pending || pending.expiresAt <= this.#now()) throw invalid();
    const passwordHash = await this.#d.hasher.hash(next);
    const account = await this.#d.accounts.transaction(async (ops) => {
      const auth = ops.session.system.auth;
      const code = await auth.findCodeByHash('reset', hash);
      if (!code || code.expiresAt <= this.#now()) throw invalid();
      await auth.deleteCode('reset', code.subject);
      await ops.setPasswordHash(code.subject, passwordHash);
      // The token arrived by email, which proves the address.
      return ops.markEmailVerified(code.subject);
    });
    return { ...(await this.#replaceSessions(account.id)), account };
  }

  /** `{email}` → a 6-digit sign-in code by email (signing in creates the account if needed). */
  async sendMagicCode(ip: string, body: unknown): Promise<string> {
    const email = normalizeEmail(objectBody(body).email);
    this.#requireMailer();
    await this.#limitSend(ip, email);
    const minutes = Math.round(this.#d.options.magicCodeTtlMs / 60_000);
    await this.#sendCode('magic', email, email, 'Your sign-in code', (code) => `Your sign-in code is ${code}\n\nIt works once, for ${minutes} minutes.`);
    return email;
  }

  /** `{email, code}` → a session for the account with that email, created (verified) on first sign-in. */
  async verifyMagicCode(caller: AuthContext, ip: string, body: unknown): Promise<SignIn> {
    const b = objectBody(body);
    const email = normalizeEmail(b.email);
    const code = readString(b, 'code', 32);
    await this.#d.limits.hit([{ bucket: 'verify', subject: ip, limit: this.#d.options.limits.verify }]);
    return this.signIn(caller, async (ops) => {
      const failure = await consumeCode(ops.session.system.auth, 'magic', email, code, { maxAttempts: this.#d.options.codeMaxAttempts, now: this.#now() });
      if (failure) return failure;
      const existing = await ops.findByEmail(email);
      return existing ? ops.markEmailVerified(existing.id) : ops.create({ email, emailVerified: true });
    });
  }

  /** Sends a verification code to the signed-in account's email; false when it is verified already. */
  async sendVerification(caller: AuthContext, ip: string): Promise<{ email: string; sent: boolean }> {
    const userId = this.#accountCaller(caller);
    const account = await this.#d.accounts.get(userId);
    if (!account) throw authErrors.verificationNeedsAccount();
    if (account.emailVerified) return { email: account.email, sent: false };
    this.#requireMailer();
    await this.#limitSend(ip, account.email);
    const minutes = Math.round(this.#d.options.magicCodeTtlMs / 60_000);
    await this.#sendCode('verify', userId, account.email, 'Verify your email', (code) => `Your verification code is ${code}\n\nIt works once, for ${minutes} minutes.`);
    return { email: account.email, sent: true };
  }

  /** `{code}` → the signed-in account's email is verified. */
  async verifyEmail(caller: AuthContext, ip: string, body: unknown): Promise<Account> {
    const userId = this.#accountCaller(caller);
    const code = readString(objectBody(body), 'code', 32);
    await this.#d.limits.hit([{ bucket: 'verify', subject: ip, limit: this.#d.options.limits.verify }]);
    const outcome = await this.#d.accounts.transaction(async (ops) => {
      const failure = await consumeCode(ops.session.system.auth, 'verify', userId, code, { maxAttempts: this.#d.options.codeMaxAttempts, now: this.#now() });
      return failure ?? ops.markEmailVerified(userId);
    });
    if (outcome instanceof AppError) throw outcome;
    return outcome;
  }

  /**
   * Signs a caller in as the account `find` yields (federated flows use this too): `find` and
   * the guest merge run in one transaction, then the session is issued and the guest's sessions
   * end. `find` may return an AppError instead; what it wrote (a counted wrong guess) is then
   * committed and the error thrown.
   */
  async signIn(caller: AuthContext, find: (ops: AccountOps) => Promise<Account | AppError>): Promise<SignIn> {
    const outcome = await this.#d.accounts.transaction(async (ops) => {
      const account = await find(ops);
      if (account instanceof AppError) return account;
      const merged = caller.isGuest && caller.userId !== null ? await ops.mergeGuest(caller.userId, account.id) : 0;
      return { account, merged };
    });
    if (outcome instanceof AppError) throw outcome;
    const issued = await this.#d.sessions.issue({ userId: outcome.account.id });
    if (caller.isGuest && caller.userId !== null) await this.#d.sessions.revokeUser(caller.userId);
    return { issued, ...outcome };
  }

  async #replaceSessions(userId: string): Promise<PasswordReplaced> {
    const revoked = await this.#d.sessions.revokeUser(userId);
    const issued = await this.#d.sessions.issue({ userId });
    return { issued, revoked };
  }

  /** Stores a fresh code (replacing an older one) and emails it; on a failed send the code is removed. */
  async #sendCode(purpose: CodePurpose, subject: string, to: string, title: string, text: (code: string) => string): Promise<void> {
    const code = newCode();
    const now = this.#now();
    const record = { purpose, subject, codeHash: codeHash(purpose, subject, code), attempts: 0, createdAt: now, expiresAt: now + this.#d.options.magicCodeTtlMs };
    await this.#d.store.write((tx) => tx.auth.putCode(record));
    try {
      await this.#d.mailer.send({ to, subject: title, text: text(code) });
    } catch (err) {
      await this.#d.store.write((tx) => tx.auth.deleteCode(purpose, subject));
      this.#d.onError(err, `${purpose} code email`);
      throw err;
    }
  }

  /** The user id of a caller signed in to an account session (not anonymous, a guest or the admin token). */
  #accountCaller(caller: AuthContext): string {
    if (caller.userId === null || caller.isGuest || caller.isAdmin) throw authErrors.signedInAccountRequired();
    return caller.userId;
  }

  #requireMailer(): void {
    if (!this.#d.mailer.available) throw authErrors.emailNotConfigured();
  }

  #limitLogin(ip: string, email: string): Promise<void> {
    const keys: LimitKey[] = [
      { bucket: 'login', subject: ip, limit: this.#d.options.limits.login },
      { bucket: 'login-account', subject: email, limit: this.#d.options.limits.loginAccount },
    ];
    return this.#d.limits.hit(keys);
  }

  #limitSend(ip: string, email: string): Promise<void> {
    return this.#d.limits.hit([
      { bucket: 'send', subject: ip, limit: this.#d.options.limits.send },
      { bucket: 'send-account', subject: email, limit: this.#d.options.limits.sendAccount },
    ]);
  }
}
