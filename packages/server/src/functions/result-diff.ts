import type { DiffRow, ResultDiff, RowKey, RowsDiff } from '@mast/protocol';

/** The rows of `value` by id, in order; null unless it is an array of plain objects with unique string or number ids. */
function rowsById(value: unknown): Map<RowKey, DiffRow> | null {
  if (!Array.isArray(value)) return null;
  const rows = new Map<RowKey, DiffRow>();
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return null;
    const id = (item as { id?: unknown }).id;
    if ((typeof id !== 'string' && typeof id !== 'number') || rows.has(id)) return null;
    rows.set(id, item as DiffRow);
  }
  return rows;
}

/** The rows diff from `before` to `after` (both keyed by id, in order), per the rules of `@mast/protocol`'s `applyResultDiff`. */
function rowsDiff(before: Map<RowKey, DiffRow>, after: Map<RowKey, DiffRow>): RowsDiff {
  const removed: RowKey[] = [];
  for (const id of before.keys()) if (!after.has(id)) removed.push(id);
  const added: RowsDiff['added'] = [];
  const changed: DiffRow[] = [];
  const kept: RowKey[] = [];
  let index = 0;
  for (const [id, row] of after) {
    const old = before.get(id);
    if (old === undefined) added.push({ index, row });
    else {
      kept.push(id);
      if (JSON.stringify(old) !== JSON.stringify(row)) changed.push(row);
    }
    index++;
  }
  // The kept rows' previous relative order: `before` without the removed and new ids.
  let moved = false;
  let k = 0;
  for (const id of before.keys()) {
    if (!after.has(id)) continue;
    if (kept[k++] !== id) {
      moved = true;
      break;
    }
  }
  return { added, changed, removed, ...(moved ? { order: kept } : {}) };
}

/**
 * How to send `next` to a client that holds `previous` (both JSON values, as function results
 * are): a rows diff when both are arrays of rows with unique ids and the diff's JSON is shorter
 * than `next`'s, otherwise `{value: next}`. `applyResultDiff(previous, diff)` rebuilds `next`
 * exactly, row order and each row's key order included.
 */
export function diffResult(previous: unknown, next: unknown): ResultDiff {
  const before = rowsById(previous);
  const after = before && rowsById(next);
  if (!before || !after) return { value: next };
  const diff = rowsDiff(before, after);
  return JSON.stringify(diff).length < JSON.stringify(next).length ? diff : { value: next };
}
