import type { EntitySchema, FieldSchema } from '@mast/schema';
import { authErrors, errors } from '../errors/index.js';
import { newRowId } from '../entities/row-id.js';
import type { SchemaRef } from '../access/schema-ref.js';
import type { WritePath, WriteSession } from '../entities/write-path.js';
import type { AccountRecord, IdentityRecord, Row, Store } from '../store/index.js';
import { ADMIN } from '../access/auth-context.js';
import { systemClock, type Clock } from '../clock/clock.js';

/**
 * Local accounts. Credentials (email, password hash, verification time, linked identities)
 * live only in Mast's own tables; the app's user entity (`auth.user.entity`, default `User`)
 * holds the profile. When the manifest has that entity, creating an account creates its row
 * with the same id through the write path, in the same transaction, so the change log and live
 * queries see it; the row gets `email`, `displayName`, `createdAt` and `emailVerified` when the
 * entity declares them. No password hash ever reaches an app row.
 */

/** An account as the rest of the server sees it: no password hash, only whether one is set. */
export interface Account {
  /** The user id sessions and policies see (`auth.userId`). */
  readonly id: string;
  readonly email: string;
  readonly emailVerified: boolean;
  /** When the email was verified (ms since the epoch), or null. */
  readonly emailVerifiedAt: number | null;
  readonly hasPassword: boolean;
  readonly createdAt: number;
}

/** What a new account starts with. */
export interface NewAccount {
  /** Normalised here; INVALID_EMAIL when it is not an address. */
  readonly email: string;
  /** The email is already proven (magic code, a provider's verified email). */
  readonly emailVerified?: boolean;
  /** A hash from `hashPassword`. */
  readonly passwordHash?: string | null;
  /** Written to the user row's `displayName` when it has one (default: the email). */
  readonly displayName?: string;
}

const MAX_EMAIL = 254;
// One `@`, something on each side, no spaces or control characters, a dot-free domain allowed
// (intranet hosts); deliverability is proven by a code, not by a pattern.
const EMAIL = /^[^\s@\p{Cc}]{1,64}@[^\s@\p{Cc}]{1,253}$/u;

/** Trims and lower-cases an email; INVALID_EMAIL (naming `field`) when it is not one. */
export function normalizeEmail(input: unknown, field = 'email'): string {
  if (typeof input !== 'string') throw authErrors.emailRequired(field);
  const email = input.normalize('NFC').trim().toLowerCase();
  if (email.length > MAX_EMAIL || !EMAIL.test(email) || email.startsWith('.') || email.endsWith('.')) {
    throw authErrors.invalidEmail(field);
  }
  return email;
}

function toAccount(record: AccountRecord): Account {
  return {
    id: record.id,
    email: record.email,
    emailVerified: record.emailVerifiedAt !== null,
    emailVerifiedAt: record.emailVerifiedAt,
    hasPassword: record.passwordHash !== null,
    createdAt: record.createdAt,
  };
}

/** A time as the user entity's field wants it (datetime or string: ISO; int: ms; bool: true). */
function timeValue(field: FieldSchema, at: number): unknown {
  switch (field.kind) {
    case 'datetime':
    case 'string':
      return new Date(at).toISOString();
    case 'int':
      return at;
    case 'bool':
      return true;
    default:
      return undefined;
  }
}

/**
 * Account operations inside one write-path transaction: everything done through one
 * `AccountOps` commits together (account, user row, merged guest rows) or not at all.
 */
export class AccountOps {
  readonly #session: WriteSession;
  readonly #userEntity: EntitySchema | undefined;
  readonly #schema: SchemaRef;
  readonly #clock: Clock;

  constructor(session: WriteSession, schema: SchemaRef, clock: Clock = systemClock) {
    this.#session = session;
    this.#schema = schema;
    this.#clock = clock;
    this.#userEntity = userEntityOf(schema);
  }

  /** The write session underneath, for flows that also use the auth tables directly. */
  get session(): WriteSession {
    return this.#session;
  }

  /** The account with this id, or null. */
  async get(id: string): Promise<Account | null> {
    const record = await this.#session.system.auth.accountById(id);
    return record ? toAccount(record) : null;
  }

  /** The stored record of an account, password hash included (for checking a password). */
  record(id: string): Promise<AccountRecord | null> {
    return this.#session.system.auth.accountById(id);
  }

