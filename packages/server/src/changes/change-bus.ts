import type { ChangeFeed, ChangeRecord, Store } from '../store/index.js';

/** Receives committed changes, in commit order. */
export type ChangeListener = (changes: readonly ChangeRecord[]) => void;

/** How long a write waits for the shared log to hand its own changes back before it returns anyway. */
const OWN_CHANGES_WAIT_MS = 10_000;

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
}

/**
 * Hands committed changes to whoever listens in this process (live queries, function watches,
 * CRDT subscribers, metrics), once each and in seq order. A listener never sees a change that
 * could still roll back.
 *
 * On one node (SQLite) the write path publishes its own commit right after it. When several
 * nodes share the database (`capabilities.multiNode`), `follow` makes the shared change log the
 * only source: every node, the writer included, publishes what the store's feed reads from the
 * log, in seq order, so no node publishes a local commit ahead of an earlier seq another node
 * committed and it has not seen yet. A write then waits (`committed`) until the feed has
 * published its changes, so what a caller does next (a `barrier`) finds them applied.
 * A throwing listener is reported and does not stop the others.
 */
export class ChangeBus {
  readonly #listeners = new Set<ChangeListener>();
  readonly #onListenerError: (err: unknown) => void;
  #feed: ChangeFeed | null = null;
  /** The seq the feed started after: commits at or below it are not in the feed. */
  #feedFrom = 0;
  /** The last seq published from the feed. */
  #published = 0;
  #store: Store | null = null;
  #waiters: Waiter[] = [];

  constructor(onListenerError: (err: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Listeners subscribed (for tests: a stopped watch or query leaves none behind). */
  get size(): number {
    return this.#listeners.size;
  }

  /** Whether changes come from the shared change log (a multi-node store being followed). */
  get following(): boolean {
    return this.#feed !== null;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * On a multi-node store, starts publishing what the shared change log receives after its
   * current head (from this node and every other); a no-op on other stores.
   */
  async follow(store: Store, onError: (err: unknown) => void): Promise<void> {
    if (this.#feed || !store.capabilities.multiNode || !store.followChanges) return;
    const from = (await store.changeLogBounds()).head;
    this.#store = store;
    this.#feedFrom = from;
    this.#published = from;
    this.#feed = await store.followChanges({
      from,
      onChanges: (changes) => {
        this.publish(changes);
        this.#published = changes[changes.length - 1]!.seq;
        this.#release();
      },
      onError,
    });
  }

  /** Stops following the shared log; writes waiting for their changes return. */
  async close(): Promise<void> {
    const feed = this.#feed;
    this.#feed = null;
    await feed?.close();
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters = [];
  }

  /**
   * Called by the write path after a commit with its changes. Alone on the database, publishes
   * them now. Following the shared log, resolves once the feed has published them (and every
   * seq before them), or after a bounded wait when the database is unreachable.
   */
  committed(changes: readonly ChangeRecord[]): void | Promise<void> {
    if (changes.length === 0) return;
    const last = changes[changes.length - 1]!.seq;
    if (!this.#feed || last <= this.#feedFrom) {
      this.publish(changes);
      return;
    }
    const feed = this.#feed;
    const waiting = this.#until(last);
    feed.poke();
    return waiting;
  }

  /**
   * Resolves once every change committed on any node before this call has been published here
   * (at once when not following a shared log).
   */
  async caughtUp(): Promise<void> {
    const feed = this.#feed;
    const store = this.#store;
    if (!feed || !store) return;
    const head = (await store.changeLogBounds()).head;
    if (head <= this.#published) return;
    const waiting = this.#until(head);
    feed.poke();
    await waiting;
  }

  #until(seq: number): Promise<void> {
    if (seq <= this.#published) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), OWN_CHANGES_WAIT_MS);
      timer.unref?.();
      const done = () => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      };
      const waiter: Waiter = { seq, resolve: done };
      this.#waiters.push(waiter);
    });
  }

  #release(): void {
    if (this.#waiters.length === 0) return;
    for (const waiter of this.#waiters.filter((w) => w.seq <= this.#published)) waiter.resolve();
  }

  /** Delivers committed changes to every listener. */
  publish(changes: readonly ChangeRecord[]): void {
    if (changes.length === 0) return;
    for (const listener of this.#listeners) {
      try {
        listener(changes);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }
}
