import { MAX_RESUME_SUBSCRIPTIONS } from '@mast/protocol';
import { AuthClient, type Session } from './auth.js';
import { CallManager, type CallOptions, type SocketPort, type Watch } from './calls.js';
import { Connection, type BackoffOptions, type ConnectionState, type WebSocketConstructor } from './connection.js';
import { DocManager, type DocHandle } from './crdt-docs.js';
import { errorFromServer, MastClientError } from './errors.js';
import { toHex } from './hex.js';
import { httpRequest, isRetryable, type FetchLike, type HttpOutcome } from './http.js';
import { LiveQuery, type QueryHost, type QueryState } from './live-query.js';
import { Outbox, type SendOutcome, type Settled } from './outbox.js';
import { queryKey, type Filter } from './query-spec.js';
import { Room } from './rooms.js';
import { RowCache, type CachedRow, type OptimisticOp } from './row-cache.js';
import { memoryStorage, type ClientStorage, type OutboxEntry, type QueuedWrite } from './storage.js';

/** Gives the token for the next socket or request; `reason` says why it is asked for. */
export type TokenProvider = (context: { readonly reason: 'connect' | 'unauthorized' | 'expired' }) => string | null | Promise<string | null>;

/** Options of `createClient`. */
export interface ClientOptions {
  /** The server's base URL (`http://localhost:4321`); the socket is `/ws` on it. */
  readonly url: string;
  /** A token, or a provider asked before each socket and again when the server refuses one (4001, 4002). */
  readonly auth?: string | null | TokenProvider;
  /** The WebSocket constructor; the global one by default (Node 20 has none: pass `ws`'s). */
  readonly WebSocket?: WebSocketConstructor;
  /** The fetch function; the global one by default. */
  readonly fetch?: FetchLike;
  /** Where the outbox lives; in memory by default. */
  readonly storage?: ClientStorage;
  readonly backoff?: BackoffOptions;
  /** Called for every write or call the server refused, after its rollback. */
  readonly onError?: (error: MastClientError, write: QueuedWrite | null) => void;
  /** How often a joined room's presence is refreshed (the server expires it after 60 s by default). */
  readonly presenceHeartbeatMs?: number;
  /**
   * `cookie`: without a token, the session is the server's HttpOnly cookie (after an OAuth
   * sign-in): requests are sent with credentials and the user is asked of the server.
   */
  readonly session?: 'cookie';
}

/** What a UI shows about the connection. */
export interface ClientStatus {
  readonly state: ConnectionState;
  /** Why the connection is down or closed. */
  readonly error: MastClientError | null;
  /** Writes (rows and CRDT updates) not yet accepted or refused by the server. */
  readonly pendingWrites: number;
  /** `durable` when pending writes survive a reload. */
  readonly storage: 'durable' | 'memory';
  /** Why durable storage is not used although it was asked for. */
  readonly storageError: MastClientError | null;
  /** The signed-in user (null: anonymous; undefined: not known yet), as `client.userId`. */
  readonly userId: string | null | undefined;
  /** The org the session selected, as `client.tenantId`. */
  readonly tenantId: string | null;
}

/** Options of a row write. */
export interface WriteOptions {
  /** Show the write in live queries before the server answers (default true). */
  readonly optimistic?: boolean;
}

/** Edits the optimistic view of a mutation call: the changes are layered like a row write's. */
export interface OptimisticTx {
  insert(entity: string, row: { id: string } & Record<string, unknown>): void;
  update(entity: string, id: string, patch: Record<string, unknown>): void;
  delete(entity: string, id: string): void;
}

/** Options of a mutation call. */
export interface MutationOptions extends CallOptions {
  /** Applied to the cache at once, dropped when the result is in every live query, rolled back on refusal. */
  readonly optimistic?: (tx: OptimisticTx) => void;
}

