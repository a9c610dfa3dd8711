/** A row as the client holds it: `id` plus the entity's fields as JSON values. */
export type CachedRow = { readonly id: string } & Readonly<Record<string, unknown>>;

/** One change of an optimistic write, as the cache layers it over the server's rows. */
export type OptimisticOp =
  | { readonly kind: 'insert'; readonly entity: string; readonly id: string; readonly data: Readonly<Record<string, unknown>> }
  | { readonly kind: 'update'; readonly entity: string; readonly id: string; readonly data: Readonly<Record<string, unknown>> }
  | { readonly kind: 'delete'; readonly entity: string; readonly id: string };

interface Held {
  row: CachedRow;
  refs: number;
}

/**
 * The normalized cache: each server row once per entity and id, counted by the live queries
 * that hold it, with optimistic writes layered on top in the order they were made. What a
 * query shows is always "server rows, then every pending write replayed over them", so a server
 * change rebases pending writes by itself and dropping a write rolls it back. A row keeps its
 * object identity until its server value or a write over it changes.
 */
export class RowCache {
  readonly #base = new Map<string, Map<string, Held>>();
  readonly #layers: Array<{ readonly key: string; readonly ops: readonly OptimisticOp[] }> = [];
  readonly #visible = new Map<string, Map<string, CachedRow | null | undefined>>();
  readonly #listeners = new Set<(entities: ReadonlySet<string>) => void>();
  #dirty = new Set<string>();
  #batchDepth = 0;

  /** Calls `listener` with the entities whose visible rows may have changed, once per batch. */
  onChange(listener: (entities: ReadonlySet<string>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Runs `fn` and notifies once at the end, however many rows it changed. */
  batch<T>(fn: () => T): T {
    this.#batchDepth++;
    try {
      return fn();
    } finally {
      if (--this.#batchDepth === 0) this.#flush();
    }
  }

  /** Stores server rows and counts one more holder of each. */
  hold(entity: string, rows: readonly CachedRow[]): void {
    const table = this.#table(entity);
    for (const row of rows) {
      const held = table.get(row.id);
      if (held) {
        held.refs++;
        if (held.row !== row) this.#setBase(entity, held, row);
      } else {
        table.set(row.id, { row, refs: 1 });
        this.#touch(entity, row.id);
      }
    }
  }

  /** Replaces the server value of rows already held (a `changed` row, or an `added` one held elsewhere). */
  update(entity: string, rows: readonly CachedRow[]): void {
    const table = this.#table(entity);
    for (const row of rows) {
      const held = table.get(row.id);
      if (held) this.#setBase(entity, held, row);
    }
  }

  /** Counts one holder fewer of each id; a row no query holds is forgotten. */
  release(entity: string, ids: Iterable<string>): void {
    const table = this.#table(entity);
    for (const id of ids) {
      const held = table.get(id);
      if (!held) continue;
      if (--held.refs <= 0) {
        table.delete(id);
        this.#touch(entity, id);
      }
    }
  }

  /** Adds an optimistic write; it shows in every query until `dropLayer(key)`. */
  addLayer(key: string, ops: readonly OptimisticOp[]): void {
    if (ops.length === 0) return;
    this.#layers.push({ key, ops });
    this.batch(() => {
      for (const op of ops) this.#touch(op.entity, op.id);
    });
  }

  /** Removes an optimistic write (confirmed by the server, or refused: then this is the rollback). */
  dropLayer(key: string): void {
    const at = this.#layers.findIndex((l) => l.key === key);
    if (at < 0) return;
    const [layer] = this.#layers.splice(at, 1);
    this.batch(() => {
      for (const op of layer!.ops) this.#touch(op.entity, op.id);
    });
  }

  /** Whether write `key` is still layered. */
  hasLayer(key: string): boolean {
    return this.#layers.some((l) => l.key === key);
  }

  /** Ids of `entity` that some pending write touches. */
  layeredIds(entity: string): Set<string> {
    const ids = new Set<string>();
    for (const layer of this.#layers) for (const op of layer.ops) if (op.entity === entity) ids.add(op.id);
    return ids;
  }

  /** Whether some pending write touches this row. */
  isLayered(entity: string, id: string): boolean {
    return this.#layers.some((l) => l.ops.some((op) => op.entity === entity && op.id === id));
  }

  /** The server's row, or undefined when no query holds it. */
  serverRow(entity: string, id: string): CachedRow | undefined {
    return this.#base.get(entity)?.get(id)?.row;
  }

  /**
   * The row as the app should see it: the server's value with every pending write replayed over
   * it; null when a pending write deleted it; undefined when neither knows the row.
   */
  row(entity: string, id: string): CachedRow | null | undefined {
    let memo = this.#visible.get(entity);
    if (!memo) this.#visible.set(entity, (memo = new Map()));
    if (memo.has(id)) return memo.get(id);
    let row: CachedRow | null | undefined = this.#base.get(entity)?.get(id)?.row;
    for (const layer of this.#layers) {
      for (const op of layer.ops) {
        if (op.entity !== entity || op.id !== id) continue;
        if (op.kind === 'delete') row = null;
        else if (op.kind === 'insert') row = { ...op.data, id };
        else if (row) row = { ...row, ...op.data, id };
      }
    }
    memo.set(id, row);
    return row;
  }

  /** Forgets every row and every pending write (identity change). */
  clear(): void {
    this.batch(() => {
      for (const [entity, table] of this.#base) for (const id of table.keys()) this.#touch(entity, id);
      for (const layer of this.#layers) for (const op of layer.ops) this.#touch(op.entity, op.id);
      this.#base.clear();
      this.#layers.length = 0;
    });
  }

  /** How many optimistic writes are layered. */
  get layerCount(): number {
    return this.#layers.length;
  }

  /** How many server rows the cache holds (each once, however many queries share it). */
  get size(): number {
    let n = 0;
    for (const table of this.#base.values()) n += table.size;
    return n;
  }

  #table(entity: string): Map<string, Held> {
    let table = this.#base.get(entity);
    if (!table) this.#base.set(entity, (table = new Map()));
    return table;
  }

  #setBase(entity: string, held: Held, row: CachedRow): void {
    if (sameRow(held.row, row)) return;
    held.row = row;
    this.#touch(entity, row.id);
  }

  #touch(entity: string, id: string): void {
    this.#visible.get(entity)?.delete(id);
    this.#dirty.add(entity);
    if (this.#batchDepth === 0) this.#flush();
  }

  #flush(): void {
    if (this.#dirty.size === 0) return;
    const dirty = this.#dirty;
    this.#dirty = new Set();
    for (const listener of [...this.#listeners]) listener(dirty);
  }
}

/** Same JSON content (the server re-sends rows it already sent; their identity is kept then). */
function sameRow(a: CachedRow, b: CachedRow): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}
