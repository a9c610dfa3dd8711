import type { WireRow } from './common.js';
import type { ServerMessage } from './messages.js';

/**
 * The rows a client holds after applying `messages` in order, as `docs/protocol.md` describes:
 * a `result` replaces the window, a `diff` or `resumed` removes its `removed` ids and sets its
 * `added` and `changed` rows. Other messages change nothing. The messages are those of one
 * subscription (filter by query handle first when a socket holds several).
 */
export function liveWindow(messages: readonly ServerMessage[]): Map<string, WireRow> {
  const rows = new Map<string, WireRow>();
  for (const m of messages) {
    if (m.type === 'result') {
      rows.clear();
      for (const r of m.rows) rows.set(r.id, r);
    }
    if (m.type === 'diff' || m.type === 'resumed') {
      for (const id of m.removed) rows.delete(id);
      for (const r of [...m.added, ...m.changed]) rows.set(r.id, r);
    }
  }
  return rows;
}
