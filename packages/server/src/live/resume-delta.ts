import type { AuthContext } from '../access/auth-context.js';
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
 *
 * A removal names only a row the subscriber could read at `since` (the image before its first
 * change since then), so a resume never reveals the id of a row hidden from it.
 *
 * A window whose read rule looks at other entities (`readsFrom`) can gain or lose rows through a
 * change to one of those (a membership): when the log holds such a change, it gets the whole
 * window. Otherwise every related row is as it was at `since`, and the delta is exact as above.
 */
export function resumeFrames(
  joined: ReadonlyArray<readonly [string, LiveQuery]>,
  log: readonly ChangeRecord[] | null,
  seq: number,
  canRead: (auth: AuthContext, entity: string, row: Row) => boolean,
): EncodedFrame[] {
  const touchedByEntity = new Map<string, Map<string, ChangeRecord>>();
  const changedEntities = new Set((log ?? []).map((change) => change.entity));
  for (const change of log ?? []) {
    let touched = touchedByEntity.get(change.entity);
    if (!touched) touchedByEntity.set(change.entity, (touched = new Map()));
    if (!touched.has(change.rowId)) touched.set(change.rowId, change);
  }
  return joined.map(([id, query]) => {
    const touched = touchedByEntity.get(query.def.entity) ?? new Map<string, ChangeRecord>();
    let touchedInWindow = 0;
    for (const rowId of touched.keys()) if (query.has(rowId)) touchedInWindow++;
    const untouched = query.rows.length - touchedInWindow;
    // A change logged without its earlier image cannot tell whether the client held the row;
    // a window with includes can change through rows of other entities: both get the whole window.
    const unknown = [...touched.values()].some((first) => first.kind !== 'insert' && first.before == null);
    const rulesChanged = query.def.readsFrom?.some((entity) => changedEntities.has(entity)) ?? false;
    if (log === null || !query.complete || query.def.include || unknown || rulesChanged || untouched + touched.size > query.def.limit) {
      return new EncodedFrame({ type: 'result', id, query: query.handle, seq, rows: [...query.rows], complete: query.complete }, seq);
    }
    const added: Row[] = [];
    const changed: Row[] = [];
    const removed: string[] = [];
    for (const [rowId, first] of touched) {
      const row = query.get(rowId);
      // A row first inserted after `since` cannot be in the client's rows: nothing to remove.
      if (!row) {
        if (first.kind !== 'insert' && canRead(query.auth, query.def.entity, first.before!)) removed.push(rowId);
      } else if (first.kind === 'insert') added.push(row);
      else changed.push(row);
    }
    return new EncodedFrame({ type: 'resumed', id, query: query.handle, seq, added, changed, removed }, seq);
  });
}
