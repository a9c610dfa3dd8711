import { evaluateFilter, type FilterNode, type FindQuery } from '@mast/schema';
import type { AuthContext } from '../access/auth-context.js';
import type { Row } from '../store/index.js';
import type { LiveSink } from './live-frames.js';
import type { IncludeDef } from './live-include.js';
import { rowComparator, type RowComparator } from './row-order.js';

/** What a batch of changes did to one window. */
export interface WindowDiff {
  readonly added: Row[];
  readonly changed: Row[];
  readonly removed: string[];
}

/** Whether a row may be shown to this query's subscribers. */
export type RowVisibility = (row: Row) => boolean;

/** A live query's definition: entity, filter tree, order and window size. */
export interface LiveQueryDef {
  readonly entity: string;
  readonly where: FilterNode | undefined;
  /** What the store reads the window with: `where`, and the access hook's read filter if any. */
  readonly fetchWhere: FilterNode | undefined;
  readonly order: FindQuery['order'];
  readonly limit: number;
  /** To-one relations whose rows each window row carries; such windows are refetched on change. */
  readonly include?: readonly IncludeDef[];
  /**
   * Entities the subscriber's read rule looks at (`exists`): a change to any of them can make
   * rows appear or disappear without a change to the rows themselves, so the window is refetched.
   */
  readonly readsFrom?: readonly string[];
}

/**
 * One evaluated live query, shared by every subscriber with the same definition and scope: the
 * ordered window of at most `limit` visible rows, kept current by applying committed changes.
 *
 * `complete` means the window holds every visible matching row; when it is false, rows outside
 * the window all sort after its last row. Applying a change keeps that invariant without a
 * query, except when a row leaves a full window: then `apply` answers `true` and the caller
 * refetches (`reset`). Changes between `takeDiff` calls accumulate into one diff.
 */
export class LiveQuery {
  readonly handle: string;
  readonly key: string;
  readonly def: LiveQueryDef;
  /** A subscriber's auth, standing for the whole scope (equal scopes see equal rows). */
  readonly auth: AuthContext;
  readonly compare: RowComparator;
  /** Sinks and how many of their subscription ids point here. */
  readonly sinks = new Map<LiveSink, number>();
  complete = true;
  readonly #rows: Row[] = [];
  readonly #byId = new Map<string, Row>();
  /** Each id touched since the last diff, with its window image before (null: not in it). */
  readonly #before = new Map<string, Row | null>();
  readonly #onMembership: (id: string, inWindow: boolean) => void;

  constructor(handle: string, key: string, def: LiveQueryDef, auth: AuthContext, onMembership: (id: string, inWindow: boolean) => void) {
    this.handle = handle;
    this.key = key;
    this.def = def;
    this.auth = auth;
    this.compare = rowComparator(def.order);
    this.#onMembership = onMembership;
  }

  /** The window, in order. */
  get rows(): readonly Row[] {
    return this.#rows;
  }

  /** Whether the window holds row `id`. */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** The window's image of row `id`, if it holds it. */
  get(id: string): Row | undefined {
    return this.#byId.get(id);
  }

  /**
   * Applies one committed change (`row` is the row after it, null for a delete). Returns true
   * when the window lost a row while rows outside it may exist, so it must be refetched.
   */
  apply(id: string, row: Row | null, visible: RowVisibility): boolean {
    const matches = row !== null && (this.def.where === undefined || evaluateFilter(this.def.where, row)) && visible(row);
    const had = this.#byId.has(id);
    if (!had && !matches) return false;
    if (had) this.#remove(id);
    if (matches) this.#enter(row);
    return !this.complete && this.#rows.length < this.def.limit;
  }

  /** Replaces the window with a fresh fetch (`rows` in order, at most `limit + 1` of them). */
  reset(rows: readonly Row[]): void {
    for (const row of [...this.#rows]) this.#remove(row.id);
    this.complete = rows.length <= this.def.limit;
    for (const row of rows.slice(0, this.def.limit)) this.#insertAt(this.#rows.length, row);
  }

  /** The accumulated diff since the last call, or null when nothing visible changed. */
  takeDiff(): WindowDiff | null {
    const added: Row[] = [];
    const changed: Row[] = [];
    const removed: string[] = [];
    for (const [id, before] of this.#before) {
      const after = this.#byId.get(id);
      if (before === null) {
        if (after) added.push(after);
      } else if (!after) removed.push(id);
      else if (!sameRow(before, after)) changed.push(after);
    }
    this.#before.clear();
    return added.length + changed.length + removed.length === 0 ? null : { added, changed, removed };
  }

  #enter(row: Row): void {
    const last = this.#rows[this.#rows.length - 1];
    if (this.complete || (last !== undefined && this.compare(row, last) < 0)) {
      this.#insertAt(this.#position(row), row);
      if (this.#rows.length > this.def.limit) {
        this.#remove(this.#rows[this.#rows.length - 1]!.id);
        this.complete = false;
      }
    }
    // Otherwise the row sorts after rows the window does not hold; a refetch decides.
  }

  #position(row: Row): number {
    let lo = 0;
    let hi = this.#rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(this.#rows[mid]!, row) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #insertAt(index: number, row: Row): void {
    this.#touch(row.id);
    this.#rows.splice(index, 0, row);
    this.#byId.set(row.id, row);
    this.#onMembership(row.id, true);
  }

  #remove(id: string): void {
    const row = this.#byId.get(id);
    if (!row) return;
    this.#touch(id);
    const index = this.#position(row);
    this.#rows.splice(index, 1);
    this.#byId.delete(id);
    this.#onMembership(id, false);
  }

  #touch(id: string): void {
    if (!this.#before.has(id)) this.#before.set(id, this.#byId.get(id) ?? null);
  }
}

/** Rows from the store are plain JSON values, so equal text means equal rows. */
function sameRow(a: Row, b: Row): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    const x = a[key];
    const y = b[key];
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}
