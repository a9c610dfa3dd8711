import type { AppSchema } from '@mast/schema';
import type { MigrationPlan, RecordedSchema } from '@mast/schema';
import type { ChangeKind } from '@mast/protocol';
import type { PolicyAuth } from '@mast/policy';
import type { FilterNode, FindQuery } from '@mast/schema';

/**
 * The store: everything Mast keeps in a database goes through this interface, and nothing
 * above `store/<backend>/` knows which database it is. Rows cross it as domain values
 * (booleans, numbers, ISO datetime strings, parsed json), never as driver cells.
 */

/** A row as the API sees it: `id` plus declared fields. */
export type Row = { id: string } & Record<string, unknown>;

/** What a backend can do; code above the store branches on these, never on the backend's name. */
export interface StoreCapabilities {
  /** Several writers may commit at once (PostgreSQL); false means one serialized writer. */
  readonly concurrentWriters: boolean;
  /** Readers see a committed snapshot while a write is in progress. */
  readonly snapshotReads: boolean;
  /** Other processes can share the database (and need change notifications between nodes). */
  readonly multiNode: boolean;
  /**
   * Store calls do their work synchronously on the event loop (SQLite through better-sqlite3),
   * so a long run of them must yield now and then; false when every call waits on I/O.
   */
  readonly blockingCalls: boolean;
}

/** A change-log entry as stored. */
export interface ChangeRecord {
  readonly seq: number;
  readonly entity: string;
  readonly rowId: string;
  readonly kind: ChangeKind;
  /** Full row after the change; null for deletes. */
  readonly data: Row | null;
  /**
   * The row before the change (updates and deletes), so readers can tell whether a caller
   * could see it: a row that leaves a caller's view becomes a tombstone for that caller only.
   * Never sent to clients as such.
   */
  readonly before?: Row | null;
  readonly opId: string | null;
  /** Commit time, milliseconds since the epoch. */
  readonly at: number;
}

/** Options of `Store.followChanges`. */
export interface ChangeFeedOptions {
  /** Deliver entries with seq > `from`. */
  readonly from: number;
  /** Receives every entry once, in seq order, in pages. */
  readonly onChanges: (changes: readonly ChangeRecord[]) => void;
  /** Told about a lost listen connection or a failed read; the feed keeps trying. */
  readonly onError?: (err: unknown) => void;
  /** Entries read per page (default 500). */
  readonly pageSize?: number;
  /** Wait before reconnecting a lost listen connection (default 250 ms). */
  readonly reconnectMs?: number;
}

/** A running `Store.followChanges`. */
export interface ChangeFeed {
  /** The seq of the last entry delivered. */
  readonly cursor: number;
  /** Reads the log now instead of waiting for the next notification (after a local commit). */
  poke(): void;
  close(): Promise<void>;
}

/** A change to append inside a write transaction; `seq` and `at` are assigned by the store. */
export interface NewChange {
  readonly entity: string;
  readonly rowId: string;
  readonly kind: ChangeKind;
  readonly data: Row | null;
  /** The row before the change, for updates and deletes. */
  readonly before?: Row | null;
  readonly opId: string | null;
}

/** The outcome recorded for a client op id, so a replay returns it without writing. */
export interface OpRecord {
  readonly opId: string;
  /** A hash of the request the op carried, to tell a replay from a reuse of the id. */
  readonly fingerprint: string;
  readonly result: unknown;
}

/** The stored CRDT document of one row (entities with `crdt` on): a Loro snapshot and its version. */
export interface CrdtRecord {
  readonly entity: string;
  readonly rowId: string;
  /** A Loro snapshot export. */
  readonly snapshot: Uint8Array;
  /** The snapshot's encoded Loro version vector, readable without decoding the snapshot. */
  readonly version: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly updatedAt: number;
}

/** CRDT documents read outside a write transaction (socket subscriptions, cache reloads). */
export interface CrdtSnapshotStore {
  /** The committed document of a row, or null when none is stored. */
  get(entity: string, rowId: string): Promise<CrdtRecord | null>;
}

/** Reads, inside a transaction or a read snapshot. */
export interface ReadTx {
  get(entity: string, id: string): Promise<Row | null>;
  find(entity: string, query: FindQuery): Promise<Row[]>;
  count(entity: string, where?: FilterNode): Promise<number>;
  /** The recorded outcome of a client op, or null. */
  getOp(opId: string): Promise<OpRecord | null>;
  /** Accounts, identities and one-time codes (Mast's auth tables), read in this transaction. */
  readonly auth: AuthReads;
}

