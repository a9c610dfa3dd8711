import { storeErrors } from '../../errors/index.js';
import type { AccountRecord, AuthWrites, CodeRecord, IdentityRecord, RateCount } from '../store.js';
import { isSqliteError, type Cells, type SqliteConnection } from './sqlite-connection.js';

/** Mast's auth tables; created with its other internal tables. */
export const AUTH_TABLES = `
CREATE TABLE IF NOT EXISTS _mast_accounts (
  id TEXT PRIMARY KEY NOT NULL,
  email TEXT NOT NULL UNIQUE,
  email_verified_at INTEGER,
  password_hash TEXT,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS _mast_identities (
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (provider, subject)
);
CREATE INDEX IF NOT EXISTS _mast_identities_user ON _mast_identities (user_id);
CREATE TABLE IF NOT EXISTS _mast_codes (
  purpose TEXT NOT NULL,
  subject TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (purpose, subject)
);
CREATE INDEX IF NOT EXISTS _mast_codes_hash ON _mast_codes (purpose, code_hash);
CREATE INDEX IF NOT EXISTS _mast_codes_expires ON _mast_codes (expires_at);
CREATE TABLE IF NOT EXISTS _mast_rate_limits (
  key TEXT PRIMARY KEY NOT NULL,
  count INTEGER NOT NULL,
  reset_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_rate_limits_reset ON _mast_rate_limits (reset_at);
`;

function toAccount(cells: Cells): AccountRecord {
  return {
    id: String(cells['id']),
    email: String(cells['email']),
    emailVerifiedAt: cells['email_verified_at'] === null ? null : Number(cells['email_verified_at']),
    passwordHash: typeof cells['password_hash'] === 'string' ? cells['password_hash'] : null,
    createdAt: Number(cells['created_at']),
  };
}

function toIdentity(cells: Cells): IdentityRecord {
  return { provider: String(cells['provider']), subject: String(cells['subject']), userId: String(cells['user_id']), createdAt: Number(cells['created_at']) };
}

function toCode(cells: Cells): CodeRecord {
  return {
    purpose: String(cells['purpose']),
    subject: String(cells['subject']),
    codeHash: String(cells['code_hash']),
    attempts: Number(cells['attempts']),
    createdAt: Number(cells['created_at']),
    expiresAt: Number(cells['expires_at']),
  };
}

function isUniqueViolation(err: unknown): boolean {
  return isSqliteError(err) && (err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY');
}

/**
 * The auth tables on one connection, valid while `check` passes (the transaction that made it
 * is still open). On a reader connection only the read methods are reachable through the type.
 */
export class SqliteAuth implements AuthWrites {
  constructor(
    private readonly conn: SqliteConnection,
    private readonly check: () => void,
  ) {}

  async accountById(id: string): Promise<AccountRecord | null> {
    this.check();
    const cells = this.conn.get('SELECT * FROM _mast_accounts WHERE id = ?', [id]);
    return cells ? toAccount(cells) : null;
  }

  async accountByEmail(email: string): Promise<AccountRecord | null> {
    this.check();
    const cells = this.conn.get('SELECT * FROM _mast_accounts WHERE email = ?', [email]);
    return cells ? toAccount(cells) : null;
  }

  async findIdentity(provider: string, subject: string): Promise<IdentityRecord | null> {
    this.check();
    const cells = this.conn.get('SELECT * FROM _mast_identities WHERE provider = ? AND subject = ?', [provider, subject]);
    return cells ? toIdentity(cells) : null;
  }

  async getCode(purpose: string, subject: string): Promise<CodeRecord | null> {
    this.check();
    const cells = this.conn.get('SELECT * FROM _mast_codes WHERE purpose = ? AND subject = ?', [purpose, subject]);
    return cells ? toCode(cells) : null;
  }

  async findCodeByHash(purpose: string, codeHash: string): Promise<CodeRecord | null> {
    this.check();
    const cells = this.conn.get('SELECT * FROM _mast_codes WHERE purpose = ? AND code_hash = ?', [purpose, codeHash]);
    return cells ? toCode(cells) : null;
  }

  async createAccount(a: AccountRecord): Promise<void> {
    this.check();
    try {
      this.conn.run('INSERT INTO _mast_accounts (id, email, email_verified_at, password_hash, created_at) VALUES (?, ?, ?, ?, ?)', [
        a.id,
        a.email,
        a.emailVerifiedAt,
        a.passwordHash,
        a.createdAt,
      ]);
    } catch (err) {
      if (isUniqueViolation(err)) throw storeErrors.emailTaken(err);
      throw err;
    }
  }

  async updateAccount(id: string, patch: { emailVerifiedAt?: number | null; passwordHash?: string | null }): Promise<boolean> {
    this.check();
    const sets: string[] = [];
    const values: unknown[] = [];
    if (patch.emailVerifiedAt !== undefined) {
      sets.push('email_verified_at = ?');
      values.push(patch.emailVerifiedAt);
    }
    if (patch.passwordHash !== undefined) {
      sets.push('password_hash = ?');
      values.push(patch.passwordHash);
    }
    if (sets.length === 0) return (await this.accountById(id)) !== null;
    return this.conn.run(`UPDATE _mast_accounts SET ${sets.join(', ')} WHERE id = ?`, [...values, id]) > 0;
  }

  async linkIdentity(i: IdentityRecord): Promise<void> {
    this.check();
    try {
      this.conn.run('INSERT INTO _mast_identities (provider, subject, user_id, created_at) VALUES (?, ?, ?, ?)', [i.provider, i.subject, i.userId, i.createdAt]);
    } catch (err) {
      if (isUniqueViolation(err)) throw storeErrors.identityTaken(err);
      throw err;
    }
  }

  async putCode(c: CodeRecord): Promise<void> {
    this.check();
    this.conn.run('INSERT OR REPLACE INTO _mast_codes (purpose, subject, code_hash, attempts, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [
      c.purpose,
      c.subject,
      c.codeHash,
      c.attempts,
      c.createdAt,
      c.expiresAt,
    ]);
  }

  async setCodeAttempts(purpose: string, subject: string, attempts: number): Promise<void> {
    this.check();
    this.conn.run('UPDATE _mast_codes SET attempts = ? WHERE purpose = ? AND subject = ?', [attempts, purpose, subject]);
  }

  async deleteCode(purpose: string, subject: string): Promise<boolean> {
    this.check();
    return this.conn.run('DELETE FROM _mast_codes WHERE purpose = ? AND subject = ?', [purpose, subject]) > 0;
  }

  async hitRate(key: string, windowMs: number, now: number): Promise<RateCount> {
    this.check();
    const cells = this.conn.get(
      `INSERT INTO _mast_rate_limits (key, count, reset_at) VALUES (?, 1, ?)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN reset_at <= ? THEN 1 ELSE count + 1 END,
         reset_at = CASE WHEN reset_at <= ? THEN excluded.reset_at ELSE reset_at END
       RETURNING count, reset_at`,
      [key, now + windowMs, now, now],
    );
    return { count: Number(cells!['count']), resetAt: Number(cells!['reset_at']) };
  }

  async pruneAuth(now: number): Promise<number> {
    this.check();
    return this.conn.run('DELETE FROM _mast_codes WHERE expires_at <= ?', [now]) + this.conn.run('DELETE FROM _mast_rate_limits WHERE reset_at <= ?', [now]);
  }
}
