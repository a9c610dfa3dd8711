import type { FilterNode } from '@mast/schema';
import type { Row } from '../store/index.js';
import type { LiveQuery } from './live-query.js';

/** An equality a query requires of every row it matches: `field` is one of `keys`. */
interface Equality {
  readonly field: string;
  readonly keys: readonly string[];
}

function scalarKey(value: unknown): string | null {
  switch (typeof value) {
    case 'string':
      return `s:${value}`;
    case 'number':
      return `n:${value}`;
    case 'boolean':
      return `b:${value}`;
    default:
      return null;
  }
}

/**
 * The equality a filter implies for every matching row, if it has one at its top level (an
 * `eq` on a non-null scalar, a non-negated `in` of scalars, or one of those inside a
 * top-level `and`). Filters on json fields compare by JSON text, so object values are skipped.
 */
export function equalityOf(where: FilterNode | undefined): Equality | null {
  if (!where) return null;
  switch (where.kind) {
    case 'compare': {
      const key = where.op === 'eq' ? scalarKey(where.value) : null;
      return key === null ? null : { field: where.field, keys: [key] };
    }
    case 'in': {
      if (where.negate) return null;
      const keys = where.values.map(scalarKey);
      return keys.every((k) => k !== null) ? { field: where.field, keys: keys as string[] } : null;
    }
    case 'and': {
      for (const item of where.items) {
        const found = equalityOf(item);
        if (found) return found;
      }
      return null;
    }
    default:
      return null;
  }
}

/**
 * The live queries of one entity, indexed so that a change is matched only against the queries
 * it can affect: those whose equality field has the row's new value, those whose window holds
 * the row (it may leave), and those with no equality to index by.
 */
export class EntityIndex {
  readonly #byValue = new Map<string, Map<string, Set<LiveQuery>>>();
  readonly #scan = new Set<LiveQuery>();
  readonly #holders = new Map<string, Set<LiveQuery>>();
  #size = 0;

  /** How many queries the entity has. */
  get size(): number {
    return this.#size;
  }

  /** Adds a query. */
  add(query: LiveQuery): void {
    this.#size++;
    const eq = equalityOf(query.def.where);
    if (!eq) {
      this.#scan.add(query);
      return;
    }
    let byKey = this.#byValue.get(eq.field);
    if (!byKey) this.#byValue.set(eq.field, (byKey = new Map()));
    for (const key of eq.keys) {
      let set = byKey.get(key);
      if (!set) byKey.set(key, (set = new Set()));
      set.add(query);
    }
  }

  /** Removes a query (its window membership is dropped as well). */
  remove(query: LiveQuery): void {
    this.#size--;
    for (const row of query.rows) this.membership(query, row.id, false);
    const eq = equalityOf(query.def.where);
    if (!eq) {
      this.#scan.delete(query);
      return;
    }
    const byKey = this.#byValue.get(eq.field);
    for (const key of eq.keys) {
      const set = byKey?.get(key);
      set?.delete(query);
      if (set?.size === 0) byKey!.delete(key);
    }
    if (byKey?.size === 0) this.#byValue.delete(eq.field);
  }

  /** Records that `query`'s window gained or lost row `id`. */
  membership(query: LiveQuery, id: string, inWindow: boolean): void {
    let set = this.#holders.get(id);
    if (inWindow) {
      if (!set) this.#holders.set(id, (set = new Set()));
      set.add(query);
    } else if (set) {
      set.delete(query);
      if (set.size === 0) this.#holders.delete(id);
    }
  }

  /** The queries a change to row `id` (now `row`, or deleted) can affect. */
  candidates(id: string, row: Row | null): Set<LiveQuery> {
    const out = new Set<LiveQuery>(this.#scan);
    for (const q of this.#holders.get(id) ?? []) out.add(q);
    if (row) {
      for (const [field, byKey] of this.#byValue) {
        const key = scalarKey(row[field]);
        if (key === null) continue;
        for (const q of byKey.get(key) ?? []) out.add(q);
      }
    }
    return out;
  }
}
