/**
 * A least-recently-used cache with two budgets: a number of entries and a total of bytes (each
 * entry's size as the caller measures it). Going over either evicts the oldest entries; an
 * entry larger than the whole byte budget is not kept at all.
 */
export class DocCache<V> {
  readonly #entries = new Map<string, { value: V; bytes: number }>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #onDrop: ((value: V) => void) | undefined;
  #bytes = 0;
  #evictions = 0;

  /**
   * `onDrop` is called with a value the cache let go of by itself: evicted past a budget or
   * replaced by another value; never for `delete`, nor for a value refused as too large, which
   * their callers keep.
   */
  constructor(maxEntries: number, maxBytes: number, onDrop?: (value: V) => void) {
    this.#maxEntries = Math.max(0, maxEntries);
    this.#maxBytes = Math.max(0, maxBytes);
    this.#onDrop = onDrop;
  }

  /** The value under `key`, marking it most recently used. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /**
   * Stores `value` as the most recently used entry, then evicts down to both budgets. False when
   * the value was refused (larger than the byte budget, or a budget of no entries): the caller
   * still owns it.
   */
  set(key: string, value: V, bytes: number): boolean {
    const previous = this.#entries.get(key)?.value;
    this.delete(key);
    if (previous !== undefined && previous !== value) this.#onDrop?.(previous);
    if (bytes > this.#maxBytes || this.#maxEntries === 0) return false;
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
      this.#evictions++;
      this.#onDrop?.(entry.value);
    }
    return true;
  }

  /** Drops `key`; true when it was cached. */
  delete(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    return true;
  }

  /** Drops every key `test` accepts (as `delete` does: no `onDrop`); returns how many. */
  deleteMatching(test: (key: string) => boolean): number {
    let n = 0;
    for (const key of [...this.#entries.keys()]) if (test(key) && this.delete(key)) n++;
    return n;
  }

  /** True when `key` is cached (without touching its recency). */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Entries, bytes and evictions so far, for metrics and tests. */
  stats(): { entries: number; bytes: number; evictions: number } {
    return { entries: this.#entries.size, bytes: this.#bytes, evictions: this.#evictions };
  }
}
