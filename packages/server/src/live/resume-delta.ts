import type { ChangeKind } from '@mast/protocol';
import type { ChangeRecord, Row } from '../store/index.js';
import { EncodedFrame } from './live-frames.js';
import type { LiveQuery } from './live-query.js';

/**
 * The catch-up frames of a resume, one per subscription: `resumed` when a delta from the change
 * log is exact, otherwise a fresh `result`.
 *
 * Why a delta can be exact: if the window is complete now, every untouched row that matches now
 * matched at `since` too (its image is unchanged), so the rows matching at `since` are among the
 * untouched window rows plus the touched ids. If those are at most `limit`, the client's window
 * at `since` held all of them, and sending each touched id's current state (row or removal)
 * brings it to the current window. A window cut by `$limit`, or one that may have been cut at
 * `since`, can have gained or lost rows no change names, so it gets the whole window instead.
 * `log` null means too many changes to read: everything gets a result.
 */
export function resumeFrames(joined: ReadonlyArray<readonly [string, LiveQuery]>, log: readonly ChangeRecord[] | null, seq: number): EncodedFrame[] {
  const touchedByEntity = new Map<string, Map<string, ChangeKind>>();
  for (const change of log ?? []) {
    let touched = touchedByEntity.get(change.entity);
    if (!touched) touchedByEntity.set(change.entity, (touched = new Map()));
    if (!touched.has(change.rowId)) touched.set(change.rowId, change.kind);
  }
  return joined.map(([id, query]) => {
    const touched = touchedByEntity.get(query.def.entity) ?? new Map<string, ChangeKind>();
    let touchedInWindow = 0;
    for (const rowId of touched.keys()) if (query.has(rowId)) touchedInWindow++;
    const untouched = query.rows.length - touchedInWindow;
    // A window with includes can change through rows of other entities: it gets the whole window.
    if (log === null || !query.complete || query.def.include || untouched + touched.size > query.def.limit) {
      return new EncodedFrame({ type: 'result', id, query: query.handle, seq, rows: [...query.rows], complete: query.complete }, seq);
    }
    const added: Row[] = [];
    const changed: Row[] = [];
    const removed: string[] = [];
    for (const [rowId, firstKind] of touched) {
      const row = query.get(rowId);
      // A row first inserted after `since` cannot be in the client's rows: nothing to remove.
      if (!row) {
        if (firstKind !== 'insert') removed.push(rowId);
      }
      else if (firstKind === 'insert') added.push(row);
      else changed.push(row);
    }
    return new EncodedFrame({ type: 'resumed', id, query: query.handle, seq, added, changed, removed }, seq);
  });
}
