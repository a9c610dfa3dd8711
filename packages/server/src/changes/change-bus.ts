import type { ChangeRecord } from '../store/index.js';

/** Receives committed changes, in commit order. */
export type ChangeListener = (changes: readonly ChangeRecord[]) => void;

/**
 * Hands committed changes to whoever listens in this process (live queries, metrics). The
 * write path publishes only after the store has committed, so a listener never sees a change
 * that could still roll back. A throwing listener is reported and does not stop the others.
 */
export class ChangeBus {
  readonly #listeners = new Set<ChangeListener>();
  readonly #onListenerError: (err: unknown) => void;

  constructor(onListenerError: (err: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Listeners subscribed (for tests: a stopped watch or query leaves none behind). */
  get size(): number {
    return this.#listeners.size;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
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
