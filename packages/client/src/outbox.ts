import { MastClientError } from './errors.js';
import { memoryStorage, type ClientStorage, type OutboxEntry, type QueuedWrite } from './storage.js';

/** What sending one entry came to. */
export type SendOutcome =
  | { readonly ok: true; readonly value: unknown }
  /** Not delivered (offline, a 5xx, rate limited): stays first in the queue and is sent again. */
  | { readonly ok: false; readonly retry: true; readonly error: MastClientError }
  /** Refused for good (policy, validation, unique): removed, reported, never sent again. */
  | { readonly ok: false; readonly retry: false; readonly error: MastClientError };

/** Sends one entry; the outbox serializes calls. */
export type Sender = (entry: OutboxEntry) => Promise<SendOutcome>;

/** How a finished entry ended. */
export type Settled =
  | { readonly entry: OutboxEntry; readonly ok: true; readonly value: unknown }
  | { readonly entry: OutboxEntry; readonly ok: false; readonly error: MastClientError };

/**
 * The durable outbox: writes are stored before they are sent, sent one at a time in the order
 * they were made, each with its op id so a resend after a lost answer writes nothing twice. A
 * write the server refuses is removed and reported; it never blocks the writes after it. When
 * the storage fails (full, unavailable) the outbox keeps going in memory and says so in
 * `storageError`.
 */
export class Outbox {
  #storage: ClientStorage;
  readonly #send: Sender;
  readonly #onSettled: (settled: Settled) => void;
  readonly #onChange: () => void;
  readonly #retryMs: (attempt: number) => number;
  #entries: OutboxEntry[] = [];
  #order = 0;
  #online = false;
  #draining = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #storageError: MastClientError | null = null;
  readonly #waiters = new Map<string, { resolve: (v: unknown) => void; reject: (e: MastClientError) => void }>();
  #idle: Array<() => void> = [];
  readonly #stored = new Map<string, Promise<void>>();

  constructor(options: { storage: ClientStorage; send: Sender; onSettled: (s: Settled) => void; onChange: () => void; retryMs: (attempt: number) => number }) {
    this.#storage = options.storage;
    this.#send = options.send;
    this.#onSettled = options.onSettled;
    this.#onChange = options.onChange;
    this.#retryMs = options.retryMs;
  }

  /** Reads the stored entries (after a reload); returns them in order. */
  async load(): Promise<readonly OutboxEntry[]> {
    try {
      this.#entries = await this.#storage.loadOutbox();
    } catch (err) {
      this.#degrade(err);
      this.#entries = [];
    }
    this.#order = this.#entries.reduce((max, e) => Math.max(max, e.order), Date.now());
    this.#onChange();
    return this.#entries;
  }

  /** The entries not yet accepted or refused, in order. */
  get entries(): readonly OutboxEntry[] {
    return this.#entries;
  }

  /** Why the outbox runs in memory although durable storage was asked for; null when it does not. */
  get storageError(): MastClientError | null {
    return this.#storageError;
  }

  /** `durable` when entries survive a reload. */
  get durability(): 'durable' | 'memory' {
    return this.#storage.kind === 'memory' ? 'memory' : 'durable';
  }

  /** Stores a write and queues it; `done` settles when the server accepts or refuses it. */
  async enqueue(key: string, write: QueuedWrite): Promise<{ entry: OutboxEntry; done: Promise<unknown> }> {
    const entry: OutboxEntry = { key, order: ++this.#order, write };
    const done = new Promise<unknown>((resolve, reject) => this.#waiters.set(key, { resolve, reject }));
    // Queued at once (so order is the order of calls), sent only once stored: a reload between
    // the two finds it.
    const stored = this.#persist(() => this.#storage.putEntry(entry));
    this.#stored.set(key, stored);
    this.#entries.push(entry);
    this.#onChange();
    await stored;
    this.#stored.delete(key);
    this.#drain();
    return { entry, done };
  }

  /** Whether the socket is up; entries are sent only then. */
  setOnline(online: boolean): void {
    this.#online = online;
    if (online) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#attempt = 0;
      this.#drain();
    }
  }

  /** Resolves once the queue is empty. */
  whenIdle(): Promise<void> {
    if (this.#entries.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Drops every entry, rejecting their callers with `error` (identity change, sign-out). */
  async clear(error: MastClientError): Promise<void> {
    const dropped = this.#entries;
    this.#entries = [];
    await this.#persist(async () => {
      for (const e of dropped) await this.#storage.deleteEntry(e.key);
    });
    for (const e of dropped) this.#settle({ entry: e, ok: false, error });
    this.#onChange();
  }

  /** Stops the retry timer. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#online = false;
  }

  #drain(): void {
    if (this.#draining || !this.#online || this.#timer !== undefined) return;
    this.#draining = true;
    void this.#run().finally(() => {
      this.#draining = false;
    });
  }

  async #run(): Promise<void> {
    while (this.#online && this.#entries.length > 0) {
      const entry = this.#entries[0]!;
      await this.#stored.get(entry.key);
      let outcome: SendOutcome;
      try {
        outcome = await this.#send(entry);
      } catch (err) {
        outcome = { ok: false, retry: true, error: err instanceof MastClientError ? err : new MastClientError('NETWORK', String(err), { cause: err }) };
      }
      if (this.#entries[0] !== entry) continue; // cleared meanwhile
      if (!outcome.ok && outcome.retry) {
        const delay = this.#retryMs(this.#attempt++);
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#drain();
        }, delay);
        return;
      }
      this.#attempt = 0;
      this.#entries.shift();
      await this.#persist(() => this.#storage.deleteEntry(entry.key));
      this.#settle(outcome.ok ? { entry, ok: true, value: outcome.value } : { entry, ok: false, error: outcome.error });
      this.#onChange();
    }
    if (this.#entries.length === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  #settle(settled: Settled): void {
    const waiter = this.#waiters.get(settled.entry.key);
    this.#waiters.delete(settled.entry.key);
    this.#onSettled(settled);
    if (!waiter) return;
    if (settled.ok) waiter.resolve(settled.value);
    else waiter.reject(settled.error);
  }

  async #persist(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.#degrade(err);
    }
  }

  /** Durable storage failed: keep what is queued in memory from now on, and say so. */
  #degrade(err: unknown): void {
    if (this.#storage.kind === 'memory') throw err;
    this.#storageError = new MastClientError(
      'STORAGE_UNAVAILABLE',
      `The outbox storage failed; pending writes are kept in memory only: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
    const failed = this.#storage;
    this.#storage = memoryStorage();
    void failed.close().catch(() => {});
    this.#onChange();
  }

  /** The storage the outbox currently writes to (memory after a failure). */
  get storage(): ClientStorage {
    return this.#storage;
  }
}