/**
 * Writes, inside one transaction. Unique violations throw AppError `UNIQUE_VIOLATION` with the
 * offending field names; the caller's transaction is then rolled back as a whole.
 */
export interface WriteTx extends ReadTx {
  insert(entity: string, row: Row): Promise<Row>;
  /** Applies `patch` and returns the row after it, or null when no row has that id. */
  update(entity: string, id: string, patch: Record<string, unknown>): Promise<Row | null>;
  /** Deletes and returns the row as it was, or null when no row has that id. */
  delete(entity: string, id: string): Promise<Row | null>;
  /** Appends to the change log; returns the entry's seq (gap-free, commit-ordered). */
  appendChange(change: NewChange): Promise<ChangeRecord>;
  putOp(op: OpRecord): Promise<void>;
  /** The row's CRDT document as this transaction sees it, or null. */
  getCrdt(entity: string, rowId: string): Promise<CrdtRecord | null>;
  /** Stores (inserting or replacing) a row's CRDT document in this transaction. */
  putCrdt(record: CrdtRecord): Promise<void>;
  /** Removes a row's CRDT document; false when there was none. */
  deleteCrdt(entity: string, rowId: string): Promise<boolean>;
  /** Enqueues a job in this transaction: it exists if and only if the transaction commits. */
  enqueueJob(job: NewJob): Promise<void>;
  /** Cancels a pending job in this transaction (see `JobStore.cancel`). */
  cancelJob(id: string, owner?: JobOwner): Promise<boolean>;
  /** Completes a job's running attempt in this transaction (see `JobStore.complete`). */
  completeJob(id: string, attempt: number, now: number): Promise<boolean>;
  /** Accounts, identities, one-time codes and rate-limit counters, written in this transaction. */
  readonly auth: AuthWrites;
}

/** Where a job is in its life: waiting (also between retries), leased by a worker, or finished. */
export type JobStatus = 'pending' | 'running' | 'succeeded' | 'dead' | 'cancelled';

/** Who a job runs as: the identity of the caller that scheduled it, stored with the job. */
export interface JobIdentity extends PolicyAuth {
  /** The scopes of the API key the caller used, when it used one: the job is held to them too. */
  readonly apiKeyScopes?: readonly string[];
}

/** Restricts `cancel` to jobs scheduled by this user id (undefined: any job, for admins). */
export type JobOwner = string | null | undefined;

/** A job to enqueue. Times are milliseconds since the epoch. */
export interface NewJob {
  readonly id: string;
  /** The function to run (a mutation or an action). */
  readonly fn: string;
  readonly args: unknown;
  readonly identity: JobIdentity;
  readonly runAt: number;
  readonly maxAttempts: number;
  /** The cron schedule that enqueued it, or null. */
  readonly cron: string | null;
  readonly createdAt: number;
}

/** A job as stored. `attempts` counts claims, so it is also the fencing token of a lease. */
export interface JobRecord extends NewJob {
  readonly status: JobStatus;
  readonly attempts: number;
  /** While running: when the lease expires and another worker may claim the job again. */
  readonly leaseUntil: number | null;
  readonly lastError: string | null;
  readonly updatedAt: number;
}

/** The persisted state of one cron schedule. */
export interface CronRecord {
  readonly name: string;
  readonly schedule: string;
  /** When it next fires (ms since the epoch). */
  readonly nextRunAt: number;
}

/**
 * The durable job queue and cron state. Every call is its own transaction, except the `WriteTx`
 * methods, which join the caller's. A job is claimed with a lease: a worker that crashes
 * mid-run leaves it `running` until the lease expires, then any worker may claim it again.
 * Finishing calls name the attempt they claimed, so a worker whose lease was taken over cannot
 * overwrite the newer attempt's outcome.
 */