function randomId(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * The Mast client: one socket, live queries over one normalized cache, optimistic writes
 * through a durable outbox, function calls and watches, CRDT documents and rooms.
 */
export class MastClient {
  readonly #baseUrl: string;
  readonly #fetch: FetchLike;
  readonly #options: ClientOptions;
  readonly #conn: Connection;
  readonly #cache = new RowCache();
  readonly #outbox: Outbox;
  readonly #calls: CallManager;
  readonly #docs: DocManager;
  readonly #port: SocketPort;
  readonly #queries = new Map<string, LiveQuery>();
  readonly #bySub = new Map<string, LiveQuery>();
  readonly #byHandle = new Map<string, Set<LiveQuery>>();
  readonly #rooms = new Map<string, Room<unknown>>();
  readonly #statusListeners = new Set<(status: ClientStatus) => void>();
  readonly #seqWaiters: Array<{ seq: number; resolve: () => void }> = [];
  readonly #resumes = new Map<string, LiveQuery[]>();
  #status: ClientStatus;
  #ids = 0;
  /** Highest seq applied to every subscription the client holds; null: nothing to resume from. */
  #cursor: number | null = null;
  #token: string | null = null;
  #provider: TokenProvider | undefined;
  #userId: string | null | undefined = undefined;
  /** The org the session selected (`auth.tenantId`). */
  #tenantId: string | null = null;
  /** Whether requests carry the session cookie (no token in script). */
  #cookie: boolean;
  #identityChecked = false;
  #loaded: Promise<void>;
  #identityResolved: () => void = () => {};
  /** Settles once the server named the user behind the token. */
  readonly #identityKnown = new Promise<void>((resolve) => (this.#identityResolved = resolve));
  readonly #headWaiters: Array<() => void> = [];
  /** Barriers in flight, with the head waiters each will satisfy. */
  readonly #barriers = new Map<string, Array<() => void>>();
  /** The auth flows of the server (guest, password, magic code, sign-out). */
  readonly auth: AuthClient;

  constructor(options: ClientOptions) {
    this.#options = options;
    this.#baseUrl = options.url.replace(/\/+$/, '');
    const fetchFn = options.fetch ?? (globalThis.fetch as unknown as FetchLike | undefined);
    if (!fetchFn) throw new MastClientError('INVALID_OPTIONS', 'No fetch function: pass `fetch` in the options');
    this.#fetch = fetchFn;
    const WebSocketCtor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketCtor) throw new MastClientError('INVALID_OPTIONS', 'No WebSocket: pass `WebSocket` in the options (in Node 20, `import { WebSocket } from "ws"`)');
    this.#cookie = options.session === 'cookie';
    if (typeof options.auth === 'function') this.#provider = options.auth;
    else this.#token = options.auth ?? null;
    this.#port = {
      send: (m) => this.#conn.send(m),
      nextId: (prefix) => `${prefix}${++this.#ids}`,
      isOpen: () => this.#conn.state === 'open' || this.#conn.state === 'resuming',
    };
    this.#calls = new CallManager(this.#port);
    this.#docs = new DocManager({
      ...this.#port,
      sendBinary: (bytes) => this.#conn.sendBinary(bytes),
      storage: () => this.#outbox.storage,
      insertPending: (entity, id) => this.#outbox.entries.some((e) => e.write.kind === 'insert' && e.write.entity === entity && e.write.id === id),
      queue: (entity, id, update) => void this.#enqueue({ kind: 'crdt', entity, id, update: toHex(update) }, []).catch(() => {}),
      push: (entity, id, update) => this.#http('POST', `/api/crdt/${encodeURIComponent(entity)}/${encodeURIComponent(id)}`, { body: { update: toHex(update) } }),
    });
    this.#outbox = new Outbox({
      storage: options.storage ?? memoryStorage(),
      send: (entry) => this.#sendEntry(entry),
      onSettled: (settled) => this.#settled(settled),
      onChange: () => this.#updateStatus(),
      retryMs: (attempt) => Math.min(30_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2),
    });
    this.#status = { state: 'connecting', error: null, pendingWrites: 0, storage: this.#outbox.durability, storageError: null, userId: undefined, tenantId: null };
    this.#cache.onChange((entities) => {
      for (const query of this.#queries.values()) if (entities.has(query.entity)) query.refresh();
    });
    this.#conn = new Connection(
      this.#baseUrl.replace(/^http/, 'ws') + '/ws',
      WebSocketCtor,
      {
        token: () => this.#connectToken(),
        authFailed: async (code) => {
          if (!this.#provider) return false;
          const token = await this.#provider({ reason: code === 4001 ? 'unauthorized' : 'expired' });
          if (!token) return false;
          await this.#adoptToken(token, undefined);
          return true;
        },
        hello: (seq) => this.#hello(seq),
        message: (m) => this.#message(m),
        binary: (bytes) => this.#docs.binary(bytes),
        down: () => this.#down(),
        state: () => this.#updateStatus(),
      },
      options.backoff,
    );
    this.auth = new AuthClient({
      request: (method, path, body, token, withCookie) =>
        this.#http(method, path, { ...(body === undefined ? {} : { body }), ...(token === undefined ? {} : { token }), ...(withCookie ? { withCookie } : {}) }),
      signedIn: (session) => this.#signedIn(session),
      signedOut: () => this.#signedOut(),
      cookieSignedIn: () => this.#cookieSignedIn(),
      orgSelected: (tenantId) => this.#orgSelected(tenantId),
      baseUrl: this.#baseUrl,
    });
    this.#loaded = this.#load();
    void this.#loaded.then(() => this.#conn.start());
  }

  /** The connection's state, pending writes and storage, for a UI. */
  get status(): ClientStatus {
    return this.#status;
  }

  /** Calls `listener` whenever `status` changes; returns the unsubscribe function. */
  onStatus(listener: (status: ClientStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /** The signed-in user's id as the server knows it (null: anonymous; undefined: not known yet). */
  get userId(): string | null | undefined {
    return this.#userId;
  }

  /** The org this session selected (`auth.tenantId`; `auth.selectOrg`), null when none. */
  get tenantId(): string | null {
    return this.#tenantId;
  }

  /** Resolves once the stored outbox is loaded and the connection is open. */
  async connected(): Promise<void> {
    await this.#loaded;
    if (this.#conn.state === 'open') return;
    await new Promise<void>((resolve, reject) => {
      const off = this.onStatus((s) => {
        if (s.state === 'open') {
          off();
          resolve();
        } else if (s.state === 'closed') {
          off();
          reject(s.error ?? new MastClientError('CLOSED', 'The client was closed'));
        }
      });
    });
  }

  /**
   * A live query of `entity` with `filter` (field conditions, `$order`, `$limit`). Identical
   * queries share one subscription and one handle; `close()` it when done.
   */
  query<R extends CachedRow = CachedRow>(entity: string, filter?: Filter): LiveQuery<R> {
    const key = queryKey(entity, filter);
    let query = this.#queries.get(key);
    if (!query) {
      const created = new LiveQuery(entity, filter, this.#cache, this.#queryHost);
      query = created;
      this.#queries.set(key, created);
      // Kept rows first: with them the query resumes from their seq instead of reading afresh.
      created.restoring = this.#restoreQuery(key, created)
        .catch(() => {})
        .finally(() => {
          created.restoring = null;
          this.#attach(created);
        });
      created.subscribe(() => this.#keepQuery(key, created));
    }
    query.holders++;
    return query as unknown as LiveQuery<R>;
  }

  /** The state of an identical live query some holder already keeps, without holding it; undefined when none does. */
  peek<R extends CachedRow = CachedRow>(entity: string, filter?: Filter): QueryState<R> | undefined {
    return this.#queries.get(queryKey(entity, filter))?.state as QueryState<R> | undefined;
  }

  /** Inserts a row (its id made here unless given); resolves with the server's answer. */
  insert(entity: string, data: Record<string, unknown>, options: WriteOptions = {}): Promise<{ id: string; seq: number }> {
    const id = typeof data.id === 'string' ? data.id : randomId();
    const row = { ...data, id };
    const ops: OptimisticOp[] = options.optimistic === false ? [] : [{ kind: 'insert', entity, id, data: row }];
    return this.#enqueue({ kind: 'insert', entity, id, data: row }, ops) as Promise<{ id: string; seq: number }>;
  }

  /** Changes fields of a row; resolves with the server's answer. */
  update(entity: string, id: string, patch: Record<string, unknown>, options: WriteOptions = {}): Promise<{ updated: true; seq: number }> {
    const ops: OptimisticOp[] = options.optimistic === false ? [] : [{ kind: 'update', entity, id, data: patch }];
    return this.#enqueue({ kind: 'update', entity, id, data: patch }, ops) as Promise<{ updated: true; seq: number }>;
  }

  /** Deletes a row; resolves with the server's answer. */
  delete(entity: string, id: string, options: WriteOptions = {}): Promise<{ deleted: true; seq: number }> {
    const ops: OptimisticOp[] = options.optimistic === false ? [] : [{ kind: 'delete', entity, id }];
    return this.#enqueue({ kind: 'delete', entity, id }, ops) as Promise<{ deleted: true; seq: number }>;
  }

  /**
   * Calls a mutation over the socket with an op id; it is sent again with the same id after a
   * reconnect, so it runs once. `optimistic` changes show at once and roll back on refusal.
   */
  async mutation(name: string, args: Record<string, unknown> = {}, options: MutationOptions = {}): Promise<unknown> {
    await this.#loaded;
    const opId = randomId();
    const ops: OptimisticOp[] = [];
    options.optimistic?.({
      insert: (entity, row) => ops.push({ kind: 'insert', entity, id: row.id, data: row }),
      update: (entity, id, patch) => ops.push({ kind: 'update', entity, id, data: patch }),
      delete: (entity, id) => ops.push({ kind: 'delete', entity, id }),
    });
    this.#cache.addLayer(opId, ops);
    try {
      const value = await this.#calls.call(name, args, opId, true, options);
      // The mutation committed before its result: once a barrier passes, queries show it.
      if (ops.length > 0) void this.#reachedHead().then(() => this.#cache.dropLayer(opId));
      return value;
    } catch (err) {
      this.#cache.dropLayer(opId);
      const error = err instanceof MastClientError ? err : new MastClientError('INTERNAL', String(err));
      this.#options.onError?.(error, null);
      throw error;
    }
  }

  /** Calls an action (or query function) once over the socket; chunks arrive through `onChunk`. */
  async action(name: string, args: Record<string, unknown> = {}, options: CallOptions = {}): Promise<unknown> {
    await this.#loaded;
    return this.#calls.call(name, args, undefined, false, options);
  }

  /** Keeps query function `name` live (`fn-watch`); `close()` the handle when done. */
  watch<T = unknown>(name: string, args: Record<string, unknown> = {}): Watch<T> {
    return this.#calls.watch<T>(name, args);
  }

  /** The Loro document of a CRDT row, kept in sync; `close()` it when done. */
  doc(entity: string, id: string): DocHandle {
    return this.#docs.open(entity, id);
  }

  /** Joins room `name` with a presence state; `leave()` the handle when done. */
  room<P = unknown>(name: string, options: { presence?: P; topics?: readonly string[] } = {}): Room<P> {
    if (this.#rooms.has(name)) throw new MastClientError('ALREADY_IN_ROOM', `This client is already in room "${name}"`);
    const room = new Room<P>(name, (options.presence ?? null) as P, options.topics, this.#port, this.#options.presenceHeartbeatMs ?? 20_000, (r) => this.#rooms.delete(r.name));
    this.#rooms.set(name, room as Room<unknown>);
    if (this.#port.isOpen()) room.join();
    return room;
  }

  /** Resolves once every queued write was accepted or refused. */
  async flush(): Promise<void> {
    await this.#loaded;
    await this.#outbox.whenIdle();
  }

  /** Resolves once live queries reflect every change the server had committed when asked. */
  async sync(): Promise<void> {
    await this.#reachedHead();
  }

  /** Replaces the token (or provider); a different user clears the previous user's cache and outbox. */
  async setAuth(auth: string | null | TokenProvider): Promise<void> {
    await this.#loaded;
    if (typeof auth === 'function') {
      this.#provider = auth;
      await this.#adoptToken(await auth({ reason: 'connect' }), undefined);
    } else {
      this.#provider = undefined;
      await this.#adoptToken(auth, undefined);
    }
    this.#conn.reconnect();
  }

  /** Closes the socket and stops retrying; pending writes stay in durable storage. */
  async close(): Promise<void> {
    await this.#loaded.catch(() => {});
    this.#conn.close();
    this.#outbox.stop();
    this.#calls.closeAll(new MastClientError('CLOSED', 'The client was closed'));
    for (const room of [...this.#rooms.values()]) room.leave();
    await this.#outbox.storage.close();
  }

  /** Optimistic writes still shown over the server's rows (pending, or accepted but not yet in the live queries). */
  get optimisticWrites(): number {
    return this.#cache.layerCount;
  }

  /** The server's rows the cache holds, each once (for tests and the cache's cost). */
  get cachedRowCount(): number {
    return this.#cache.size;
  }

  // ---- loading, identity ----

  async #load(): Promise<void> {
    const entries = await this.#outbox.load();
    for (const entry of entries) this.#cache.addLayer(entry.key, opsOf(entry.write));
    this.#updateStatus();
  }

  async #connectToken(): Promise<string | null> {
    const token = this.#provider ? await this.#provider({ reason: 'connect' }) : this.#token;
    if (token !== this.#token || !this.#identityChecked) await this.#adoptToken(token, undefined);
    return this.#token;
  }

  /** Takes a token; when the user behind it is another than the outbox's, clears what the previous one left. */
  async #adoptToken(token: string | null, knownUserId: string | null | undefined): Promise<void> {
    this.#token = token;
    let userId = knownUserId;
    let tenantId: string | null = null;
    if (userId === undefined) {
      if (token === null && !this.#cookie) userId = null;
      else {
        const me = await this.#http('GET', '/api/auth/me', {});
        // Unreachable server: the identity is checked again before the next socket.
        if (!me.ok) {
          if (me.status === 0 || me.status >= 500) {
            this.#identityChecked = false;
            return;
          }
          userId = null;
        } else {
          const body = me.body as { user_id?: string | null; tenant_id?: string };
          userId = body.user_id ?? null;
          tenantId = body.tenant_id ?? null;
        }
      }
    }
    this.#identityChecked = true;
    await this.#setIdentity(userId, tenantId);
    await this.#outbox.storage.setMeta('ownerToken', token === null ? null : await tokenDigest(token)).catch(() => {});
    this.#identityResolved();
    this.#updateStatus();
  }

  /** The key the cache and outbox belong to: the user, and the org its session selected. */
  #owner(): string | null | undefined {
    if (this.#userId === undefined || this.#userId === null) return this.#userId;
    return this.#tenantId === null ? this.#userId : `${this.#userId}\u0000${this.#tenantId}`;
  }

  /** Records who the client acts as; another user or org than before clears what the previous one left. */
  async #setIdentity(userId: string | null, tenantId: string | null): Promise<void> {
    const storage = this.#outbox.storage;
    const stored = (await storage.getMeta('owner').catch(() => undefined)) as string | null | undefined;
    const previous = this.#userId !== undefined ? this.#owner() : stored;
    this.#userId = userId;
    this.#tenantId = userId === null ? null : tenantId;
    const next = this.#owner();
    if (previous !== undefined && previous !== next) await this.#clearIdentity();
    await storage.setMeta('owner', next).catch(() => {});
  }

  async #cookieSignedIn(): Promise<string | null> {
    this.#provider = undefined;
    this.#cookie = true;
    await this.#adoptToken(null, undefined);
    this.#conn.reconnect();
    return this.#userId ?? null;
  }

  async #orgSelected(tenantId: string | null): Promise<void> {
    if (this.#userId === undefined || this.#userId === null) return;
    await this.#setIdentity(this.#userId, tenantId);
    this.#updateStatus();
    // The server closes this session's sockets (4012); a fresh socket makes the change certain.
    this.#conn.reconnect();
  }

  async #clearIdentity(): Promise<void> {
    const error = new MastClientError('IDENTITY_CHANGED', "Another user signed in: the previous user's pending writes were dropped");
    await this.#outbox.clear(error);
    await this.#outbox.storage.clear().catch(() => {});
    this.#cache.clear();
    this.#cursor = null;
    for (const query of this.#queries.values()) query.reset();
  }

  async #signedIn(session: Session): Promise<void> {
    this.#provider = undefined;
    this.#cookie = false;
    await this.#adoptToken(session.token, session.userId);
    this.#conn.reconnect();
  }

  async #signedOut(): Promise<{ token: string | null; cookie: boolean }> {
    const token = this.#token;
    const cookie = this.#cookie;
    this.#provider = undefined;
    this.#cookie = false;
    await this.#adoptToken(null, null);
    this.#conn.reconnect();
    return { token, cookie };
  }

  // ---- rows kept across reloads ----

  /** Shows the rows a query had in an earlier session (same user) until the server answers. */
  async #restoreQuery(key: string, query: LiveQuery): Promise<void> {
    await this.#loaded;
    const storage = this.#outbox.storage;
    const kept = (await storage.getMeta(`query:${key}`).catch(() => undefined)) as { userId: string | null; rows: CachedRow[]; complete: boolean; seq?: number | null } | undefined;
    if (!kept || !Array.isArray(kept.rows)) return;
    if (this.#userId === undefined) {
      // Identity not checked yet (offline, or before the first socket): the kept rows are shown
      // only to the very token that stored them, else once the server named the user.
      const sameToken = this.#token !== null && (await tokenDigest(this.#token)) === (await storage.getMeta('ownerToken').catch(() => undefined));
      if (!sameToken) await this.#identityKnown;
    }
    const owner = this.#userId !== undefined ? this.#owner() : ((await storage.getMeta('owner').catch(() => undefined)) as string | null | undefined);
    if (kept.userId !== owner || this.#queries.get(key) !== query) return;
    if (query.applyStored(kept.rows, kept.complete === true) && typeof kept.seq === 'number') query.keptSeq = kept.seq;
  }

  /** Stores a query's server rows after it changed (coalesced per query), with the user they belong to. */
  #keepQuery(key: string, query: LiveQuery): void {
    if (query.handle === null || this.#outbox.storage.kind === 'memory' || this.#keeping.has(key)) return;
    this.#keeping.add(key);
    setTimeout(() => {
      this.#keeping.delete(key);
      if (query.handle === null || this.#queries.get(key) !== query) return;
      const rows = [...query.serverIds].map((id) => this.#cache.serverRow(query.entity, id)).filter((r): r is CachedRow => r !== undefined);
      // The rows are the server's as of the cursor: a later session resumes them from there.
      void this.#outbox.storage.setMeta(`query:${key}`, { userId: this.#owner() ?? null, rows, complete: query.state.complete, seq: this.#cursor }).catch(() => {});
    }, 50);
  }
  readonly #keeping = new Set<string>();

  // ---- the socket ----

  #hello(seq: number): void {
    const all = [...this.#queries.values()].filter((q) => q.restoring === null);
    const loaded = all.filter((q) => q.handle !== null);
    const kept = all.filter((q) => q.handle === null && q.keptSeq !== null);
    const fresh = all.filter((q) => q.handle === null && q.keptSeq === null);
    for (const q of this.#queries.values()) q.subId = null;
    this.#bySub.clear();
    this.#byHandle.clear();
    // Resumed: live queries from the cursor, queries with kept rows from the seq they were kept at.
    const since = new Map<number, LiveQuery[]>();
    const group = (at: number, q: LiveQuery): void => void (since.get(at) ?? since.set(at, []).get(at)!).push(q);
    if (this.#cursor !== null) for (const q of loaded) group(this.#cursor, q);
    else fresh.push(...loaded);
    for (const q of kept) group(q.keptSeq!, q);
    if (since.size === 0) {
      if (this.#cursor === null && loaded.length === 0) this.#cursor = seq;
      this.#opened();
      for (const q of loaded) q.reset();
      for (const q of fresh) this.#subscribe(q);
      return;
    }
    this.#conn.markResuming();
    for (const q of fresh) {
      if (q.handle !== null) q.reset();
      this.#subscribe(q);
    }
    for (const [at, queries] of since) this.#sendResume(at, queries, this.#resumes);
  }

  /** Sends `resume` from `since` for `queries`, in chunks the server accepts, tracked in `into`. */
  #sendResume(since: number, queries: readonly LiveQuery[], into: Map<string, LiveQuery[]>): void {
    for (let i = 0; i < queries.length; i += MAX_RESUME_SUBSCRIPTIONS) {
      const chunk = queries.slice(i, i + MAX_RESUME_SUBSCRIPTIONS);
      const id = this.#port.nextId('r');
      into.set(id, chunk);
      for (const q of chunk) {
        q.subId = this.#port.nextId('q');
        this.#bySub.set(q.subId, q);
      }
      this.#conn.send({ type: 'resume', id, since, subscriptions: chunk.map((q) => ({ id: q.subId!, entity: q.entity, ...(q.filter ? { filter: q.filter } : {}) })) });
    }
  }

  /** A query whose kept rows were looked up: on an open socket it resumes from their seq, or subscribes. */
  #attach(query: LiveQuery): void {
    if (![...this.#queries.values()].includes(query)) return; // closed meanwhile
    if (query.subId !== null || !this.#port.isOpen()) return;
    if (query.keptSeq !== null) this.#sendResume(query.keptSeq, [query], this.#lateResumes);
    else this.#subscribe(query);
  }
  /** Resumes of single queries sent on an open socket (their ack does not open the connection). */
  readonly #lateResumes = new Map<string, LiveQuery[]>();

  #opened(): void {
    this.#conn.markOpen();
    this.#calls.up();
    this.#docs.up();
    for (const room of this.#rooms.values()) room.join();
    this.#checkSeqWaiters();
    this.#outbox.setOnline(true);
  }

  #down(): void {
    this.#outbox.setOnline(false);
    this.#resumes.clear();
    this.#lateResumes.clear();
    this.#calls.down();
    for (const room of this.#rooms.values()) room.down();
    // Barriers in flight died with the socket: their waiters ask again on the next one.
    for (const heads of this.#barriers.values()) this.#headWaiters.push(...heads);
    this.#barriers.clear();
  }

  #message(m: Record<string, unknown>): void {
    switch (m.type) {
      case 'result': {
        const query = this.#bySub.get(m.id as string);
        if (!query) return;
        if (query.subId !== m.id) return;
        this.#mapHandle(query, m.query as string);
        query.applyResult(m.rows as CachedRow[], m.complete === true, m.query as string);
        this.#advance(m.seq);
        return;
      }
      case 'diff': {
        const queries = this.#byHandle.get(m.query as string);
        if (queries)
          this.#cache.batch(() => {
            for (const q of queries) q.applyDelta(m.added as CachedRow[], m.changed as CachedRow[], m.removed as string[]);
          });
        this.#advance(m.seq);
        return;
      }
      case 'resumed': {
        const query = this.#bySub.get(m.id as string);
        if (!query) return;
        this.#mapHandle(query, m.query as string);
        query.handle = m.query as string;
        query.applyResumed(m.added as CachedRow[], m.changed as CachedRow[], m.removed as string[]);
        return;
      }
      case 'ack': {
        const id = m.id as string;
        if (this.#lateResumes.delete(id)) {
          if (typeof m.seq === 'number') this.#cursor = Math.max(this.#cursor ?? 0, m.seq);
          this.#checkSeqWaiters();
          return;
        }
        if (this.#resumes.has(id)) {
          this.#resumes.delete(id);
          if (this.#resumes.size === 0) {
            if (typeof m.seq === 'number') this.#cursor = Math.max(this.#cursor ?? 0, m.seq);
            this.#opened();
          }
          return;
        }
        if (this.#barriers.has(id)) {
          this.#barrierAcked(id, m.seq);
          return;
        }
        this.#calls.handle(m);
        return;
      }
      case 'error': {
        const id = typeof m.id === 'string' ? m.id : undefined;
        if (id && this.#lateResumes.has(id)) {
          // RESYNC_REQUIRED (the kept rows are too old, or of another database): read afresh.
          for (const q of this.#lateResumes.get(id)!) {
            if (q.subId) this.#bySub.delete(q.subId);
            q.subId = null;
            q.reset();
            this.#subscribe(q);
          }
          this.#lateResumes.delete(id);
          return;
        }
        if (id && this.#resumes.has(id)) {
          // RESYNC_REQUIRED (or any refusal): nothing was opened; subscribe afresh.
          const chunk = this.#resumes.get(id)!;
          this.#resumes.delete(id);
          for (const q of chunk) {
            if (q.subId) this.#bySub.delete(q.subId);
            q.reset();
            this.#subscribe(q);
          }
          if (this.#resumes.size === 0) this.#opened();
          return;
        }
        if (id && this.#bySub.has(id)) {
          const query = this.#bySub.get(id)!;
          this.#bySub.delete(id);
          if (query.subId === id) {
            query.subId = null;
            query.applyError(errorFromServer(m));
          }
          return;
        }
        if (this.#docs.handle(m)) return;
        if (typeof m.room === 'string') {
          this.#rooms.get(m.room)?.handle(m);
          return;
        }
        this.#calls.handle(m);
        return;
      }
      case 'joined':
      case 'presence':
      case 'broadcast':
        this.#rooms.get(m.room as string)?.handle(m);
        return;
      default:
        this.#calls.handle(m);
    }
  }

  #mapHandle(query: LiveQuery, handle: string): void {
    if (query.handle !== null && query.handle !== handle) this.#byHandle.get(query.handle)?.delete(query);
    let set = this.#byHandle.get(handle);
    if (!set) this.#byHandle.set(handle, (set = new Set()));
    set.add(query);
  }

  #advance(seq: unknown): void {
    if (typeof seq !== 'number') return;
    if (this.#conn.state !== 'open') return; // during a resume, the cursor moves at its ack
    this.#cursor = Math.max(this.#cursor ?? 0, seq);
    this.#checkSeqWaiters();
  }

  readonly #queryHost: QueryHost = {
    subscribe: (query) => this.#subscribe(query),
    close: (query) => {
      for (const [key, q] of this.#queries) if (q === query) this.#queries.delete(key);
      if (query.subId) {
        this.#bySub.delete(query.subId);
        this.#conn.send({ type: 'unsubscribe', id: query.subId });
      }
      if (query.handle) this.#byHandle.get(query.handle)?.delete(query);
      query.reset();
      query.subId = null;
    },
  };

  /** Sends `subscribe` for a query (again, with a new id, for `loadMore`); the old subscription ends at the result. */
  #subscribe(query: LiveQuery): void {
    if (!this.#port.isOpen()) return;
    const old = query.subId;
    const id = this.#port.nextId('q');
    query.subId = id;
    this.#bySub.set(id, query);
    this.#conn.send({ type: 'subscribe', id, entity: query.entity, ...(query.filter ? { filter: query.filter } : {}) });
    if (old) {
      this.#bySub.delete(old);
      this.#conn.send({ type: 'unsubscribe', id: old });
    }
  }

  // ---- seq barrier ----

  /** Resolves once the cursor passes `seq` (a write's commit); sends a `barrier` when no frame brings it there. */
  #reached(seq: number): Promise<void> {
    if (this.#cursor !== null && this.#cursor >= seq) return Promise.resolve();
    return new Promise((resolve) => {
      this.#seqWaiters.push({ seq, resolve });
      this.#checkSeqWaiters();
    });
  }

  /** Resolves once every change committed now has reached the live queries (the ack of a barrier sent after this call). */
  #reachedHead(): Promise<void> {
    return new Promise((resolve) => {
      this.#headWaiters.push(resolve);
      this.#checkSeqWaiters();
    });
  }

  #checkSeqWaiters(): void {
    const cursor = this.#cursor ?? -1;
    for (let i = this.#seqWaiters.length - 1; i >= 0; i--) {
      const w = this.#seqWaiters[i]!;
      if (w.seq <= cursor) {
        this.#seqWaiters.splice(i, 1);
        w.resolve();
      }
    }
    if (this.#conn.state !== 'open') return;
    const needHead = this.#headWaiters.length > 0;
    if (!needHead && (this.#seqWaiters.length === 0 || this.#barriers.size > 0)) return;
    const id = this.#port.nextId('b');
    if (!this.#conn.send({ type: 'barrier', id })) return;
    this.#barriers.set(id, this.#headWaiters.splice(0));
  }

  #barrierAcked(id: string, seq: unknown): void {
    const heads = this.#barriers.get(id) ?? [];
    this.#barriers.delete(id);
    if (typeof seq === 'number') this.#cursor = Math.max(this.#cursor ?? 0, seq);
    for (const resolve of heads) resolve();
    this.#checkSeqWaiters();
  }

  // ---- writes ----

  async #enqueue(write: QueuedWrite, ops: OptimisticOp[]): Promise<unknown> {
    await this.#loaded;
    const key = randomId();
    this.#cache.addLayer(key, ops);
    const { done } = await this.#outbox.enqueue(key, write);
    return done;
  }

  async #sendEntry(entry: OutboxEntry): Promise<SendOutcome> {
    const w = entry.write;
    if (w.kind === 'crdt') return this.#docs.push(entry);
    const path = `/api/entities/${encodeURIComponent(w.entity)}` + (w.kind === 'insert' ? '' : `/${encodeURIComponent(w.id)}`);
    const method = w.kind === 'insert' ? 'POST' : w.kind === 'update' ? 'PATCH' : 'DELETE';
    const res = await this.#http(method, path, { ...(w.kind === 'delete' ? {} : { body: w.data }), opId: entry.key });
    if (res.ok) return { ok: true, value: res.body };
    return isRetryable(res.status) ? { ok: false, retry: true, error: res.error } : { ok: false, retry: false, error: res.error };
  }

  #settled(settled: Settled): void {
    const key = settled.entry.key;
    if (!settled.ok) {
      this.#cache.dropLayer(key); // the rollback
      // Edits refused as unrelated history are redone on the server's document (DocHandle), not lost.
      if (settled.error.code !== 'IDENTITY_CHANGED' && settled.error.code !== 'CRDT_UNRELATED_HISTORY') this.#options.onError?.(settled.error, settled.entry.write);
      return;
    }
    const w = settled.entry.write;
    if (w.kind === 'insert') this.#docs.rowInserted(w.entity, w.id);
    const seq = (settled.value as { seq?: unknown } | undefined)?.seq;
    if (typeof seq === 'number') void this.#reached(seq).then(() => this.#cache.dropLayer(key));
    else this.#cache.dropLayer(key);
  }

  #http(method: string, path: string, options: { body?: unknown; opId?: string; token?: string; withCookie?: boolean }): Promise<HttpOutcome> {
    return httpRequest(this.#fetch, this.#baseUrl, method, path, { ...options, token: options.token ?? this.#token, withCookie: options.withCookie ?? this.#cookie });
  }

  #updateStatus(): void {
    const next: ClientStatus = {
      state: this.#conn?.state ?? 'connecting',
      error: this.#conn?.error ?? null,
      pendingWrites: this.#outbox.entries.length,
      storage: this.#outbox.durability,
      storageError: this.#outbox.storageError,
      userId: this.#userId,
      tenantId: this.#tenantId,
    };
    const s = this.#status;
    if (
      s &&
      s.state === next.state &&
      s.error === next.error &&
      s.pendingWrites === next.pendingWrites &&
      s.storage === next.storage &&
      s.storageError === next.storageError &&
      s.userId === next.userId &&
      s.tenantId === next.tenantId
    )
      return;
    this.#status = next;
    for (const listener of [...this.#statusListeners]) listener(next);
  }
}

/** SHA-256 of a token, hex: what storage keeps to recognise the token that stored its rows. */
async function tokenDigest(token: string): Promise<string> {
  return toHex(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))));
}

function opsOf(write: QueuedWrite): OptimisticOp[] {
  if (write.kind === 'crdt') return [];
  if (write.kind === 'delete') return [{ kind: 'delete', entity: write.entity, id: write.id }];
  return [{ kind: write.kind, entity: write.entity, id: write.id, data: write.data }];
}
