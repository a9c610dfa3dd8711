import type { ChangeRecord } from '../store/index.js';

/**
 * What one run of a query function read: the entities it queried (any change to one may alter
 * a filtered result) and the rows it fetched by id.
 */
export class ReadSet {
  readonly #entities = new Set<string>();
  readonly #rows = new Set<string>();

  /** Records a `ctx.db.query` of `entity`. */
  queried(entity: string): void {
    this.#entities.add(entity);
  }

  /** Records a `ctx.db.get` of one row. */
  fetched(entity: string, id: string): void {
    this.#rows.add(`${entity}\u0000${id}`);
  }

  /** Whether any of `changes` may alter what the run read. */
  touchedBy(changes: readonly ChangeRecord[]): boolean {
    return changes.some((c) => this.#entities.has(c.entity) || this.#rows.has(`${c.entity}\u0000${c.rowId}`));
  }
}
