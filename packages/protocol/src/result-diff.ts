import { z } from 'zod';

/**
 * How a watched query function's next result is sent relative to the previous one. Rows are
 * keyed by their `id`, a string or a number (`1` and `"1"` are different ids). The rows form is
 * used only when both results are arrays of plain objects whose ids are unique; otherwise, and
 * whenever it would not be shorter, the whole new result is sent as `{value}`.
 *
 * Rebuilding the new array from the previous one and a rows diff (what `applyResultDiff` does):
 * 1. drop the rows whose id is in `removed`, and replace each row whose id is in `changed` by
 *    the row sent, in place: these are the kept rows, in their previous order;
 * 2. when `order` is present, put the kept rows in the order of its ids (it lists every kept
 *    id once; it is sent only when the kept rows' relative order changed);
 * 3. insert each `added` row at its `index`, in the order sent (ascending `index`); the index is
 *    the row's position in the new array.
 *
 * `removed` follows the previous array's order, `changed` and `added` the new one's. A kept row
 * is in `changed` when its JSON text differs (sent whole, not field by field).
 */

/** A row's key: its `id`. */
export const rowKey = z.union([z.string(), z.number()]);

/** A row of a watched result: a plain object with an `id`. */
export const diffRow = z.object({ id: rowKey }).catchall(z.unknown());

/** A full replacement: the new result is `value`. */
export const valueDiff = z.object({ value: z.unknown() }).strict();

/** A row-level diff between two arrays of rows (see the rebuilding rules above). */
export const rowsDiff = z
  .object({
    added: z.array(z.object({ index: z.number().int().nonnegative(), row: diffRow }).strict()),
    changed: z.array(diffRow),
    removed: z.array(rowKey),
    order: z.array(rowKey).optional(),
  })
  .strict();

/** Either form of a watched result's change. */
export const resultDiff = z.union([valueDiff, rowsDiff]);

/** A row key. */
export type RowKey = z.infer<typeof rowKey>;
/** A row of a watched result. */
export type DiffRow = z.infer<typeof diffRow>;
/** `{value}`. */
export type ValueDiff = z.infer<typeof valueDiff>;
/** `{added, changed, removed, order?}`. */
export type RowsDiff = z.infer<typeof rowsDiff>;
/** Either form. */
export type ResultDiff = z.infer<typeof resultDiff>;

/** Thrown when a rows diff does not fit the value it is applied to (the client is out of step). */
export class ResultDiffMismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResultDiffMismatch';
  }
}

/**
 * The new result, from the previous one and the diff the server sent for it. `previous` is not
 * modified; rows the diff does not mention are reused as they are. Throws ResultDiffMismatch
 * when a rows diff names an id `previous` does not hold (or `previous` is not an array of
 * rows), which means the client missed or misapplied an earlier message.
 */
export function applyResultDiff(previous: unknown, diff: ResultDiff): unknown {
  if ('value' in diff) return diff.value;
  if (!Array.isArray(previous)) throw new ResultDiffMismatch('A rows diff applies to an array');
  const byId = new Map<RowKey, DiffRow>();
  for (const row of previous as unknown[]) {
    const id = typeof row === 'object' && row !== null && !Array.isArray(row) ? (row as { id?: unknown }).id : undefined;
    if ((typeof id !== 'string' && typeof id !== 'number') || byId.has(id)) throw new ResultDiffMismatch('A rows diff applies to rows with unique string or number ids');
    byId.set(id, row as DiffRow);
  }
  const known = (id: RowKey): void => {
    if (!byId.has(id)) throw new ResultDiffMismatch(`The diff names ${JSON.stringify(id)}, which the previous result does not hold`);
  };
  for (const id of diff.removed) {
    known(id);
    byId.delete(id);
  }
  for (const row of diff.changed) {
    known(row.id);
    byId.set(row.id, row);
  }
  let rows: DiffRow[];
  if (diff.order === undefined) {
    rows = [...byId.values()];
  } else {
    if (diff.order.length !== byId.size) throw new ResultDiffMismatch('The order does not list every kept row');
    rows = diff.order.map((id) => {
      known(id);
      return byId.get(id)!;
    });
    if (new Set(diff.order).size !== diff.order.length) throw new ResultDiffMismatch('The order lists a row twice');
  }
  for (const { index, row } of diff.added) {
    if (byId.has(row.id)) throw new ResultDiffMismatch(`The added row ${JSON.stringify(row.id)} is already held`);
    if (index > rows.length) throw new ResultDiffMismatch(`An added row's index ${index} is past the end`);
    rows.splice(index, 0, row);
  }
  return rows;
}