  /** The account with this email (normalised first), or null. */
  async findByEmail(email: string): Promise<Account | null> {
    const record = await this.#session.system.auth.accountByEmail(normalizeEmail(email));
    return record ? toAccount(record) : null;
  }

  /**
   * Creates an account and, when the manifest has a user entity, its row. An email already
   * held by an account is EMAIL_TAKEN. A user row that already has this email (an app that
   * created its users itself) becomes the account's row, but only when the email is proven:
   * otherwise anyone could register someone else's address and take over their row.
   */
  async create(input: NewAccount, now = this.#clock.now()): Promise<Account> {
    const email = normalizeEmail(input.email);
    const verifiedAt = input.emailVerified ? now : null;
    if (await this.#session.system.auth.accountByEmail(email)) throw authErrors.emailTaken();
    const existing = await this.#userRowByEmail(email);
    if (existing && verifiedAt === null) throw authErrors.emailTaken();
    const record: AccountRecord = { id: existing?.id ?? newRowId(), email, emailVerifiedAt: verifiedAt, passwordHash: input.passwordHash ?? null, createdAt: now };
    await this.#session.system.auth.createAccount(record);
    const user = this.#userEntity;
    if (user && existing) {
      await this.#mirrorVerified(record.id, now);
    } else if (user) {
      const data: Record<string, unknown> = { id: record.id };
      const set = (name: string, value: unknown): void => {
        if (user.fieldsByName.has(name) && value !== undefined) data[name] = value;
      };
      set('email', email);
      set('displayName', input.displayName ?? email);
      const createdAt = user.fieldsByName.get('createdAt');
      if (createdAt) set('createdAt', timeValue(createdAt, now));
      const verified = user.fieldsByName.get('emailVerified');
      if (verified && verifiedAt !== null) set('emailVerified', timeValue(verified, verifiedAt));
      await this.#session.apply({ op: 'insert', entity: user.name, data });
    }
    return toAccount(record);
  }

  /** Stamps the account's email as verified (and the user row's `emailVerified`, if declared). */
  async markEmailVerified(id: string, now = this.#clock.now()): Promise<Account> {
    const record = await this.#session.system.auth.accountById(id);
    if (!record) throw errors.accountNotFound();
    if (record.emailVerifiedAt !== null) return toAccount(record);
    await this.#session.system.auth.updateAccount(id, { emailVerifiedAt: now });
    await this.#mirrorVerified(id, now);
    return toAccount({ ...record, emailVerifiedAt: now });
  }

  /** Replaces the account's password hash. */
  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    if (!(await this.#session.system.auth.updateAccount(id, { passwordHash }))) throw errors.accountNotFound();
  }

  /** Links a federated identity (`provider`, `subject`) to an account; IDENTITY_TAKEN when it is linked already. */
  async linkIdentity(provider: string, subject: string, userId: string, now = this.#clock.now()): Promise<IdentityRecord> {
    if (!(await this.#session.system.auth.accountById(userId))) throw errors.accountNotFound();
    const identity: IdentityRecord = { provider, subject, userId, createdAt: now };
    await this.#session.system.auth.linkIdentity(identity);
    return identity;
  }

  /** The link of a federated identity, or null. */
  findIdentity(provider: string, subject: string): Promise<IdentityRecord | null> {
    return this.#session.system.auth.findIdentity(provider, subject);
  }

  /**
   * Moves what a guest owns to an account: in every entity but the user entity, each field
   * typed `id(<user entity>)` that holds the guest's id is set to the account's id, through the
   * write path (so the change log and live queries see it). Returns how many rows changed.
   */
  async mergeGuest(guestId: string, userId: string): Promise<number> {
    const user = this.#userEntity;
    if (!user || guestId === userId) return 0;
    const changed = new Set<string>();
    for (const entity of this.#schema.current.entities) {
      if (entity === user) continue;
      for (const field of entity.fields) {
        if (field.kind !== 'id' || field.target !== user.name) continue;
        const rows = await this.#session.reads.find(entity.name, { where: { kind: 'compare', field: field.name, op: 'eq', value: guestId } });
        for (const row of rows) {
          await this.#session.apply({ op: 'update', entity: entity.name, id: row.id, data: { [field.name]: userId } });
          changed.add(`${entity.name}\u0000${row.id}`);
        }
      }
    }
    return changed.size;
  }

  async #userRowByEmail(email: string): Promise<Row | null> {
    const user = this.#userEntity;
    if (!user || user.fieldsByName.get('email')?.kind !== 'string') return null;
    const rows = await this.#session.reads.find(user.name, { where: { kind: 'compare', field: 'email', op: 'eq', value: email }, limit: 1 });
    return rows[0] ?? null;
  }

  async #mirrorVerified(id: string, at: number): Promise<void> {
    const user = this.#userEntity;
    const field = user?.fieldsByName.get('emailVerified');
    if (!user || !field) return;
    const value = timeValue(field, at);
    if (value === undefined || !(await this.#session.reads.get(user.name, id))) return;
    await this.#session.apply({ op: 'update', entity: user.name, id, data: { emailVerified: value } });
  }
}

/** The manifest's user entity (`auth.user.entity`, default `User`), when it declares one. */
export function userEntityOf(schema: SchemaRef): EntitySchema | undefined {
  const name = schema.current.manifest.auth?.user?.entity ?? 'User';
  return schema.current.entitiesByName.get(name);
}

/**
 * Accounts: reads on their own, writes through the write path as the system (policies do not
 * apply to sign-up; the caller's rights are checked by the auth flows themselves).
 */
export class AccountService {
  readonly #store: Store;
  readonly #writes: WritePath;
  readonly #schema: SchemaRef;
  readonly #clock: Clock;

  constructor(store: Store, writes: WritePath, schema: SchemaRef, clock: Clock = systemClock) {
    this.#store = store;
    this.#writes = writes;
    this.#schema = schema;
    this.#clock = clock;
  }

  /**
   * Runs `fn` in one write transaction: accounts, user rows, merged guest rows and auth-table
   * changes commit together and are published after the commit; a throw rolls all of it back.
   */
  async transaction<T>(fn: (ops: AccountOps) => Promise<T>): Promise<T> {
    const { result } = await this.#writes.transaction({ auth: ADMIN }, '', (session) => fn(new AccountOps(session, this.#schema, this.#clock)));
    return result;
  }

  /** The account with this id, or null. */
  async get(id: string): Promise<Account | null> {
    const record = await this.#store.read((tx) => tx.auth.accountById(id));
    return record ? toAccount(record) : null;
  }

  /** The account with this email (normalised first), or null. */
  async findByEmail(email: string): Promise<Account | null> {
    const normalised = normalizeEmail(email);
    const record = await this.#store.read((tx) => tx.auth.accountByEmail(normalised));
    return record ? toAccount(record) : null;
  }

  /** Creates an account (and its user row); see `AccountOps.create`. */
  create(input: NewAccount): Promise<Account> {
    return this.transaction((ops) => ops.create(input));
  }

  /** Stamps an account's email as verified. */
  markEmailVerified(id: string): Promise<Account> {
    return this.transaction((ops) => ops.markEmailVerified(id));
  }

  /** Links a federated identity to an account. */
  linkIdentity(provider: string, subject: string, userId: string): Promise<IdentityRecord> {
    return this.transaction((ops) => ops.linkIdentity(provider, subject, userId));
  }

  /**
   * The user entity's row of a user, as `GET /api/auth/session` shows it to that user: without
   * `passwordHash` or `_`-prefixed fields, narrowed by `auth.user.expose` (allowlist) and
   * `auth.user.hide` (blocklist); `id` is always kept. Null without a user entity or row.
   */
  async profile(userId: string): Promise<Row | null> {
    const entity = userEntityOf(this.#schema);
    if (!entity) return null;
    const row = await this.#store.read((tx) => tx.get(entity.name, userId));
    if (!row) return null;
    const { expose = [], hide = [] } = this.#schema.current.manifest.auth?.user ?? {};
    const out: Row = { id: row.id };
    for (const [key, value] of Object.entries(row)) {
      if (key === 'id' || key === 'passwordHash' || key.startsWith('_') || hide.includes(key)) continue;
      if (expose.length > 0 && !expose.includes(key)) continue;
      out[key] = value;
    }
    return out;
  }

  /** The account a federated identity signs in as, or null. */
  findIdentity(provider: string, subject: string): Promise<IdentityRecord | null> {
    return this.#store.read((tx) => tx.auth.findIdentity(provider, subject));
  }
}