export interface JobStore {
  enqueue(job: NewJob): Promise<void>;
  /** Pending → cancelled; false when the job is not pending or (with `owner`) not that user's. */
  cancel(id: string, owner?: JobOwner, now?: number): Promise<boolean>;
  /**
   * Leases up to `limit` due jobs (pending with `runAt <= now`, or running with an expired
   * lease), oldest `runAt` first: each becomes running until `now + leaseMs` with one more attempt.
   */
  claim(now: number, leaseMs: number, limit: number): Promise<JobRecord[]>;
  /** Running (attempt `attempt`) → succeeded; false when that attempt no longer holds the job. */
  complete(id: string, attempt: number, now: number): Promise<boolean>;
  /** Records a failed attempt: pending again at `retryAt`, or dead when `retryAt` is null. */
  fail(id: string, attempt: number, error: string, retryAt: number | null, now: number): Promise<boolean>;
  /** Dead or cancelled → pending now, with its attempts reset; false otherwise. */
  retry(id: string, now: number): Promise<boolean>;
  get(id: string): Promise<JobRecord | null>;
  /** Jobs newest first, optionally of one status. */
  list(options: { status?: JobStatus; limit: number }): Promise<JobRecord[]>;
  /** Deletes finished jobs (succeeded, cancelled, dead) last updated before `before`; returns how many went. */
  prune(before: number): Promise<number>;
  /** Every stored cron state. */
  crons(): Promise<CronRecord[]>;
  /** Stores a cron's next run (creating or replacing it) without enqueueing anything. */
  setCron(record: CronRecord): Promise<void>;
  /**
   * Fires a cron once: when its stored next run is still `expected`, sets it to `next` and
   * enqueues `job`, in one transaction; false (and nothing written) when another run already did.
   */
  fireCron(name: string, expected: number, next: number, job: NewJob): Promise<boolean>;
}

/** Retention of the change log: entries older than `maxAgeMs` or past `maxEntries` go. */
export interface RetentionPolicy {
  readonly maxAgeMs: number;
  readonly maxEntries: number;
}

/** Where the change log stands. */
export interface ChangeLogBounds {
  /** Seq of the newest entry ever written (0 when none). */
  readonly head: number;
  /** Every entry with seq <= prunedThrough has been removed by retention (0 when none). */
  readonly prunedThrough: number;
}

/** A signed-in session. The token itself is never stored, only its SHA-256 hash. */
export interface SessionRecord {
  readonly tokenHash: string;
  readonly userId: string;
  readonly isGuest: boolean;
  readonly roles: readonly string[];
  readonly tenantId: string | null;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly expiresAt: number;
}

/**
 * Sessions live in the database, not in memory, so they survive restarts and every node of a
 * cluster sees the same ones. Each call is its own transaction.
 */
export interface SessionStore {
  /** Stores a new session; a token hash already stored throws (tokens are random, so never in practice). */
  create(session: SessionRecord): Promise<void>;
  find(tokenHash: string): Promise<SessionRecord | null>;
  /** Deletes one session; false when there was none. */
  revoke(tokenHash: string): Promise<boolean>;
  /** Deletes every session of a user; returns how many went. */
  revokeUser(userId: string): Promise<number>;
  /** Sets the org a session has selected (null: none); false when there is no such session. */
  setTenant(tokenHash: string, tenantId: string | null): Promise<boolean>;
  /** Deletes sessions that expired before `now`; returns how many went. */
  pruneExpired(now: number): Promise<number>;
}

/**
 * A local account: the credentials side of a user, kept in Mast's own tables and never in an
 * app entity. `id` is the user id sessions and policies see (`auth.userId`).
 */
export interface AccountRecord {
  readonly id: string;
  /** Normalised (trimmed, lower-cased); unique. */
  readonly email: string;
  /** When the email was proven, ms since the epoch; null until then. */
  readonly emailVerifiedAt: number | null;
  /** The password hash with its algorithm, parameters and salt; null for password-less accounts. */
  readonly passwordHash: string | null;
  readonly createdAt: number;
}

/** A federated login (`provider`, `subject`) that signs in as an account. */
export interface IdentityRecord {
  readonly provider: string;
  readonly subject: string;
  readonly userId: string;
  readonly createdAt: number;
}

/**
 * A one-time secret (magic code, email-verification code, password-reset token), stored only
 * as a hash. One per (`purpose`, `subject`): a new one replaces the old.
 */
export interface CodeRecord {
  readonly purpose: string;
  /** Whom the code is for: a normalised email or an account id. */
  readonly subject: string;
  readonly codeHash: string;
  /** Failed attempts so far. */
  readonly attempts: number;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** A fixed-window counter after one more hit. */
export interface RateCount {
  readonly count: number;
  /** When the window ends, ms since the epoch. */
  readonly resetAt: number;
}

/** Reads of the auth tables. */
export interface AuthReads {
  accountById(id: string): Promise<AccountRecord | null>;
  /** The account with this (already normalised) email, or null. */
  accountByEmail(email: string): Promise<AccountRecord | null>;
  findIdentity(provider: string, subject: string): Promise<IdentityRecord | null>;
  getCode(purpose: string, subject: string): Promise<CodeRecord | null>;
  /** The code of `purpose` with this hash, or null (reset tokens are presented without a subject). */
  findCodeByHash(purpose: string, codeHash: string): Promise<CodeRecord | null>;
}

/** Writes of the auth tables; each is part of the surrounding transaction. */
export interface AuthWrites extends AuthReads {
  /** Stores a new account; an email or id already stored throws AppError EMAIL_TAKEN. */
  createAccount(account: AccountRecord): Promise<void>;
  /** Changes an account's verification time or password hash; false when there is no such account. */
  updateAccount(id: string, patch: { emailVerifiedAt?: number | null; passwordHash?: string | null }): Promise<boolean>;
  /** Links a federated identity; one already linked throws AppError IDENTITY_TAKEN. */
  linkIdentity(identity: IdentityRecord): Promise<void>;
  /** Stores a code, replacing any earlier one of the same purpose and subject. */
  putCode(code: CodeRecord): Promise<void>;
  /** Sets a code's failed-attempt count. */
  setCodeAttempts(purpose: string, subject: string, attempts: number): Promise<void>;
  /** Removes a code; false when there was none. */
  deleteCode(purpose: string, subject: string): Promise<boolean>;
  /**
   * Counts one hit on `key` in a fixed window of `windowMs` that starts at the first hit, and
   * returns the count so far in the current window.
   */
  hitRate(key: string, windowMs: number, now: number): Promise<RateCount>;
  /** Removes expired codes and ended rate-limit windows; returns how many rows went. */
  pruneAuth(now: number): Promise<number>;
}

/** An API key. The secret is never stored, only its SHA-256 hash. */
export interface ApiKeyRecord {
  /** The public part of the key (32 hex characters). */
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  /** SHA-256 of the secret part, hex. */
  readonly secretHash: string;
  readonly scopes: readonly string[];
  /** Milliseconds since the epoch; null for a key that does not expire. */
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

/** API keys, each call its own transaction. */
export interface ApiKeyStore {
  create(key: ApiKeyRecord): Promise<void>;
  find(id: string): Promise<ApiKeyRecord | null>;
  /** The keys of one user, newest first. */
  list(userId: string): Promise<ApiKeyRecord[]>;
  count(userId: string): Promise<number>;
  /** Deletes a key of this user; false when the user has no key with that id. */
  revoke(id: string, userId: string): Promise<boolean>;
  touch(id: string, now: number): Promise<void>;
}

/** The roles a member can hold in an org, weakest first. */
export type OrgRole = 'member' | 'admin' | 'owner';

/** An organisation (a tenant). */
export interface OrgRecord {
  readonly id: string;
  readonly name: string;
  readonly createdBy: string;
  readonly createdAt: number;
}

/** One user's membership of an org. */
export interface MemberRecord {
  readonly orgId: string;
  readonly userId: string;
  readonly role: OrgRole;
  readonly createdAt: number;
}

/** An invitation to join an org; the token is shown once and stored only hashed. */
export interface InviteRecord {
  readonly id: string;
  readonly orgId: string;
  readonly tokenHash: string;
  /** Only an account with this (verified, normalised) email may accept; null: anyone with the token. */
  readonly email: string | null;
  readonly role: OrgRole;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/**
 * Orgs and their members. Every call is one transaction; removing a membership (or the org)
 * also clears that org from the sessions that had selected it, so a former member's tenant goes
 * with the membership.
 */
export interface OrgStore {
  /** Creates an org with its creator as owner. */
  create(org: OrgRecord): Promise<void>;
  get(id: string): Promise<OrgRecord | null>;
  /** The orgs a user belongs to, with the user's role, oldest first. */
  listForUser(userId: string): Promise<Array<OrgRecord & { role: OrgRole }>>;
  countForUser(userId: string): Promise<number>;
  /** Deletes the org, its memberships and invites; false when there was none. */
  delete(id: string): Promise<boolean>;
  members(orgId: string): Promise<MemberRecord[]>;
  countMembers(orgId: string): Promise<number>;
  /** The user's role in the org, or null when not a member. */
  role(orgId: string, userId: string): Promise<OrgRole | null>;
  /** Adds a member or changes their role; LAST_OWNER (nothing changed) if the org would have no owner. */
  putMember(member: MemberRecord): Promise<void>;
  /** Removes a member; false when not a member; LAST_OWNER (nothing changed) for the last owner. */
  removeMember(orgId: string, userId: string): Promise<boolean>;
  putInvite(invite: InviteRecord): Promise<void>;
  /** The org's pending invites, oldest first. */
  invites(orgId: string): Promise<InviteRecord[]>;
  countInvites(orgId: string): Promise<number>;
  /** The invite with this token hash, or null. */
  findInvite(tokenHash: string): Promise<InviteRecord | null>;
  /** Deletes an invite of the org; false when there was none. */
  deleteInvite(orgId: string, id: string): Promise<boolean>;
  /**
   * Uses an invite once: deletes it and makes `userId` a member with its role (a member already
   * keeps their role). Null, changing nothing, when the invite is gone or expired.
   */
  acceptInvite(tokenHash: string, userId: string, now: number): Promise<MemberRecord | null>;
}

/** A pending OAuth sign-in, keyed by the hash of its `state`. */
export interface OAuthStateRecord {
  readonly stateHash: string;
  readonly provider: string;
  /** SHA-256 of the value in the browser's binding cookie, hex. */
  readonly browserHash: string;
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly callbackUrl: string;
  readonly errorCallbackUrl: string | null;
  readonly expiresAt: number;
}

/** OAuth states: each one is taken (read and deleted) at most once. */
export interface OAuthStateStore {
  put(state: OAuthStateRecord): Promise<void>;
  /** Deletes and returns the state when it exists and has not expired; null otherwise. */
  take(stateHash: string, now: number): Promise<OAuthStateRecord | null>;
  pruneExpired(now: number): Promise<number>;
}

/** A database behind Mast. */
export interface Store {
  readonly capabilities: StoreCapabilities;
  /**
   * Follows the shared change log as every node (this one included) commits to it; present on
   * multi-node stores only. Entries come once each, in seq order, from `options.from`.
   */
  followChanges?(options: ChangeFeedOptions): Promise<ChangeFeed>;
  readonly sessions: SessionStore;
  readonly apiKeys: ApiKeyStore;
  readonly orgs: OrgStore;
  readonly oauthStates: OAuthStateStore;
  readonly crdt: CrdtSnapshotStore;
  readonly jobs: JobStore;
  /** Binds the store to a schema (after migration); queries validate entity names against it. */
  useSchema(schema: AppSchema): void;
  /** Runs `fn` against a consistent read view. */
  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in one write transaction: it commits when `fn` resolves and rolls back when it
   * throws. On a single-writer backend, calls queue and run one at a time.
   */
  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T>;
  /**
   * Synchronously: whether a row of `entity` matches `where` (how policies' related-row
   * conditions are answered for one row). Inside a `read` or `write` callback it sees that
   * transaction's view (so a write's policy check sees the rows the write has changed so far);
   * elsewhere, the last committed state.
   */
  rowExists(entity: string, where: FilterNode): boolean;
  /** Change-log entries with seq > `since`, oldest first, at most `limit`. */
  changesSince(since: number, limit: number): Promise<ChangeRecord[]>;
  changeLogBounds(): Promise<ChangeLogBounds>;
  /** Removes entries past retention; returns how many went. Also drops op records as old. */
  pruneChanges(policy: RetentionPolicy, now?: number): Promise<number>;
  /** The schema recorded by the last migration, or null on a database Mast has not migrated. */
  recordedSchema(): Promise<RecordedSchema | null>;
  /** Tables and columns that exist, for databases with no recorded schema (e.g. Pylon's). */
  introspect(): Promise<LiveTables>;
  /** Applies a plan and records `schema` as current, in one transaction. */
  migrate(plan: MigrationPlan, schema: AppSchema): Promise<void>;
  /** Database size in bytes, for metrics. */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

/** Existing user tables and their column names. */
export type LiveTables = ReadonlyMap<string, readonly string[]>;
